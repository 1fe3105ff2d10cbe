#include "protocols/http/internal/http_parser_core.h"

#include <string.h>

#include <algorithm>
#include <bit>
#include <span>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "protocols/http/internal/http_chars.h"

namespace ember::protocols::http_internal {
namespace {

constexpr uint64_t kSaturated = kLengthSaturated;

// The scanners below read a line from the start of [line, line + n) and
// are shared by both roads. The line-by-line parse passes the line's
// content (its CRLF cut off), so `n` is where the line ends; the whole-head
// pass does not know that yet and passes what it has, then checks that a
// CRLF follows where the scan stopped. The bytes a scan accepts never
// include CR or LF, so when a CRLF follows, the line the whole-head pass
// read is the very line the line-by-line parse would cut at its LF, and
// both reach the same verdict.
//
// The two scanners are forced inline into their callers: called out of
// line, their results went through memory (callgrind: about 80
// instructions more per request, when the whole-head pass used them for
// every line).

// request-line = method SP request-target SP HTTP-version (RFC 9112
// section 3). The version must end the line; `end` says where it ends.
enum class RequestLineError : uint8_t { kNone, kMethod, kTarget, kVersion };

struct RequestLineParts {
  size_t method_size = 0;
  size_t target_start = 0;
  size_t target_size = 0;
  size_t end = 0;  // Just past the version.
  HttpVersion version;
};

// "GET " as a little-endian word.
constexpr uint32_t kGetSp = uint32_t{'G'} | uint32_t{'E'} << 8 |
                            uint32_t{'T'} << 16 | uint32_t{' '} << 24;
static_assert(std::endian::native == std::endian::little);

// "HTTP/1.1" as a little-endian word.
constexpr uint64_t kHttp11 = [] {
  constexpr char kText[] = "HTTP/1.1";
  uint64_t word = 0;
  for (int i = 7; i >= 0; --i) {
    word = word << 8 | static_cast<uint8_t>(kText[i]);
  }
  return word;
}();

[[gnu::always_inline]] inline RequestLineError ScanRequestLine(
    const char* line, size_t n, RequestLineParts* parts) {
  // Most requests are GETs: one compare finds the method and the SP after
  // it, as the scan below would.
  size_t i = 0;
  if (n >= 4) {
    uint32_t first4;
    memcpy(&first4, line, 4);
    if (first4 == kGetSp) i = 3;
  }
  if (i == 0) {
    i = SpanTokenChars(line, n);
    if (i == 0 || i == n || line[i] != ' ') return RequestLineError::kMethod;
  }
  parts->method_size = i;
  const size_t target = ++i;
  i += FindBadTargetChar(line + i, n - i);
  if (i == target || i == n || line[i] != ' ') {
    return RequestLineError::kTarget;
  }
  parts->target_start = target;
  parts->target_size = i - target;
  ++i;
  const char* v = line + i;
  if (n - i < 8) return RequestLineError::kVersion;
  // Almost every request is HTTP/1.1: one compare finds it, as the
  // checks below would.
  uint64_t version;
  memcpy(&version, v, 8);
  if (version == kHttp11) {
    parts->version = HttpVersion{1, 1};
  } else if (memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
             v[6] != '.' || v[7] < '0' || v[7] > '9') {
    return RequestLineError::kVersion;
  } else {
    parts->version = HttpVersion{v[5] - '0', v[7] - '0'};
  }
  parts->end = i + 8;
  return RequestLineError::kNone;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
// The value's bytes run from value_start to value_stop, the first byte a
// field value may not hold (for a valid line, its end); value_end is
// value_stop with trailing whitespace trimmed.
enum class FieldError : uint8_t {
  kNone,
  kObsFold,
  kNoColon,
  kBlankBeforeColon,
  kEmptyName,
  kBadName,
};

struct FieldParts {
  size_t name_size = 0;
  size_t value_start = 0;
  size_t value_stop = 0;
  size_t value_end = 0;
};

// `n` > 0.
[[gnu::always_inline]] inline FieldError ScanField(const char* line, size_t n,
                                                   FieldParts* parts) {
  size_t i = 0;
  bool name_done = false;
#if defined(__SSE2__)
  // Almost every name is letters, digits and '-', then ':' within 16 bytes:
  // one block test finds it. That is the name the checks below accept.
  if (n >= 16) {
    const unsigned stops = NotAlnumDashMask16(line);
    if (stops != 0) {
      i = static_cast<size_t>(__builtin_ctz(stops));
      name_done = i > 0 && line[i] == ':';
    }
  }
#endif
  if (!name_done) {
    // Obsolete line folding (RFC 9112 section 5.2); servers may refuse it.
    if (IsBlank(line[0])) return FieldError::kObsFold;
    i = SpanTokenChars(line, n);
    if (i == n) return FieldError::kNoColon;
    if (line[i] != ':' || i == 0) {
      return IsBlank(line[i])           ? FieldError::kBlankBeforeColon
             : i == 0 && line[i] == ':' ? FieldError::kEmptyName
                                        : FieldError::kBadName;
    }
  }
  parts->name_size = i;
  ++i;
  while (i < n && IsBlank(line[i])) ++i;
  parts->value_start = i;
  parts->value_stop = i + FindBadValueChar(line + i, n - i);
  size_t end = parts->value_stop;
  while (end > i && IsBlank(line[end - 1])) --end;
  parts->value_end = end;
  return FieldError::kNone;
}

// A CRLF at [p, p + n).
bool CrlfAt(const char* p, size_t n) {
  if (n < 2) return false;
  // Both bytes in one compare.
  uint16_t pair;
  memcpy(&pair, p, 2);
  constexpr uint16_t kCrlf = ('\n' << 8) | '\r';
  static_assert(std::endian::native == std::endian::little);
  return pair == kCrlf;
}

// The usual lines of the whole-head pass, each read with one or two block
// tests where the scanners above take several steps and bounds checks.
// Each accepts only lines the scanners above accept, with the very same
// parts, and declines anything else (the pass then runs those scanners
// over the line, so a decline costs only the time spent here).

// The longest line ScanUsualRequestLine takes: the method, a block of
// target bytes, SP, version and CRLF.
constexpr size_t kUsualRequestLineMax = 4 + 16 + 1 + 8 + 2;

// "GET", a target of 1 to 16 visible bytes, "HTTP/1.1" and CRLF: what
// ScanRequestLine, then the pass's CRLF check, would accept. Returns the
// target's size, or 0 for any other line. The caller sees to it that
// kUsualRequestLineMax bytes are there to read and within the line's
// limits, so that none of them needs its own bounds check.
[[gnu::always_inline]] inline size_t ScanUsualRequestLine(const char* line) {
#if defined(__SSE2__)
  uint32_t first4;
  memcpy(&first4, line, 4);
  if (first4 != kGetSp) return 0;
  // The first byte that is not a target byte. A target that fills the
  // block ends at the byte after it, which the inverted mask's upper bits
  // stand for.
  const size_t target_size = LowestSetBit(~TargetMask16(line + 4));
  if (target_size == 0 || line[4 + target_size] != ' ') return 0;
  const size_t version = 4 + target_size + 1;
  uint64_t word;
  memcpy(&word, line + version, 8);
  if (word != kHttp11 || !CrlfAt(line + version + 8, 2)) return 0;
  return target_size;
#else
  return 0;
#endif
}

// The bytes ScanUsualField needs readable from the start of the line: the
// name's block, ':' and SP after a name that fills it, and a block of the
// value, with the byte after the block (the LF after a CR in its last
// byte).
constexpr size_t kUsualFieldReach = 16 + 2 + 16 + 1;

// A field line of letters, digits and '-' up to a ':' within 17 bytes, one
// SP, a value of visible bytes and SP that begins and ends with a visible
// byte, then CRLF, taking at most `line_max` bytes: what ScanField
// (over as many bytes as the line may take), then the pass's CRLF check,
// would accept, giving the same name and value. `*next` is where the next
// line starts. `last_block` is the last place a block of the value may
// start, with the byte after the block still there to read (the LF after a
// CR at its end); it is at least 18 bytes on, so the first block, which
// starts no further, is always there. `line_max` is at least
// kUsualFieldReach: no line whose value ends in its first block is longer,
// so only longer values are measured against it.
[[gnu::always_inline]] inline bool ScanUsualField(const char* line,
                                                  const char* last_block,
                                                  size_t line_max,
                                                  HttpFieldView* field,
                                                  const char** next) {
#if defined(__SSE2__)
  // The first byte that is not a letter, digit or '-'. A name that fills
  // the block ends at the byte after it, which the extra bit stands for: if
  // that byte is ':', the name is 16 usual bytes.
  const size_t name_size = LowestSetBit(NotAlnumDashMask16(line) | 0x10000u);
  // ':' and one SP, both in one compare (the usual separator; any other
  // goes the exact way), then a value that starts with a visible byte.
  uint16_t separator;
  memcpy(&separator, line + name_size, 2);
  if (name_size == 0 || separator != (':' | ' ' << 8) ||
      static_cast<uint8_t>(line[name_size + 2]) <= ' ') {
    return false;
  }
  const char* const value = line + name_size + 2;
  // The first byte that is not visible or SP; if it is the CR of a CRLF,
  // every byte before it may be in a value, and the value ends there.
  unsigned visible = VisibleOrSpaceMask16(value);
  const char* cr;
  if (visible != 0xffff) {
    cr = value + LowestSetBit(~visible);
  } else {
    // The last block may overlap the one before it, to read no further
    // than last_block: its bytes before the new ones are visible or SP,
    // so the first byte that is not is still the first. A line that ends
    // near the end of the bytes (as the last of a burst of pipelined
    // requests does) is then read here too.
    const char* block = value;
    do {
      if (block == last_block) return false;
      block = std::min(block + 16, last_block);
      visible = VisibleOrSpaceMask16(block);
    } while (visible == 0xffff);
    cr = block + LowestSetBit(~visible);
    if (static_cast<size_t>(cr + 2 - line) > line_max) return false;
  }
  if (!CrlfAt(cr, 2) || cr[-1] == ' ') return false;
  *field = HttpFieldView{std::string_view(line, name_size),
                         std::string_view(value, cr - value)};
  *next = cr + 2;
  return true;
#else
  return false;
#endif
}

// The line-by-line parse's scanners, with the pass's CRLF checks, for the
// lines the two above do not take. Out of line: the usual request never
// needs them, and inlined, they took registers from the usual lines' loop.
[[gnu::noinline]] bool ScanRequestLineAndCrlf(const char* line, size_t bound,
                                              RequestLineParts* parts) {
  return ScanRequestLine(line, bound, parts) == RequestLineError::kNone &&
         parts->version.major == 1 &&
         CrlfAt(line + parts->end, bound - parts->end);
}

[[gnu::noinline]] bool ScanFieldAndCrlf(const char* line, size_t bound,
                                        FieldParts* parts) {
  return bound > 0 && ScanField(line, bound, parts) == FieldError::kNone &&
         CrlfAt(line + parts->value_stop, bound - parts->value_stop);
}

}  // namespace

// Dispatched on length first: most names match none. Host, in almost every
// head, is tested first, then the shorter and the longer sizes apart: a
// few compares for the usual field, where a jump table took as many
// instructions before its first compare (GCC makes one of a longer chain
// of sizes). Forced inline, as the whole-head pass calls it for every
// field.
[[gnu::always_inline]] inline HttpParserCore::FramingField
HttpParserCore::FramingFieldOf(std::string_view name) {
  const size_t size = name.size();
  if (size == 4) {
    return TokenEqualsLower(name, "host") ? FramingField::kHost
                                          : FramingField::kNone;
  }
  if (size < 10) {
    if (size == 6 && TokenEqualsLower(name, "expect")) {
      return FramingField::kExpect;
    }
    if (size == 7 && TokenEqualsLower(name, "upgrade")) {
      return FramingField::kUpgrade;
    }
    return FramingField::kNone;
  }
  if (size == 10 && TokenEqualsLower(name, "connection")) {
    return FramingField::kConnection;
  }
  if (size == 14 && TokenEqualsLower(name, "content-length")) {
    return FramingField::kContentLength;
  }
  if (size == 17 && TokenEqualsLower(name, "transfer-encoding")) {
    return FramingField::kTransferEncoding;
  }
  return FramingField::kNone;
}

HttpParserCore::HttpParserCore(const HttpParserOptions& options,
                               HttpRequestListener* listener)
    : kind_(MessageKind::kRequest),
      request_listener_(listener),
      options_(options),
      response_listener_(nullptr) {
  EMBER_CHECK(listener != nullptr);
  EMBER_CHECK(options_.header_bytes_max > 0 &&
              options_.header_bytes_max <= (size_t{1} << 30));
  EMBER_CHECK(options_.line_bytes_max > 0);
  EMBER_CHECK(options_.body_bytes_max < kSaturated);
  EMBER_CHECK(options_.chunk_line_bytes_max > 0);
}

HttpParserCore::HttpParserCore(const HttpParserOptions& options,
                               WholeRequestListener* listener)
    : HttpParserCore(options, static_cast<HttpRequestListener*>(listener)) {
  whole_requests_ = true;
}

HttpParserCore::HttpParserCore(const HttpParserOptions& options,
                               HttpResponseListener* listener)
    : kind_(MessageKind::kResponse),
      request_listener_(nullptr),
      options_(options),
      response_listener_(listener) {
  EMBER_CHECK(listener != nullptr);
  EMBER_CHECK(options_.header_bytes_max > 0 &&
              options_.header_bytes_max <= (size_t{1} << 30));
  EMBER_CHECK(options_.line_bytes_max > 0);
  EMBER_CHECK(options_.body_bytes_max < kSaturated);
  EMBER_CHECK(options_.chunk_line_bytes_max > 0);
  EMBER_CHECK(options_.pipeline_depth_max > 0);
  expected_.resize(options_.pipeline_depth_max);
}

size_t HttpParserCore::Feed(std::string_view data) {
  EMBER_CHECK_MSG(callback_depth_ == 0,
                  "HTTP parser Feed called from inside its own callback");
  EMBER_CHECK_MSG(!finished_, "HTTP parser Feed called after Finish");
  size_t pos = 0;
  while (!paused_ && state_ != State::kError) {
    if (state_ == State::kComplete) {
      CompleteMessage(HttpFieldsView());
      continue;
    }
    if (pos == data.size()) break;
    if (state_ == State::kIdle && kind_ == MessageKind::kRequest &&
        data[pos] != '\r' && data[pos] != '\n') {
      // A request starts here with no empty line before it, as almost every
      // one does: straight to the whole-head pass (what StepIdle and
      // StepLines would reach), then line by line if it declines.
      // pos <= data.size(): no need for substr's range check.
      // It reads the requests after this one too while they are usual
      // ones for a WholeRequestListener; a head it declines is then read
      // line by line from where it starts.
      const std::string_view in(data.data() + pos, data.size() - pos);
      bool declined;
      pos += StepWholeRequestHeads(in, &declined);
      // (An empty line after a request goes round the loop to StepIdle.)
      if (declined && data[pos] != '\r' && data[pos] != '\n') {
        state_ = State::kHead;
        pos += StepLines(std::string_view(data.data() + pos, data.size() - pos),
                         /*whole_head_tried=*/true);
      }
      continue;
    }
    pos += Step(data.substr(pos));
  }
  return pos;
}

void HttpParserCore::Finish() {
  EMBER_CHECK_MSG(callback_depth_ == 0,
                  "HTTP parser Finish called from inside its own callback");
  EMBER_CHECK_MSG(!finished_, "HTTP parser Finish called twice");
  finished_ = true;
  switch (state_) {
    case State::kIdle:
    case State::kError:
      return;
    case State::kComplete:
    case State::kBodyUntilClose:
      // The end of the stream is the end of a close-delimited body.
      CompleteMessage(HttpFieldsView());
      return;
    default:
      Fail(400, absl::StatusCode::kUnavailable,
           "stream ended inside a message");
      return;
  }
}

size_t HttpParserCore::Step(std::string_view in) {
  switch (state_) {
    case State::kIdle:
      return StepIdle(in);
    case State::kHead:
    case State::kTrailers:
      return StepLines(in);
    case State::kBodyLength:
    case State::kBodyUntilClose:
    case State::kChunkData:
      return StepBody(in);
    case State::kChunkSize:
    case State::kChunkSizeBlank:
    case State::kChunkExt:
    case State::kChunkSizeLf:
    case State::kChunkDataCr:
    case State::kChunkDataLf:
      return StepChunkLine(in);
    case State::kComplete:
    case State::kError:
      break;
  }
  EMBER_CHECK_MSG(false, "HTTP parser stepped in a final state");
  return 0;
}

size_t HttpParserCore::StepIdle(std::string_view in) {
  // RFC 9112 section 2.2: empty lines before a request line are ignored.
  // They still count towards the header section, so they cannot go on
  // forever.
  if (in[0] != '\r' && in[0] != '\n') {
    // The usual case: no empty line, so nothing to count or check.
    state_ = State::kHead;
    return StepLines(in);
  }
  size_t i = 0;
  while (i < in.size() && (in[i] == '\r' || in[i] == '\n')) ++i;
  section_bytes_ += i;
  if (section_bytes_ > options_.header_bytes_max) {
    Fail(431, absl::StatusCode::kResourceExhausted,
         absl::StrCat("header section exceeds ", options_.header_bytes_max,
                      " bytes"));
    return i;
  }
  if (i == in.size()) return i;
  state_ = State::kHead;  // The head starts at in[i].
  return i == 0 ? StepLines(in) : i;
}

size_t HttpParserCore::LineLimit(bool* section_bound) const {
  const size_t room = options_.header_bytes_max - section_bytes_;
  *section_bound = room < options_.line_bytes_max;
  return *section_bound ? room : options_.line_bytes_max;
}

void HttpParserCore::FailLineTooLong(bool section_bound) {
  const bool start_line = !in_trailers_ && !start_line_done_;
  if (section_bound) {
    Fail(431, absl::StatusCode::kResourceExhausted,
         absl::StrCat(in_trailers_ ? "trailer" : "header", " section exceeds ",
                      options_.header_bytes_max, " bytes"));
  } else if (start_line) {
    const bool request = kind_ == MessageKind::kRequest;
    Fail(request ? 414 : 400, absl::StatusCode::kResourceExhausted,
         absl::StrCat(request ? "request" : "status", " line exceeds ",
                      options_.line_bytes_max, " bytes"));
  } else {
    Fail(
        431, absl::StatusCode::kResourceExhausted,
        absl::StrCat("field line exceeds ", options_.line_bytes_max, " bytes"));
  }
}

size_t HttpParserCore::StepLines(std::string_view in, bool whole_head_tried) {
  bool section_bound = false;
  if (!buffered_) {
    if (!whole_head_tried && !start_line_done_ && !in_trailers_ &&
        kind_ == MessageKind::kRequest) {
      // A head it declines after reading usual requests is tried again
      // from Feed's loop, idle by then.
      bool declined;
      const size_t used = StepWholeRequestHeads(in, &declined);
      if (used > 0 || !declined) return used;
    }
    // The section starts at in[0]: parse in place.
    const char* const base = in.data();
    size_t pos = 0;
    while (true) {
      const size_t limit = LineLimit(&section_bound);
      const void* lf = memchr(base + pos, '\n', in.size() - pos);
      if (lf == nullptr) {
        const size_t partial = in.size() - pos;
        if (partial >= limit) {
          FailLineTooLong(section_bound);
          return in.size();
        }
        // Keep the section so far, with the same layout, for the next Feed.
        buffer_.assign(base, in.size());
        buffered_ = true;
        line_start_ = pos;
        return in.size();
      }
      const size_t size = static_cast<const char*>(lf) - (base + pos) + 1;
      if (size > limit) {
        FailLineTooLong(section_bound);
        return in.size();
      }
      section_bytes_ += size;
      const LineResult result = ParseLine(base, pos, size);
      pos += size;
      if (result == LineResult::kError) return pos;
      if (result == LineResult::kEnd) {
        if (in_trailers_) {
          CompleteMessage(BuildViews(base));
        } else {
          EndHead(base, BuildViews(base));
        }
        return pos;
      }
    }
  }
  // The section began in an earlier Feed: append each line as it completes.
  size_t pos = 0;
  while (true) {
    const size_t limit = LineLimit(&section_bound);
    const size_t partial = buffer_.size() - line_start_;
    const void* lf = memchr(in.data() + pos, '\n', in.size() - pos);
    if (lf == nullptr) {
      if (partial + (in.size() - pos) >= limit) {
        FailLineTooLong(section_bound);
        return in.size();
      }
      buffer_.append(in.data() + pos, in.size() - pos);
      return in.size();
    }
    const size_t take = static_cast<const char*>(lf) - (in.data() + pos) + 1;
    const size_t size = partial + take;
    if (size > limit) {
      FailLineTooLong(section_bound);
      return in.size();
    }
    buffer_.append(in.data() + pos, take);
    pos += take;
    section_bytes_ += size;
    const LineResult result = ParseLine(buffer_.data(), line_start_, size);
    line_start_ += size;
    if (result == LineResult::kError) return pos;
    if (result == LineResult::kEnd) {
      if (in_trailers_) {
        CompleteMessage(BuildViews(buffer_.data()));
      } else {
        EndHead(buffer_.data(), BuildViews(buffer_.data()));
      }
      return pos;
    }
  }
}

// The usual request: HTTP/1.1, one Host and no other field that bears on
// framing. DecideRequestFraming accepts it, and what the general code of
// EndRequestHead decides comes down to EndPlainRequestHead's: no body,
// kept alive, an upgrade only for CONNECT.
inline bool HttpParserCore::IsPlainRequest() const {
  return !framing_fields_ && host_count_ == 1 && version_.AtLeast11();
}

// `head` holds the start line and the fields, the rest as constructed.
// Forced inline: the whole-head pass ends most heads here.
[[gnu::always_inline]] inline void HttpParserCore::EndPlainRequestHead(
    HttpRequestHead* head) {
  head->upgrade = head->method == "CONNECT";
  if (whole_requests_ && !head->upgrade) {
    // Head and completion in one call; then idle, as CompleteMessage
    // leaves a message without an upgrade.
    state_ = State::kComplete;  // Not idle until the callback has run.
    ++callback_depth_;
    static_cast<WholeRequestListener*>(request_listener_)
        ->OnBodilessRequest(*head);
    --callback_depth_;
    ResetMessage();
    return;
  }
  StartBody(HttpBodyFraming::kNone, head->upgrade);
  ++callback_depth_;
  request_listener_->OnRequestHead(*head);
  --callback_depth_;
}

size_t HttpParserCore::StepWholeRequestHeads(std::string_view in,
                                             bool* declined) {
  // The head starts at in[0]. Its usual lines are read by the block tests
  // of ScanUsualRequestLine and ScanUsualField, the others with the
  // scanners ParseRequestLine and ParseField use; either way each line is
  // bounded by the limit that applies to it (as LineLimit computes it), so
  // a line that would be too long is simply not found. Each field's view
  // goes straight into views_ (the bytes are the caller's and stay put
  // until the message ends, as EndHead explains), and what it says about
  // framing is noted as it is read; nothing else changes until the whole
  // head has been read. Anything the line-by-line parse would refuse, or
  // that this pass does not handle itself (a head not complete in `in`,
  // bare LF or CR, obs-fold, HTTP versions other than 1.x, too many fields,
  // a framing field NoteFramingField refuses), forgets the framing facts
  // noted and declines: that parse then runs as it always does and says
  // what is wrong, at the same byte. spans_ stays empty throughout: after
  // the head only views_ is read.
  //
  // A usual request for a WholeRequestListener ends idle, and the next
  // head, if one starts right after it (as Feed's loop would find: not
  // paused, more bytes, no empty line first), is read in this same call:
  // pipelined requests then cost one call, and what stays the same from
  // one to the next (the limits, views_, the head's defaults) is set up
  // once.
  *declined = false;
  const size_t line_max = options_.line_bytes_max;
  // The bytes the line at `pos` may take, CRLF included, are
  // min(n - pos, line limit, room left in the section), as LineLimit
  // computes them. The section so far is section_bytes_ + pos, so the
  // first and last terms meet at one end, `stop`: the end of the bytes,
  // or where the first head's section would reach its limit, if that comes
  // first. A later head's section starts further on and has the whole
  // limit, so `stop` comes no later than its own end: a head that runs
  // past `stop` is declined, and read line by line, as the first would
  // be, but only when a Feed brings more than a whole section's bytes.
  const size_t room = options_.header_bytes_max - section_bytes_;
  const char* const stop = in.data() + std::min(in.size(), room);
  // The usual lines' scans read up to kUsualFieldReach bytes from where a
  // line starts, and take lines up to that long (see ScanUsualField): they
  // are used only when the line limit is no shorter. `usual_last` is the
  // last place such a line may start (in.data() when none may: every line
  // but the first starts after it, and the first is tested with <).
  static_assert(kUsualRequestLineMax <= kUsualFieldReach);
  const char* const usual_last =
      line_max >= kUsualFieldReach &&
              static_cast<size_t>(stop - in.data()) >= kUsualFieldReach
          ? stop - kUsualFieldReach
          : in.data();
  // views_ only grows, and keeps its size from message to message: the
  // next field has a view to write unless `view` reaches `view_end`,
  // where the field count limit and the views written so far are both
  // tested, so the usual field pays for one compare.
  HttpFieldView* view_end =
      views_.data() + std::min(views_.size(), options_.header_count_max);
  // The head the callback gets. The start line and the fields go straight
  // into it, as it lives in memory anyway: through the field loop they
  // then hold no registers (held, they pushed the loop's own values onto
  // the stack). The rest keeps the defaults a usual request's head has,
  // as nothing here writes it but `upgrade`, just before a CONNECT's
  // callback, after which the call returns.
  HttpRequestHead head;
  // What decides whether a head is a usual request for a
  // WholeRequestListener, gathered in one word so that one compare tells:
  // the Host count in the low half, and kNotUsual once anything else
  // rules it out (another listener, a version before 1.1, CONNECT, a
  // framing field noted). The head is such a request when the word is 1.
  constexpr uint64_t kNotUsual = uint64_t{1} << 32;
  const uint64_t facts_start = whole_requests_ ? 0 : kNotUsual;
  const char* base = in.data();
  while (true) {
    const auto decline = [&]() {
      ForgetFramingFacts();
      *declined = true;
      return static_cast<size_t>(base - in.data());
    };

    // The start line goes straight into the head, each road writing its
    // own results (the usual line's are mostly constants). The field loop
    // then walks a pointer to the line and the end of the bytes it may
    // read: fewer values to keep than offsets from base.
    uint64_t facts = facts_start;
    const char* line;
    // base < usual_last: the usual line's bytes are there, and within the
    // limits, as kUsualRequestLineMax <= kUsualFieldReach.
    const size_t usual_target =
        base < usual_last ? ScanUsualRequestLine(base) : 0;
    if (usual_target != 0) {
      head.method = std::string_view(base, 3);
      head.target = std::string_view(base + 4, usual_target);
      head.version = HttpVersion{1, 1};
      line = base + 4 + usual_target + 1 + 8 + 2;
    } else {
      RequestLineParts start;
      if (!ScanRequestLineAndCrlf(
              base, std::min(static_cast<size_t>(stop - base), line_max),
              &start)) {
        *declined = true;
        return static_cast<size_t>(base - in.data());
      }
      head.method = std::string_view(base, start.method_size);
      head.target =
          std::string_view(base + start.target_start, start.target_size);
      head.version = start.version;
      if (!start.version.AtLeast11() || head.method == "CONNECT") {
        facts |= kNotUsual;
      }
      line = base + start.end + 2;
    }
    HttpFieldView* view = views_.data();
    while (true) {
      HttpFieldView field;
      const char* next;
      if (line <= usual_last && line[0] == '\r') {
        // The empty line ends the head. Its two bytes are there to read, as
        // line is no further than usual_last, and within the line limit,
        // which is at least kUsualFieldReach.
        if (!CrlfAt(line, 2)) return decline();
        line += 2;
        break;
      }
      if (line > usual_last ||
          !ScanUsualField(line, usual_last + (kUsualFieldReach - 16 - 1),
                          line_max, &field, &next)) {
        const size_t bound =
            std::min(static_cast<size_t>(stop - line), line_max);
        if (bound > 0 && line[0] == '\r') {
          if (!CrlfAt(line, bound)) return decline();
          line += 2;
          break;  // The empty line ends the head.
        }
        FieldParts parts;
        if (!ScanFieldAndCrlf(line, bound, &parts)) return decline();
        field = HttpFieldView{
            std::string_view(line, parts.name_size),
            std::string_view(line + parts.value_start,
                             parts.value_end - parts.value_start)};
        next = line + parts.value_stop + 2;
      }
      if (view == view_end) {
        const size_t count = static_cast<size_t>(view - views_.data());
        if (count >= options_.header_count_max) return decline();
        views_.resize(count + 1);
        view = views_.data() + count;
        view_end =
            views_.data() + std::min(views_.size(), options_.header_count_max);
      }
      // Host, in almost every head, is counted in `facts`, not in
      // host_count_: that is written only when a head is committed other
      // than as a usual request, which leaves it 0.
      const FramingField framing = FramingFieldOf(field.name);
      if (framing == FramingField::kHost) {
        ++facts;
      } else if (framing != FramingField::kNone) {
        if (NoteFramingField(framing, field.value,
                             static_cast<size_t>(view - views_.data())) !=
            nullptr) {
          return decline();
        }
        facts |= kNotUsual;
      }
      *view++ = field;
      line = next;
    }
    const HttpFieldsView fields(std::span<const HttpFieldView>(
        views_.data(), static_cast<size_t>(view - views_.data())));
    // What EndHead does for a request; buffered_ and line_start_ are
    // already as it leaves them. IsPlainRequest's test, and the one
    // EndPlainRequestHead makes for a WholeRequestListener, in one.
    if (facts == 1) {
      // The usual request: head and completion in one call, as
      // EndPlainRequestHead makes them, then idle, as ResetMessage leaves
      // it. Of what the line-by-line parse would commit, only state_ is
      // seen during the callback (through idle() and failed()), and
      // ResetMessage would undo the rest: the start line's facts are left
      // unwritten (version_ and the offsets are read only after a start
      // line writes them), as are start_line_done_, whole_plain_head_ and
      // host_count_, and section_bytes_ is 0 as ResetMessage leaves it.
      head.headers = fields;
      state_ = State::kComplete;  // Not idle until the callback has run.
      ++callback_depth_;
      static_cast<WholeRequestListener*>(request_listener_)
          ->OnBodilessRequest(head);
      --callback_depth_;
      state_ = State::kIdle;
      section_bytes_ = 0;
      base = line;
      // Feed's loop, for the bytes after this request: a Pause() inside
      // the callback, or `stop`, goes back there (which then calls again,
      // for a new section's room, if there are more bytes). So does an
      // empty line (StepIdle's), which no request line starts with: its
      // head is declined (Feed then sees the CR or LF).
      if (paused_ || base == stop) {
        return static_cast<size_t>(base - in.data());
      }
      continue;
    }
    // Commit: the state the line-by-line parse reaches at the empty line.
    const size_t pos = static_cast<size_t>(line - base);
    version_ = head.version;
    start_line_done_ = true;
    section_bytes_ += pos;
    host_count_ = static_cast<int>(static_cast<uint32_t>(facts));
    whole_plain_head_ = !framing_fields_;
    if (IsPlainRequest()) {
      // A usual request for a listener that takes it in two calls, or a
      // CONNECT: its start line's offsets are left unwritten, as only
      // EndRequestHead reads them, and it is not called.
      head.headers = fields;
      EndPlainRequestHead(&head);
    } else {
      method_offset_ = 0;
      method_size_ = static_cast<uint32_t>(head.method.size());
      target_offset_ = static_cast<uint32_t>(head.target.data() - base);
      target_size_ = static_cast<uint32_t>(head.target.size());
      EndRequestHead(base, fields);
    }
    return static_cast<size_t>(line - in.data());
  }
}

HttpParserCore::LineResult HttpParserCore::ParseLine(const char* base,
                                                     size_t offset,
                                                     size_t size) {
  const char* const line = base + offset;
  // RFC 9112 section 2.2 lets a recipient accept a bare LF; a front end
  // that does not would frame differently, so only CRLF ends a line here.
  if (size < 2 || line[size - 2] != '\r') {
    Fail(400, absl::StatusCode::kInvalidArgument,
         "line not terminated by CRLF");
    return LineResult::kError;
  }
  const size_t content = size - 2;
  if (content == 0) {
    // The first line of a head is never empty: StepIdle skipped those.
    return LineResult::kEnd;
  }
  bool ok;
  if (!in_trailers_ && !start_line_done_) {
    ok = kind_ == MessageKind::kRequest
             ? ParseRequestLine(line, content, offset)
             : ParseStatusLine(line, content, offset);
    start_line_done_ = true;
  } else {
    ok = ParseField(line, content, offset);
  }
  return ok ? LineResult::kMore : LineResult::kError;
}

bool HttpParserCore::ParseRequestLine(const char* line, size_t size,
                                      size_t offset) {
  RequestLineParts parts;
  RequestLineError error = ScanRequestLine(line, size, &parts);
  if (error == RequestLineError::kNone && parts.end != size) {
    error = RequestLineError::kVersion;
  }
  switch (error) {
    case RequestLineError::kNone:
      break;
    case RequestLineError::kMethod:
      Fail(400, absl::StatusCode::kInvalidArgument,
           "malformed request line: bad method");
      return false;
    case RequestLineError::kTarget:
      Fail(400, absl::StatusCode::kInvalidArgument,
           "malformed request line: bad request target");
      return false;
    case RequestLineError::kVersion:
      Fail(400, absl::StatusCode::kInvalidArgument,
           "malformed request line: bad HTTP version");
      return false;
  }
  method_offset_ = static_cast<uint32_t>(offset);
  method_size_ = static_cast<uint32_t>(parts.method_size);
  target_offset_ = static_cast<uint32_t>(offset + parts.target_start);
  target_size_ = static_cast<uint32_t>(parts.target_size);
  version_ = parts.version;
  if (version_.major != 1) {
    Fail(505, absl::StatusCode::kUnimplemented,
         absl::StrCat("HTTP version ", version_.major, ".", version_.minor,
                      " not supported"));
    return false;
  }
  return true;
}

bool HttpParserCore::ParseField(const char* line, size_t size, size_t offset) {
  FieldParts parts;
  const char* what = nullptr;
  switch (ScanField(line, size, &parts)) {
    case FieldError::kNone:
      if (parts.value_stop != size) what = "invalid character in field value";
      break;
    case FieldError::kObsFold:
      what = "obsolete line folding in field line";
      break;
    case FieldError::kNoColon:
      what = "field line without a colon";
      break;
    case FieldError::kBlankBeforeColon:
      what = "whitespace before colon";
      break;
    case FieldError::kEmptyName:
      what = "empty field name";
      break;
    case FieldError::kBadName:
      what = "invalid field name";
      break;
  }
  if (what != nullptr) {
    Fail(400, absl::StatusCode::kInvalidArgument, what);
    return false;
  }
  if (spans_.size() >= options_.header_count_max) {
    Fail(431, absl::StatusCode::kResourceExhausted,
         absl::StrCat("more than ", options_.header_count_max, " ",
                      in_trailers_ ? "trailer" : "header", " fields"));
    return false;
  }
  spans_.push_back(FieldSpan{
      static_cast<uint32_t>(offset), static_cast<uint32_t>(parts.name_size),
      static_cast<uint32_t>(offset + parts.value_start),
      static_cast<uint32_t>(parts.value_end - parts.value_start)});
  if (in_trailers_) return true;
  const FieldSpan& span = spans_.back();
  const char* const refused = NoteFramingField(
      FramingFieldOf(
          std::string_view(line - offset + span.name_offset, span.name_size)),
      std::string_view(line - offset + span.value_offset, span.value_size),
      spans_.size() - 1);
  if (refused != nullptr) {
    Fail(400, absl::StatusCode::kInvalidArgument, refused);
    return false;
  }
  return true;
}

const char* HttpParserCore::NoteFramingField(FramingField field,
                                             std::string_view value,
                                             size_t index) {
  switch (field) {
    case FramingField::kNone:
      break;
    case FramingField::kHost:
      ++host_count_;
      break;
    case FramingField::kExpect:
      framing_fields_ = true;
      expect_continue_ |= HttpListHasToken(value, "100-continue");
      break;
    case FramingField::kUpgrade:
      framing_fields_ = true;
      has_upgrade_field_ = true;
      break;
    case FramingField::kConnection:
      framing_fields_ = true;
      connection_close_ |= HttpListHasToken(value, "close");
      connection_keep_alive_ |= HttpListHasToken(value, "keep-alive");
      connection_upgrade_ |= HttpListHasToken(value, "upgrade");
      break;
    case FramingField::kContentLength: {
      uint64_t length = 0;
      if (!ParseContentLength(value, &length)) {
        return "invalid Content-Length";
      }
      if (has_content_length_ && length != content_length_) {
        return "conflicting Content-Length values";
      }
      framing_fields_ = true;
      has_content_length_ = true;
      content_length_ = length;
      break;
    }
    case FramingField::kTransferEncoding:
      framing_fields_ = true;
      transfer_encoding_fields_.push_back(static_cast<uint32_t>(index));
      break;
  }
  return nullptr;
}

HttpFieldsView HttpParserCore::BuildViews(const char* base) {
  // views_ keeps its size from message to message, so a head only
  // overwrites the views it needs: no clearing, no capacity check or
  // zero-filling per field.
  if (views_.size() < spans_.size()) views_.resize(spans_.size());
  HttpFieldView* view = views_.data();
  for (const FieldSpan& span : spans_) {
    *view++ = HttpFieldView{
        std::string_view(base + span.name_offset, span.name_size),
        std::string_view(base + span.value_offset, span.value_size)};
  }
  return HttpFieldsView(
      std::span<const HttpFieldView>(views_.data(), spans_.size()));
}

bool HttpParserCore::ReadTransferCodings(bool* chunked_last,
                                         bool* other_codings) {
  int codings = 0;
  int chunked = 0;
  *chunked_last = false;
  *other_codings = false;
  for (uint32_t index : transfer_encoding_fields_) {
    std::string_view value = views_[index].value;
    while (true) {
      const size_t comma = value.find(',');
      const std::string_view element = TrimBlanks(value.substr(0, comma));
      if (!element.empty()) {
        // A coding with parameters is never "chunked" (it takes none).
        const std::string_view name =
            TrimBlanks(element.substr(0, element.find(';')));
        if (name.empty() ||
            !std::all_of(name.begin(), name.end(),
                         [](char c) { return IsTokenChar(c); })) {
          Fail(400, absl::StatusCode::kInvalidArgument,
               "invalid Transfer-Encoding");
          return false;
        }
        ++codings;
        *chunked_last =
            element.size() == name.size() && TokenEqualsLower(name, "chunked");
        if (*chunked_last) {
          ++chunked;
        } else {
          *other_codings = true;
        }
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  if (codings == 0) {
    Fail(400, absl::StatusCode::kInvalidArgument, "empty Transfer-Encoding");
    return false;
  }
  if (chunked > 1) {
    Fail(400, absl::StatusCode::kInvalidArgument,
         "chunked transfer coding applied more than once");
    return false;
  }
  return true;
}

bool HttpParserCore::DecideRequestFraming() {
  // RFC 9112 section 3.2: exactly one Host in HTTP/1.1, never two.
  if (host_count_ > 1 || (version_.AtLeast11() && host_count_ == 0)) {
    Fail(
        400, absl::StatusCode::kInvalidArgument,
        host_count_ == 0 ? "missing Host header" : "more than one Host header");
    return false;
  }
  if (!transfer_encoding_fields_.empty()) {
    // RFC 9112 section 6.1: HTTP/1.0 framing with Transfer-Encoding is
    // faulty; section 6.3: with both headers the request is refused, as the
    // two lengths are how requests are smuggled.
    if (!version_.AtLeast11()) {
      Fail(400, absl::StatusCode::kInvalidArgument,
           "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (has_content_length_) {
      Fail(400, absl::StatusCode::kInvalidArgument,
           "both Content-Length and Transfer-Encoding");
      return false;
    }
    bool chunked_last = false;
    bool other_codings = false;
    if (!ReadTransferCodings(&chunked_last, &other_codings)) {
      return false;
    }
    if (!chunked_last) {
      Fail(400, absl::StatusCode::kInvalidArgument,
           "chunked is not the final transfer coding");
      return false;
    }
    if (other_codings) {
      Fail(501, absl::StatusCode::kUnimplemented,
           "unsupported transfer coding");
      return false;
    }
  } else if (has_content_length_ && content_length_ > options_.body_bytes_max) {
    Fail(413, absl::StatusCode::kResourceExhausted,
         absl::StrCat("Content-Length exceeds the limit of ",
                      options_.body_bytes_max, " bytes"));
    return false;
  }
  return true;
}

void HttpParserCore::EndHead(const char* base, HttpFieldsView fields) {
  if (kind_ == MessageKind::kRequest) {
    EndRequestHead(base, fields);
  } else {
    EndResponseHead(base, fields);
  }
  // The head's bytes stay where they are until the message ends
  // (ResetMessage, StartTrailers), so that a message without a body, which
  // completes in this same Feed, still has its head's views intact in
  // OnMessageComplete (HttpServer hands them to a ViewHandler uncopied).
  buffered_ = false;
  line_start_ = 0;
}

bool HttpParserCore::KeepAlive(HttpBodyFraming framing) const {
  // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has
  // faulty framing; it is read, but the connection is not reused.
  if (framing == HttpBodyFraming::kUntilClose ||
      (!version_.AtLeast11() && !transfer_encoding_fields_.empty())) {
    return false;
  }
  return version_.AtLeast11() ? !connection_close_
                              : connection_keep_alive_ && !connection_close_;
}

void HttpParserCore::StartBody(HttpBodyFraming framing, bool upgrade) {
  upgrade_ = upgrade;
  switch (framing) {
    case HttpBodyFraming::kNone:
      state_ = State::kComplete;
      break;
    case HttpBodyFraming::kContentLength:
      remaining_ = content_length_;
      state_ = remaining_ == 0 ? State::kComplete : State::kBodyLength;
      break;
    case HttpBodyFraming::kChunked:
      state_ = State::kChunkSize;
      break;
    case HttpBodyFraming::kUntilClose:
      state_ = State::kBodyUntilClose;
      break;
  }
}

void HttpParserCore::EndRequestHead(const char* base, HttpFieldsView fields) {
  HttpRequestHead head;
  head.method = std::string_view(base + method_offset_, method_size_);
  head.target = std::string_view(base + target_offset_, target_size_);
  head.version = version_;
  head.headers = fields;
  if (IsPlainRequest()) {
    EndPlainRequestHead(&head);
    return;
  }
  if (!DecideRequestFraming()) return;
  if (!transfer_encoding_fields_.empty()) {
    head.framing = HttpBodyFraming::kChunked;
  } else if (has_content_length_) {
    head.framing = HttpBodyFraming::kContentLength;
    head.content_length = content_length_;
  }
  const bool connect = head.method == "CONNECT";
  if (connect) {
    head.framing = HttpBodyFraming::kNone;  // A tunnel follows.
    head.content_length = 0;
  }
  head.upgrade = connect || (version_.AtLeast11() && connection_upgrade_ &&
                             has_upgrade_field_);
  head.expect_continue = version_.AtLeast11() && expect_continue_;
  head.keep_alive = KeepAlive(head.framing);
  StartBody(head.framing, head.upgrade);
  ++callback_depth_;
  request_listener_->OnRequestHead(head);
  --callback_depth_;
}

// Forced inline into its two callers, CompleteMessage and
// EndPlainRequestHead, which between them end every message.
[[gnu::always_inline]] inline void HttpParserCore::ResetMessage() {
  state_ = State::kIdle;
  section_bytes_ = 0;
  start_line_done_ = false;
  upgrade_ = false;
  if (whole_plain_head_) {
    // Nothing else was touched: see whole_plain_head_.
    whole_plain_head_ = false;
    host_count_ = 0;
    return;
  }
  in_trailers_ = false;
  buffered_ = false;
  buffer_.clear();
  line_start_ = 0;
  spans_.clear();
  ForgetFramingFacts();
  remaining_ = 0;
  body_bytes_ = 0;
  chunk_size_ = 0;
  chunk_line_bytes_ = 0;
  chunk_size_seen_ = false;
}

void HttpParserCore::CompleteMessage(HttpFieldsView trailers) {
  const bool upgrade = upgrade_;
  state_ = State::kComplete;  // Not idle until the callback has run.
  ++callback_depth_;
  if (request_listener_ != nullptr) {
    request_listener_->OnMessageComplete(trailers);
  } else {
    response_listener_->OnMessageComplete(trailers);
  }
  --callback_depth_;
  ResetMessage();
  // The bytes after an upgrade belong to another protocol: stop here and
  // let the owner decide (Resume to go on with HTTP).
  if (upgrade) paused_ = true;
}

void HttpParserCore::ForgetFramingFacts() {
  framing_fields_ = false;
  has_content_length_ = false;
  content_length_ = 0;
  transfer_encoding_fields_.clear();
  connection_close_ = false;
  connection_keep_alive_ = false;
  connection_upgrade_ = false;
  has_upgrade_field_ = false;
  expect_continue_ = false;
  host_count_ = 0;
}

void HttpParserCore::Fail(int http_status, absl::StatusCode code,
                          std::string message) {
  state_ = State::kError;
  buffer_.clear();
  const HttpParseError error{http_status, absl::Status(code, message)};
  ++callback_depth_;
  if (request_listener_ != nullptr) {
    request_listener_->OnError(error);
  } else {
    response_listener_->OnError(error);
  }
  --callback_depth_;
}

}  // namespace ember::protocols::http_internal
