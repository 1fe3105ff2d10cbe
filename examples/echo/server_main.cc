// A TCP echo server on the real network:
//   ./bazelw run --config=opt //examples/echo:server -- --port=7000
// and over TLS (then e.g. `openssl s_client -connect 127.0.0.1:7000`):
//   ... -- --port=7000 --tls_cert=cert.pem --tls_key=key.pem
// and with a reactor per thread, each listening on the port (SO_REUSEPORT):
//   ... -- --port=7000 --threads=2

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
ABSL_FLAG(int, threads, 1,
          "reactors, one per thread, each listening on the port "
          "(SO_REUSEPORT); 1 runs one reactor on the main thread");
ABSL_FLAG(bool, pin_threads, false,
          "with --threads > 1, pin reactor i's thread to the i-th CPU");

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv,
      "A TCP (or TLS) echo server.\n  server [--host=H] [--port=P] "
      "[--threads=N [--pin_threads]] [--tls_cert=FILE --tls_key=FILE]");
  auto tls = ember::examples::ServerTlsFromFlags();
  if (!tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().ToString().c_str());
    return 2;
  }
  auto threads =
      ember::examples::ThreadsFromFlag(absl::GetFlag(FLAGS_threads));
  if (!threads.ok()) {
    std::fprintf(stderr, "%s\n", threads.status().ToString().c_str());
    return 2;
  }
  const char* name =
      *tls != nullptr ? "echo server (TLS)" : "echo server";
  auto make_factory = [tls = *tls]() -> ember::Reactor::ConnectionFactory {
    ember::Reactor::ConnectionFactory factory = [] {
      return std::make_unique<ember::examples::EchoConnection>();
    };
    if (tls != nullptr) {
      factory = ember::tls::TlsServerFactory(tls, std::move(factory));
    }
    return factory;
  };
  if (*threads > 1) {
    // Each reactor its own listener and connections; they share only the
    // (immutable) TLS context.
    return ember::examples::ServerProgram::RunThreads(
        name, {*threads, absl::GetFlag(FLAGS_pin_threads)},
        absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
        [&](ember::Reactor& reactor, size_t,
            ember::SharedListenPort& port) -> ember::ReactorGroup::SetupResult {
          auto address = port.Listen(reactor, make_factory());
          if (!address.ok()) return address.status();
          return nullptr;
        });
  }
  return ember::examples::ServerProgram::ServeConnections(
      name, absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      make_factory());
}
