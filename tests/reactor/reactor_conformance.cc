#include "tests/reactor/reactor_conformance.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ember::testing_support {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReactorConformanceTest);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReactorThreadTest);

void ReactorConformanceTest::SetUp() {
  network_ = GetParam().make();
  ASSERT_NE(network_, nullptr);
  reactor_ = std::make_unique<Reactor>(*network_);
}

void ReactorConformanceTest::TearDown() {
  reactor_.reset();
  network_.reset();
}

void ReactorConformanceTest::RunUntilStopped(absl::Duration limit) {
  watchdog_fired_ = false;
  auto watchdog = reactor_->AddTimer(limit, [this] {
    watchdog_fired_ = true;
    reactor_->Stop();
  });
  ASSERT_TRUE(watchdog.ok());
  absl::Status status = reactor_->Run();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_FALSE(watchdog_fired_)
      << "the scenario did not finish within " << limit << " of "
      << GetParam().name << " time";
}

std::string ReactorConformanceTest::UnixPath(const std::string& name) const {
  // Bazel's TEST_TMPDIR can be longer than a Unix socket path may be.
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string base = dir != nullptr ? dir : "/tmp";
  std::string path =
      absl::StrCat(base, "/ember-", getpid(), "-", name, ".sock");
  if (path.size() > io::Address::kUnixPathBytesMax) {
    path = absl::StrCat("/tmp/ember-", getpid(), "-", name, ".sock");
  }
  return path;
}

namespace {

// Bytes 0..255 repeated: every byte value, in a pattern whose offset is
// checkable.
std::string Pattern(size_t bytes) {
  std::string s(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

class EchoConnection : public Connection {
 public:
  void ReceiveData(std::string_view data) override {
    ASSERT_TRUE(SendData(data).ok());
  }
};

Reactor::ConnectionFactory EchoFactory() {
  return [] { return std::make_unique<EchoConnection>(); };
}

// A client that records everything and what ended it.
class Recorder : public Connection {
 public:
  struct Log {
    bool completed = false;
    bool unbound = false;
    int receives = 0;
    std::string received;
    UnbindReason reason;
  };
  explicit Recorder(Log* log, std::function<void(Recorder&)> on_complete = {},
                    std::function<void(Recorder&)> on_data = {})
      : log_(log), on_complete_(std::move(on_complete)),
        on_data_(std::move(on_data)) {}
  using Connection::TrySendData;  // For the tests of its refusals.
  void ConnectionCompleted() override {
    log_->completed = true;
    if (on_complete_) on_complete_(*this);
  }
  void ReceiveData(std::string_view data) override {
    ++log_->receives;
    log_->received.append(data);
    if (on_data_) on_data_(*this);
  }
  void Unbind(const UnbindReason& reason) override {
    log_->unbound = true;
    log_->reason = reason;
  }

 private:
  Log* log_;
  std::function<void(Recorder&)> on_complete_;
  std::function<void(Recorder&)> on_data_;
};

uint16_t PortOf(Reactor& reactor, ServerId id) {
  absl::StatusOr<io::Address> address = reactor.ServerAddress(id);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.ok() ? address->port() : 0;
}

// ------------------------------------------------------------------ Timers

TEST_P(ReactorConformanceTest, TimersWithEqualDeadlinesFireInOrderAdded) {
  std::string order;
  for (char c : std::string("abcde")) {
    ASSERT_TRUE(reactor_->AddTimer(absl::Milliseconds(10), [&order, c] {
      order += c;
    }).ok());
  }
  ASSERT_TRUE(reactor_->AddTimer(absl::Milliseconds(20), [&] {
    reactor_->Stop();
  }).ok());
  RunUntilStopped();
  EXPECT_EQ(order, "abcde");
}

TEST_P(ReactorConformanceTest, ZeroDelayTimerFiresOnALaterTurn) {
  bool fired = false;
  ASSERT_TRUE(reactor_->AddTimer(absl::ZeroDuration(), [&] {
    fired = true;
    reactor_->Stop();
  }).ok());
  EXPECT_FALSE(fired);
  RunUntilStopped();
  EXPECT_TRUE(fired);
}

TEST_P(ReactorConformanceTest, PeriodicTimerCancelsItselfAfterFourRuns) {
  int runs = 0;
  absl::Time first, last;
  TimerId id = 0;
  auto added = reactor_->AddPeriodicTimer(absl::Milliseconds(5), [&] {
    if (runs == 0) first = reactor_->Now();
    last = reactor_->Now();
    if (++runs == 4) {
      EXPECT_TRUE(reactor_->CancelTimer(id));
      EXPECT_TRUE(reactor_->AddTimer(absl::Milliseconds(30), [&] {
        reactor_->Stop();
      }).ok());
    }
  });
  ASSERT_TRUE(added.ok());
  id = *added;
  RunUntilStopped();
  EXPECT_EQ(runs, 4);
  // Re-armed after each run: at least three intervals between first and last.
  EXPECT_GE(last - first, absl::Milliseconds(15));
}

TEST_P(ReactorConformanceTest, CancelledTimerNeverFires) {
  auto doomed = reactor_->AddTimer(absl::Milliseconds(5), [] {
    ADD_FAILURE() << "cancelled timer fired";
  });
  ASSERT_TRUE(doomed.ok());
  EXPECT_EQ(reactor_->TimerCount(), 1u);
  EXPECT_TRUE(reactor_->CancelTimer(*doomed));
  EXPECT_FALSE(reactor_->CancelTimer(*doomed));
  EXPECT_EQ(reactor_->TimerCount(), 0u);
  ASSERT_TRUE(reactor_->AddTimer(absl::Milliseconds(20), [&] {
    reactor_->Stop();
  }).ok());
  RunUntilStopped();
}

TEST_P(ReactorConformanceTest, HugeTimerDelayDoesNotOverflow) {
  ASSERT_TRUE(reactor_->AddTimer(absl::Seconds(11948602000), [] {
    ADD_FAILURE() << "fired centuries early";
  }).ok());
  ASSERT_TRUE(reactor_->AddTimer(absl::Milliseconds(1), [&] {
    reactor_->Stop();
  }).ok());
  RunUntilStopped();
}

TEST_P(ReactorConformanceTest, TimerLimitIsEnforced) {
  ReactorOptions options;
  options.timers_max = 100;
  Reactor reactor(*network_, options);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(reactor.AddTimer(absl::Seconds(1), [] {}).ok());
  }
  absl::StatusOr<TimerId> over = reactor.AddTimer(absl::Seconds(1), [] {});
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(reactor.TimerCount(), 100u);
}

// ---------------------------------------------------------- Ticks and hooks

TEST_P(ReactorConformanceTest, TicksQueuedDuringATickRunOnTheNextTurn) {
  std::vector<std::string> log;
  reactor_->NextTick([&] {
    log.push_back("a");
    reactor_->NextTick([&] {
      log.push_back("c");
      reactor_->Stop();
    });
  });
  reactor_->NextTick([&] { log.push_back("b"); });
  RunUntilStopped();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(ReactorConformanceTest, AThrowingTickDoesNotDropTheOthers) {
  int errors = 0;
  reactor_->SetErrorHandler([&](std::exception_ptr, Connection* c) {
    EXPECT_EQ(c, nullptr);
    ++errors;
  });
  bool second = false;
  reactor_->NextTick([] { throw std::runtime_error("boom"); });
  reactor_->NextTick([&] {
    second = true;
    reactor_->Stop();
  });
  RunUntilStopped();
  EXPECT_EQ(errors, 1);
  EXPECT_TRUE(second);
}

TEST_P(ReactorConformanceTest, ShutdownHooksRunInReverseOrder) {
  std::string order;
  reactor_->AddShutdownHook([&] { order += "1"; });
  reactor_->AddShutdownHook([&] { order += "2"; });
  reactor_->AddShutdownHook([&] { order += "3"; });
  reactor_->NextTick([&] { reactor_->Stop(); });
  RunUntilStopped();
  EXPECT_EQ(order, "321");
}

TEST_P(ReactorConformanceTest, TicksQueuedAfterStopDoNotLeakIntoNextRun) {
  reactor_->NextTick([&] {
    reactor_->Stop();
    reactor_->NextTick([] { ADD_FAILURE() << "leaked tick ran"; });
  });
  RunUntilStopped();
  bool ran = false;
  reactor_->NextTick([&] {
    ran = true;
    reactor_->Stop();
  });
  RunUntilStopped();
  EXPECT_TRUE(ran);
}

TEST_P(ReactorThreadTest, ScheduleFromOtherThreadsRunsOnReactorThread) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  int ran = 0;  // Touched only on the reactor thread.
  std::vector<std::thread> threads;
  reactor_->NextTick([&] {
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        EXPECT_FALSE(reactor_->IsReactorThread());
        for (int i = 0; i < kPerThread; ++i) {
          reactor_->Schedule([&] {
            EXPECT_TRUE(reactor_->IsReactorThread());
            if (++ran == kThreads * kPerThread) reactor_->Stop();
          });
        }
      });
    }
  });
  RunUntilStopped();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ran, kThreads * kPerThread);
}

TEST_P(ReactorThreadTest, StopFromAnotherThread) {
  std::thread stopper;
  reactor_->NextTick([&] { stopper = std::thread([&] { reactor_->Stop(); }); });
  RunUntilStopped();
  stopper.join();
}

// ------------------------------------------------------ Streams end to end

// 1 MiB with every byte value goes to an echo server and comes back intact.
TEST_P(ReactorConformanceTest, EchoesOneMebibyteWithAllByteValues) {
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string payload = Pattern(1 << 20);
  Recorder::Log log;
  auto client = reactor_->Connect(
      "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Recorder>(
          &log, [&](Recorder& c) { ASSERT_TRUE(c.SendData(payload).ok()); },
          [&](Recorder& c) {
            if (log.received.size() == payload.size()) reactor_->Stop();
          }));
  ASSERT_TRUE(client.ok()) << client.status();
  RunUntilStopped();
  EXPECT_TRUE(log.completed);
  EXPECT_EQ(log.received.size(), payload.size());
  EXPECT_TRUE(log.received == payload) << "echoed bytes differ";
}

TEST_P(ReactorConformanceTest, RefusedPortGivesRefusedReason) {
  // Learn a free port, then stop listening on it.
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  ASSERT_TRUE(reactor_->StopServer(*server).ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", port,
                                std::make_unique<Recorder>(&log)).ok());
  reactor_->AddShutdownHook([] {});
  auto stop_when_unbound = reactor_->AddPeriodicTimer(
      absl::Milliseconds(1), [&] { if (log.unbound) reactor_->Stop(); });
  ASSERT_TRUE(stop_when_unbound.ok());
  RunUntilStopped();
  EXPECT_FALSE(log.completed);
  EXPECT_EQ(log.reason.kind, UnbindKind::kRefused) << log.reason.ToString();
  EXPECT_EQ(log.reason.status.code(), absl::StatusCode::kUnavailable);
}

TEST_P(ReactorConformanceTest, CloseAfterWritingDeliversEveryByte) {
  const std::string payload = Pattern(3 << 20);
  class Sender : public Connection {
   public:
    explicit Sender(const std::string* p) : p_(p) {}
    void PostInit() override {
      ASSERT_TRUE(SendData(*p_).ok());
      CloseAfterWriting();
      EXPECT_EQ(SendData("late").code(), absl::StatusCode::kFailedPrecondition);
    }
    const std::string* p_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Sender>(&payload); });
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", PortOf(*reactor_, *server),
                                std::make_unique<Recorder>(&log)).ok());
  auto poll = reactor_->AddPeriodicTimer(
      absl::Milliseconds(1), [&] { if (log.unbound) reactor_->Stop(); });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_EQ(log.received.size(), payload.size());
  EXPECT_TRUE(log.received == payload);
  EXPECT_EQ(log.reason.kind, UnbindKind::kClosedByPeer)
      << log.reason.ToString();
}

TEST_P(ReactorConformanceTest, PauseInsideReceiveDataStopsTheNextDelivery) {
  struct State {
    int receives = 0;
    size_t bytes = 0;
    Connection* server_side = nullptr;
  } state;
  class Pauser : public Connection {
   public:
    explicit Pauser(State* s) : s_(s) {}
    void PostInit() override { s_->server_side = this; }
    void ReceiveData(std::string_view data) override {
      ++s_->receives;
      s_->bytes += data.size();
      if (s_->receives == 1) {
        Pause();
        EXPECT_TRUE(paused());
      }
    }
    State* s_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Pauser>(&state); });
  ASSERT_TRUE(server.ok());
  constexpr size_t kTotal = 128 * 1024;
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect(
      "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Recorder>(&log, [&](Recorder& c) {
        for (int i = 0; i < 128; ++i) {
          ASSERT_TRUE(c.SendData(std::string(1024, 'p')).ok());
        }
      })).ok());
  // Once the first delivery happened, give the sender plenty of time; the
  // paused side must not see a second delivery until it resumes.
  bool resumed = false;
  auto check = reactor_->AddPeriodicTimer(absl::Milliseconds(20), [&] {
    if (state.receives == 0) return;
    if (!resumed) {
      EXPECT_EQ(state.receives, 1);
      resumed = true;
      state.server_side->Resume();
      return;
    }
    if (state.bytes == kTotal) reactor_->Stop();
  });
  ASSERT_TRUE(check.ok());
  RunUntilStopped();
  EXPECT_TRUE(resumed);
  EXPECT_EQ(state.bytes, kTotal);
  EXPECT_GE(state.receives, 2);
}

TEST_P(ReactorConformanceTest, InactivityTimeoutGivesTimedOutReason) {
  UnbindReason server_reason;
  bool server_unbound = false;
  class Idle : public Connection {
   public:
    Idle(UnbindReason* r, bool* u) : r_(r), u_(u) {}
    void PostInit() override {
      SetInactivityTimeout(absl::Milliseconds(100));
    }
    void Unbind(const UnbindReason& reason) override {
      *r_ = reason;
      *u_ = true;
    }
    UnbindReason* r_;
    bool* u_;
  };
  auto server = reactor_->StartServer("127.0.0.1", 0, [&] {
    return std::make_unique<Idle>(&server_reason, &server_unbound);
  });
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  const absl::Time start = reactor_->Now();
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", PortOf(*reactor_, *server),
                                std::make_unique<Recorder>(&log)).ok());
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(5), [&] {
    if (server_unbound && log.unbound) reactor_->Stop();
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_EQ(server_reason.kind, UnbindKind::kTimedOut)
      << server_reason.ToString();
  EXPECT_EQ(server_reason.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(reactor_->Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(log.reason.kind, UnbindKind::kClosedByPeer);
}

TEST_P(ReactorConformanceTest, PendingConnectTimeoutGivesTimedOutReason) {
  // A listener that never accepts, with the smallest backlog: once its queue
  // is full, further connects get no answer and hang until the timeout.
  io::ListenOptions options;
  options.backlog = 1;
  auto listener =
      network_->Listen(io::Address::Loopback4(0), options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  const uint16_t port = (*listener)->LocalAddress().port();
  constexpr int kClients = 8;
  std::vector<Recorder::Log> logs(kClients);
  for (int i = 0; i < kClients; ++i) {
    auto c = reactor_->Connect("127.0.0.1", port,
                               std::make_unique<Recorder>(&logs[i]));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->pending_connect_timeout(), absl::Seconds(20));
    (*c)->SetPendingConnectTimeout(absl::Milliseconds(300));
  }
  int timed_out = 0;
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(10), [&] {
    int settled = 0;
    for (auto& log : logs) settled += log.unbound || log.completed;
    if (settled < kClients) return;
    for (auto& log : logs) {
      if (!log.unbound) continue;
      EXPECT_EQ(log.reason.kind, UnbindKind::kTimedOut)
          << log.reason.ToString();
      EXPECT_EQ(log.reason.status.code(),
                absl::StatusCode::kDeadlineExceeded);
      ++timed_out;
    }
    reactor_->Stop();
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_GE(timed_out, 1);
}

TEST_P(ReactorConformanceTest, SettingsMadeBeforeConnectAreKept) {
  // Outbound limits and a pending-connect timeout set on a connection before
  // it is handed to the reactor stay; a connection without them gets the
  // reactor's.
  Recorder::Log log, plain_log;
  auto conn = std::make_unique<Recorder>(&log);
  OutboundLimits limits;
  limits.low_water_bytes = 1000;
  limits.high_water_bytes = 2000;
  limits.max_bytes = 3000;
  conn->SetOutboundLimits(limits);
  conn->SetPendingConnectTimeout(absl::Seconds(7));
  auto c = reactor_->Connect("127.0.0.1", 9, std::move(conn));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->outbound_limits().max_bytes, 3000u);
  EXPECT_EQ((*c)->outbound_limits().high_water_bytes, 2000u);
  EXPECT_EQ((*c)->pending_connect_timeout(), absl::Seconds(7));
  auto plain = reactor_->Connect("127.0.0.1", 9,
                                 std::make_unique<Recorder>(&plain_log));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->outbound_limits().max_bytes,
            reactor_->options().outbound_limits.max_bytes);
  EXPECT_EQ((*plain)->pending_connect_timeout(),
            reactor_->options().pending_connect_timeout);
  (*c)->CloseConnection();
  (*plain)->CloseConnection();
  ASSERT_TRUE(reactor_->RunOnce().ok());
  EXPECT_TRUE(log.unbound);
  EXPECT_TRUE(plain_log.unbound);
}

TEST_P(ReactorConformanceTest, ManyConcurrentConnections) {
  constexpr int kClients = 1100;
  int accepted = 0;
  class Counting : public Connection {
   public:
    explicit Counting(int* n) : n_(n) {}
    void PostInit() override { ++*n_; }
    int* n_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Counting>(&accepted); });
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  std::vector<Recorder::Log> logs(kClients);
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(reactor_->Connect("127.0.0.1", port,
                                  std::make_unique<Recorder>(&logs[i])).ok());
  }
  size_t peak = 0;
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(5), [&] {
    int completed = 0;
    for (auto& log : logs) {
      completed += log.completed;
      if (log.unbound) {
        ADD_FAILURE() << log.reason.ToString();
        reactor_->Stop();
      }
    }
    peak = std::max(peak, reactor_->ConnectionCount());
    if (completed == kClients && accepted == kClients) reactor_->Stop();
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped(absl::Seconds(60));
  EXPECT_EQ(accepted, kClients);
  EXPECT_EQ(peak, 2u * kClients);
  EXPECT_EQ(reactor_->ConnectionCount(), 0u);
}

// A connection's answer is written when its own read event has been
// handled, before the next connection's event of the same poll runs: it
// waits for no other connection's work. Eight clients send at once, so the
// server's connections become readable together; each, as it reads, finds
// the ones answered earlier in the same poll (their tick has not run yet)
// with nothing left queued.
TEST_P(ReactorConformanceTest, AnswerIsWrittenBeforeTheNextConnectionReads) {
  constexpr int kClients = 8;
  struct Shared {
    Reactor* reactor = nullptr;
    std::vector<Connection*> answered_this_poll;
    bool tick_queued = false;
    int checked = 0;  // Connections found answered earlier in a poll.
    int still_queued = 0;
  } shared;
  shared.reactor = reactor_.get();
  class Answerer : public Connection {
   public:
    explicit Answerer(Shared* shared) : shared_(shared) {}
    size_t Queued() const { return OutboundDataSize(); }
    void ReceiveData(std::string_view data) override {
      for (Connection* earlier : shared_->answered_this_poll) {
        ++shared_->checked;
        if (static_cast<Answerer*>(earlier)->Queued() != 0) {
          ++shared_->still_queued;
        }
      }
      ASSERT_TRUE(SendData(data).ok());
      shared_->answered_this_poll.push_back(this);
      if (!shared_->tick_queued) {
        // Ticks run when the turn after this poll begins.
        shared_->tick_queued = true;
        Shared* shared = shared_;
        shared_->reactor->NextTick([shared] {
          shared->tick_queued = false;
          shared->answered_this_poll.clear();
        });
      }
    }
    Shared* shared_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Answerer>(&shared); });
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  std::vector<Recorder::Log> logs(kClients);
  std::vector<Recorder*> clients;
  int connected = 0;
  auto all_send = [&](Recorder&) {
    if (++connected < kClients) return;
    for (Recorder* client : clients) {
      ASSERT_TRUE(client->SendData("ping").ok());
    }
  };
  auto answered = [&](Recorder&) {
    int done = 0;
    for (const Recorder::Log& log : logs) done += log.received == "ping";
    if (done == kClients) reactor_->Stop();
  };
  for (int i = 0; i < kClients; ++i) {
    auto client = std::make_unique<Recorder>(&logs[i], all_send, answered);
    clients.push_back(client.get());
    ASSERT_TRUE(reactor_->Connect("127.0.0.1", port, std::move(client)).ok());
  }
  RunUntilStopped();
  for (const Recorder::Log& log : logs) EXPECT_EQ(log.received, "ping");
  // The simulator's LAN plan jitters every delivery, so there no two reads
  // need share a poll; everywhere else some must, or nothing was checked.
  if (GetParam().name != "SimLan") {
    EXPECT_GT(shared.checked, 0) << "no poll had two connections to read";
  }
  EXPECT_EQ(shared.still_queued, 0);
}

TEST_P(ReactorConformanceTest, DatagramsKeepTheirBoundaries) {
  struct Got {
    std::vector<std::string> data;
    std::vector<io::Address> from;
  };
  class Sink : public DatagramConnection {
   public:
    Sink(Got* g, bool acknowledge) : g_(g), acknowledge_(acknowledge) {}
    void ReceiveDatagram(std::string_view data,
                         const io::Address& from) override {
      g_->data.emplace_back(data);
      g_->from.push_back(from);
      if (acknowledge_) {
        EXPECT_TRUE(Reply(absl::StrCat("ack", g_->data.size())).ok());
      }
    }
    Got* g_;
    bool acknowledge_;
  };
  Got server_got, client_got;
  auto server = reactor_->OpenDatagramSocket(
      "127.0.0.1", 0, std::make_unique<Sink>(&server_got, true));
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = reactor_->OpenDatagramSocket(
      "127.0.0.1", 0, std::make_unique<Sink>(&client_got, false));
  ASSERT_TRUE(client.ok()) << client.status();
  const io::Address client_address = (*client)->LocalName();
  const std::vector<std::string> sent = {"", "x", Pattern(1000),
                                         Pattern(60000)};
  for (const std::string& d : sent) {
    ASSERT_TRUE((*client)->SendDatagram(d, (*server)->LocalName()).ok());
  }
  EXPECT_EQ((*client)->Reply("no").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*client)
                ->SendDatagram(std::string(70000, 'x'), (*server)->LocalName())
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(2), [&] {
    if (server_got.data.size() == sent.size() &&
        client_got.data.size() == sent.size()) {
      reactor_->Stop();
    }
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  // Boundaries are kept; the order is not promised (UDP may reorder).
  ASSERT_EQ(server_got.data.size(), sent.size());
  std::vector<std::string> got_sorted = server_got.data;
  std::vector<std::string> sent_sorted = sent;
  std::sort(got_sorted.begin(), got_sorted.end());
  std::sort(sent_sorted.begin(), sent_sorted.end());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_TRUE(got_sorted[i] == sent_sorted[i]) << "datagram " << i;
  }
  for (const io::Address& from : server_got.from) {
    EXPECT_EQ(from, client_address);
  }
  ASSERT_EQ(client_got.data.size(), sent.size());
  std::sort(client_got.data.begin(), client_got.data.end());
  EXPECT_EQ(client_got.data,
            (std::vector<std::string>{"ack1", "ack2", "ack3", "ack4"}));
}

TEST_P(ReactorConformanceTest, Ipv6RoundTrip) {
  auto server = reactor_->StartServer("::1", 0, EchoFactory());
  ASSERT_TRUE(server.ok()) << server.status();
  Recorder::Log log;
  io::Address local, peer;
  const uint16_t port = PortOf(*reactor_, *server);
  ASSERT_TRUE(reactor_->Connect(
      "::1", port,
      std::make_unique<Recorder>(
          &log,
          [&](Recorder& c) {
            local = *c.LocalName();
            peer = *c.PeerName();
            ASSERT_TRUE(c.SendData("over six").ok());
          },
          [&](Recorder&) {
            if (log.received == "over six") reactor_->Stop();
          })).ok());
  RunUntilStopped();
  EXPECT_EQ(log.received, "over six");
  EXPECT_EQ(local.family(), io::Address::Family::kIpv6);
  EXPECT_EQ(peer, io::Address::Loopback6(port));
}

TEST_P(ReactorConformanceTest, UnixSocketRoundTrip) {
  const std::string path = UnixPath("echo");
  auto server = reactor_->StartUnixServer(path, EchoFactory());
  ASSERT_TRUE(server.ok()) << server.status();
  Recorder::Log log;
  ASSERT_TRUE(reactor_->ConnectUnix(
      path, std::make_unique<Recorder>(
                &log,
                [&](Recorder& c) { ASSERT_TRUE(c.SendData("unix").ok()); },
                [&](Recorder&) {
                  if (log.received == "unix") reactor_->Stop();
                })).ok());
  RunUntilStopped();
  EXPECT_EQ(log.received, "unix");
}

TEST_P(ReactorConformanceTest, UnixConnectToMissingPathIsRefusedOrInvalid) {
  Recorder::Log log;
  auto c = reactor_->ConnectUnix(UnixPath("nobody"),
                                 std::make_unique<Recorder>(&log));
  if (!c.ok()) {
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  auto poll = reactor_->AddPeriodicTimer(
      absl::Milliseconds(1), [&] { if (log.unbound) reactor_->Stop(); });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_FALSE(log.completed);
  EXPECT_TRUE(log.reason.is_error()) << log.reason.ToString();
}

TEST_P(ReactorConformanceTest, HostNamesResolveWithoutBlocking) {
  // The echo server listens on both loopback addresses, on one port: a
  // connect to "localhost" may be won by either, and on a real machine a
  // port free on 127.0.0.1 can belong to another process on ::1.
  uint16_t port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    auto v4 = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
    ASSERT_TRUE(v4.ok()) << v4.status();
    const uint16_t candidate = PortOf(*reactor_, *v4);
    if (reactor_->StartServer("::1", candidate, EchoFactory()).ok()) {
      port = candidate;
    } else {
      ASSERT_TRUE(reactor_->StopServer(*v4).ok());
    }
  }
  ASSERT_NE(port, 0) << "no port free on both loopback addresses";
  Recorder::Log good, bad;
  ASSERT_TRUE(reactor_->Connect(
      "localhost", port,
      std::make_unique<Recorder>(&good, [](Recorder& c) {
        ASSERT_TRUE(c.SendData("hi").ok());
      })).ok());
  ASSERT_TRUE(reactor_->Connect("no-such-host.invalid", 80,
                                std::make_unique<Recorder>(&bad)).ok());
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(2), [&] {
    if (good.received == "hi" && bad.unbound) reactor_->Stop();
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_TRUE(good.completed);
  EXPECT_EQ(bad.reason.kind, UnbindKind::kNameNotFound)
      << bad.reason.ToString();
}

TEST_P(ReactorConformanceTest, LocalhostReachesAServerOnEitherLoopback) {
  // Goal: "localhost" is ::1 and 127.0.0.1 on every backend and machine,
  // whatever /etc/hosts says: a server listening on only one of them is
  // reached by name, and PeerName is the address that answered. A connect
  // to a port nobody listens on, on either, ends refused, naming both.
  for (const char* listen_on : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(listen_on);
    auto server = reactor_->StartServer(listen_on, 0, EchoFactory());
    ASSERT_TRUE(server.ok()) << server.status();
    const uint16_t port = PortOf(*reactor_, *server);
    Recorder::Log log;
    io::Address peer;
    ASSERT_TRUE(reactor_->Connect(
        "localhost", port,
        std::make_unique<Recorder>(
            &log,
            [&](Recorder& c) {
              peer = *c.PeerName();
              ASSERT_TRUE(c.SendData("by name").ok());
            },
            [&](Recorder& c) {
              if (log.received == "by name") {
                c.CloseConnection();
                reactor_->Stop();
              }
            })).ok());
    RunUntilStopped();
    EXPECT_EQ(log.received, "by name");
    EXPECT_EQ(peer, io::Address::ParseIp(listen_on, port).value());
    // Run's return stopped the server too.
  }

  // A port nobody listens on: both loopback addresses refuse.
  auto probe = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(probe.ok());
  const uint16_t closed_port = PortOf(*reactor_, *probe);
  ASSERT_TRUE(reactor_->StopServer(*probe).ok());
  Recorder::Log refused;
  ASSERT_TRUE(reactor_->Connect("localhost", closed_port,
                                std::make_unique<Recorder>(&refused)).ok());
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(2), [&] {
    if (refused.unbound) reactor_->Stop();
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_FALSE(refused.completed);
  EXPECT_EQ(refused.reason.kind, UnbindKind::kRefused)
      << refused.reason.ToString();
  const std::string message(refused.reason.status.message());
  EXPECT_NE(message.find("[::1]:"), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:"), std::string::npos) << message;
}

TEST_P(ReactorConformanceTest, BadArgumentsAreReturnedNotUnbound) {
  Recorder::Log log;
  EXPECT_EQ(reactor_->Connect("", 80, std::make_unique<Recorder>(&log))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reactor_->StartServer("not an address", 0, EchoFactory())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reactor_->ConnectUnix(std::string(200, 'p'),
                                  std::make_unique<Recorder>(&log))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(log.unbound);
}

TEST_P(ReactorConformanceTest, BindConnectUsesTheGivenLocalAddress) {
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  io::Address local;
  ASSERT_TRUE(reactor_->BindConnect(
      "127.0.0.1", 0, "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Recorder>(&log, [&](Recorder& c) {
        local = *c.LocalName();
        reactor_->Stop();
      })).ok());
  RunUntilStopped();
  EXPECT_EQ(local.HostString(), "127.0.0.1");
  EXPECT_NE(local.port(), 0);
}

TEST_P(ReactorConformanceTest, HalfCloseLetsThePeerAnswer) {
  class Answerer : public Connection {
   public:
    void ReceiveData(std::string_view data) override { got_.append(data); }
    void ReceiveEof() override {
      EXPECT_TRUE(SendData(absl::StrCat("got ", got_.size())).ok());
      CloseAfterWriting();
    }
    std::string got_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [] { return std::make_unique<Answerer>(); });
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect(
      "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Recorder>(&log, [](Recorder& c) {
        ASSERT_TRUE(c.SendData(std::string(10000, 'h')).ok());
        c.CloseWrite();
        EXPECT_EQ(c.SendData("x").code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_FALSE(c.TrySendData("x"));  // Nor the short way.
      })).ok());
  auto poll = reactor_->AddPeriodicTimer(
      absl::Milliseconds(1), [&] { if (log.unbound) reactor_->Stop(); });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_EQ(log.received, "got 10000");
  EXPECT_EQ(log.reason.kind, UnbindKind::kClosedByPeer)
      << log.reason.ToString();
}

// A producer stops at the high-water mark and resumes at the low-water mark;
// past the hard limit SendData refuses and queues nothing.
TEST_P(ReactorConformanceTest, OutboundLimitsThrottleAProducer) {
  struct State {
    int high = 0, low = 0;
    size_t produced = 0;
    bool overflow_seen = false;
    Connection* reader = nullptr;
  } state;
  class Producer : public Connection {
   public:
    explicit Producer(State* s) : s_(s) {}
    void PostInit() override {
      OutboundLimits limits;
      limits.high_water_bytes = 256 << 10;
      limits.low_water_bytes = 64 << 10;
      limits.max_bytes = 32 << 20;
      SetOutboundLimits(limits);
      Produce();
    }
    void Produce() {
      // Fill up to the hard limit once, then only up to high water.
      const std::string chunk(64 << 10, 'z');
      while (!s_->overflow_seen) {
        absl::Status st = SendData(chunk);
        if (!st.ok()) {
          EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
          EXPECT_LE(OutboundDataSize(), outbound_limits().max_bytes);
          EXPECT_GT(OutboundDataSize() + chunk.size(),
                    outbound_limits().max_bytes);
          s_->overflow_seen = true;
          CloseAfterWriting();
          return;
        }
        s_->produced += chunk.size();
      }
    }
    void OutboundHighWater() override { ++s_->high; }
    void OutboundLowWater() override { ++s_->low; }
    State* s_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Producer>(&state); });
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", PortOf(*reactor_, *server),
                                std::make_unique<Recorder>(&log)).ok());
  auto poll = reactor_->AddPeriodicTimer(
      absl::Milliseconds(5), [&] { if (log.unbound) reactor_->Stop(); });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped(absl::Seconds(60));
  EXPECT_TRUE(state.overflow_seen);
  EXPECT_EQ(state.high, 1);
  EXPECT_EQ(state.low, 1);
  EXPECT_EQ(log.received.size(), state.produced);
  EXPECT_EQ(log.reason.kind, UnbindKind::kClosedByPeer);
}

TEST_P(ReactorConformanceTest, WantLowWaterCallsBackWithoutACrossing) {
  // A connection that asks with WantLowWater hears OutboundLowWater once
  // its queue drains to the low mark, though it never reached the high
  // one; never OutboundHighWater; and nothing more without asking again.
  struct State {
    int high = 0;
    int low = 0;
    size_t queued_at_low = 0;
  } state;
  class Asker : public Connection {
   public:
    explicit Asker(State* s) : s_(s) {}
    void PostInit() override {
      ASSERT_TRUE(SendData("hello").ok());
      WantLowWater();
    }
    void OutboundHighWater() override { ++s_->high; }
    void OutboundLowWater() override {
      ++s_->low;
      s_->queued_at_low = OutboundDataSize();
      ASSERT_TRUE(SendData(" again").ok());  // Not asked for: no call.
    }
    State* s_;
  };
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Asker>(&state); });
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", PortOf(*reactor_, *server),
                                std::make_unique<Recorder>(&log)).ok());
  int polls_after = 0;
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(5), [&] {
    // A few more turns after both pieces arrived, for a call too many.
    if (log.received == "hello again" && ++polls_after == 5) {
      reactor_->Stop();
    }
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_EQ(log.received, "hello again");
  EXPECT_EQ(state.low, 1);
  EXPECT_EQ(state.high, 0);
  EXPECT_LE(state.queued_at_low,
            ReactorOptions().outbound_limits.low_water_bytes);
}

TEST_P(ReactorConformanceTest, ThrowingHandlerClosesOnlyItsConnection) {
  class Thrower : public Connection {
   public:
    void ReceiveData(std::string_view data) override {
      if (data.find('!') != std::string_view::npos) {
        throw std::runtime_error("bad input");
      }
      ASSERT_TRUE(SendData(data).ok());
    }
  };
  std::vector<std::string> errors;
  reactor_->SetErrorHandler([&](std::exception_ptr e, Connection* c) {
    EXPECT_NE(c, nullptr);
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      errors.push_back(ex.what());
    }
  });
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [] { return std::make_unique<Thrower>(); });
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  Recorder::Log bad, good;
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", port,
                                std::make_unique<Recorder>(
                                    &bad, [](Recorder& c) {
                                      ASSERT_TRUE(c.SendData("boom!").ok());
                                    })).ok());
  ASSERT_TRUE(reactor_->Connect("127.0.0.1", port,
                                std::make_unique<Recorder>(
                                    &good,
                                    [](Recorder& c) {
                                      ASSERT_TRUE(c.SendData("fine").ok());
                                    })).ok());
  bool good_alive = false;
  auto poll = reactor_->AddPeriodicTimer(absl::Milliseconds(2), [&] {
    if (bad.unbound && good.received == "fine") {
      good_alive = !good.unbound;
      reactor_->Stop();
    }
  });
  ASSERT_TRUE(poll.ok());
  RunUntilStopped();
  EXPECT_EQ(errors, std::vector<std::string>{"bad input"});
  EXPECT_EQ(good.received, "fine");
  EXPECT_TRUE(good_alive);
  EXPECT_EQ(bad.reason.kind, UnbindKind::kClosedByPeer);
}

TEST_P(ReactorConformanceTest, ErrorHandlerThatThrowsStopsRun) {
  reactor_->SetErrorHandler([](std::exception_ptr e, Connection*) {
    std::rethrow_exception(e);
  });
  reactor_->NextTick([] { throw std::runtime_error("fatal"); });
  auto watchdog = reactor_->AddTimer(absl::Seconds(10), [&] {
    ADD_FAILURE() << "Run did not stop";
    reactor_->Stop();
  });
  ASSERT_TRUE(watchdog.ok());
  absl::Status status = reactor_->Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("fatal"), absl::string_view::npos);
}

TEST_P(ReactorConformanceTest, GracefulShutdownDrainsThenStops) {
  // Server connections say goodbye when asked to finish; clients never
  // close, so the drain ends when the server side has closed them all.
  class Polite : public Connection {
   public:
    explicit Polite(int* accepted) : accepted_(accepted) {}
    void PostInit() override { ++*accepted_; }
    void ShutdownRequested() override {
      ASSERT_TRUE(SendData("goodbye").ok());
      CloseAfterWriting();
    }
    int* accepted_;
  };
  int accepted = 0;
  auto server = reactor_->StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Polite>(&accepted); });
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  // The clients live in the same reactor, so they are asked too; they keep
  // reading until the server's goodbye and end of stream.
  class Patient : public Recorder {
   public:
    using Recorder::Recorder;
    void ShutdownRequested() override {}
  };
  std::vector<Recorder::Log> logs(3);
  for (auto& log : logs) {
    ASSERT_TRUE(reactor_->Connect("127.0.0.1", port,
                                  std::make_unique<Patient>(&log)).ok());
  }
  bool done = false;
  auto start = reactor_->AddPeriodicTimer(absl::Milliseconds(1), [&] {
    if (accepted == 3 && !done) {
      reactor_->GracefulShutdown(absl::Seconds(5), [&] {
        done = true;
        for (auto& log : logs) EXPECT_EQ(log.received, "goodbye");
      });
    }
  });
  ASSERT_TRUE(start.ok());
  RunUntilStopped();
  EXPECT_TRUE(done);
  for (auto& log : logs) EXPECT_EQ(log.received, "goodbye");
  EXPECT_EQ(reactor_->ConnectionCount(), 0u);
  // New connections are refused after the shutdown began.
  EXPECT_FALSE(reactor_->ServerAddress(*server).ok());
}

TEST_P(ReactorConformanceTest, DestroyingTheReactorUnbindsEverything) {
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  ASSERT_TRUE(reactor_->Connect(
      "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Recorder>(&log, [&](Recorder&) { reactor_->Stop(); }))
                  .ok());
  RunUntilStopped();
  EXPECT_TRUE(log.unbound);
  EXPECT_EQ(log.reason.kind, UnbindKind::kReactorStopped);
}

TEST_P(ReactorConformanceTest, SocketOptionsAndNames) {
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok());
  const uint16_t port = PortOf(*reactor_, *server);
  Recorder::Log log;
  absl::Duration idle = absl::InfiniteDuration();
  ASSERT_TRUE(reactor_->Connect(
      "127.0.0.1", port,
      std::make_unique<Recorder>(&log, [&](Recorder& c) {
        EXPECT_TRUE(c.SetNoDelay(true).ok());
        EXPECT_TRUE(c.SetKeepAlive(io::KeepAliveOptions{}).ok());
        EXPECT_EQ(c.PeerName()->port(), port);
        idle = c.IdleTime();
        reactor_->Stop();
      })).ok());
  RunUntilStopped();
  EXPECT_TRUE(log.completed);
  EXPECT_GE(idle, absl::ZeroDuration());
  EXPECT_LT(idle, absl::Seconds(5));
}

TEST_P(ReactorConformanceTest, SendBeforeConnectIsQueuedUntilConnected) {
  auto server = reactor_->StartServer("127.0.0.1", 0, EchoFactory());
  ASSERT_TRUE(server.ok());
  Recorder::Log log;
  class Early : public Recorder {
   public:
    using Recorder::Recorder;
    void PostInit() override {
      EXPECT_FALSE(connected());
      EXPECT_TRUE(SendData("early").ok());
    }
  };
  ASSERT_TRUE(reactor_->Connect(
      "127.0.0.1", PortOf(*reactor_, *server),
      std::make_unique<Early>(&log, nullptr, [&](Recorder&) {
        if (log.received == "early") reactor_->Stop();
      })).ok());
  RunUntilStopped();
  EXPECT_EQ(log.received, "early");
}

}  // namespace
}  // namespace ember::testing_support
