// Running reactor code under the simulator: seeds, sharding, replay.
//
// A scenario is a function that sets up servers and clients on a Reactor
// over a SimNetwork, runs the reactor, and returns its verdict. This file
// gives it what makes a simulation worth having:
//
//   - `SeedsFromEnvironment` picks the seeds a test runs: EMBER_SEED=<n>
//     replays exactly one; otherwise the test's own first seed and count,
//     with EMBER_SEEDS=<count> to change the count and EMBER_SEED_OFFSET=<n>
//     to move every test case's seeds up by n (a fresh range for each case).
//     It honours Bazel's test sharding (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX),
//     so `shard_count` in a BUILD file spreads a sweep over processes and,
//     with remote execution, machines. Such a test links
//     //sim/harness:sweep_main (not gtest_main), so that shards split the
//     seeds rather than the test cases.
//   - `PlanFromEnvironment`: EMBER_PLAN='FaultPlan{...}' (FaultPlan::ToString
//     form) replaces the plan a test would use, to replay a printed plan.
//   - `ReplayCommand` is the one command that replays a seed of the running
//     test: `./bazelw test //pkg:target --test_filter=Suite.Case
//     --test_env=EMBER_SEED=<n> ... --test_output=all`, naming the target
//     (Bazel's TEST_TARGET) and the GoogleTest case running now.
//   - `RunScenario` runs a scenario once, returning the reactor's and the
//     simulator's trace hashes and the simulator's statistics; a scenario
//     must end its connections before returning (see RunScenario).
//   - `RunUntil` steps the reactor until a condition holds.
//   - `Sweep` runs a scenario over the seeds of a test under a named plan
//     and reports every failure with its plan, statistics and replay.
//   - `CheckDeterministic` runs it twice, the second time in a separate
//     process, with the reactor's trace recorded, and when the runs differ
//     reports the first event where they diverge, with the events before it
//     from both runs.

#ifndef EMBER_SIM_HARNESS_SCENARIO_H_
#define EMBER_SIM_HARNESS_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reactor/reactor.h"
#include "reactor/trace.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"

namespace ember::sim {

// The seeds this test process should run (see the file comment). Fails with
// kInvalidArgument when a variable is set but not a number, and when
// EMBER_SEED_FIRST is set: it used to give every test case of a binary the
// same first seed; EMBER_SEED_OFFSET replaces it.
absl::StatusOr<std::vector<uint64_t>> SeedsFromEnvironment(
    uint64_t default_first, uint64_t default_count);

// Which part of a sweep's seeds this process runs: seed number i (counting
// from the first) belongs to shard i % count. Read from, at most one of:
//  - Bazel's test sharding: TEST_SHARD_INDEX, TEST_TOTAL_SHARDS;
//  - a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with the Job's
//    `completions` passed as EMBER_TOTAL_SHARDS;
//  - a Slurm job array: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT (and
//    SLURM_ARRAY_TASK_MIN, the first id, 0 when unset);
// then split again by the sweep runner's processes (EMBER_JOB_INDEX of
// EMBER_JOB_COUNT). None set: one shard, everything. kInvalidArgument when
// two sources are set, a count is missing, or an index is out of range.
struct SeedShard {
  uint64_t index = 0;
  uint64_t count = 1;
  std::string source = "none";
};
absl::StatusOr<SeedShard> ShardFromEnvironment();

// `fallback`, or the plan in EMBER_PLAN when it is set (kInvalidArgument if
// it does not parse).
absl::StatusOr<FaultPlan> PlanFromEnvironment(const FaultPlan& fallback);

struct ReplayOptions {
  // More --test_env settings, each "NAME=VALUE".
  std::vector<std::string> extra_env;
  // When set, the command also pins the plan (EMBER_PLAN), for plans not
  // derived from the seed (generated or hand-made).
  std::optional<FaultPlan> plan;
  // The GoogleTest filter; empty means the test case running now, if any.
  std::string test_filter;
};

// "./bazelw test //pkg:target --test_filter=Suite.Case
// --test_env=EMBER_SEED=<seed> [--test_env=...] --test_output=all".
std::string ReplayCommand(uint64_t seed, const ReplayOptions& options = {});

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
  // CheckDeterministic: make the second run in this process too.
  bool same_process = false;
};

// Runs `scenario` once on a fresh SimNetwork and Reactor. The scenario must
// leave no connection in the reactor when it returns: the reactor outlives
// the scenario's own objects, so Unbind on a connection left behind would
// run after they are gone. End them before returning: close them and
// `RunUntil(reactor, [&] { return reactor.ConnectionCount() == 0; }, ...)`,
// or `reactor.Stop(); reactor.Run();`. A connection left behind makes the
// result kFailedPrecondition (unless the scenario failed already), and the
// message goes to stderr at once, before the reactor unbinds it.
ScenarioResult RunScenario(const SimOptions& sim_options,
                           const Scenario& scenario,
                           const ScenarioOptions& options = {});

// Steps `reactor` until `done()` holds (OK), `budget` of simulated time has
// passed (kDeadlineExceeded), or the backend fails (its error: the simulator
// says so when nothing can happen any more).
absl::Status RunUntil(Reactor& reactor, const std::function<bool()>& done,
                      absl::Duration budget);

// One failing seed of a sweep.
struct SweepFailure {
  uint64_t seed = 0;
  FaultPlan plan;
  absl::Status status;
  // The faults the shrinker kept (sim/harness/shrink.h), when it ran and
  // succeeded; `shrunk` says whether it did.
  bool shrunk = false;
  std::vector<FaultRecord> kept;
  int faults_before_shrinking = 0;
  // The shrinker's report, or why it could not shrink.
  std::string shrink_report;
  // The command that replays the failure (the reduced run when shrunk).
  std::string replay;
};

// The outcome of a Sweep.
struct SweepSummary {
  int runs = 0;
  int failures = 0;
  std::vector<SweepFailure> failed;
  // Faults injected over all runs, by kind; events (simulator and reactor)
  // over all runs.
  std::map<std::string, uint64_t> faults;
  uint64_t events = 0;
};

struct SweepOptions {
  ScenarioOptions scenario;
  // Report each failure as a GoogleTest failure (what a sweep test wants);
  // off for tests that expect failures (a planted bug) and look at them.
  bool report_failures = true;
  // Shrink the faults of the first this many failures (0: none).
  int shrink_failures_max = 1;
  // Replays the shrinker may make per failure.
  int shrink_runs_max = 400;
  // Stop after this many failures (0: run every seed).
  int stop_after_failures = 0;
  // The plan for a seed; empty means FaultPlan::ByName(plan name, seed).
  // EMBER_PLAN still overrides it.
  std::function<FaultPlan(uint64_t seed)> plan;
  // Options for each run's simulator (seed, plan and fault filter are set
  // by the sweep).
  SimOptions sim;
};

// Runs `scenario` for each seed of SeedsFromEnvironment(first, count) under
// the plan `plan_name` (FaultPlan::ByName, so swarm plans come from the
// seed; EMBER_PLAN overrides it). Each failing seed is a GoogleTest failure
// naming the plan, the seed, the scenario's status, the simulator's
// statistics and the replay command.
// The faults injected are those EMBER_KEEP_FAULTS keeps, when it is set;
// the first failure is shrunk to the faults that matter, and its replay
// command keeps only those.
SweepSummary Sweep(std::string_view plan_name, uint64_t first, uint64_t count,
                   const Scenario& scenario,
                   const ScenarioOptions& options = {});

// The same over the given seeds, with more control (see SweepOptions).
// When EMBER_SWEEP_PROGRESS_FD names a file descriptor, one line per seed
// goes to it for the sweep runner (sim/harness/sweep_main.cc).
SweepSummary SweepSeeds(std::string_view plan_name,
                        const std::vector<uint64_t>& seeds,
                        const Scenario& scenario, const SweepOptions& options);

// Runs `scenario` twice from the same options: once in this process and
// once in a child process (this test binary run again with only the
// GoogleTest case running now), so that whatever differs between processes
// (Abseil's per-process hash seed, addresses, the environment) shows as a
// divergence, not only what differs between two runs in one process. OK
// when both runs agree on every reactor event (bytes included) and on the
// simulator's hash and statistics; otherwise kInternal naming the first
// diverging event, with the events just before it from both runs.
//
// The child re-runs the test case from its start and stops at the same
// call of CheckDeterministic (the n-th of the case); calls before it return
// OK at once in the child. Outside a GoogleTest test, or with
// `ScenarioOptions::same_process`, the second run is made in this process.
absl::Status CheckDeterministic(const SimOptions& sim_options,
                                const Scenario& scenario,
                                const ScenarioOptions& options = {});

}  // namespace ember::sim

#endif  // EMBER_SIM_HARNESS_SCENARIO_H_
