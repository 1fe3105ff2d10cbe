// LineReader: `co_await reader.ReadLine()` on a coroutine Stream, framed by
// LineFramer.
//
//   ember::protocols::LineReader reader(stream);
//   for (;;) {
//     absl::StatusOr<std::string> line = co_await reader.ReadLine();
//     if (!line.ok()) break;  // kOutOfRange at the end of the stream
//     ...
//   }
//
// The coroutine counterpart of LineConnection: the same framer, with the
// same options (delimiter, `line_bytes_max`). A line longer than
// `line_bytes_max` ends reading with kResourceExhausted (and every later
// ReadLine with the same), as the framer's error does. At the end of the
// stream ReadLine gives kOutOfRange; a partial last line is not a line.
//
// Mixing with raw reads is safe: a ReadLine that returns leaves every byte
// after its line in the stream (Stream::Unread), so `stream.Read()` or a
// binary `ReadExactly` next sees them. Bytes of a partial line held while a
// ReadLine waits go back to the stream when the reader is destroyed.
//
// Preconditions: the stream outlives the reader; one ReadLine waits at a
// time (it is the stream's one reader).

#ifndef EMBER_PROTOCOLS_LINE_LINE_READER_H_
#define EMBER_PROTOCOLS_LINE_LINE_READER_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocols/line/line_framer.h"
#include "reactor/coro/stream.h"

namespace ember::protocols {

class LineReader : private LineFramer::Listener {
 public:
  explicit LineReader(Stream& stream, LineFramer::Options options = {});
  // Returns a held partial line to the stream.
  ~LineReader() override;
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  class [[nodiscard]] LineAwaiter final
      : public coro_internal::StreamReadWaiter {
   public:
    LineAwaiter(LineReader* reader, coro_internal::StreamState* state)
        : StreamReadWaiter(state), reader_(reader) {}
    LineAwaiter(LineAwaiter&&) = default;
    absl::StatusOr<std::string> await_resume() { return std::move(result_); }

   private:
    bool TryRead() override;
    void Fail(absl::Status status) override { result_ = std::move(status); }
    LineReader* reader_;
    absl::StatusOr<std::string> result_;
  };

  // StatusOr<std::string>: the next line without its delimiter.
  LineAwaiter ReadLine();

 private:
  friend class LineAwaiter;
  void OnLine(std::string_view line) override;
  void OnBinary(std::string_view data) override;
  void OnError(const absl::Status& status) override;

  Stream& stream_;
  LineFramer framer_;
  bool have_line_ = false;
  std::string line_;
  std::string rest_;  // Bytes after the line, to go back to the stream.
  absl::Status error_;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_LINE_LINE_READER_H_
