// Goal: the simulator finds each planted handler bug of the key-value
// catalogue (tests/sim/planted/kv.h) with each of its three ways of
// choosing faults -- a sweep of seeds under the WAN plan, a sweep of swarm
// plans, and fault decisions read from bytes as a fuzzer would supply them
// -- within a stated budget; shrinks the failing run to the one or two
// faults that cause it (naming which kinds must survive); replays the
// shrunk run and fails the same way; and the bug-free versions pass every
// seed of the same sweeps.
//
// Budgets (runs until the first failure) are upper bounds checked here;
// the numbers found are printed so a change in finding power shows.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "sim/fault_schedule.h"
#include "sim/harness/scenario.h"
#include "sim/harness/shrink.h"
#include "sim/random.h"
#include "tests/sim/planted/kv.h"

namespace ember::planted {
namespace {

using sim::FaultPlan;
using sim::FaultRecord;

// The plan fuzzer-chosen faults run under: WAN timing and windows, every
// stream fault possible (each byte of the input decides one).
FaultPlan FuzzPlan() {
  FaultPlan p = FaultPlan::Wan();
  p.split_probability = 0.1;
  p.short_write_probability = 0.05;
  p.reset_probability = 0.002;
  p.clog_probability = 0.002;
  p.clog_duration_max = absl::Seconds(2);
  p.partition_probability = 0.001;
  p.partition_duration_max = absl::Seconds(5);
  return p;
}

sim::Scenario KvScenario(KvWorkload w) {
  return [w](Reactor& reactor, sim::SimNetwork& net) {
    return RunKv(reactor, net, w);
  };
}

std::set<std::string> KindsOf(const std::vector<FaultRecord>& faults) {
  std::set<std::string> kinds;
  for (const FaultRecord& f : faults) kinds.insert(f.kind);
  return kinds;
}

std::string Describe(const std::vector<FaultRecord>& faults) {
  std::vector<std::string> lines;
  for (const FaultRecord& f : faults) lines.push_back(f.ToString());
  return absl::StrJoin(lines, "\n    ");
}

// What one way of searching found.
struct Finding {
  bool found = false;
  int runs = 0;  // runs until the first failure, that one included
  absl::Status status;
  std::vector<FaultRecord> kept;
  int faults_before = 0;
  bool minimal = false;
  absl::Status replayed;  // the shrunk run replayed on its own
};

// A sweep of seeds [first, first + budget) under `plan`, stopping at the
// first failure, which is shrunk and replayed.
Finding SweepFor(const KvWorkload& w, std::function<FaultPlan(uint64_t)> plan,
                 uint64_t first, int budget) {
  std::vector<uint64_t> seeds;
  for (int i = 0; i < budget; ++i) seeds.push_back(first + i);
  sim::SweepOptions options;
  options.report_failures = false;
  options.stop_after_failures = 1;
  options.plan = plan;
  const sim::SweepSummary summary =
      sim::SweepSeeds("catalogue", seeds, KvScenario(w), options);
  Finding f;
  f.runs = summary.runs;
  if (summary.failed.empty()) return f;
  const sim::SweepFailure& failure = summary.failed.front();
  f.found = true;
  f.status = failure.status;
  f.kept = failure.kept;
  f.faults_before = failure.faults_before_shrinking;
  f.minimal = failure.shrink_report.find("1-minimal") != std::string::npos;
  // Replay the reduced run as EMBER_KEEP_FAULTS would.
  sim::SimOptions replay;
  replay.seed = failure.seed;
  replay.plan = failure.plan;
  std::set<uint64_t> ids;
  for (const FaultRecord& r : f.kept) ids.insert(r.id);
  replay.fault_filter = sim::FaultFilter::Only(ids);
  f.replayed = sim::RunScenario(replay, KvScenario(w)).status;
  std::printf(
      "  %s: found at run %d (seed %llu): %s\n    kept %zu of %d faults%s:\n   "
      " %s\n    replay: %s\n",
      std::string(KvBugName(w.bug)).c_str(), f.runs,
      static_cast<unsigned long long>(failure.seed),
      f.status.ToString().c_str(), f.kept.size(), f.faults_before,
      f.minimal ? " (1-minimal)" : "", Describe(f.kept).c_str(),
      failure.replay.c_str());
  return f;
}

// Fault decisions (and the workload's choices) read from bytes, as a
// fuzzer supplies them: here inputs drawn from a seeded byte generator.
Finding FuzzFor(KvWorkload w, uint64_t first, int budget) {
  Finding f;
  for (int i = 0; i < budget; ++i) {
    ++f.runs;
    // Inputs as a fuzzer mutating a corpus of quiet runs makes them: the
    // front (fault decisions) mostly 0xff, "no fault", with a random byte
    // one time in eight; the back (the workload's choices) random.
    sim::Random gen(first + static_cast<uint64_t>(i));
    std::vector<uint8_t> input(8192);
    for (size_t k = 0; k < input.size(); ++k) {
      const bool sparse = k < input.size() / 2;
      input[k] =
          sparse && gen.Below(8) != 0 ? 0xff : static_cast<uint8_t>(gen.Next());
    }
    sim::ByteDecisions bytes(input.data(), input.size());
    w.choices = &bytes;
    sim::SimOptions options;
    options.seed = 1;
    options.plan = FuzzPlan();
    options.decisions = &bytes;
    const sim::Scenario scenario = [&](Reactor& reactor, sim::SimNetwork& net) {
      bytes.Rewind();
      return RunKv(reactor, net, w);
    };
    const sim::ScenarioResult result = sim::RunScenario(options, scenario);
    if (result.status.ok()) continue;
    f.found = true;
    f.status = result.status;
    absl::StatusOr<sim::ShrinkResult> shrunk =
        sim::ShrinkFaults(options, scenario);
    if (!shrunk.ok()) {
      ADD_FAILURE() << shrunk.status();
      return f;
    }
    f.kept = shrunk->kept;
    f.faults_before = static_cast<int>(shrunk->original.size());
    f.minimal = shrunk->minimal;
    f.replayed = sim::RunKeeping(options, scenario, shrunk->filter).status;
    std::printf("  %s (bytes): found at input %d: %s\n    %s\n",
                std::string(KvBugName(w.bug)).c_str(), f.runs,
                f.status.ToString().c_str(), shrunk->Report().c_str());
    return f;
  }
  return f;
}

FaultPlan WanPlan(uint64_t) { return FaultPlan::Wan(); }
FaultPlan SwarmPlan(uint64_t seed) { return FaultPlan::Swarm(seed); }

// Checks one finding: found within budget, failing as expected, shrunk to
// at most `kept_max` faults of the allowed kinds, 1-minimal, and the shrunk
// run replays the failure.
void ExpectFound(const Finding& f, absl::StatusCode code,
                 const std::set<std::string>& kinds_allowed, size_t kept_min,
                 size_t kept_max) {
  ASSERT_TRUE(f.found) << "not found within " << f.runs << " runs";
  EXPECT_EQ(f.status.code(), code) << f.status;
  EXPECT_TRUE(f.minimal);
  EXPECT_GE(f.kept.size(), kept_min) << Describe(f.kept);
  EXPECT_LE(f.kept.size(), kept_max) << Describe(f.kept);
  for (const std::string& kind : KindsOf(f.kept)) {
    EXPECT_TRUE(kinds_allowed.count(kind)) << kind << " kept:\n"
                                           << Describe(f.kept);
  }
  EXPECT_EQ(f.replayed.code(), code) << f.replayed;
}

KvWorkload With(KvBug bug) {
  KvWorkload w;
  w.bug = bug;
  return w;
}

TEST(PlantedKvTest, BugFreeVersionPassesEverySeed) {
  const KvWorkload w = With(KvBug::kNone);
  for (const auto& [name, plan] :
       std::vector<std::pair<const char*, std::function<FaultPlan(uint64_t)>>>{
           {"wan", WanPlan}, {"swarm", SwarmPlan}}) {
    const Finding f = SweepFor(w, plan, 1, 60);
    EXPECT_FALSE(f.found) << name << ": " << f.status;
  }
  const Finding f = FuzzFor(w, 1, 60);
  EXPECT_FALSE(f.found) << f.status;
}

// The budgets: runs until the first failure, at most.
constexpr int kSeedBudget = 40;
constexpr int kSwarmBudget = 40;
constexpr int kBytesBudget = 20;

struct Expectation {
  absl::StatusCode code;
  // Kinds a shrunk run may keep, and whether one of `required` must be
  // among them.
  std::set<std::string> allowed;
  std::set<std::string> required;
  size_t kept_max;
};

void ExpectEveryWayFinds(KvBug bug, const Expectation& e) {
  const KvWorkload w = With(bug);
  const std::pair<const char*, Finding> findings[] = {
      {"seed sweep (wan)", SweepFor(w, WanPlan, 1, kSeedBudget)},
      {"swarm sweep", SweepFor(w, SwarmPlan, 1, kSwarmBudget)},
      {"fuzzer-chosen faults", FuzzFor(w, 1, kBytesBudget)},
  };
  for (const auto& [how, f] : findings) {
    SCOPED_TRACE(how);
    ExpectFound(f, e.code, e.allowed, 0, e.kept_max);
    if (!e.required.empty() && f.found) {
      bool has = false;
      for (const std::string& kind : KindsOf(f.kept))
        has |= e.required.count(kind) > 0;
      EXPECT_TRUE(has) << "the shrunk run must keep one of "
                       << absl::StrJoin(e.required, ", ") << "; kept:\n    "
                       << Describe(f.kept);
    }
  }
}

TEST(PlantedKvTest, A_WholeMessagePerReadIsFoundAndShrunkToOneCut) {
  // Only a request cut between two reads shows it: a split delivery or a
  // short write, or a small receive window (swarm plans) that cuts writes
  // without any injected fault.
  ExpectEveryWayFinds(
      KvBug::kWholeMessagePerRead,
      {absl::StatusCode::kDataLoss, {"split", "short_write"}, {}, 1});
}

TEST(PlantedKvTest, B_ResendWithoutClearingIsFoundAndShrunkToOneReset) {
  // Needs a connection to break with requests in flight: a reset (with at
  // most one cut that places it).
  ExpectEveryWayFinds(KvBug::kResendWithoutClearing,
                      {absl::StatusCode::kFailedPrecondition,
                       {"reset", "crash", "split", "short_write"},
                       {"reset", "crash"},
                       2});
}

TEST(PlantedKvTest, C_LeakOnResetIsFoundAndShrunkToOneReset) {
  ExpectEveryWayFinds(KvBug::kLeakOnReset,
                      {absl::StatusCode::kInternal,
                       {"reset", "crash", "split", "short_write"},
                       {"reset", "crash"},
                       2});
}

TEST(PlantedKvTest, D_ShortTimeoutIsFoundAndShrunkToOneStall) {
  // A stall longer than 250 ms: a clog or a partition of the link (the
  // swarm's long latencies can do it alone).
  ExpectEveryWayFinds(KvBug::kShortTimeout,
                      {absl::StatusCode::kDataLoss,
                       {"clog", "partition", "reset", "split", "short_write"},
                       {},
                       2});
  const Finding wan =
      SweepFor(With(KvBug::kShortTimeout), WanPlan, 1, kSeedBudget);
  ASSERT_TRUE(wan.found);
  const std::set<std::string> kinds = KindsOf(wan.kept);
  EXPECT_TRUE(kinds.count("clog") || kinds.count("partition"))
      << "under the WAN plan a stall must be kept:\n    " << Describe(wan.kept);
}

TEST(PlantedKvTest, E_IgnoringBackpressureIsFoundWithNoFaultAtAll) {
  // A pipelined burst of large replies overflows the server's outbound
  // queue whatever the network does: the shrunk run keeps no injected
  // fault.
  ExpectEveryWayFinds(KvBug::kIgnoreBackpressure,
                      {absl::StatusCode::kResourceExhausted, {}, {}, 0});
}

TEST(PlantedKvTest, IdealPlanHidesTheFaultDrivenBugs) {
  // Goal: bugs (a) to (d) need the network's misbehaviour to show; on a
  // perfect network those buggy versions pass, so finding them is the
  // simulator's doing, not the workload's. (e) is not among them: the
  // reactor queues the replies to a whole read before it writes, so a
  // server that ignores backpressure overflows on any network.
  for (KvBug bug : {KvBug::kWholeMessagePerRead, KvBug::kResendWithoutClearing,
                    KvBug::kLeakOnReset, KvBug::kShortTimeout}) {
    const Finding f = SweepFor(
        With(bug), [](uint64_t) { return FaultPlan::Ideal(); }, 1, 5);
    EXPECT_FALSE(f.found) << KvBugName(bug) << ": " << f.status;
  }
}

}  // namespace
}  // namespace ember::planted
