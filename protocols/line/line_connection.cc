#include "protocols/line/line_connection.h"

#include <utility>

namespace ember::protocols {

LineConnection::LineConnection(LineFramer::Options options)
    : framer_(this, std::move(options)) {}

void LineConnection::ReceiveData(std::string_view data) {
  if (closing()) return;  // Nothing more is wanted once closing.
  CatchUp();  // Held-back lines first, then these bytes.
  framer_.Feed(data);
}

void LineConnection::ReceiveEof() {
  if (!finished_) {
    finished_ = true;
    CatchUp();
    framer_.Finish();
  }
  Connection::ReceiveEof();
}

void LineConnection::ReadingResumed() {
  if (!framer_.paused()) return;
  // From the loop, never from inside Resume().
  NextTick([this] {
    if (closing() || finished_ || !framer_.paused() || paused()) return;
    framer_.Resume();
    framer_.Feed({});
  });
}

}  // namespace ember::protocols
