// Tests of the simulator's dual-stack model as seen through io::Network:
// hosts with IPv4 and IPv6 addresses, names mapping to both families in RFC
// 6724 order, and reachability faults on one address or a whole family,
// scripted or drawn from the plan, deterministically for a seed.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/error.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"

namespace ember::sim {
namespace {

using io::Address;
using io::ErrorKind;
using io::KindOf;
using testing::AwaitConnect;
using testing::Options;
using testing::PumpUntil;

Address Ip(const char* literal, uint16_t port = 0) {
  return *Address::ParseIp(literal, port);
}

// A dual-stack server host (10.0.0.1 and 2001:db8::1, listening on both on
// port 80) and a dual-stack client host, the default host.
struct DualStack {
  explicit DualStack(SimNetwork& n) : net(n) {
    server = net.AddHost("server", {Ip("10.0.0.1"), Ip("2001:db8::1")});
    client = net.AddHost("client", {Ip("10.0.0.2"), Ip("2001:db8::2")});
    net.SetDefaultHost(client);
    v4 = *net.Listen(Ip("10.0.0.1", 80), {});
    v6 = *net.Listen(Ip("2001:db8::1", 80), {});
  }
  // Connects to `to` and waits for the outcome; `took` gets how long.
  absl::Status Connect(const Address& to, absl::Duration* took = nullptr) {
    const absl::Time start = net.Now();
    auto socket = net.Connect(to, {});
    EXPECT_TRUE(socket.ok()) << socket.status();
    if (!socket.ok()) return socket.status();
    absl::Status s = AwaitConnect(net, **socket, absl::Minutes(5));
    if (took != nullptr) *took = net.Now() - start;
    return s;
  }
  SimNetwork& net;
  HostId server, client;
  std::unique_ptr<io::Listener> v4, v6;
};

absl::StatusOr<std::vector<Address>> ResolveNow(SimNetwork& net,
                                                std::string_view name) {
  bool done = false;
  absl::StatusOr<std::vector<Address>> out;
  net.Resolve(name, [&](absl::StatusOr<std::vector<Address>> r) {
    done = true;
    out = std::move(r);
  });
  EXPECT_FALSE(done) << "Resolve answered from inside the call";
  EXPECT_TRUE(PumpUntil(net, [&] { return done; }));
  return out;
}

TEST(DualStackTest, AHostNameResolvesToBothFamiliesInRfc6724Order) {
  // Goal: a dual-stack host's name gives IPv6 first (RFC 6724 rule 6),
  // whatever order the host was given; a default host with no IPv6 address
  // gets IPv4 first (rule 1).
  SimNetwork net;
  DualStack world(net);
  net.AddName("mixed.example", {Ip("192.0.2.7", 443), Ip("2001:db8::7", 443)});
  auto server = ResolveNow(net, "server");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(*server, (std::vector<Address>{Ip("2001:db8::1"), Ip("10.0.0.1")}));
  auto mixed = ResolveNow(net, "MIXED.example");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(*mixed, (std::vector<Address>{Ip("2001:db8::7", 443),
                                          Ip("192.0.2.7", 443)}));

  const HostId v4_only = net.AddHost("old", {Ip("10.0.0.9")});
  net.SetDefaultHost(v4_only);
  auto from_old = ResolveNow(net, "server");
  ASSERT_TRUE(from_old.ok());
  EXPECT_EQ(*from_old,
            (std::vector<Address>{Ip("10.0.0.1"), Ip("2001:db8::1")}));
}

TEST(DualStackTest, LocalhostIsAnsweredWithoutTheNameTable) {
  // Goal: RFC 6761: localhost (and *.localhost) is ::1 then 127.0.0.1, at
  // once, even under a plan whose resolver is slow and always fails; .invalid
  // fails at once.
  FaultPlan plan;
  plan.resolve_latency_max = absl::Seconds(5);
  plan.resolve_failure_probability = 1;
  SimNetwork net(Options(3, plan));
  const absl::Time start = net.Now();
  auto local = ResolveNow(net, "app.localhost");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(*local, (std::vector<Address>{Address::Loopback6(0),
                                          Address::Loopback4(0)}));
  auto invalid = ResolveNow(net, "x.invalid");
  EXPECT_EQ(KindOf(invalid.status()), ErrorKind::kNameNotFound);
  EXPECT_EQ(net.Now(), start);
  EXPECT_EQ(net.stats().faults.count("resolve_failure"), 0u);
}

TEST(DualStackTest, ScriptedAddressFaultsRefuseDropOrSlowOneAddress) {
  // Goal: each scripted fault hits only its address: refused at once
  // (kRefused although a listener is there), black-holed (kTimedOut after
  // the kernel's 75 s), slowed by the given delay; lifting it restores it.
  FaultPlan plan;
  plan.connect_latency_min = plan.connect_latency_max = absl::Milliseconds(2);
  SimNetwork net(Options(1, plan));
  DualStack w(net);
  absl::Duration took;

  net.SetAddressFault(Ip("2001:db8::1"), AddressFault::Refuse());
  absl::Status s = w.Connect(Ip("2001:db8::1", 80), &took);
  EXPECT_EQ(KindOf(s), ErrorKind::kRefused) << s;
  EXPECT_EQ(took, absl::Milliseconds(2));
  EXPECT_TRUE(w.Connect(Ip("10.0.0.1", 80)).ok());

  net.SetAddressFault(Ip("2001:db8::1"), AddressFault::BlackHole());
  s = w.Connect(Ip("2001:db8::1", 80), &took);
  EXPECT_EQ(KindOf(s), ErrorKind::kTimedOut) << s;
  EXPECT_EQ(took, absl::Seconds(75));

  net.SetAddressFault(Ip("2001:db8::1"), AddressFault::Slow(absl::Seconds(3)));
  s = w.Connect(Ip("2001:db8::1", 80), &took);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(took, absl::Seconds(3) + absl::Milliseconds(2));

  net.SetAddressFault(Ip("2001:db8::1"), AddressFault::None());
  EXPECT_TRUE(w.Connect(Ip("2001:db8::1", 80), &took).ok());
  EXPECT_EQ(took, absl::Milliseconds(2));
  const SimStats stats = net.stats();
  EXPECT_EQ(stats.faults.at("address_refuse"), 1u);
  EXPECT_GE(stats.faults.at("address_blackhole"), 1u);
  EXPECT_EQ(stats.faults.at("address_slow"), 1u);
}

TEST(DualStackTest, AFamilyFaultHitsEveryAddressOfTheFamily) {
  // Goal: a dead IPv6 route drops every IPv6 connect and no IPv4 one; an
  // address's own fault comes before its family's.
  SimNetwork net;
  DualStack w(net);
  net.SetFamilyFault(Address::Family::kIpv6, AddressFault::BlackHole());
  EXPECT_EQ(KindOf(w.Connect(Ip("2001:db8::1", 80))), ErrorKind::kTimedOut);
  EXPECT_TRUE(w.Connect(Ip("10.0.0.1", 80)).ok());
  net.SetAddressFault(Ip("2001:db8::1"), AddressFault::Slow(absl::Seconds(1)));
  EXPECT_TRUE(w.Connect(Ip("2001:db8::1", 80)).ok());
}

TEST(DualStackTest, PlanDrawsAreFixedPerSeedAndAddress) {
  // Goal: the plan's reachability draws depend only on the seed and the
  // address: the same seed gives the same verdicts whatever else the run
  // did first, and over many seeds the rates come out roughly as planned.
  FaultPlan plan;
  plan.ipv6_blackhole_probability = 0.5;
  plan.address_refuse_probability = 0.5;
  int v6_dead = 0, v4_refused = 0;
  constexpr int kSeeds = 64;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SimOptions options = Options(seed, plan);
    options.connect_timeout = absl::Seconds(2);
    ErrorKind first_v4, first_v6;
    {
      SimNetwork net(options);
      DualStack w(net);
      first_v4 = KindOf(w.Connect(Ip("10.0.0.1", 80)));
      first_v6 = KindOf(w.Connect(Ip("2001:db8::1", 80)));
    }
    {
      // Another run of the seed that does other things first, in another
      // order.
      SimNetwork net(options);
      DualStack w(net);
      (void)w.Connect(Ip("10.0.0.1", 81));
      EXPECT_EQ(KindOf(w.Connect(Ip("2001:db8::1", 80))), first_v6) << seed;
      EXPECT_EQ(KindOf(w.Connect(Ip("10.0.0.1", 80))), first_v4) << seed;
    }
    if (first_v6 == ErrorKind::kTimedOut) ++v6_dead;
    if (first_v4 == ErrorKind::kRefused) ++v4_refused;
    EXPECT_NE(first_v4, ErrorKind::kTimedOut) << "IPv4 is never dead whole";
  }
  EXPECT_GT(v6_dead, kSeeds / 5);
  EXPECT_LT(v6_dead, kSeeds - kSeeds / 5);
  EXPECT_GT(v4_refused, kSeeds / 5);
  EXPECT_LT(v4_refused, kSeeds - kSeeds / 5);
}

TEST(DualStackTest, PresetsKeepIpv4AndValidateTheNewFields) {
  // Goal: the address faults are part of the plan's value: validated,
  // printed, and drawn per swarm seed from their own stream.
  FaultPlan bad;
  bad.address_refuse_probability = 1.5;
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(FaultPlan::Hostile().ToString().find("ipv6_blackhole=0.5"),
            std::string::npos);
  int swarm_with_dead_v6 = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const FaultPlan p = FaultPlan::Swarm(seed);
    EXPECT_TRUE(p.Validate().ok());
    EXPECT_EQ(p.address_refuse_probability, 0);
    if (p.ipv6_blackhole_probability > 0) ++swarm_with_dead_v6;
  }
  EXPECT_GT(swarm_with_dead_v6, 50);
  EXPECT_LT(swarm_with_dead_v6, 150);
}

}  // namespace
}  // namespace ember::sim
