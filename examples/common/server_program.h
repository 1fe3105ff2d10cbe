// The shared frame of the example server programs: the real network, a
// reactor, Ctrl-C handling, and the "listening on" line.
//
//   absl::ParseCommandLine(argc, argv);
//   auto program = ServerProgram::Create(absl::GetFlag(FLAGS_port));
//   if (!program.ok()) { ...print..., return 2; }
//   ChatServer chat((*program)->reactor());   // destroyed before the program
//   return (*program)->Run("chat server",
//                          chat.Listen(host, (*program)->port()));
//
// With --threads=N > 1, RunThreads instead runs a reactor per thread
// (reactor/group): each listens on the same port with SO_REUSEPORT.
//
// Before its first network it raises the process's soft limit on open
// descriptors as far as the hard limit allows (at most 1,048,576), so that a
// server is not held to a login shell's 1,024 connections.
//
// Every program built on it takes --backend=epoll|uring (defined here, so
// that it is one flag for all of them): the real network each reactor runs
// on, io::EpollNetwork (the default) or io::UringNetwork (connected streams
// on io_uring, Linux 6.0 or later; see io/uring/uring_network.h). Another
// value is refused when the flags are parsed.

#ifndef EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_
#define EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "examples/common/signals.h"
#include "io/address.h"
#include "io/network.h"
#include "reactor/group/reactor_group.h"
#include "reactor/reactor.h"

namespace ember::examples {

// Checks --threads: at least 1 (kInvalidArgument otherwise).
absl::StatusOr<size_t> ThreadsFromFlag(int threads_flag);

struct ThreadsOptions {
  size_t threads = 2;
  // Pin reactor i's thread to the i-th CPU the process may use.
  bool pin_threads = false;
};

class ServerProgram {
 public:
  // Starts one reactor's servers: listens through `port` (which shares it
  // with the other reactors) and returns what must live as long as the
  // reactor. Runs on that reactor's thread.
  using Serve = absl::AnyInvocable<ReactorGroup::SetupResult(
      Reactor& reactor, size_t index, SharedListenPort& port)>;

  // A reactor per thread: `options.threads` reactors, each with its own
  // network of the --backend kind and its own SO_REUSEPORT listener on
  // `host` and the --port value (0: the first picks a free port, the others
  // bind it).
  // `serve` runs on each reactor's thread, one after another. Prints
  // "<what> listening on <address> (<n> threads, Ctrl-C to stop)" once all
  // listen, and returns when every reactor has stopped: Ctrl-C drains every
  // reactor for up to 5 s (a second Ctrl-C stops them at once). Returns
  // main's exit code: 2 for a bad --port, 1 when a reactor could not start
  // (its network included) or stopped on an error, 0 after a clean stop.
  static int RunThreads(std::string_view what, const ThreadsOptions& options,
                        std::string host, int port_flag, Serve serve);

  // Checks the --port value (0..65535; 0 picks a free port), creates the
  // network --backend names and the reactor, and arranges for Ctrl-C to
  // drain connections for up to 5 s (a second Ctrl-C stops at once).
  static absl::StatusOr<std::unique_ptr<ServerProgram>> Create(int port_flag);

  Reactor& reactor() { return *reactor_; }
  uint16_t port() const { return port_; }

  // Prints "<what> listening on <address> (Ctrl-C to stop)" (tests read the
  // port from it) and runs the reactor. Returns main's exit code: 0 after a
  // clean stop, 1 when listening failed or the reactor stopped on an error.
  int Run(std::string_view what, const absl::StatusOr<io::Address>& address);

  // The whole program of a server whose connections `factory` makes, on
  // one reactor: Create, StartServer on `host` and the --port value, Run.
  // Returns main's exit code as Run does, or 2 when Create fails (a bad
  // --port, or a backend that cannot start), after printing why.
  static int ServeConnections(std::string_view what, const std::string& host,
                              int port_flag,
                              Reactor::ConnectionFactory factory);

 private:
  ServerProgram() = default;

  uint16_t port_ = 0;
  std::unique_ptr<io::Network> network_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<ShutdownOnSignal> signals_;
};

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_COMMON_SERVER_PROGRAM_H_
