// Ember's reactor answering HTTP as the epoll loop does: each connection
// scans its input for blank lines (hello_response.h) and answers every
// request head it finds, with no HTTP parser. It is built like
// //examples/http:hello (the same program skeleton, signal thread and
// listener) and differs from it only in what answers the bytes, so beside
// that server and the epoll loop it splits Ember's cost over the bare scan
// into the reactor's part (this server over the epoll loop) and the HTTP
// layer's (//examples/http:hello over this server).
//   ember_scan_hello [--host=H] [--port=P]

#include <memory>
#include <string>
#include <string_view>

#include "absl/flags/flag.h"
#include "bench/peers/hello_response.h"
#include "examples/common/flags.h"
#include "examples/common/server_program.h"
#include "reactor/connection.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8080, "port to listen on (0 picks a free one)");

namespace {

ember::bench::HelloResponse hello;

class ScanConnection : public ember::Connection {
 public:
  void ReceiveData(std::string_view data) override {
    in_.append(data);
    const size_t requests = ember::bench::TakeRequests(in_);
    if (in_.size() > ember::bench::kRequestHeadBytesMax) {
      CloseConnection();
      return;
    }
    if (requests == 0) return;
    ember::bench::AppendResponses(hello, requests, out_);
    // Cannot fail short of the outbound limit (64 MiB by default), which a
    // client that reads its answers never reaches.
    SendData(out_).IgnoreError();
    out_.clear();
  }

 private:
  std::string in_;
  std::string out_;
};

}  // namespace

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv,
      "Ember's reactor answering HTTP with a bare blank-line scan.\n"
      "  ember_scan_hello [--host=H] [--port=P]");
  return ember::examples::ServerProgram::ServeConnections(
      "hello server (Ember, bare scan)", absl::GetFlag(FLAGS_host),
      absl::GetFlag(FLAGS_port),
      [] { return std::make_unique<ScanConnection>(); });
}
