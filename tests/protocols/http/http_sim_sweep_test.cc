// Goal: the HTTP client and server, talking to each other over the
// simulator, keep every request and its response together under many seeds
// and fault plans (ideal, LAN, WAN, swarm): every request gets exactly one
// callback; every response that arrives is the one to its request (the
// server echoes an id and the body); the server handles no request twice;
// and when the plan can neither break a stream nor partition the network, no
// request fails at all (otherwise failures must be kUnavailable or
// kDeadlineExceeded). The
// server answers in every way it can (at once, later from a timer, streamed
// in chunks) and the clients pipeline to different depths, so responses are
// produced out of order and must still arrive in order.
//
// Seeds: EMBER_SEED=<n> replays one, EMBER_SEEDS=<count> widens the sweep,
// and Bazel's shard_count splits it. A failure prints the replay command.

#include <cstdint>
#include <iostream>

#include "gtest/gtest.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "tests/protocols/http/http_sim_scenario.h"

namespace ember::protocols {
namespace {

absl::Status RunExchange(Reactor& reactor, sim::SimNetwork& net) {
  return RunHttpExchange(reactor, net);
}

void Sweep(const char* plan_name, uint64_t first, uint64_t count) {
  HttpExchangeStats stats;
  const sim::SweepSummary summary = sim::Sweep(
      plan_name, first, count, [&](Reactor& reactor, sim::SimNetwork& net) {
        return RunHttpExchange(reactor, net, &stats);
      });
  std::cout << plan_name << ": " << summary.runs << " seeds, "
            << stats.requests << " requests, " << stats.failures
            << " failed by faults\n";
}

TEST(HttpSimSweepTest, Ideal) { Sweep("ideal", 1, 4); }
TEST(HttpSimSweepTest, Lan) { Sweep("lan", 100, 100); }
TEST(HttpSimSweepTest, Wan) { Sweep("wan", 200, 200); }
TEST(HttpSimSweepTest, Swarm) { Sweep("swarm", 1000, 400); }
TEST(HttpSimSweepTest, Hostile) { Sweep("hostile", 5000, 40); }

TEST(HttpSimSweepTest, OneSeedReplaysExactly) {
  // Goal: the same seed and plan give the same run, event for event.
  sim::SimOptions options;
  options.seed = 77;
  options.plan = sim::FaultPlan::Wan();
  absl::Status status = sim::CheckDeterministic(options, RunExchange);
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace ember::protocols
