#include "protocols/header_content/header_content_parser.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember::protocols {
namespace {

constexpr std::string_view kContentLength = "content-length";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// "Content-Length :" and the like: a front end that accepts the space would
// frame the body differently, so such a line is refused, not ignored.
bool IsSpacedContentLength(std::string_view line) {
  if (line.size() <= kContentLength.size() ||
      !EqualsIgnoreCase(line.substr(0, kContentLength.size()),
                        kContentLength)) {
    return false;
  }
  std::string_view rest = line.substr(kContentLength.size());
  if (!IsBlank(rest.front())) return false;
  while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
  return !rest.empty() && rest.front() == ':';
}

}  // namespace

std::optional<HeaderLine> SplitHeaderLine(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  for (char c : name) {
    if (IsBlank(c) || c == '\r' || c == '\n') return std::nullopt;
  }
  return HeaderLine{name, TrimBlanks(line.substr(colon + 1))};
}

HeaderContentParser::HeaderContentParser(Listener* listener, Options options)
    : listener_(listener),
      options_(options),
      framer_listener_(this),
      framer_(
          &framer_listener_,
          LineFramer::Options{
              .delimiter = "\n",
              .line_bytes_max = options.line_bytes_max,
              .sized_block_delivery = LineFramer::SizedBlockDelivery::kWhole,
              .block_bytes_max = options.content_bytes_max,
          }) {
  EMBER_CHECK(listener_ != nullptr);
}

void HeaderContentParser::Feed(std::string_view data) { framer_.Feed(data); }

void HeaderContentParser::Finish() {
  if (!stopped_ && state_ != State::kDone &&
      (state_ != State::kBetweenMessages || framer_.buffered_bytes() > 0)) {
    // Stop the framer first so that it does not hand over a partial body.
    framer_.Stop();
    Fail(absl::UnavailableError("stream ended inside a message"));
  }
  framer_.Finish();
}

void HeaderContentParser::Stop() {
  stopped_ = true;
  framer_.Stop();
}

void HeaderContentParser::OnLine(std::string_view line) {
  if (stopped_ || state_ == State::kDone) return;
  EMBER_CHECK(state_ != State::kBody);
  if (state_ == State::kBetweenMessages) {
    if (line.empty()) return;  // Blank lines between messages are skipped.
    state_ = State::kHeaders;
  }
  if (line.empty()) {
    EndHeaders();
    return;
  }
  if (line_ends_.size() >= options_.header_count_max) {
    Fail(absl::ResourceExhaustedError(absl::StrCat(
        "more than ", options_.header_count_max, " header lines")));
    return;
  }
  if (header_bytes_.size() + line.size() > options_.header_bytes_max) {
    Fail(absl::ResourceExhaustedError(absl::StrCat(
        "header lines exceed ", options_.header_bytes_max, " bytes")));
    return;
  }
  if (std::optional<HeaderLine> field = SplitHeaderLine(line);
      field.has_value() && EqualsIgnoreCase(field->name, kContentLength)) {
    if (content_length_.has_value()) {
      Fail(absl::InvalidArgumentError("more than one Content-Length header"));
      return;
    }
    if (field->value.empty()) {
      Fail(absl::InvalidArgumentError("empty Content-Length"));
      return;
    }
    uint64_t length = 0;
    for (char c : field->value) {
      if (c < '0' || c > '9') {
        Fail(absl::InvalidArgumentError("Content-Length is not a number"));
        return;
      }
      // Saturates well above any limit instead of overflowing.
      length = std::min<uint64_t>(length * 10 + (c - '0'), uint64_t{1} << 60);
    }
    if (length > options_.content_bytes_max) {
      Fail(absl::ResourceExhaustedError(
          absl::StrCat("Content-Length exceeds the limit of ",
                       options_.content_bytes_max, " bytes")));
      return;
    }
    content_length_ = length;
  } else if (IsSpacedContentLength(line)) {
    Fail(absl::InvalidArgumentError(
        "whitespace between Content-Length and its colon"));
    return;
  }
  header_bytes_.append(line.data(), line.size());
  line_ends_.push_back(header_bytes_.size());
  if (line_ends_.size() == 1) {
    listener_->OnFirstHeaderLine(line);
  }
}

void HeaderContentParser::BuildViews() {
  line_views_.clear();
  size_t begin = 0;
  for (size_t end : line_ends_) {
    line_views_.push_back(
        std::string_view(header_bytes_).substr(begin, end - begin));
    begin = end;
  }
}

void HeaderContentParser::EndHeaders() {
  BuildViews();
  listener_->OnHeaders(line_views_);
  if (stopped_) return;
  const uint64_t length = content_length_.value_or(0);
  if (length > 0) {
    state_ = State::kBody;
    framer_.SetBinaryMode(length);
  } else {
    Dispatch({});
  }
}

void HeaderContentParser::OnBody(std::string_view content) {
  if (stopped_ || state_ == State::kDone) return;
  EMBER_CHECK(state_ == State::kBody);
  Dispatch(content);
}

void HeaderContentParser::Dispatch(std::string_view content) {
  listener_->OnMessage(line_views_, content);
  state_ = State::kBetweenMessages;
  header_bytes_.clear();
  line_ends_.clear();
  line_views_.clear();
  content_length_.reset();
}

void HeaderContentParser::Fail(absl::Status status) {
  if (stopped_ || state_ == State::kDone) return;
  state_ = State::kDone;
  framer_.Stop();
  listener_->OnError(status);
}

}  // namespace ember::protocols
