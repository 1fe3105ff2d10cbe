// LineConnection: a reactor connection that speaks in lines.
//
// The thin adapter between `Connection` (bytes as they arrive) and
// `LineFramer` (complete lines and binary blocks): subclass it and override
// `ReceiveLine`, and application code never sees a partial read. The framer
// is reachable through `framer()` to change the delimiter or switch to binary
// mode from inside any callback, as EventMachine's LineText2 allows.
//
// `Pause()` inside `ReceiveLine` (or the binary callbacks) takes effect at
// once: no further line is delivered, even from the read being handled,
// until `Resume()`; the lines held back are then delivered from the loop,
// before anything read later.
//
// A line longer than the framer's `line_bytes_max` ends the connection:
// `ReceiveLineError` is called (the default closes at once; override it to
// send an error message first, then close after writing).

#ifndef EMBER_PROTOCOLS_LINE_LINE_CONNECTION_H_
#define EMBER_PROTOCOLS_LINE_LINE_CONNECTION_H_

#include <string_view>

#include "absl/status/status.h"
#include "protocols/line/line_framer.h"
#include "reactor/connection.h"

namespace ember::protocols {

class LineConnection : public Connection, private LineFramer::Listener {
 public:
  explicit LineConnection(LineFramer::Options options = {});

  // One complete line, without its delimiter.
  virtual void ReceiveLine(std::string_view line) = 0;
  // Binary data after framer().SetBinaryMode*(...).
  virtual void ReceiveBinaryData(std::string_view data) {}
  virtual void ReceiveEndOfBinaryData(LineFramer::BinaryEnd how) {}
  // The framer failed (a line or block over its limit): nothing more will be
  // delivered. The default closes the connection.
  virtual void ReceiveLineError(const absl::Status& status) {
    CloseConnection();
  }

  LineFramer& framer() { return framer_; }

  // Feeds the framer; override only to look at raw bytes too (and call
  // LineConnection::ReceiveData).
  void ReceiveData(std::string_view data) override;
  // Ends the framing (a partial binary block is delivered), then closes
  // after writing, as Connection does.
  void ReceiveEof() override;

 protected:
  void ReadingResumed() override;

 private:
  void OnLine(std::string_view line) override {
    ReceiveLine(line);
    FollowPause();
  }
  void OnBinary(std::string_view data) override {
    ReceiveBinaryData(data);
    FollowPause();
  }
  void OnBinaryEnd(LineFramer::BinaryEnd how) override {
    ReceiveEndOfBinaryData(how);
    FollowPause();
  }
  // A handler that paused the connection pauses the framer too.
  void FollowPause() {
    if (paused()) framer_.Pause();
  }
  // Lets the framer go on if the connection is no longer paused.
  void CatchUp() {
    if (framer_.paused() && !paused()) framer_.Resume();
  }
  void OnError(const absl::Status& status) override {
    ReceiveLineError(status);
  }

  LineFramer framer_;
  bool finished_ = false;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_LINE_LINE_CONNECTION_H_
