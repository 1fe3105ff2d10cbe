// HeaderContentParser: EventMachine's HeaderAndContentProtocol framing as a
// pure state machine: header lines up to a blank line, then a body whose size
// the Content-Length header gives, then the next message (pipelined messages
// may share one read).
//
// It is built on LineFramer with the default "\n" delimiter ("\r\n" works
// too). Blank lines before a message are skipped. Each message produces
// OnFirstHeaderLine, OnHeaders and OnMessage, in that order.
//
// Content-Length is recognised by its exact field name (any case), unlike
// EventMachine's pattern that matched anywhere in a line; its value must be
// decimal digits. A second Content-Length in one message is refused, as
// EventMachine does, because disagreeing lengths are how requests are
// smuggled past a front end.
//
// Limits (Options) bound every buffer: the length of a header line, the
// number of header lines, their total size and the body size. Exceeding one
// is a kResourceExhausted error; malformed input is kInvalidArgument; the end
// of the stream inside a message is kUnavailable. After an error nothing more
// is delivered.
//
// Lifetime: the listener is not owned and must outlive the parser. Views
// passed to callbacks are valid only during the call. The parser must not be
// destroyed, nor Feed/Finish called, from inside its callbacks (call Stop()).

#ifndef EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_PARSER_H_
#define EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "protocols/line/line_framer.h"

namespace ember::protocols {

// A header line split at its first colon, EventMachine's headers_2_hash
// rule: the name is the text before the colon (which must not be empty nor
// contain whitespace); the value has surrounding spaces and tabs removed.
struct HeaderLine {
  std::string_view name;
  std::string_view value;
};
std::optional<HeaderLine> SplitHeaderLine(std::string_view line);

class HeaderContentParser {
 public:
  struct Options {
    size_t line_bytes_max = 16 * 1024;
    size_t header_count_max = 100;
    // Total bytes of a message's header lines, delimiters not counted.
    size_t header_bytes_max = 64 * 1024;
    uint64_t content_bytes_max = 32 * 1024 * 1024;
  };

  class Listener {
   public:
    virtual ~Listener() = default;
    // The first header line of a message.
    virtual void OnFirstHeaderLine(std::string_view line) {}
    // All header lines, as received, once the blank line arrives.
    virtual void OnHeaders(std::span<const std::string_view> lines) {}
    // A complete message: its header lines and its body ("" without
    // Content-Length).
    virtual void OnMessage(std::span<const std::string_view> lines,
                           std::string_view content) = 0;
    // The stream is unusable; nothing follows. See the file comment.
    virtual void OnError(const absl::Status& status) = 0;
  };

  // `listener` must be non-null and outlive the parser.
  HeaderContentParser(Listener* listener, Options options);
  explicit HeaderContentParser(Listener* listener)
      : HeaderContentParser(listener, Options()) {}

  HeaderContentParser(const HeaderContentParser&) = delete;
  HeaderContentParser& operator=(const HeaderContentParser&) = delete;

  // Parses `data`. Precondition: not inside a callback, Finish not called.
  void Feed(std::string_view data);
  // The end of the stream. Inside a message this is a kUnavailable error;
  // between messages it delivers nothing.
  void Finish();
  // Delivers nothing more.
  void Stop();

 private:
  // Receives the line framer's events.
  class FramerListener : public LineFramer::Listener {
   public:
    explicit FramerListener(HeaderContentParser* parser) : parser_(parser) {}
    void OnLine(std::string_view line) override { parser_->OnLine(line); }
    // Only whole blocks arrive: the framer is never finished inside a body.
    void OnBinary(std::string_view data) override { parser_->OnBody(data); }
    void OnError(const absl::Status& status) override { parser_->Fail(status); }

   private:
    HeaderContentParser* parser_;
  };

  enum class State { kBetweenMessages, kHeaders, kBody, kDone };

  void OnLine(std::string_view line);
  void OnBody(std::string_view content);
  void EndHeaders();
  void Dispatch(std::string_view content);
  void Fail(absl::Status status);
  // Rebuilds line_views_ from the offsets into header_bytes_.
  void BuildViews();

  Listener* const listener_;
  const Options options_;
  FramerListener framer_listener_;
  LineFramer framer_;

  State state_ = State::kBetweenMessages;
  // The current message's header lines, back to back, and where each ends.
  std::string header_bytes_;
  std::vector<size_t> line_ends_;
  std::vector<std::string_view> line_views_;
  std::optional<uint64_t> content_length_;
  bool stopped_ = false;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_PARSER_H_
