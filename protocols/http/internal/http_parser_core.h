// The state machine behind HttpRequestParser and HttpResponseParser. Both
// message kinds share everything but the start line and the body-length
// rules, so one core serves both; the public classes translate its events.
// Internal to protocols/http; see http_parser.h for the contract.
//
// How bytes flow. A header (or trailer) section is parsed line by line as
// lines complete, straight from the caller's bytes. Field positions are kept
// as offsets from the start of the section, so when a section straddles two
// Feed calls its bytes so far are copied once into `buffer_` with the same
// layout and later lines are appended there; nothing else is ever copied.
// Body bytes are handed on as views of the caller's data.
//
// Every check runs at the same point of the byte stream however it is cut:
// a line is checked when its LF arrives, or earlier once its length alone
// exceeds the limit that applies, so the events and the error are the same
// for any cut.
//
// A request head that arrives whole in one Feed call, as almost every head
// does, takes a faster road (StepWholeRequestHeads): one pass over all its
// lines that commits only when every line is valid and well within the
// limits, leaving the core as the line-by-line parse would (but for spans_,
// which it skips: it writes the views and notes framing as it reads; and
// for the usual request, the start line's offsets, as it builds the head
// itself); anything else goes the line-by-line way, so errors always come
// from one place. Within that pass, the usual lines (a GET with a short
// target, fields of letters, digits and '-' with ": " and a plain value)
// are read with 16-byte block tests of their own, and any other line with
// the line-by-line scanners. A WholeRequestListener hears such a usual
// request in one call (OnBodilessRequest), with the parser left idle after
// it; unless that call paused the parser, the pass then reads the next head
// as Feed's loop would, in the same call, so that a burst of pipelined
// usual requests costs one call.

#ifndef EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_PARSER_CORE_H_
#define EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_PARSER_CORE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "protocols/http/http_listener.h"
#include "protocols/http/http_message.h"
#include "protocols/http/http_parser_options.h"

namespace ember::protocols::http_internal {

enum class MessageKind : uint8_t { kRequest, kResponse };

// What a response answers, as far as its framing is concerned.
enum class RequestKind : uint8_t { kOther, kHead, kConnect };

// A request listener that also takes a whole request without a body in one
// call. The server's connections are such listeners: the usual request then
// costs one callback, not two.
class WholeRequestListener : public HttpRequestListener {
 public:
  // A complete request: no body, no trailers, not an upgrade (a CONNECT
  // still goes through OnRequestHead and OnMessageComplete). It stands for
  // OnRequestHead(head) followed at once by OnMessageComplete with no
  // trailers; the parser is idle again when it returns, so a Pause() inside
  // it holds back the next message only. The views in `head` are valid
  // during the call.
  virtual void OnBodilessRequest(const HttpRequestHead& head) = 0;
};

class HttpParserCore {
 public:
  // A request parser; `listener` must be non-null and outlive the core,
  // and so must `options`, which the core reads in place (a server's
  // connections share one copy; a temporary does not compile).
  HttpParserCore(const HttpParserOptions& options,
                 HttpRequestListener* listener);
  // A request parser whose usual requests (see IsPlainRequest) reach
  // `listener` through OnBodilessRequest.
  HttpParserCore(const HttpParserOptions& options,
                 WholeRequestListener* listener);
  // A response parser.
  HttpParserCore(const HttpParserOptions& options,
                 HttpResponseListener* listener);
  // Options that die with the expression would be read after it.
  HttpParserCore(HttpParserOptions&&, HttpRequestListener*) = delete;
  HttpParserCore(HttpParserOptions&&, WholeRequestListener*) = delete;
  HttpParserCore(HttpParserOptions&&, HttpResponseListener*) = delete;

  HttpParserCore(const HttpParserCore&) = delete;
  HttpParserCore& operator=(const HttpParserCore&) = delete;

  size_t Feed(std::string_view data);
  void Finish();
  void Pause() { paused_ = true; }
  void Resume() { paused_ = false; }
  bool paused() const { return paused_; }
  bool failed() const { return state_ == State::kError; }
  bool idle() const { return state_ == State::kIdle; }
  absl::Status ExpectResponseTo(RequestKind kind);

  // How many bytes from this object's start a usual request reads: its
  // members are laid out so (see below). A hint for the cache only.
  size_t HotBytes() const {
    return static_cast<size_t>(reinterpret_cast<const char*>(&method_offset_) -
                               reinterpret_cast<const char*>(this));
  }

 private:
  enum class State : uint8_t {
    kIdle,  // Before a message: empty lines are skipped.
    kHead,
    kBodyLength,
    kBodyUntilClose,
    kChunkSize,
    kChunkSizeBlank,  // Whitespace after the size, before ";".
    kChunkExt,
    kChunkSizeLf,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailers,
    kComplete,  // The message is over; its completion is yet to be told.
    kError,
  };
  enum class LineResult : uint8_t { kMore, kEnd, kError };

  struct FieldSpan {
    uint32_t name_offset;
    uint32_t name_size;
    uint32_t value_offset;
    uint32_t value_size;
  };

  size_t Step(std::string_view in);
  size_t StepIdle(std::string_view in);
  // `whole_head_tried`: StepWholeRequestHeads already declined `in`, so
  // it is not run over the same bytes again.
  size_t StepLines(std::string_view in, bool whole_head_tried = false);
  // Whole request heads already in `in`, each parsed in one pass: the
  // first, and those after it while each ends a usual request for a
  // WholeRequestListener and Feed's loop would read on (see the
  // definition). Returns the bytes used; `*declined` says the head after
  // them was not handled, and nothing was changed for it but views_, which
  // no message is using then.
  size_t StepWholeRequestHeads(std::string_view in, bool* declined);
  size_t StepChunkLine(std::string_view in);
  size_t StepBody(std::string_view in);

  // The most bytes the next line may take; `*section_bound` says whether
  // the section limit (rather than the line limit) is the one that binds.
  size_t LineLimit(bool* section_bound) const;
  void FailLineTooLong(bool section_bound);
  LineResult ParseLine(const char* base, size_t offset, size_t size);
  bool ParseRequestLine(const char* line, size_t size, size_t offset);
  bool ParseStatusLine(const char* line, size_t size, size_t offset);
  bool ParseField(const char* line, size_t size, size_t offset);
  // The fields whose names bear on framing (or on the connection).
  enum class FramingField : uint8_t {
    kNone,
    kHost,
    kExpect,
    kUpgrade,
    kConnection,
    kContentLength,
    kTransferEncoding,
  };
  // Which of them a field named `name` (any case) is.
  static FramingField FramingFieldOf(std::string_view name);
  // Notes what the field `index` of the head, a `field` holding `value`,
  // says. Returns why the field is refused (to fail with 400), or null.
  // Transfer-Encoding fields are remembered by index into views_.
  const char* NoteFramingField(FramingField field, std::string_view value,
                               size_t index);
  // Undoes what NoteFramingField noted.
  void ForgetFramingFacts();
  // Views of the fields spans_ locates in the section at `base`.
  HttpFieldsView BuildViews(const char* base);
  // `fields` are the head's views (in views_).
  void EndHead(const char* base, HttpFieldsView fields);
  void EndRequestHead(const char* base, HttpFieldsView fields);
  bool IsPlainRequest() const;
  void EndPlainRequestHead(HttpRequestHead* head);
  void EndResponseHead(const char* base, HttpFieldsView fields);
  // Sets the body state for `framing` (before the head's callback, which
  // may pause) and remembers whether an upgrade follows.
  void StartBody(HttpBodyFraming framing, bool upgrade);
  bool KeepAlive(HttpBodyFraming framing) const;
  bool DecideRequestFraming();
  bool DecideResponseFraming();
  // Reads every Transfer-Encoding coding (views_ must hold the head's
  // views). Returns false after failing.
  bool ReadTransferCodings(bool* chunked_last, bool* other_codings);
  void StartTrailers();
  void CompleteMessage(HttpFieldsView trailers);
  void ResetMessage();
  void EmitBody(std::string_view data);
  void Fail(int http_status, absl::StatusCode code, std::string message);

  // Laid out for size (a server holds a parser per connection), the
  // one-byte fields together, and for the cache: a usual request (the
  // whole-head pass) reads the members before method_offset_ and none
  // after (HotBytes).
  const MessageKind kind_;
  State state_ = State::kIdle;
  bool paused_ = false;
  bool finished_ = false;
  // request_listener_ is a WholeRequestListener.
  bool whole_requests_ = false;
  // The section (head or trailers) being parsed.
  bool in_trailers_ = false;
  bool buffered_ = false;
  bool start_line_done_ = false;
  // Facts gathered from the head's fields. framing_fields_: one of them
  // (other than Host) was noted, so EndRequestHead takes the general road.
  bool framing_fields_ = false;
  // The head was read whole (by StepWholeRequestHeads) and noted no field
  // but Host. Such a message has no body (or fails), so until it completes
  // nothing changes but the start line's facts, the section count, the Host
  // count and upgrade_: ResetMessage resets only those. Everything else is
  // as the previous ResetMessage (or the constructor) left it, as a head
  // is only read whole from the idle state.
  bool whole_plain_head_ = false;
  bool has_content_length_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool connection_upgrade_ = false;
  bool has_upgrade_field_ = false;
  bool expect_continue_ = false;
  // The body.
  bool upgrade_ = false;
  bool chunk_size_seen_ = false;
  int callback_depth_ = 0;
  int host_count_ = 0;
  int status_code_ = 0;  // Responses (here, it fills what would be a hole).
  HttpVersion version_;
  HttpRequestListener* const request_listener_;  // Requests only.
  size_t section_bytes_ = 0;  // Counted against header_bytes_max.
  // Only grows; BuildViews, or the whole-head pass, rewrites the first
  // ones a head needs.
  std::vector<HttpFieldView> views_;
  const HttpParserOptions& options_;

  // Read by the heads not read whole, by bodies and by responses.
  uint32_t method_offset_ = 0, method_size_ = 0;
  uint32_t target_offset_ = 0, target_size_ = 0;
  uint32_t reason_offset_ = 0, reason_size_ = 0;
  HttpResponseListener* const response_listener_;  // Responses only.

  std::string buffer_;
  size_t line_start_ = 0;     // Buffered: where the partial line begins.
  std::vector<FieldSpan> spans_;

  uint64_t content_length_ = 0;
  std::vector<uint32_t> transfer_encoding_fields_;  // Indexes into views_.

  uint64_t remaining_ = 0;   // kBodyLength, kChunkData.
  uint64_t body_bytes_ = 0;  // Decoded so far.
  uint64_t chunk_size_ = 0;
  size_t chunk_line_bytes_ = 0;

  // Responses: kinds of the requests awaiting answers, oldest first (ring).
  std::vector<RequestKind> expected_;
  size_t expected_first_ = 0;
  size_t expected_count_ = 0;
};

}  // namespace ember::protocols::http_internal

#endif  // EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_PARSER_CORE_H_
