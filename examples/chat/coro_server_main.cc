// The chat server written with coroutines, on the real network:
//   ./bazelw run //examples/chat:coro_server -- --port=8081
// Same flags and behaviour as //examples/chat:server.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/chat/coro_chat_server.h"
#include "examples/common/server_program.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8081, "port to listen on (0 picks a free one)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto program =
      ember::examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  ember::examples::CoroChatServer chat((*program)->reactor());
  return (*program)->Run(
      "chat server", chat.Listen(absl::GetFlag(FLAGS_host), (*program)->port()));
}
