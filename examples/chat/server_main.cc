// The chat server on the real network:
//   ./bazelw run //examples/chat:server -- --port=8081
// then, in other terminals, `nc 127.0.0.1 8081`.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "examples/chat/chat_server.h"
#include "examples/common/flags.h"
#include "examples/common/server_program.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8081, "port to listen on (0 picks a free one)");

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv, "A line-based chat server.\n  server [--host=H] [--port=P]");
  auto program =
      ember::examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  ember::examples::ChatServer chat((*program)->reactor());
  return (*program)->Run(
      "chat server", chat.Listen(absl::GetFlag(FLAGS_host), (*program)->port()));
}
