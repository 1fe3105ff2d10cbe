// A reactor per core: N reactors, each on its own thread over its own
// io::Network, typically each with its own SO_REUSEPORT listener on one
// shared port, so the kernel spreads incoming connections over them.
//
//   ReactorGroupOptions options;
//   options.threads = 2;
//   // main() picks the backend: io::EpollNetwork::Create(), returned as a
//   // StatusOr<std::unique_ptr<io::Network>> (README has it in full).
//   options.network_factory = ...;
//   SharedListenPort port("0.0.0.0", 8080);
//   auto group = ReactorGroup::Start(std::move(options),
//       [&](Reactor& reactor, size_t index) -> ReactorGroup::SetupResult {
//         auto server = std::make_unique<HttpServer>(reactor, opts, handler);
//         auto address = port.Listen(reactor, server->Factory());
//         if (!address.ok()) return address.status();
//         // Lives as long as this reactor runs.
//         return std::make_unique<ReactorLocalOf<HttpServer>>(
//             std::move(server));
//       });
//   if (!group.ok()) ...;
//   return (*group)->Run().ok() ? 0 : 1;   // until Stop/GracefulShutdown
//
// Share nothing but what the user shares. Each reactor, its connections,
// timers and handlers run on that reactor's thread only, exactly as a lone
// Reactor does: handler code needs no locks as long as it touches only its
// own reactor's objects. Anything the user shares between reactors (a cache,
// a counter) is the user's to synchronise; immutable things (a TlsContext)
// may be shared as they are. To act on another
// reactor, go through its thread-safe API: `reactor(i).Schedule(...)`,
// `NextTick`, `Stop` (reactor.h lists them); nothing else on another
// reactor may be called.
//
// SO_REUSEPORT (Linux): every socket in a port's group must set the option
// and belong to the same effective user id; the kernel then hashes each
// incoming connection's 4-tuple to one of the listeners. A process of
// another user cannot join the group to steal connections, but any process
// of the same user can, so run servers under their own user.
//
// Why a package of its own: reactor/ is under the determinism check
// (tests/tidy), which allows no threads there, and rightly so: the
// simulated backend is single-threaded (DESIGN.md, rule 4), so a group
// runs only over the real backend. It still names no backend: the caller
// passes a network factory, and CPU pinning comes in through
// `thread_start` (io/epoll/thread_affinity.h has PinThisThread).

#ifndef EMBER_REACTOR_GROUP_REACTOR_GROUP_H_
#define EMBER_REACTOR_GROUP_REACTOR_GROUP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "reactor/reactor.h"

namespace ember {

// What a setup leaves on its reactor (servers, their handlers): destroyed on
// the reactor's thread once its Run has returned, before the reactor.
class ReactorLocal {
 public:
  virtual ~ReactorLocal() = default;
};

// Holds any one object as a ReactorLocal.
template <typename T>
class ReactorLocalOf final : public ReactorLocal {
 public:
  explicit ReactorLocalOf(std::unique_ptr<T> value)
      : value_(std::move(value)) {}
  T& get() { return *value_; }

 private:
  std::unique_ptr<T> value_;
};

struct ReactorGroupOptions {
  // Reactors (and threads), at least 1.
  size_t threads = 1;
  // For every reactor.
  ReactorOptions reactor;
  // Makes reactor `index`'s network. Called on that reactor's thread, one
  // reactor at a time. Required. An error fails Start.
  std::function<absl::StatusOr<std::unique_ptr<io::Network>>(size_t index)>
      network_factory;
  // Runs first on each new thread, before its network is made (for example
  // to pin it to a CPU). Optional. An error fails Start.
  std::function<absl::Status(size_t index)> thread_start;
};

class ReactorGroup {
 public:
  // nullptr when the setup keeps nothing.
  using SetupResult = absl::StatusOr<std::unique_ptr<ReactorLocal>>;
  // Runs on reactor `index`'s thread, before its loop starts, to start its
  // servers. Setups run one at a time, in index order, so a setup may read
  // what earlier ones wrote without a race (SharedListenPort relies on it).
  using Setup = absl::AnyInvocable<SetupResult(Reactor& reactor,
                                               size_t index)>;

  // Starts the threads; each makes its network and reactor and runs its
  // setup, then all loops start together once every setup has succeeded.
  // When any step fails (kInvalidArgument for bad options, kInternal for a
  // step that threw), the threads
  // started so far tear down (their setup's objects, reactor and network,
  // each on its own thread) and are joined before Start returns the
  // error, prefixed by "reactor <index>: ".
  static absl::StatusOr<std::unique_ptr<ReactorGroup>> Start(
      ReactorGroupOptions options, Setup setup);

  // Stops every reactor and joins the threads.
  ~ReactorGroup();
  ReactorGroup(const ReactorGroup&) = delete;
  ReactorGroup& operator=(const ReactorGroup&) = delete;

  // Blocks until every reactor has stopped and its thread has ended. A
  // reactor that stops on an error stops the others, so a program does not
  // go on silently at part capacity; Run then returns the first such error
  // (lowest index), prefixed by "reactor <index>: ". Call once, from one
  // thread.
  absl::Status Run();

  // Asks every reactor to stop (Reactor::Stop). Thread-safe, also from a
  // reactor's own thread.
  void Stop();
  // Reactor::GracefulShutdown on every reactor, each on its own thread: they
  // stop accepting, let their connections finish for up to `drain`, then
  // stop. Thread-safe.
  void GracefulShutdown(absl::Duration drain);

  size_t size() const { return workers_.size(); }
  // Valid while the group lives. From other threads, only its thread-safe
  // methods (Schedule, NextTick, Stop, IsReactorThread).
  Reactor& reactor(size_t index) const;

 private:
  struct Worker;

  explicit ReactorGroup(size_t threads);
  // Runs on the worker's thread: the whole life of one reactor.
  void WorkerMain(Worker* worker, ReactorGroupOptions* options,
                  Setup* setup);
  void Join();

  std::vector<std::unique_ptr<Worker>> workers_;
};

// One port for the listeners of a group's reactors: each Listen sets
// SO_REUSEPORT, and when the port asked for is 0, the first listener picks
// a free port and the later ones bind the port it got. Call Listen from
// setups (which run in index order); it is thread-safe anyway.
class SharedListenPort {
 public:
  SharedListenPort(std::string host, uint16_t port);

  // Reactor::StartServer on `host` and the shared port with `options`
  // plus reuse_port. Returns the bound address.
  absl::StatusOr<io::Address> Listen(Reactor& reactor,
                                     Reactor::ConnectionFactory factory,
                                     io::ListenOptions options = {});
  // The port asked for, or once a listener bound port 0, the port it got.
  uint16_t port() const;
  // The first listener's address; kFailedPrecondition before any.
  absl::StatusOr<io::Address> address() const;

 private:
  const std::string host_;
  mutable std::mutex mu_;
  uint16_t port_;                          // Guarded by mu_.
  std::optional<io::Address> first_;       // Guarded by mu_.
};

}  // namespace ember

#endif  // EMBER_REACTOR_GROUP_REACTOR_GROUP_H_
