// The HTTP example on the real network:
//   ./bazelw run //examples/http:hello -- --port=8080
// then `curl http://127.0.0.1:8080/` says "Hello, World!". With
// --tls_cert=FILE --tls_key=FILE it speaks HTTPS (ALPN http/1.1):
// `curl --cacert ca.pem https://localhost:8080/`. Keep-alive and
// pipelining work as HTTP/1.1 says; Ctrl-C lets open requests finish (up to
// 5 s), a second Ctrl-C stops at once. --threads=N runs N reactors, one per
// thread, each with its own HttpServer listening on the port (SO_REUSEPORT).

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "examples/common/flags.h"
#include "examples/common/tls_flags.h"
#include "examples/common/server_program.h"
#include "examples/http/hello_server.h"
#include "protocols/http/http_server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8080, "port to listen on (0 picks a free one)");
ABSL_FLAG(int, threads, 1,
          "reactors, one per thread, each listening on the port "
          "(SO_REUSEPORT); 1 runs one reactor on the main thread");
ABSL_FLAG(bool, pin_threads, false,
          "with --threads > 1, pin reactor i's thread to the i-th CPU");

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv,
      "An HTTP/1.1 (or HTTPS) hello server.\n  hello [--host=H] [--port=P] "
      "[--threads=N [--pin_threads]] [--tls_cert=FILE --tls_key=FILE]");
  auto tls = ember::examples::ServerTlsFromFlags({"http/1.1"});
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
  ember::protocols::HttpServerOptions options;
  options.tls = *tls;
  if (*threads > 1) {
    // An HttpServer per reactor; they share only the (immutable) options.
    return ember::examples::ServerProgram::RunThreads(
        *tls != nullptr ? "hello server (HTTPS)" : "hello server",
        {*threads, absl::GetFlag(FLAGS_pin_threads)},
        absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
        [&](ember::Reactor& reactor, size_t,
            ember::SharedListenPort& port) -> ember::ReactorGroup::SetupResult {
          auto server = std::make_unique<ember::protocols::HttpServer>(
              reactor, options, ember::examples::HandleHello);
          auto address = port.Listen(reactor, server->Factory());
          if (!address.ok()) return address.status();
          return std::make_unique<
              ember::ReactorLocalOf<ember::protocols::HttpServer>>(
              std::move(server));
        });
  }
  auto program =
      ember::examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  ember::protocols::HttpServer server((*program)->reactor(), options,
                                      ember::examples::HandleHello);
  // Tests read the "listening on" line to learn the port.
  return (*program)->Run(*tls != nullptr ? "hello server (HTTPS)"
                                         : "hello server",
                         server.Listen(absl::GetFlag(FLAGS_host),
                                       (*program)->port()));
}
