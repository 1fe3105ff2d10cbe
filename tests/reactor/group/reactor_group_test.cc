// Goal: a ReactorGroup runs N reactors on N threads over the real backend,
// their SO_REUSEPORT listeners share one port (port 0 included), the kernel
// spreads connections over them and every connection is served on its own
// reactor's thread; the group stops from any thread, a graceful shutdown
// drains every reactor, and a failing setup or network fails Start with
// every thread it started joined and everything it made destroyed.
//
// The clients run on one more reactor, on the test's thread. Every wait is
// on an event (a reply, an unbind, a join), bounded by a deadline.

#include "reactor/group/reactor_group.h"


#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "reactor/reactor.h"

namespace ember {
namespace {

constexpr size_t kThreadsMax = 4;

// Which of the group's threads are still alive. Each thread arms a
// thread-local guard from `thread_start`; its destructor runs as the thread
// ends, before std::thread::join returns, so after a join the count is exact.
// (/proc/self/task is not: the kernel lists a thread for a moment after the
// join that waited for it has returned.)
std::atomic<int> threads_started{0};
std::atomic<int> threads_alive{0};

struct AliveGuard {
  bool armed = false;
  ~AliveGuard() {
    if (armed) threads_alive.fetch_sub(1);
  }
};
thread_local AliveGuard alive_guard;

// `inner` runs after the thread is counted, so a failing hook still counts.
std::function<absl::Status(size_t)> Tracked(
    std::function<absl::Status(size_t)> inner = nullptr) {
  return [inner = std::move(inner)](size_t index) {
    alive_guard.armed = true;
    threads_alive.fetch_add(1);
    threads_started.fetch_add(1);
    return inner ? inner(index) : absl::OkStatus();
  };
}

ReactorGroupOptions EpollOptions(size_t threads) {
  ReactorGroupOptions options;
  options.threads = threads;
  options.thread_start = Tracked();
  options.network_factory =
      [](size_t) -> absl::StatusOr<std::unique_ptr<io::Network>> {
    absl::StatusOr<std::unique_ptr<io::EpollNetwork>> net =
        io::EpollNetwork::Create();
    if (!net.ok()) return net.status();
    return std::unique_ptr<io::Network>(std::move(*net));
  };
  return options;
}

// What the server side saw, written from every reactor's thread.
struct ServerRecord {
  std::array<std::atomic<int>, kThreadsMax> served{};
  std::array<std::thread::id, kThreadsMax> thread_of;  // Written in setup.
  std::atomic<int> wrong_thread{0};
};

// Says which reactor took it ("<index>\n"), then echoes; on a graceful
// shutdown says "bye\n" and closes once that is written.
class GreetingEcho : public Connection {
 public:
  GreetingEcho(ServerRecord* record, size_t index)
      : record_(record), index_(index) {}
  void PostInit() override {
    Check();
    record_->served[index_].fetch_add(1);
    SendData(absl::StrCat(index_, "\n")).IgnoreError();
  }
  void ReceiveData(std::string_view data) override {
    Check();
    SendData(data).IgnoreError();
  }
  void ShutdownRequested() override {
    Check();
    SendData("bye\n").IgnoreError();
    CloseAfterWriting();
  }

 private:
  void Check() {
    if (std::this_thread::get_id() != record_->thread_of[index_] ||
        !reactor().IsReactorThread()) {
      record_->wrong_thread.fetch_add(1);
    }
  }
  ServerRecord* record_;
  size_t index_;
};

// Starts `threads` GreetingEcho reactors on one shared 127.0.0.1 port 0;
// `addresses[i]` is reactor i's listener.
absl::StatusOr<std::unique_ptr<ReactorGroup>> StartEchoGroup(
    size_t threads, ServerRecord* record, SharedListenPort* port,
    std::vector<io::Address>* addresses) {
  addresses->assign(threads, io::Address());
  return ReactorGroup::Start(
      EpollOptions(threads),
      [=](Reactor& reactor, size_t index) -> ReactorGroup::SetupResult {
        record->thread_of[index] = std::this_thread::get_id();
        absl::StatusOr<io::Address> address = port->Listen(reactor, [=] {
          return std::make_unique<GreetingEcho>(record, index);
        });
        if (!address.ok()) return address.status();
        (*addresses)[index] = *address;
        return nullptr;
      });
}

// A client: reads the greeting (the serving reactor's index), sends
// `message`, expects it back; with `wait_for_bye`, then expects "bye\n" and
// the end of the stream.
struct ClientResult {
  int reactor_index = -1;
  std::string got;  // Everything after the greeting.
  bool unbound = false;
  bool echoed = false;
};

class Client : public Connection {
 public:
  Client(ClientResult* result, std::string message)
      : result_(result), message_(std::move(message)) {}
  void ConnectionCompleted() override { SendData(message_).IgnoreError(); }
  void ReceiveData(std::string_view data) override {
    buffer_.append(data);
    if (result_->reactor_index < 0) {
      const size_t nl = buffer_.find('\n');
      if (nl == std::string::npos) return;
      int index = -1;
      if (absl::SimpleAtoi(AbslView(buffer_.substr(0, nl)), &index)) {
        result_->reactor_index = index;
      }
      buffer_.erase(0, nl + 1);
    }
    result_->got = buffer_;
    result_->echoed = buffer_.rfind(message_, 0) == 0;
  }
  void Unbind(const UnbindReason&) override { result_->unbound = true; }

 private:
  ClientResult* result_;
  std::string message_;
  std::string buffer_;
};

// Steps `client` until `done()` holds, each step waiting for I/O for at
// most 10 ms, failing after 30 s. (Stepping, not Run: Run's end would close
// the client connections.)
void RunUntil(Reactor& client, const std::function<bool()>& done,
              const std::string& what) {
  const absl::Time limit = client.Now() + absl::Seconds(30);
  while (!done()) {
    ASSERT_LT(client.Now(), limit) << "timed out waiting for " << what;
    ASSERT_TRUE(client.RunOnce(client.Now() + absl::Milliseconds(10)).ok());
  }
}

TEST(ReactorGroupTest, ConnectionsSpreadOverReactorsOnOnePort) {
  constexpr size_t kThreads = 2;
  constexpr int kConnections = 64;
  ServerRecord record;
  SharedListenPort port("127.0.0.1", 0);
  std::vector<io::Address> addresses;
  auto group = StartEchoGroup(kThreads, &record, &port, &addresses);
  ASSERT_TRUE(group.ok()) << group.status();
  ASSERT_EQ((*group)->size(), kThreads);

  // Port 0: the first listener picked a port, the other bound the same one.
  ASSERT_NE(port.port(), 0);
  for (const io::Address& address : addresses) {
    EXPECT_EQ(address.port(), port.port()) << address.ToString();
  }

  auto net = io::EpollNetwork::Create();
  ASSERT_TRUE(net.ok());
  // Before the client reactor: its connections write here until it dies.
  std::vector<ClientResult> results(kConnections);
  Reactor client(**net);
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(client
                    .Connect("127.0.0.1", port.port(),
                             std::make_unique<Client>(
                                 &results[i], absl::StrCat("message ", i)))
                    .ok());
  }
  RunUntil(
      client,
      [&] {
        for (const ClientResult& r : results) {
          if (!r.echoed) return false;
        }
        return true;
      },
      "every echo");

  std::array<int, kThreads> by_greeting{};
  for (int i = 0; i < kConnections; ++i) {
    EXPECT_TRUE(results[i].echoed) << i << ": " << results[i].got;
    ASSERT_GE(results[i].reactor_index, 0);
    ASSERT_LT(results[i].reactor_index, static_cast<int>(kThreads));
    ++by_greeting[results[i].reactor_index];
  }
  int total = 0;
  for (size_t i = 0; i < kThreads; ++i) {
    EXPECT_EQ(record.served[i].load(), by_greeting[i]) << "reactor " << i;
    total += record.served[i].load();
  }
  EXPECT_EQ(total, kConnections);
  // The kernel picks a listener by a hash of each connection's 4-tuple; the
  // 64 connections differ in their source port, so all of them landing on
  // one of two listeners has odds of 2 in 2^64: this cannot flake.
  for (size_t i = 0; i < kThreads; ++i) {
    EXPECT_GT(by_greeting[i], 0) << "reactor " << i << " served nothing";
  }
  EXPECT_EQ(record.wrong_thread.load(), 0);

  (*group)->Stop();
  EXPECT_TRUE((*group)->Run().ok());
}

TEST(ReactorGroupTest, StopsFromAnotherThread) {
  auto group = ReactorGroup::Start(
      EpollOptions(3),
      [](Reactor&, size_t) -> ReactorGroup::SetupResult { return nullptr; });
  ASSERT_TRUE(group.ok()) << group.status();
  std::thread stopper([&] { (*group)->Stop(); });
  EXPECT_TRUE((*group)->Run().ok());
  stopper.join();
}

// One reactor asks another to do something through the thread-safe API: it
// runs on the other's thread. The last one stops the group from inside
// its own loop.
TEST(ReactorGroupTest, CrossReactorCallsRunOnTheTargetThreadAndStopWorks) {
  constexpr size_t kThreads = 3;
  std::array<std::thread::id, kThreads> thread_of;
  std::array<std::thread::id, kThreads> ran_on;
  ReactorGroup* self = nullptr;
  auto group = ReactorGroup::Start(
      EpollOptions(kThreads),
      [&](Reactor&, size_t index) -> ReactorGroup::SetupResult {
        thread_of[index] = std::this_thread::get_id();
        return nullptr;
      });
  ASSERT_TRUE(group.ok()) << group.status();
  self = group->get();
  // Reactor 0 sends a chain 0 -> 1 -> 2; reactor 2 stops the group.
  std::function<void(size_t)> hop = [&](size_t index) {
    ran_on[index] = std::this_thread::get_id();
    if (index + 1 < kThreads) {
      self->reactor(index + 1).Schedule([&, index] { hop(index + 1); });
    } else {
      self->Stop();
    }
  };
  self->reactor(0).Schedule([&] { hop(0); });
  EXPECT_TRUE(self->Run().ok());
  for (size_t i = 0; i < kThreads; ++i) {
    EXPECT_EQ(ran_on[i], thread_of[i]) << "reactor " << i;
  }
}

TEST(ReactorGroupTest, GracefulShutdownDrainsEveryReactor) {
  constexpr size_t kThreads = 2;
  constexpr int kConnectionsMax = 64;
  ServerRecord record;
  SharedListenPort port("127.0.0.1", 0);
  std::vector<io::Address> addresses;
  auto group = StartEchoGroup(kThreads, &record, &port, &addresses);
  ASSERT_TRUE(group.ok()) << group.status();

  auto net = io::EpollNetwork::Create();
  ASSERT_TRUE(net.ok());
  // Connect until every reactor holds a connection (a bounded number of
  // tries; see the odds above), each connection echoed once.
  std::vector<std::unique_ptr<ClientResult>> results;
  Reactor client(**net);
  std::array<bool, kThreads> covered{};
  auto all_covered = [&] {
    for (bool c : covered) {
      if (!c) return false;
    }
    return true;
  };
  while (!all_covered() &&
         results.size() < static_cast<size_t>(kConnectionsMax)) {
    results.push_back(std::make_unique<ClientResult>());
    ClientResult* r = results.back().get();
    ASSERT_TRUE(
        client
            .Connect("127.0.0.1", port.port(),
                     std::make_unique<Client>(r, "ping\n"))
            .ok());
    RunUntil(client, [&] { return r->echoed; }, "an echo");
    ASSERT_TRUE(r->echoed);
    covered[r->reactor_index] = true;
  }
  ASSERT_TRUE(all_covered());

  // From this (non-reactor) thread: every reactor asks its connections to
  // finish; each says goodbye and closes, and then the reactors stop.
  (*group)->GracefulShutdown(absl::Seconds(30));
  RunUntil(
      client,
      [&] {
        for (const auto& r : results) {
          if (!r->unbound) return false;
        }
        return true;
      },
      "every connection to close");
  for (const auto& r : results) {
    EXPECT_EQ(r->got, "ping\nbye\n") << "reactor " << r->reactor_index;
  }
  // Run returns: every reactor stopped by itself once drained.
  EXPECT_TRUE((*group)->Run().ok());
  EXPECT_EQ(record.wrong_thread.load(), 0);
}

// What a setup keeps: notes the thread it dies on.
class Kept : public ReactorLocal {
 public:
  Kept(std::atomic<int>* destroyed, std::atomic<int>* wrong_thread)
      : destroyed_(destroyed),
        wrong_thread_(wrong_thread),
        made_on_(std::this_thread::get_id()) {}
  ~Kept() override {
    if (std::this_thread::get_id() != made_on_) wrong_thread_->fetch_add(1);
    destroyed_->fetch_add(1);
  }

 private:
  std::atomic<int>* destroyed_;
  std::atomic<int>* wrong_thread_;
  std::thread::id made_on_;
};

TEST(ReactorGroupTest, AFailingSetupFailsStartAndLeavesNoThread) {
  const int started_before = threads_started.load();
  std::atomic<int> setups{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> wrong_thread{0};
  auto group = ReactorGroup::Start(
      EpollOptions(4),
      [&](Reactor& reactor, size_t index) -> ReactorGroup::SetupResult {
        setups.fetch_add(1);
        // A listener that must be torn down with the reactor.
        auto server = reactor.StartServer("127.0.0.1", 0, [] {
          return std::make_unique<Connection>();
        });
        if (!server.ok()) return server.status();
        if (index == 2) return absl::FailedPreconditionError("no config");
        return std::make_unique<Kept>(&destroyed, &wrong_thread);
      });
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(group.status().message(), "reactor 2: no config");
  // Setups ran in order and stopped at the failure; what the earlier ones
  // kept was destroyed on the thread that made it; every thread is gone.
  EXPECT_EQ(setups.load(), 3);
  EXPECT_EQ(destroyed.load(), 2);
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_EQ(threads_started.load() - started_before, 3);
  EXPECT_EQ(threads_alive.load(), 0);
}

TEST(ReactorGroupTest, AFailingNetworkOrThreadStartFailsStart) {
  int started_before = threads_started.load();
  ReactorGroupOptions options = EpollOptions(3);
  auto epoll = std::move(options.network_factory);
  options.network_factory = [&](size_t index)
      -> absl::StatusOr<std::unique_ptr<io::Network>> {
    if (index == 1) return absl::ResourceExhaustedError("no descriptors");
    return epoll(index);
  };
  auto setup = [](Reactor&, size_t) -> ReactorGroup::SetupResult {
    return nullptr;
  };
  auto group = ReactorGroup::Start(std::move(options), setup);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(group.status().message(), "reactor 1: no descriptors");
  EXPECT_EQ(threads_started.load() - started_before, 2);
  EXPECT_EQ(threads_alive.load(), 0);

  started_before = threads_started.load();
  options = EpollOptions(2);
  options.thread_start = Tracked([](size_t index) {
    return index == 0 ? absl::PermissionDeniedError("no CPU for you")
                      : absl::OkStatus();
  });
  group = ReactorGroup::Start(std::move(options), setup);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(threads_started.load() - started_before, 1);
  EXPECT_EQ(threads_alive.load(), 0);
}

TEST(ReactorGroupTest, ASetupThatThrowsFailsStart) {
  const int started_before = threads_started.load();
  auto group = ReactorGroup::Start(
      EpollOptions(2),
      [](Reactor&, size_t index) -> ReactorGroup::SetupResult {
        if (index == 1) throw std::runtime_error("boom");
        return nullptr;
      });
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(group.status().message(), "reactor 1: setup threw: boom");
  EXPECT_EQ(threads_started.load() - started_before, 2);
  EXPECT_EQ(threads_alive.load(), 0);
}

// An epoll network whose Poll fails once told to: the backend error that
// stops a reactor.
class FailingPollNetwork : public io::Network {
 public:
  FailingPollNetwork(std::unique_ptr<io::Network> inner,
                     std::atomic<bool>* fail)
      : inner_(std::move(inner)), fail_(fail) {}
  absl::Time Now() override { return inner_->Now(); }
  absl::Time WallNow() override { return inner_->WallNow(); }
  uint64_t RandomSeed() override { return inner_->RandomSeed(); }
  absl::StatusOr<int> Poll(absl::Time deadline) override {
    if (fail_->load()) return absl::DataLossError("the backend broke");
    return inner_->Poll(deadline);
  }
  void Wake() override { inner_->Wake(); }
  absl::StatusOr<std::unique_ptr<io::Listener>> Listen(
      const io::Address& address, const io::ListenOptions& options) override {
    return inner_->Listen(address, options);
  }
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> Connect(
      const io::Address& remote, const io::ConnectOptions& options) override {
    return inner_->Connect(remote, options);
  }
  absl::StatusOr<std::unique_ptr<io::DatagramSocket>> OpenDatagram(
      const io::Address& local) override {
    return inner_->OpenDatagram(local);
  }
  void Resolve(std::string_view host, io::ResolveCallback done) override {
    inner_->Resolve(host, std::move(done));
  }
  absl::Status Offload(absl::AnyInvocable<void()> work,
                       absl::AnyInvocable<void()> done) override {
    return inner_->Offload(std::move(work), std::move(done));
  }

 private:
  std::unique_ptr<io::Network> inner_;
  std::atomic<bool>* fail_;
};

// A reactor whose backend fails stops the whole group, and Run says which.
TEST(ReactorGroupTest, AReactorThatFailsStopsTheOthers) {
  std::atomic<bool> fail{false};
  std::atomic<io::Network*> failing{nullptr};
  ReactorGroupOptions options = EpollOptions(3);
  auto epoll = std::move(options.network_factory);
  options.network_factory = [&](size_t index)
      -> absl::StatusOr<std::unique_ptr<io::Network>> {
    auto inner = epoll(index);
    if (!inner.ok() || index != 1) return inner;
    auto network =
        std::make_unique<FailingPollNetwork>(std::move(*inner), &fail);
    failing.store(network.get());
    return std::unique_ptr<io::Network>(std::move(network));
  };
  auto group = ReactorGroup::Start(
      std::move(options),
      [](Reactor&, size_t) -> ReactorGroup::SetupResult { return nullptr; });
  ASSERT_TRUE(group.ok()) << group.status();
  fail.store(true);
  failing.load()->Wake();  // Wake is thread-safe.
  absl::Status status = (*group)->Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(), "reactor 1: the backend broke");
}

TEST(ReactorGroupTest, RejectsZeroThreadsAndAMissingFactory) {
  auto setup = [](Reactor&, size_t) -> ReactorGroup::SetupResult {
    return nullptr;
  };
  auto group = ReactorGroup::Start(EpollOptions(0), setup);
  EXPECT_EQ(group.status().code(), absl::StatusCode::kInvalidArgument);
  ReactorGroupOptions no_factory;
  group = ReactorGroup::Start(std::move(no_factory), setup);
  EXPECT_EQ(group.status().code(), absl::StatusCode::kInvalidArgument);
}

// Destroying a running group stops and joins it.
TEST(ReactorGroupTest, DestroyingARunningGroupStopsIt) {
  const int started_before = threads_started.load();
  std::atomic<int> destroyed{0};
  std::atomic<int> wrong_thread{0};
  {
    auto group = ReactorGroup::Start(
        EpollOptions(2),
        [&](Reactor&, size_t) -> ReactorGroup::SetupResult {
          return std::make_unique<Kept>(&destroyed, &wrong_thread);
        });
    ASSERT_TRUE(group.ok()) << group.status();
    EXPECT_EQ(threads_started.load() - started_before, 2);
    EXPECT_EQ(threads_alive.load(), 2);
  }
  EXPECT_EQ(destroyed.load(), 2);
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_EQ(threads_alive.load(), 0);
}

}  // namespace
}  // namespace ember
