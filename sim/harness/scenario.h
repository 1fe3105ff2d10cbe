// Running reactor code under the simulator: seeds, sharding, replay.
//
// A scenario is a function that sets up servers and clients on a Reactor
// over a SimNetwork, runs the reactor, and returns its verdict. This file
// gives it what makes a simulation worth having:
//
//   - `SeedsFromEnvironment` picks the seeds a test runs: EMBER_SEED=<n>
//     replays exactly one; otherwise EMBER_SEEDS=<count> (default given by
//     the test) seeds from EMBER_SEED_FIRST (default given by the test). It
//     honours Bazel's test sharding (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX), so
//     `shard_count` in a BUILD file spreads a sweep over processes and, with
//     remote execution, machines. Such a test links //sim/harness:sweep_main
//     (not gtest_main), so that shards split the seeds rather than the test
//     cases.
//   - `ReplayCommand` is the one command that replays a seed of the running
//     test (from Bazel's TEST_TARGET), for failure messages.
//   - `RunScenario` runs a scenario once, returning the reactor's and the
//     simulator's trace hashes and the simulator's statistics.
//   - `CheckDeterministic` runs it twice with the reactor's trace recorded
//     and, when the hashes differ, reports the first event where the runs
//     diverge.

#ifndef EMBER_SIM_HARNESS_SCENARIO_H_
#define EMBER_SIM_HARNESS_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "reactor/reactor.h"
#include "reactor/trace.h"
#include "sim/sim_network.h"

namespace ember::sim {

// The seeds this test process should run (see the file comment). Fails with
// kInvalidArgument when a variable is set but not a number.
absl::StatusOr<std::vector<uint64_t>> SeedsFromEnvironment(
    uint64_t default_first, uint64_t default_count);

// "bazel test //pkg:target --test_env=EMBER_SEED=<seed> --test_output=all",
// naming the running test target when Bazel set TEST_TARGET.
std::string ReplayCommand(uint64_t seed, std::string_view extra_env = {});

using Scenario = std::function<absl::Status(Reactor& reactor, SimNetwork& net)>;

struct ScenarioResult {
  absl::Status status;         // The scenario's verdict.
  uint64_t reactor_trace_hash = 0;
  uint64_t sim_trace_hash = 0;
  uint64_t reactor_events = 0;
  SimStats stats;
  Trace trace;  // Recorded events when asked for, else only the hash.
};

struct ScenarioOptions {
  ReactorOptions reactor;
  bool record_trace = false;
};

ScenarioResult RunScenario(const SimOptions& sim_options,
                           const Scenario& scenario,
                           const ScenarioOptions& options = {});

// Runs `scenario` twice from the same options. OK when both runs agree on
// every reactor event and the simulator's hash; otherwise kInternal naming
// the first diverging event of each run.
absl::Status CheckDeterministic(const SimOptions& sim_options,
                                const Scenario& scenario,
                                const ScenarioOptions& options = {});

}  // namespace ember::sim

#endif  // EMBER_SIM_HARNESS_SCENARIO_H_
