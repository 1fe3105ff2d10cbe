// The reactor's trace folds everything a handler can observe (bytes, not
// only their count), ticks can be cancelled or tied to a connection, and
// water marks are heard from the loop however fast the queue drains. All
// over the simulator.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "reactor/reactor.h"
#include "reactor/trace.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

constexpr uint16_t kPort = 7000;

class Sink : public Connection {
 public:
  void ReceiveData(std::string_view data) override { got.append(data); }
  std::string got;
};

class Sender : public Connection {
 public:
  explicit Sender(std::string message) : message_(std::move(message)) {}
  void ConnectionCompleted() override {
    ASSERT_TRUE(SendData(message_).ok());
    CloseAfterWriting();
  }

 private:
  std::string message_;
};

// Sends `message` from a client to a server over an ideal simulated
// network and returns the reactor's trace.
Trace SendOver(const std::string& message, ReactorOptions options = {}) {
  sim::SimNetwork net;
  options.record_trace = true;
  Reactor reactor(net, options);
  EXPECT_TRUE(reactor.StartServer("127.0.0.1", kPort, [] {
                       return std::make_unique<Sink>();
                     }).ok());
  EXPECT_TRUE(reactor
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<Sender>(message))
                  .ok());
  const absl::Time until = reactor.Now() + absl::Seconds(1);
  while (reactor.Now() < until) EXPECT_TRUE(reactor.RunOnce(until).ok());
  return reactor.trace();
}

TEST(TraceTest, BytesOfTheSameLengthButOtherContentChangeTheHash) {
  // Goal: two runs that differ only in the content of a message of the same
  // length hash differently (they hashed alike when only sizes were folded),
  // and the first difference is the write that carried it.
  const Trace hello = SendOver("hello");
  const Trace jello = SendOver("jello");
  const Trace again = SendOver("hello");
  EXPECT_EQ(hello.hash(), again.hash());
  EXPECT_NE(hello.hash(), jello.hash());
  auto at = Trace::FirstDivergence(hello, jello);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(hello.events()[*at].kind, TraceKind::kWrite)
      << hello.events()[*at].ToString();
  EXPECT_EQ(hello.events()[*at].value, jello.events()[*at].value);
}

TEST(TraceTest, ContentHashingCanBeSwitchedOff) {
  // Goal: trace_content=false folds sizes only (what epoll does by
  // default, where a trace cannot be replayed anyway).
  ReactorOptions options;
  options.trace_content = false;
  EXPECT_EQ(SendOver("hello", options).hash(),
            SendOver("jello", options).hash());
}

TEST(TraceTest, DigestsTellStatusesAndAddressesApart) {
  EXPECT_EQ(TraceDigest(absl::OkStatus()), 0u);
  EXPECT_NE(TraceDigest(absl::UnavailableError("a")),
            TraceDigest(absl::UnavailableError("b")));
  EXPECT_NE(TraceDigest(absl::UnavailableError("a")),
            TraceDigest(absl::InternalError("a")));
  EXPECT_NE(TraceDigest(io::Address::Loopback4(1)),
            TraceDigest(io::Address::Loopback4(2)));
  EXPECT_NE(TraceDigest(io::Address::Loopback4(1)),
            TraceDigest(io::Address::Loopback6(1)));
  EXPECT_NE(TraceDigest(std::vector<io::Address>{io::Address::Loopback4(0),
                                                 io::Address::Loopback6(0)}),
            TraceDigest(std::vector<io::Address>{io::Address::Loopback6(0),
                                                 io::Address::Loopback4(0)}));
}

class TickTest : public ::testing::Test {
 protected:
  TickTest() : reactor_(net_) {}
  void Turn() { ASSERT_TRUE(reactor_.RunOnce().ok()); }
  sim::SimNetwork net_;
  Reactor reactor_;
};

TEST_F(TickTest, ACancelledTickNeverRuns) {
  std::vector<int> ran;
  const TickId a = reactor_.NextTick([&] { ran.push_back(1); });
  const TickId b = reactor_.NextTick([&] { ran.push_back(2); });
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(reactor_.stats().ticks, 2u);
  EXPECT_TRUE(reactor_.CancelTick(a));
  EXPECT_FALSE(reactor_.CancelTick(a)) << "cancelled twice";
  EXPECT_EQ(reactor_.stats().ticks, 1u);
  Turn();
  EXPECT_EQ(ran, std::vector<int>{2});
  EXPECT_FALSE(reactor_.CancelTick(b)) << "already ran";
  EXPECT_FALSE(reactor_.CancelTick(12345));
}

TEST_F(TickTest, ATickCanCancelALaterOneOfTheSameTurn) {
  std::vector<int> ran;
  TickId second = 0;
  reactor_.NextTick([&] {
    ran.push_back(1);
    EXPECT_TRUE(reactor_.CancelTick(second));
  });
  second = reactor_.NextTick([&] { ran.push_back(2); });
  reactor_.NextTick([&] { ran.push_back(3); });
  Turn();
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

TEST_F(TickTest, WhichTickRanIsInTheTrace) {
  // Goal: the trace names each tick by id, so two runs that queue the same
  // ticks in another order differ.
  reactor_.trace().set_recording(true);
  const TickId a = reactor_.NextTick([] {});
  const TickId b = reactor_.NextTick([] {});
  Turn();
  std::vector<uint64_t> ticks;
  for (const TraceEvent& e : reactor_.trace().events()) {
    if (e.kind == TraceKind::kTick) ticks.push_back(e.subject);
  }
  EXPECT_EQ(ticks, (std::vector<uint64_t>{a, b}));
}

// Closes itself in ConnectionCompleted after queueing a tick.
class TickingClient : public Connection {
 public:
  explicit TickingClient(int* ran, bool close) : ran_(ran), close_(close) {}
  void ConnectionCompleted() override {
    NextTick([this] { ++*ran_; });
    if (close_) CloseConnection();
  }

 private:
  int* ran_;
  bool close_;
};

TEST_F(TickTest, AConnectionsTickIsDroppedWhenItEnds) {
  // Goal: Connection::NextTick runs while the connection lives and is
  // dropped, never called on a dead object, once it has ended.
  ASSERT_TRUE(reactor_.StartServer("127.0.0.1", kPort, [] {
                        return std::make_unique<Sink>();
                      }).ok());
  int alive_ran = 0, closed_ran = 0;
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<TickingClient>(&alive_ran, false))
                  .ok());
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<TickingClient>(&closed_ran, true))
                  .ok());
  for (int i = 0; i < 10; ++i) Turn();
  EXPECT_EQ(alive_ran, 1);
  EXPECT_EQ(closed_ran, 0);
}

// Queues `bytes` at once against a small high-water mark.
class Burst : public Connection {
 public:
  Burst(size_t bytes, std::vector<std::string>* heard)
      : bytes_(bytes), heard_(heard) {
  }
  void PostInit() override {
    OutboundLimits limits;
    limits.high_water_bytes = 1024;
    limits.low_water_bytes = 512;
    SetOutboundLimits(limits);
  }
  void ConnectionCompleted() override {
    ASSERT_TRUE(SendData(std::string(bytes_, 'x')).ok());
    heard_->push_back("sent");
  }
  void OutboundHighWater() override { heard_->push_back("high"); }
  void OutboundLowWater() override { heard_->push_back("low"); }

 private:
  size_t bytes_;
  std::vector<std::string>* heard_;
};

TEST_F(TickTest, WaterMarksAreHeardEvenWhenOneFlushDrainsTheQueue) {
  // Goal: 100 KB queued against a 1 KiB mark, all written by the first
  // flush (the window is 256 KiB): the handler hears the high mark, then
  // the low one, from the loop (after SendData returned), not nothing.
  ASSERT_TRUE(reactor_.StartServer("127.0.0.1", kPort, [] {
                        return std::make_unique<Sink>();
                      }).ok());
  std::vector<std::string> heard;
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<Burst>(100'000, &heard))
                  .ok());
  for (int i = 0; i < 10; ++i) Turn();
  EXPECT_EQ(heard, (std::vector<std::string>{"sent", "high", "low"}));
}

TEST_F(TickTest, AMarkCrossedBeforeTheConnectCompletesIsHeardAtOnce) {
  // Goal: bytes queued while still connecting that pass the mark are heard
  // from the loop in that turn, not only once connected.
  std::vector<std::string> heard;
  class Early : public Connection {
   public:
    explicit Early(std::vector<std::string>* heard) : heard_(heard) {}
    void PostInit() override {
      OutboundLimits limits;
      limits.high_water_bytes = 10;
      limits.low_water_bytes = 5;
      SetOutboundLimits(limits);
      ASSERT_TRUE(SendData(std::string(20, 'y')).ok());
    }
    void ConnectionCompleted() override { heard_->push_back("connected"); }
    void OutboundHighWater() override { heard_->push_back("high"); }

   private:
    std::vector<std::string>* heard_;
  };
  // Nobody answers at 192.0.2.1: the connect stays pending.
  ASSERT_TRUE(reactor_
                  .Connect("192.0.2.1", kPort, std::make_unique<Early>(&heard))
                  .ok());
  Turn();
  EXPECT_EQ(heard, std::vector<std::string>{"high"});
}

// Pauses once data arrives, resumes from a tick; queues past its marks.
class Observed : public Connection {
 public:
  void PostInit() override {
    OutboundLimits limits;
    limits.high_water_bytes = 100;
    limits.low_water_bytes = 10;
    SetOutboundLimits(limits);
  }
  void ReceiveData(std::string_view data) override {
    Pause();
    NextTick([this] { Resume(); });
    SendData(std::string(500, 'z')).IgnoreError();
  }
};

TEST(TraceTest, PauseResumeAndWaterMarksAreEvents) {
  // Goal: what a handler observes beyond reads and writes is in the trace
  // too: pause and resume, both water marks, the unbind with its status.
  sim::SimNetwork net;
  ReactorOptions options;
  options.record_trace = true;
  Reactor reactor(net, options);
  ASSERT_TRUE(reactor.StartServer("127.0.0.1", kPort, [] {
                       return std::make_unique<Observed>();
                     }).ok());
  ASSERT_TRUE(
      reactor.Connect("127.0.0.1", kPort, std::make_unique<Sender>("ping"))
          .ok());
  const absl::Time until = reactor.Now() + absl::Seconds(1);
  while (reactor.Now() < until) ASSERT_TRUE(reactor.RunOnce(until).ok());
  std::vector<TraceKind> kinds;
  bool unbind_with_status = false;
  for (const TraceEvent& e : reactor.trace().events()) {
    kinds.push_back(e.kind);
    if (e.kind == TraceKind::kUnbind && e.digest != 0) unbind_with_status = true;
  }
  for (TraceKind k : {TraceKind::kPause, TraceKind::kResume,
                      TraceKind::kHighWater, TraceKind::kLowWater}) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end())
        << static_cast<int>(k);
  }
  // The sender closes after writing while the server still writes: the
  // server's connection ends with an error (a reset), whose status is
  // folded.
  EXPECT_TRUE(unbind_with_status);
}

// Arms a 1 s timer when accepted, and records when it was accepted and when
// the timer fired.
class TimesItself : public Connection {
 public:
  TimesItself(absl::Time* accepted, absl::Time* fired)
      : accepted_(accepted), fired_(fired) {}
  void PostInit() override {
    *accepted_ = reactor().Now();
    ASSERT_TRUE(reactor()
                    .AddTimer(absl::Seconds(1),
                              [this] { *fired_ = reactor().Now(); })
                    .ok());
  }

 private:
  absl::Time* accepted_;
  absl::Time* fired_;
};

TEST(DispatchTimeTest, TimersArmedFromIoCountFromTheEventNotTheWait) {
  // Goal: an accept dispatched from inside Poll after a long wait (a 10 s
  // handshake) arms its timer from the accept's time, not from when the
  // Poll began waiting (which made a 1 s timer fire at once).
  sim::SimOptions options;
  options.plan.connect_latency_min = absl::Seconds(10);
  options.plan.connect_latency_max = absl::Seconds(10);
  sim::SimNetwork net(options);
  Reactor reactor(net);
  absl::Time accepted, fired;
  ASSERT_TRUE(reactor
                  .StartServer("127.0.0.1", kPort,
                               [&] {
                                 return std::make_unique<TimesItself>(&accepted,
                                                                      &fired);
                               })
                  .ok());
  ASSERT_TRUE(
      reactor.Connect("127.0.0.1", kPort, std::make_unique<Sink>()).ok());
  const absl::Time until = reactor.Now() + absl::Seconds(30);
  while (reactor.Now() < until && fired == absl::Time()) {
    ASSERT_TRUE(reactor.RunOnce(until).ok());
  }
  EXPECT_EQ(fired - accepted, absl::Seconds(1));
}

}  // namespace
}  // namespace ember
