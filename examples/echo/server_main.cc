// A TCP echo server on the real network:
//   ./bazelw run --config=opt //examples/echo:server -- --port=7000
// and over TLS (then e.g. `openssl s_client -connect 127.0.0.1:7000`):
//   ... -- --port=7000 --tls_cert=cert.pem --tls_key=key.pem

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "examples/common/flags.h"
#include "examples/common/tls_flags.h"
#include "examples/common/server_program.h"
#include "examples/echo/echo_server.h"
#include "protocols/tls/tls_connection.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 7000, "port to listen on (0 picks a free one)");

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv,
      "A TCP (or TLS) echo server.\n  server [--host=H] [--port=P] "
      "[--tls_cert=FILE --tls_key=FILE]");
  auto tls = ember::examples::ServerTlsFromFlags();
  if (!tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().ToString().c_str());
    return 2;
  }
  auto program =
      ember::examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  ember::Reactor& reactor = (*program)->reactor();
  ember::Reactor::ConnectionFactory factory = [] {
    return std::make_unique<ember::examples::EchoConnection>();
  };
  if (*tls != nullptr) {
    factory = ember::tls::TlsServerFactory(*tls, std::move(factory));
  }
  auto server = reactor.StartServer(absl::GetFlag(FLAGS_host),
                                    (*program)->port(), std::move(factory));
  return (*program)->Run(*tls != nullptr ? "echo server (TLS)" : "echo server",
                         server.ok()
                                            ? reactor.ServerAddress(*server)
                                            : server.status());
}
