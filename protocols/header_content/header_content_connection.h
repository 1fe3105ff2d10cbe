// HeaderContentConnection: a reactor connection that receives whole
// header-and-content messages (EventMachine's HeaderAndContentProtocol).
//
// Subclass it and override `ReceiveRequest(headers, content)`; the adapter
// feeds what the connection reads to a HeaderContentParser, so application
// code never sees a partial message, and several pipelined messages in one
// read arrive one by one. A message over a limit, or malformed, calls
// `ReceiveHeaderContentError` (default: close at once) and nothing more is
// delivered. The end of the stream inside a message is such an error too.

#ifndef EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_CONNECTION_H_
#define EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_CONNECTION_H_

#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "protocols/header_content/header_content_parser.h"
#include "reactor/connection.h"

namespace ember::protocols {

class HeaderContentConnection : public Connection,
                                private HeaderContentParser::Listener {
 public:
  explicit HeaderContentConnection(HeaderContentParser::Options options = {});

  // A whole message: its header lines, as received, and its body ("" with
  // no Content-Length). `SplitHeaderLine` splits a line into name and value.
  virtual void ReceiveRequest(std::span<const std::string_view> headers,
                              std::string_view content) = 0;
  // Early looks at a message, before its body arrives.
  virtual void ReceiveFirstHeaderLine(std::string_view line) {}
  virtual void ReceiveHeaders(std::span<const std::string_view> headers) {}
  // The stream is unusable (see the file comment). The default closes.
  virtual void ReceiveHeaderContentError(const absl::Status& status) {
    CloseConnection();
  }

  void ReceiveData(std::string_view data) override;
  // Checks that the stream did not end inside a message, then closes after
  // writing, as Connection does.
  void ReceiveEof() override;

 private:
  void OnFirstHeaderLine(std::string_view line) override {
    ReceiveFirstHeaderLine(line);
  }
  void OnHeaders(std::span<const std::string_view> lines) override {
    ReceiveHeaders(lines);
  }
  void OnMessage(std::span<const std::string_view> lines,
                 std::string_view content) override {
    ReceiveRequest(lines, content);
  }
  void OnError(const absl::Status& status) override {
    ReceiveHeaderContentError(status);
  }

  HeaderContentParser parser_;
  bool finished_ = false;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HEADER_CONTENT_HEADER_CONTENT_CONNECTION_H_
