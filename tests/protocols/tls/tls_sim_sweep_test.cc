// Goal: TLS echo over the simulator holds up under many seeds and every
// fault plan (ideal, LAN, WAN, swarm, hostile: split deliveries, short
// writes, resets, clogs, partitions, crashes, wall clock jumps). Every
// handshake completes or fails with a reason; application data arrives
// intact and in order; a stream that loses data (a reset mid-record) ends
// with an error, never as an orderly close; where the plan breaks nothing,
// everything succeeds and a reconnect resumes its session. See
// tls_sweep_scenario.h.
//
// Seeds: EMBER_SEED=<n> replays one, EMBER_SEEDS=<count> widens the sweep,
// and Bazel's shard_count splits it. A failure prints the replay command.

#include <cstdint>
#include <iostream>
#include <vector>

#include "gtest/gtest.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "tests/protocols/tls/tls_sweep_scenario.h"

namespace ember::tls::testing {
namespace {

void Sweep(const char* plan_name, uint64_t first, uint64_t count) {
  TlsEchoTotals totals;
  const sim::SweepSummary summary = sim::Sweep(
      plan_name, first, count, [&](Reactor& reactor, sim::SimNetwork& net) {
        return RunTlsEcho(reactor, net, &totals);
      });
  std::cout << plan_name << ": " << summary.runs << " seeds, "
            << totals.connections << " TLS connections, " << totals.succeeded
            << " succeeded, " << totals.resumed << " resumed";
  for (const auto& [what, n] : totals.failures) {
    std::cout << ", " << n << " " << what;
  }
  std::cout << "\n";
  if (std::string(plan_name) != "hostile") {
    EXPECT_GT(totals.succeeded, 0);
    EXPECT_GT(totals.resumed, 0);
  }
}

TEST(TlsSimSweepTest, Ideal) { Sweep("ideal", 1, 4); }
TEST(TlsSimSweepTest, Lan) { Sweep("lan", 100, 200); }
TEST(TlsSimSweepTest, Wan) { Sweep("wan", 200, 400); }
TEST(TlsSimSweepTest, Swarm) { Sweep("swarm", 1000, 800); }
TEST(TlsSimSweepTest, Hostile) { Sweep("hostile", 5000, 200); }

TEST(TlsSimSweepTest, OneSeedReplaysExactly) {
  sim::SimOptions options;
  options.seed = 77;
  options.plan = sim::FaultPlan::Wan();
  absl::Status status = sim::CheckDeterministic(
      options, [](Reactor& reactor, sim::SimNetwork& net) {
        return RunTlsEcho(reactor, net);
      });
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace ember::tls::testing
