#include "reactor/group/reactor_group.h"

#include <condition_variable>
#include <exception>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember {

struct ReactorGroup::Worker {
  enum class Phase { kStarting, kReady, kFailed };
  enum class Go { kWaiting, kRun, kAbort };

  size_t index = 0;
  std::thread thread;
  // Set on the worker's thread before it reports kReady, read by others only
  // after that (the handshake under mu orders them); destroyed by the group
  // after the thread is joined, so `reactor(i)` and Stop stay valid after a
  // loop has ended. The network outlives the reactor (declared first).
  std::unique_ptr<io::Network> network;
  std::unique_ptr<Reactor> reactor;

  std::mutex mu;
  std::condition_variable cv;
  Phase phase = Phase::kStarting;  // Guarded by mu.
  Go go = Go::kWaiting;            // Guarded by mu.
  absl::Status status;             // Guarded by mu: setup's or Run's error.
};

namespace {

absl::Status Prefixed(size_t index, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("reactor ", index, ": ",
                                                  status.message()));
}

}  // namespace

ReactorGroup::ReactorGroup(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->index = i;
  }
}

absl::StatusOr<std::unique_ptr<ReactorGroup>> ReactorGroup::Start(
    ReactorGroupOptions options, Setup setup) {
  if (options.threads == 0) {
    return absl::InvalidArgumentError("a reactor group needs threads >= 1");
  }
  if (!options.network_factory) {
    return absl::InvalidArgumentError(
        "a reactor group needs a network_factory");
  }
  if (!setup) {
    return absl::InvalidArgumentError("a reactor group needs a setup");
  }
  std::unique_ptr<ReactorGroup> group(new ReactorGroup(options.threads));
  absl::Status failed;
  size_t started = 0;
  // One at a time: a setup runs only after the previous one succeeded.
  for (auto& w : group->workers_) {
    try {
      w->thread = std::thread(&ReactorGroup::WorkerMain, group.get(), w.get(),
                              &options, &setup);
    } catch (const std::system_error& e) {
      failed = absl::ResourceExhaustedError(
          absl::StrCat("reactor ", w->index, ": cannot start a thread: ",
                       e.what()));
      break;
    }
    ++started;
    std::unique_lock<std::mutex> lock(w->mu);
    w->cv.wait(lock, [&] { return w->phase != Worker::Phase::kStarting; });
    if (w->phase == Worker::Phase::kFailed) {
      failed = Prefixed(w->index, w->status);
      break;
    }
  }
  const Worker::Go go = failed.ok() ? Worker::Go::kRun : Worker::Go::kAbort;
  for (size_t i = 0; i < started; ++i) {
    Worker& w = *group->workers_[i];
    std::lock_guard<std::mutex> lock(w.mu);
    w.go = go;
    w.cv.notify_all();
  }
  if (!failed.ok()) {
    group->Join();
    return failed;
  }
  return group;
}

void ReactorGroup::WorkerMain(Worker* w, ReactorGroupOptions* options,
                              Setup* setup) {
  absl::Status status;
  std::unique_ptr<ReactorLocal> local;
  try {
    if (options->thread_start) status = options->thread_start(w->index);
    if (status.ok()) {
      absl::StatusOr<std::unique_ptr<io::Network>> network =
          options->network_factory(w->index);
      if (!network.ok()) {
        status = network.status();
      } else if (*network == nullptr) {
        status = absl::InternalError("network_factory returned nullptr");
      } else {
        w->network = std::move(*network);
      }
    }
    if (status.ok()) {
      w->reactor = std::make_unique<Reactor>(*w->network, options->reactor);
      SetupResult result = (*setup)(*w->reactor, w->index);
      if (result.ok()) {
        local = std::move(*result);
      } else {
        status = result.status();
      }
    }
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("setup threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("setup threw an exception");
  }
  // From here on `options` and `setup` may be gone: Start returns once
  // every worker has reported.
  bool run = false;
  {
    std::unique_lock<std::mutex> lock(w->mu);
    w->status = status;
    w->phase = status.ok() ? Worker::Phase::kReady : Worker::Phase::kFailed;
    w->cv.notify_all();
    if (status.ok()) {
      w->cv.wait(lock, [w] { return w->go != Worker::Go::kWaiting; });
      run = w->go == Worker::Go::kRun;
    }
  }
  if (run) {
    status = w->reactor->Run();
    // The others stop too: a group does not go on at part capacity.
    if (!status.ok()) Stop();
  }
  // What the setup made goes on this thread, before its reactor.
  local.reset();
  if (!run) {
    // Start failed: everything this thread made goes on this thread.
    w->reactor.reset();
    w->network.reset();
  }
  std::lock_guard<std::mutex> lock(w->mu);
  if (run) w->status = status;
}

ReactorGroup::~ReactorGroup() {
  Stop();
  Join();
  for (auto& w : workers_) {
    w->reactor.reset();
    w->network.reset();
  }
}

void ReactorGroup::Join() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

absl::Status ReactorGroup::Run() {
  Join();
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    if (!w->status.ok()) return Prefixed(w->index, w->status);
  }
  return absl::OkStatus();
}

void ReactorGroup::Stop() {
  // After Start succeeded every reactor exists until the destructor; after
  // it failed, Start joined the threads, so reading `reactor` is safe.
  for (auto& w : workers_) {
    if (w->reactor != nullptr) w->reactor->Stop();
  }
}

void ReactorGroup::GracefulShutdown(absl::Duration drain) {
  for (auto& w : workers_) {
    Reactor* reactor = w->reactor.get();
    if (reactor == nullptr) continue;
    reactor->Schedule([reactor, drain] { reactor->GracefulShutdown(drain); });
  }
}

Reactor& ReactorGroup::reactor(size_t index) const {
  EMBER_CHECK(index < workers_.size());
  EMBER_CHECK(workers_[index]->reactor != nullptr);
  return *workers_[index]->reactor;
}

SharedListenPort::SharedListenPort(std::string host, uint16_t port)
    : host_(std::move(host)), port_(port) {}

absl::StatusOr<io::Address> SharedListenPort::Listen(
    Reactor& reactor, Reactor::ConnectionFactory factory,
    io::ListenOptions options) {
  options.reuse_port = true;
  // Held across the bind, so two reactors asking for port 0 at once still
  // end up on one port.
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<ServerId> id =
      reactor.StartServer(host_, port_, std::move(factory), options);
  if (!id.ok()) return id.status();
  absl::StatusOr<io::Address> address = reactor.ServerAddress(*id);
  if (!address.ok()) {
    reactor.StopServer(*id).IgnoreError();
    return address.status();
  }
  if (port_ == 0) port_ = address->port();
  EMBER_CHECK(address->port() == port_);
  if (!first_.has_value()) first_ = *address;
  return address;
}

absl::StatusOr<io::Address> SharedListenPort::address() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!first_.has_value()) {
    return absl::FailedPreconditionError("nothing listens on the port yet");
  }
  return *first_;
}

uint16_t SharedListenPort::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

}  // namespace ember
