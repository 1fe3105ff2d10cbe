#include "examples/common/server_program.h"

#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "io/epoll/epoll_network.h"
#include "io/epoll/thread_affinity.h"
#include "io/uring/uring_network.h"

namespace ember::examples {

// The value of --backend: which real io::Network the reactors run on.
enum class Backend { kEpoll, kUring };

// Abseil's parsing of a custom flag type, found by argument-dependent
// lookup: a value other than these two fails the command line.
bool AbslParseFlag(absl::string_view text, Backend* backend,
                   std::string* error) {
  if (text == "epoll") {
    *backend = Backend::kEpoll;
    return true;
  }
  if (text == "uring") {
    *backend = Backend::kUring;
    return true;
  }
  *error = "must be epoll or uring";
  return false;
}

std::string AbslUnparseFlag(Backend backend) {
  return backend == Backend::kUring ? "uring" : "epoll";
}

}  // namespace ember::examples

ABSL_FLAG(ember::examples::Backend, backend, ember::examples::Backend::kEpoll,
          "the network the reactors run on: epoll, or uring (connected "
          "streams on io_uring, Linux 6.0 or later; see "
          "io/uring/uring_network.h)");

namespace ember::examples {

namespace {

// A login shell's soft limit on descriptors is often 1,024 while the hard
// limit allows far more: a server would stop accepting at about a thousand
// connections. So the first network raises the soft limit as far as the
// hard one allows, up to the kernel's default ceiling (fs.nr_open). A
// failure is reported and the server runs on with the limit it has.
void RaiseDescriptorLimitOnce() {
  static const bool raised = [] {
    constexpr int kWanted = 1 << 20;
    absl::StatusOr<int> limit = io::EpollNetwork::RaiseDescriptorLimit(kWanted);
    if (!limit.ok()) {
      std::fprintf(stderr, "descriptor limit not raised: %s\n",
                   limit.status().ToString().c_str());
    }
    return limit.ok();
  }();
  (void)raised;
}

// A network of the kind `backend` names. A failure says which backend.
absl::StatusOr<std::unique_ptr<io::Network>> CreateNetwork(Backend backend) {
  RaiseDescriptorLimitOnce();
  if (backend == Backend::kUring) {
    absl::StatusOr<std::unique_ptr<io::UringNetwork>> network =
        io::UringNetwork::Create();
    if (!network.ok()) {
      return absl::Status(
          network.status().code(),
          absl::StrCat("--backend=uring: ", network.status().message()));
    }
    return std::unique_ptr<io::Network>(std::move(*network));
  }
  absl::StatusOr<std::unique_ptr<io::EpollNetwork>> network =
      io::EpollNetwork::Create();
  if (!network.ok()) return network.status();
  return std::unique_ptr<io::Network>(std::move(*network));
}

}  // namespace

absl::StatusOr<size_t> ThreadsFromFlag(int threads_flag) {
  if (threads_flag < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--threads must be at least 1 (one reactor per thread), not ",
        threads_flag));
  }
  return static_cast<size_t>(threads_flag);
}

absl::StatusOr<std::unique_ptr<ServerProgram>> ServerProgram::Create(
    int port_flag) {
  if (port_flag < 0 || port_flag > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be 0..65535, not ", port_flag));
  }
  absl::StatusOr<std::unique_ptr<io::Network>> network =
      CreateNetwork(absl::GetFlag(FLAGS_backend));
  if (!network.ok()) return network.status();
  std::unique_ptr<ServerProgram> program(new ServerProgram());
  program->port_ = static_cast<uint16_t>(port_flag);
  program->network_ = std::move(*network);
  program->reactor_ = std::make_unique<Reactor>(*program->network_);
  program->signals_ =
      std::make_unique<ShutdownOnSignal>(*program->reactor_, absl::Seconds(5));
  return program;
}

int ServerProgram::ServeConnections(std::string_view what,
                                    const std::string& host, int port_flag,
                                    Reactor::ConnectionFactory factory) {
  absl::StatusOr<std::unique_ptr<ServerProgram>> program = Create(port_flag);
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  Reactor& reactor = (*program)->reactor();
  absl::StatusOr<ServerId> server =
      reactor.StartServer(host, (*program)->port(), std::move(factory));
  return (*program)->Run(
      what, server.ok() ? reactor.ServerAddress(*server) : server.status());
}

int ServerProgram::Run(std::string_view what,
                       const absl::StatusOr<io::Address>& address) {
  const std::string name(what);
  if (!address.ok()) {
    std::fprintf(stderr, "%s cannot listen: %s\n", name.c_str(),
                 address.status().ToString().c_str());
    return 1;
  }
  std::printf("%s listening on %s (Ctrl-C to stop)\n", name.c_str(),
              address->ToString().c_str());
  std::fflush(stdout);
  absl::Status status = reactor_->Run();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: reactor stopped: %s\n", name.c_str(),
                 status.ToString().c_str());
    return 1;
  }
  return 0;
}

namespace {

// The group, for the signal thread, which starts before the group does
// (signals must be blocked before any reactor thread exists). A signal that
// comes before the group is recorded and acted on once it is there.
class SignalTarget {
 public:
  void Graceful(absl::Duration drain) {
    std::lock_guard<std::mutex> lock(mu_);
    if (group_ != nullptr) {
      group_->GracefulShutdown(drain);
    } else {
      pending_drain_ = drain;
    }
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (group_ != nullptr) {
      group_->Stop();
    } else {
      pending_stop_ = true;
    }
  }
  void Attach(ReactorGroup* group) {
    std::lock_guard<std::mutex> lock(mu_);
    group_ = group;
    if (pending_stop_) {
      group_->Stop();
    } else if (pending_drain_.has_value()) {
      group_->GracefulShutdown(*pending_drain_);
    }
  }
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    group_ = nullptr;
  }

 private:
  std::mutex mu_;
  ReactorGroup* group_ = nullptr;  // Guarded by mu_.
  std::optional<absl::Duration> pending_drain_;
  bool pending_stop_ = false;
};

}  // namespace

int ServerProgram::RunThreads(std::string_view what,
                              const ThreadsOptions& options, std::string host,
                              int port_flag, Serve serve) {
  const std::string name(what);
  if (port_flag < 0 || port_flag > 65535) {
    std::fprintf(stderr, "--port must be 0..65535, not %d\n", port_flag);
    return 2;
  }
  SignalTarget target;
  ShutdownOnSignal signals(
      absl::Seconds(5), [&](absl::Duration d) { target.Graceful(d); },
      [&] { target.Stop(); });
  SharedListenPort port(std::move(host), static_cast<uint16_t>(port_flag));

  ReactorGroupOptions group_options;
  group_options.threads = options.threads;
  // Each reactor's network, made on its thread, of the one --backend kind.
  group_options.network_factory =
      [backend = absl::GetFlag(FLAGS_backend)](size_t) {
        return CreateNetwork(backend);
      };
  if (options.pin_threads) {
    group_options.thread_start = [](size_t index) {
      return io::PinThisThread(index).status();
    };
  }
  absl::StatusOr<std::unique_ptr<ReactorGroup>> group = ReactorGroup::Start(
      std::move(group_options),
      [&](Reactor& reactor, size_t index) {
        return serve(reactor, index, port);
      });
  if (!group.ok()) {
    std::fprintf(stderr, "%s cannot start: %s\n", name.c_str(),
                 group.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<io::Address> address = port.address();
  std::printf("%s listening on %s (%zu threads, Ctrl-C to stop)\n",
              name.c_str(),
              address.ok() ? address->ToString().c_str() : "?",
              options.threads);
  std::fflush(stdout);
  target.Attach(group->get());
  absl::Status status = (*group)->Run();
  target.Detach();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: reactor stopped: %s\n", name.c_str(),
                 status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ember::examples
