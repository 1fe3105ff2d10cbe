// LineFramer: line-oriented framing with interspersed binary blocks, the
// byte-stream core of EventMachine's LineText2, as a pure state machine.
//
// Bytes go in through `Feed` (cut anywhere: whole, byte by byte, or at random
// boundaries) and come out as events on a `LineFramer::Listener`: complete
// lines, binary data, the end of a binary block, or one error. There are no
// sockets and no clocks inside, so the framer can be fuzzed and
// property-tested on its own; an adapter onto a reactor connection feeds it
// what the connection reads and calls `Finish` when the stream ends.
//
// Modes:
//   - Line mode (the start): bytes up to a delimiter form a line. The default
//     delimiter "\n" also strips one trailing "\r" from the line (so "\r\n"
//     works too), as LineText2 does; any other delimiter, one byte or many, is
//     matched exactly and nothing else is stripped. A delimiter split across
//     two `Feed` calls is found (LineText2 misses multi-byte ones).
//   - Sized binary mode (`SetBinaryMode(n)`): the next n bytes form a block,
//     then the framer returns to line mode by itself.
//   - Unsized binary mode (`SetBinaryModeUnsized()`): every byte until the end
//     of the stream is binary data.
//
// Switching: a listener may switch mode, change the delimiter or push bytes
// back from inside any callback, and the change applies to the very next
// byte. `SetLineMode(pushback)` returns surplus bytes (say, the part of a
// binary chunk that belongs to the next line) to be framed before anything
// not yet processed.
//
// Differences from LineText2, on purpose:
//   - Lines longer than `Options::line_bytes_max` end the stream with a
//     kResourceExhausted error instead of buffering without bound.
//   - Sized blocks stream by default (`SizedBlockDelivery::kStream`): zero or
//     more non-empty `OnBinary` chunks, then `OnBinaryEnd`. With `kWhole` a
//     block is delivered as exactly one `OnBinary`, like LineText2; its size is
//     then capped by `Options::block_bytes_max`.
//   - A partial line still buffered at `Finish` is discarded, as LineText2
//     does; `buffered_bytes()` tells a caller who cares.
//   - A partial line buffered when the delimiter or mode changes from outside
//     a callback is framed again under the new rules rather than dropped.
//
// Events, for any cut of the same input, are the same once adjacent
// `OnBinary` chunks are joined (with kWhole they are the same exactly).
//
// Lifetime: the listener is not owned and must outlive the framer. Views
// passed to callbacks are valid only during the call. The framer must not be
// destroyed, and `Feed`/`Finish` must not be called, from inside its own
// callbacks (call `Stop()` instead). Not thread-safe.

#ifndef EMBER_PROTOCOLS_LINE_LINE_FRAMER_H_
#define EMBER_PROTOCOLS_LINE_LINE_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ember::protocols {

class LineFramer {
 public:
  // How a sized binary block reaches the listener.
  enum class SizedBlockDelivery {
    kStream,  // As it arrives, zero-copy where possible; no size cap.
    kWhole,   // Accumulated, then one OnBinary; capped by block_bytes_max.
  };

  // Why a binary block ended.
  enum class BinaryEnd {
    kComplete,   // A sized block got all its bytes, or an unsized one ended
                 // at Finish().
    kTruncated,  // Finish() came before a sized block got all its bytes.
  };

  enum class Mode { kLine, kBinarySized, kBinaryUnsized };

  struct Options {
    // Line delimiter at the start; must not be empty. "\n" also strips one
    // trailing "\r" from each line.
    std::string delimiter = "\n";
    // With the delimiter "\n": strip one trailing "\r" from each line. False
    // delivers the line exactly as it came (a "\r" before the "\n" stays),
    // so a caller can tell CRLF from a bare LF. That "\r" does not count
    // towards line_bytes_max either way.
    bool strip_cr = true;
    // The most bytes a delivered line may hold, not counting its delimiter
    // (nor the "\r" stripped with the default delimiter). A longer line is
    // an error (kResourceExhausted); the framer never buffers more than
    // about this much for a partial line.
    size_t line_bytes_max = 16 * 1024;
    SizedBlockDelivery sized_block_delivery = SizedBlockDelivery::kStream;
    // With kWhole, the largest block SetBinaryMode accepts; a larger one is
    // reported as a kResourceExhausted error. Ignored with kStream.
    uint64_t block_bytes_max = 32 * 1024 * 1024;
    // The most bytes held unframed while paused (what was left of the read
    // that paused, plus anything fed after): a pausing caller is expected to
    // stop feeding (LineConnection stops reading).
    size_t paused_bytes_max = 1 << 20;
  };

  // Receives the framer's events. Any callback may call the framer's Set*
  // methods and Stop(); see the file comment.
  class Listener {
   public:
    virtual ~Listener() = default;
    // One line, without its delimiter.
    virtual void OnLine(std::string_view line) = 0;
    // Binary data. With kStream and in unsized mode never empty; with kWhole
    // the whole (possibly empty) sized block.
    virtual void OnBinary(std::string_view data) = 0;
    // The current binary block ended. Called after its last OnBinary; the
    // framer is already back in line mode (for sized blocks), so the
    // callback may choose the next mode.
    virtual void OnBinaryEnd(BinaryEnd how) {}
    // The stream is unusable: a line too long or a block too large
    // (kResourceExhausted). Nothing is delivered after this; the caller is
    // expected to close the stream.
    virtual void OnError(const absl::Status& status) = 0;
  };

  // `listener` must be non-null and outlive the framer. Checks that the
  // options are valid (non-empty delimiter, line_bytes_max > 0).
  LineFramer(Listener* listener, Options options);
  explicit LineFramer(Listener* listener) : LineFramer(listener, Options()) {}

  LineFramer(const LineFramer&) = delete;
  LineFramer& operator=(const LineFramer&) = delete;

  // Frames `data` (and first any pushed-back bytes), delivering events.
  // Precondition: not inside a callback of this framer, Finish() not called.
  // After an error or Stop() the bytes are ignored.
  void Feed(std::string_view data);

  // The end of the stream: frames pushed-back bytes, then ends an unsized
  // block (OnBinaryEnd(kComplete)) or a partial sized one (OnBinary with the
  // partial block under kWhole, then OnBinaryEnd(kTruncated)). A partial
  // line is discarded. Precondition as for Feed; call at most once.
  void Finish();

  // Sets the delimiter for the next line; must not be empty.
  void SetDelimiter(std::string_view delimiter);

  // Returns to line mode. `pushback` bytes are framed before any byte not yet
  // processed: right after the current callback returns when called from a
  // callback, otherwise at the next Feed or Finish (Feed({}) will do).
  void SetLineMode(std::string_view pushback = {});

  // The next `size` bytes form one binary block. Size 0 is an empty block:
  // it ends (OnBinaryEnd(kComplete)) before the next byte is framed.
  void SetBinaryMode(uint64_t size);

  // Every byte until Finish() is binary data.
  void SetBinaryModeUnsized();

  // Delivers nothing more; later Feed and Finish calls do nothing.
  void Stop();

  // Stops delivering after the current event (from a callback) or before
  // the next one: the bytes not yet framed are kept, in order, and so is
  // anything fed while paused, up to `Options::paused_bytes_max` (beyond
  // it: a kResourceExhausted error). Resume() lets the next Feed or Finish
  // (Feed({}) will do) go on where framing stopped. Finish() while paused
  // frames nothing and ends the stream as if the kept bytes never came.
  void Pause() { paused_ = true; }
  void Resume() { paused_ = false; }
  bool paused() const { return paused_; }

  Mode mode() const { return mode_; }
  std::string_view delimiter() const { return delimiter_; }
  bool failed() const { return failed_; }
  // Bytes held but not yet delivered: a partial line, a partial block under
  // kWhole, and bytes kept unframed while paused.
  size_t buffered_bytes() const {
    return line_buffer_.size() + block_buffer_.size() + pending_bytes();
  }

 private:
  // Frames the pending bytes, then `data`, one step at a time, re-reading the
  // mode after every event.
  void Run(std::string_view data);
  // One step over `in` in the current mode; returns the bytes consumed.
  size_t StepLine(std::string_view in);
  size_t StepBinary(std::string_view in);
  // Delivers `line` (still carrying a "\r" to strip), or fails if too long.
  void DeliverLine(std::string_view line);
  // Delivers the line in line_buffer_ (minus `drop` trailing bytes).
  void DeliverBufferedLine(size_t drop);
  // Ends the current sized block: back to line mode, then the events.
  void CompleteSizedBlock(std::string_view last_chunk, bool from_buffer);
  // Bytes held for reframing (a partial line, a kWhole partial block) go in
  // front of the bytes pushed back.
  void ReframeBuffered();
  void MergePushback();
  void Fail(absl::Status status);
  size_t pending_bytes() const {
    return pending_.size() - pending_pos_ + pushback_.size();
  }
  // The shortest the current partial line can end up, after appending
  // `more`.
  size_t LineLowerBound(std::string_view more) const;

  void EmitLine(std::string_view line);
  void EmitBinary(std::string_view data);
  void EmitBinaryEnd(BinaryEnd how);

  Listener* const listener_;
  const Options options_;

  Mode mode_ = Mode::kLine;
  std::string delimiter_;
  // Delimiter is exactly "\n": a "\r" before it is not counted, and is
  // stripped unless Options::strip_cr is false.
  bool strip_cr_ = true;
  // Sized mode: bytes still to come in the current block.
  uint64_t block_remaining_ = 0;

  // Line mode: bytes of a partial line; never contains a whole delimiter.
  std::string line_buffer_;
  // Swapped with line_buffer_ while a buffered line is delivered, so that
  // callbacks see an empty line_buffer_ and the delivered view stays valid.
  std::string line_scratch_;
  // kWhole: the part of the current block received so far (plus scratch).
  std::string block_buffer_;
  std::string block_scratch_;

  // Bytes pushed back (or held bytes to reframe) being framed, and how far.
  std::string pending_;
  size_t pending_pos_ = 0;
  // Bytes pushed back since the last step; merged in front of the rest of
  // pending_ between steps, never while a callback may hold a view.
  std::string pushback_;

  absl::Status deferred_error_;  // Set by SetBinaryMode; reported by Run.
  int callback_depth_ = 0;
  bool failed_ = false;
  bool stopped_ = false;
  bool paused_ = false;
  bool finished_ = false;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_LINE_LINE_FRAMER_H_
