// Connecting by name to a host with several addresses (RFC 8305, Happy
// Eyeballs v2), over the simulator where every delay is exact: which address
// is tried when, who wins, what the others see (nothing), what an unbind
// says when all fail, and that the pending-connect timeout covers the race.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/error.h"
#include "reactor/reactor.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

using io::Address;
using sim::AddressFault;

constexpr uint16_t kPort = 80;
constexpr absl::Duration kRtt = absl::Milliseconds(10);

Address Ip(const char* literal, uint16_t port = 0) {
  return *Address::ParseIp(literal, port);
}

// What one client connection saw.
struct Seen {
  int completed = 0;
  int unbound = 0;
  absl::Time completed_at;
  absl::Time unbound_at;
  Address peer;
  UnbindReason reason;
};

class Client : public Connection {
 public:
  explicit Client(Seen* seen) : seen_(seen) {}
  void ConnectionCompleted() override {
    ++seen_->completed;
    seen_->completed_at = reactor().Now();
    seen_->peer = PeerName().value_or(Address());
    CloseConnection();
  }
  void Unbind(const UnbindReason& reason) override {
    ++seen_->unbound;
    seen_->unbound_at = reactor().Now();
    seen_->reason = reason;
  }

 private:
  Seen* seen_;
};

// Accepts and keeps quiet.
class Quiet : public Connection {};

// A dual-stack server "server" (2001:db8::1 and 10.0.0.1, listening on
// both) and a dual-stack client host, under a plan with a fixed 10 ms
// handshake.
class HappyEyeballsTest : public ::testing::Test {
 protected:
  HappyEyeballsTest() : net_(Options()) {
    server_ = net_.AddHost("server", {Ip("10.0.0.1"), Ip("2001:db8::1")});
    client_ = net_.AddHost("client", {Ip("10.0.0.2"), Ip("2001:db8::2")});
    net_.SetDefaultHost(client_);
  }

  static sim::SimOptions Options() {
    sim::SimOptions options;
    options.plan.connect_latency_min = kRtt;
    options.plan.connect_latency_max = kRtt;
    return options;
  }

  void MakeReactor(ReactorOptions options = {}) {
    reactor_ = std::make_unique<Reactor>(net_, options);
  }

  void Listen(const char* ip) {
    ASSERT_TRUE(reactor_
                    ->StartServer(ip, kPort,
                                  [] { return std::make_unique<Quiet>(); })
                    .ok());
  }

  // Connects to `host` and runs until the connection has ended.
  Seen ConnectAndWait(const char* host) {
    Seen seen;
    start_ = reactor_->Now();
    auto c = reactor_->Connect(host, kPort, std::make_unique<Client>(&seen));
    EXPECT_TRUE(c.ok()) << c.status();
    const absl::Time give_up = start_ + absl::Minutes(5);
    while (seen.unbound == 0 && reactor_->Now() < give_up) {
      EXPECT_TRUE(reactor_->RunOnce(give_up).ok());
    }
    EXPECT_EQ(seen.unbound, 1);
    return seen;
  }

  // Runs until every connection (the servers' sides too) has ended.
  void Settle() {
    const absl::Time give_up = reactor_->Now() + absl::Minutes(1);
    while (reactor_->ConnectionCount() > 0 && reactor_->Now() < give_up) {
      ASSERT_TRUE(reactor_->RunOnce(give_up).ok());
    }
  }

  void SetUp() override {
    MakeReactor();
  }

  sim::SimNetwork net_;
  sim::HostId server_, client_;
  std::unique_ptr<Reactor> reactor_;
  absl::Time start_;
};

TEST_F(HappyEyeballsTest, BothFamiliesUpIpv6WinsAloneWithOneAttempt) {
  // Goal: with both families working, the first (IPv6) attempt connects
  // within the delay, so no second attempt is made.
  Listen("2001:db8::1");
  Listen("10.0.0.1");
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.peer, Ip("2001:db8::1", kPort));
  EXPECT_EQ(seen.completed_at - start_, kRtt);
  EXPECT_EQ(net_.stats().connections_opened, 1u);
}

TEST_F(HappyEyeballsTest, BlackHoledIpv6FallsBackToIpv4AfterTheDelay) {
  // Goal: the classic dead IPv6 route: IPv4 starts 250 ms after IPv6 and
  // wins; the IPv6 attempt is closed without a callback and nothing leaks.
  Listen("2001:db8::1");
  Listen("10.0.0.1");
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  const size_t baseline = net_.open_handles();
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.peer, Ip("10.0.0.1", kPort));
  EXPECT_EQ(seen.completed_at - start_, absl::Milliseconds(250) + kRtt);
  EXPECT_EQ(seen.reason.kind, UnbindKind::kClosedLocally);
  EXPECT_EQ(net_.stats().connections_opened, 2u);
  Settle();
  EXPECT_EQ(net_.open_handles(), baseline) << "a losing attempt leaked";
  EXPECT_EQ(reactor_->ConnectionCount(), 0u);
}

TEST_F(HappyEyeballsTest, TheDelayIsConfigurable) {
  ReactorOptions options;
  options.connection_attempt_delay = absl::Seconds(1);
  MakeReactor(options);
  Listen("10.0.0.1");
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.completed_at - start_, absl::Seconds(1) + kRtt);
}

TEST_F(HappyEyeballsTest, ARefusedAttemptStartsTheNextAtOnce) {
  // Goal: nobody listens on IPv6: the refusal comes after one round trip
  // and IPv4 starts then, without waiting out the delay.
  Listen("10.0.0.1");
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.peer, Ip("10.0.0.1", kPort));
  EXPECT_EQ(seen.completed_at - start_, 2 * kRtt);
}

TEST_F(HappyEyeballsTest, ASlowFirstAddressLosesToTheSecond) {
  // Goal: an IPv6 handshake slower than the delay loses to IPv4; one a
  // little slower than the plan's but within the delay still wins.
  Listen("2001:db8::1");
  Listen("10.0.0.1");
  net_.SetAddressFault(Ip("2001:db8::1"), AddressFault::Slow(absl::Seconds(1)));
  Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.peer, Ip("10.0.0.1", kPort));
  EXPECT_EQ(seen.completed_at - start_, absl::Milliseconds(250) + kRtt);

  net_.SetAddressFault(Ip("2001:db8::1"),
                       AddressFault::Slow(absl::Milliseconds(100)));
  seen = ConnectAndWait("server");
  EXPECT_EQ(seen.peer, Ip("2001:db8::1", kPort));
  EXPECT_EQ(seen.completed_at - start_, absl::Milliseconds(100) + kRtt);
}

TEST_F(HappyEyeballsTest, FamiliesAreInterleavedAndEveryAddressIsTried) {
  // Goal: RFC 8305 section 4: with two addresses of each family, attempts
  // go IPv6, IPv4, IPv6, IPv4, one delay apart; only the last one works.
  net_.AddName("many", {Ip("2001:db8::1"), Ip("2001:db8::3"), Ip("10.0.0.1"),
                        Ip("10.0.0.3")});
  const sim::HostId other = net_.AddHost("other", {Ip("10.0.0.3"),
                                                   Ip("2001:db8::3")});
  (void)other;
  ASSERT_TRUE(reactor_
                  ->StartServer("10.0.0.3", kPort,
                                [] { return std::make_unique<Quiet>(); })
                  .ok());
  for (const char* dead : {"2001:db8::1", "2001:db8::3", "10.0.0.1"}) {
    net_.SetAddressFault(Ip(dead), AddressFault::BlackHole());
  }
  const Seen seen = ConnectAndWait("many");
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.peer, Ip("10.0.0.3", kPort));
  EXPECT_EQ(seen.completed_at - start_, absl::Milliseconds(750) + kRtt);
  EXPECT_EQ(net_.stats().connections_opened, 4u);
}

TEST_F(HappyEyeballsTest, WhenEveryAddressFailsTheUnbindKeepsEachError) {
  // Goal: both refused: one unbind, kRefused, whose status names both
  // addresses and their errors.
  const size_t baseline = net_.open_handles();
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.completed, 0);
  EXPECT_EQ(seen.reason.kind, UnbindKind::kRefused) << seen.reason.ToString();
  EXPECT_EQ(io::KindOf(seen.reason.status), io::ErrorKind::kRefused);
  const std::string message(seen.reason.status.message());
  EXPECT_TRUE(absl::StrContains(message, "connect \"server\" port 80"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "all 2 addresses failed")) << message;
  EXPECT_TRUE(absl::StrContains(message, "[2001:db8::1]:80")) << message;
  EXPECT_TRUE(absl::StrContains(message, "10.0.0.1:80")) << message;
  EXPECT_EQ(seen.unbound_at - start_, 2 * kRtt);
  EXPECT_EQ(net_.open_handles(), baseline);
}

TEST_F(HappyEyeballsTest, MixedFailuresReportTheMostTellingKind) {
  // Goal: IPv6 times out (the kernel's 75 s, within a longer pending-
  // connect timeout) and IPv4 is refused: the reason is kRefused (the host
  // answered), and the status keeps the timeout too.
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  Seen seen;
  start_ = reactor_->Now();
  auto c = reactor_->Connect("server", kPort, std::make_unique<Client>(&seen));
  ASSERT_TRUE(c.ok());
  (*c)->SetPendingConnectTimeout(absl::Minutes(2));
  const absl::Time give_up = start_ + absl::Minutes(5);
  while (seen.unbound == 0 && reactor_->Now() < give_up) {
    ASSERT_TRUE(reactor_->RunOnce(give_up).ok());
  }
  EXPECT_EQ(seen.reason.kind, UnbindKind::kRefused) << seen.reason.ToString();
  EXPECT_EQ(seen.unbound_at - start_, absl::Seconds(75));
  const std::string message(seen.reason.status.message());
  EXPECT_TRUE(absl::StrContains(message, "timed out")) << message;
  EXPECT_TRUE(absl::StrContains(message, "refused")) << message;
}

TEST_F(HappyEyeballsTest, ThePendingConnectTimeoutCoversTheWholeRace) {
  // Goal: every address black-holed: one unbind, kTimedOut, exactly at the
  // pending-connect timeout (20 s), saying how each address stood; every
  // attempt is closed.
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  net_.SetFamilyFault(Address::Family::kIpv4, AddressFault::BlackHole());
  const size_t baseline = net_.open_handles();
  const Seen seen = ConnectAndWait("server");
  EXPECT_EQ(seen.reason.kind, UnbindKind::kTimedOut) << seen.reason.ToString();
  EXPECT_EQ(seen.unbound_at - start_, absl::Seconds(20));
  const std::string message(seen.reason.status.message());
  EXPECT_TRUE(absl::StrContains(message, "[2001:db8::1]:80 no answer yet"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "10.0.0.1:80 no answer yet"))
      << message;
  EXPECT_EQ(net_.open_handles(), baseline);
}

TEST_F(HappyEyeballsTest, BindConnectRacesOnlyTheBoundFamily) {
  // Goal: bound to an IPv4 address, only IPv4 is tried (no IPv6 attempt
  // though it comes first); bound to IPv6 for a name with only IPv4, the
  // unbind says no address fits (kUnreachable).
  Listen("2001:db8::1");
  Listen("10.0.0.1");
  Seen seen;
  auto c = reactor_->BindConnect("10.0.0.2", 0, "server", kPort,
                                 std::make_unique<Client>(&seen));
  ASSERT_TRUE(c.ok());
  while (seen.unbound == 0) ASSERT_TRUE(reactor_->RunOnce(absl::InfiniteFuture()).ok());
  EXPECT_EQ(seen.completed, 1);
  EXPECT_EQ(seen.peer, Ip("10.0.0.1", kPort));
  EXPECT_EQ(net_.stats().connections_opened, 1u);

  net_.AddName("v4only", {Ip("10.0.0.1")});
  Seen none;
  c = reactor_->BindConnect("2001:db8::2", 0, "v4only", kPort,
                            std::make_unique<Client>(&none));
  ASSERT_TRUE(c.ok());
  while (none.unbound == 0) ASSERT_TRUE(reactor_->RunOnce(absl::InfiniteFuture()).ok());
  EXPECT_EQ(none.completed, 0);
  EXPECT_EQ(none.reason.kind, UnbindKind::kUnreachable) << none.reason.ToString();
  EXPECT_EQ(net_.stats().connections_opened, 1u);
}

TEST_F(HappyEyeballsTest, ClosingDuringTheRaceEndsItWithoutLaterAttempts) {
  // Goal: a connection closed while its race is pending is unbound once
  // (kClosedLocally), its attempts are closed, and no later attempt starts.
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  net_.SetFamilyFault(Address::Family::kIpv4, AddressFault::BlackHole());
  const size_t baseline = net_.open_handles();
  Seen seen;
  auto c = reactor_->Connect("server", kPort, std::make_unique<Client>(&seen));
  ASSERT_TRUE(c.ok());
  Connection* connection = *c;
  ASSERT_TRUE(reactor_
                  ->AddTimer(absl::Milliseconds(100),
                             [connection] { connection->CloseConnection(); })
                  .ok());
  const absl::Time until = reactor_->Now() + absl::Seconds(5);
  while (reactor_->Now() < until) ASSERT_TRUE(reactor_->RunOnce(until).ok());
  EXPECT_EQ(seen.unbound, 1);
  EXPECT_EQ(seen.completed, 0);
  EXPECT_EQ(seen.reason.kind, UnbindKind::kClosedLocally);
  EXPECT_EQ(net_.stats().connections_opened, 1u) << "IPv4 started after close";
  EXPECT_EQ(net_.open_handles(), baseline);
  EXPECT_EQ(reactor_->stats().timers, 0u);
}

TEST_F(HappyEyeballsTest, StoppingTheReactorMidRaceLeaksNothing) {
  net_.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  Listen("10.0.0.1");
  const size_t listeners = net_.open_handles();
  Seen seen;
  ASSERT_TRUE(
      reactor_->Connect("server", kPort, std::make_unique<Client>(&seen)).ok());
  ASSERT_TRUE(reactor_->RunOnce(absl::InfinitePast()).ok());
  ASSERT_TRUE(reactor_->RunOnce(absl::InfinitePast()).ok());
  EXPECT_GT(net_.open_handles(), listeners);
  reactor_.reset();
  EXPECT_EQ(seen.unbound, 1);
  EXPECT_EQ(seen.reason.kind, UnbindKind::kReactorStopped);
  EXPECT_EQ(net_.open_handles(), 0u);
}

TEST_F(HappyEyeballsTest, NameFailuresKeepTheirKind) {
  // Goal: a name that does not exist is kNameNotFound; one whose lookup
  // failed for now is kNameLookupFailed (a different, retryable kind).
  Seen missing = ConnectAndWait("no-such-host");
  EXPECT_EQ(missing.reason.kind, UnbindKind::kNameNotFound);
  EXPECT_EQ(missing.reason.status.code(), absl::StatusCode::kNotFound);

  sim::SimOptions options = Options();
  options.plan.resolve_failure_probability = 1;
  sim::SimNetwork flaky(options);
  flaky.AddHost("server", {Ip("10.0.0.1")});
  Reactor reactor(flaky);
  Seen seen;
  ASSERT_TRUE(
      reactor.Connect("server", kPort, std::make_unique<Client>(&seen)).ok());
  while (seen.unbound == 0) ASSERT_TRUE(reactor.RunOnce(absl::InfiniteFuture()).ok());
  EXPECT_EQ(seen.reason.kind, UnbindKind::kNameLookupFailed);
  EXPECT_EQ(seen.reason.status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(HappyEyeballsTest, LocalhostReachesAServerOnEitherLoopback) {
  // Goal: "localhost" is ::1 and 127.0.0.1: a server on only one of them is
  // reached either way, on the first attempt (::1) or right after its
  // refusal.
  net_.SetDefaultHost(sim::kLocalHost);
  ASSERT_TRUE(reactor_
                  ->StartServer("127.0.0.1", kPort,
                                [] { return std::make_unique<Quiet>(); })
                  .ok());
  Seen v4 = ConnectAndWait("localhost");
  EXPECT_EQ(v4.peer, Address::Loopback4(kPort));
  EXPECT_EQ(v4.completed_at - start_, 2 * kRtt);
  ASSERT_TRUE(reactor_
                  ->StartServer("::1", kPort + 1,
                                [] { return std::make_unique<Quiet>(); })
                  .ok());
  Seen v6;
  start_ = reactor_->Now();
  ASSERT_TRUE(reactor_
                  ->Connect("localhost", kPort + 1,
                            std::make_unique<Client>(&v6))
                  .ok());
  while (v6.unbound == 0) ASSERT_TRUE(reactor_->RunOnce(absl::InfiniteFuture()).ok());
  EXPECT_EQ(v6.peer, Address::Loopback6(kPort + 1));
  EXPECT_EQ(v6.completed_at - start_, kRtt);
}

}  // namespace
}  // namespace ember
