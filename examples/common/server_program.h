// The shared frame of the example server programs: the real network, a
// reactor, Ctrl-C handling, and the "listening on" line.
//
//   absl::ParseCommandLine(argc, argv);
//   auto program = ServerProgram::Create(absl::GetFlag(FLAGS_port));
//   if (!program.ok()) { ...print..., return 2; }
//   ChatServer chat((*program)->reactor());   // destroyed before the program
//   return (*program)->Run("chat server",
//                          chat.Listen(host, (*program)->port()));

#ifndef EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_
#define EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "examples/common/signals.h"
#include "io/address.h"
#include "io/epoll/epoll_network.h"
#include "reactor/reactor.h"

namespace ember::examples {

class ServerProgram {
 public:
  // Checks the --port value (0..65535; 0 picks a free port), creates the
  // epoll network and the reactor, and arranges for Ctrl-C to drain
  // connections for up to 5 s (a second Ctrl-C stops at once).
  static absl::StatusOr<std::unique_ptr<ServerProgram>> Create(int port_flag);

  Reactor& reactor() { return *reactor_; }
  uint16_t port() const { return port_; }

  // Prints "<what> listening on <address> (Ctrl-C to stop)" (tests read the
  // port from it) and runs the reactor. Returns main's exit code: 0 after a
  // clean stop, 1 when listening failed or the reactor stopped on an error.
  int Run(std::string_view what, const absl::StatusOr<io::Address>& address);

 private:
  ServerProgram() = default;

  uint16_t port_ = 0;
  std::unique_ptr<io::EpollNetwork> network_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<ShutdownOnSignal> signals_;
};

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_
