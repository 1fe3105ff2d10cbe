#include "protocols/header_content/header_content_connection.h"

#include <utility>

namespace ember::protocols {

HeaderContentConnection::HeaderContentConnection(
    HeaderContentParser::Options options)
    : parser_(this, std::move(options)) {}

void HeaderContentConnection::ReceiveData(std::string_view data) {
  if (closing()) return;
  parser_.Feed(data);
}

void HeaderContentConnection::ReceiveEof() {
  if (!finished_) {
    finished_ = true;
    parser_.Finish();
  }
  Connection::ReceiveEof();
}

}  // namespace ember::protocols
