#include "protocols/line/line_connection.h"

#include <utility>

namespace ember::protocols {

LineConnection::LineConnection(LineFramer::Options options)
    : framer_(this, std::move(options)) {}

void LineConnection::ReceiveData(std::string_view data) {
  if (closing()) return;  // Nothing more is wanted once closing.
  framer_.Feed(data);
}

void LineConnection::ReceiveEof() {
  if (!finished_) {
    finished_ = true;
    framer_.Finish();
  }
  Connection::ReceiveEof();
}

}  // namespace ember::protocols
