// A TCP echo server on the real network:
//   ./bazelw run --config=opt //examples/echo:server -- --port=7000

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/server_program.h"
#include "examples/echo/echo_server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 7000, "port to listen on (0 picks a free one)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto program =
      ember::examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  ember::Reactor& reactor = (*program)->reactor();
  auto server = reactor.StartServer(
      absl::GetFlag(FLAGS_host), (*program)->port(),
      [] { return std::make_unique<ember::examples::EchoConnection>(); });
  return (*program)->Run("echo server", server.ok()
                                            ? reactor.ServerAddress(*server)
                                            : server.status());
}
