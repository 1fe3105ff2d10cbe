// Runs the echo workload under the hostile plan and under swarm plans for
// many seeds. The simulator checks its byte-accounting invariants after
// every step (aborting on a violation); here we also check the full sweep at
// the end, that streams never lose, corrupt or reorder bytes without a
// reset, and that no run hangs. A failure prints the seed and the command
// that replays it.

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"
#include "tests/sim/workload.h"

namespace ember::sim {
namespace {

using testing::Options;
using testing::RunEchoWorkload;
using testing::WorkloadOptions;
using testing::WorkloadResult;

// Seeds to run: EMBER_SEED=<n> replays one; EMBER_SEEDS=<n> and
// EMBER_SEED_FIRST=<n> size a sweep; Bazel shards split it.
std::vector<uint64_t> Seeds(uint64_t first, uint64_t count) {
  absl::StatusOr<std::vector<uint64_t>> seeds =
      SeedsFromEnvironment(first, count);
  EXPECT_TRUE(seeds.ok()) << seeds.status();
  return seeds.ok() ? *seeds : std::vector<uint64_t>{};
}

void RunSeed(const char* plan_name, uint64_t seed) {
  const FaultPlan plan = *FaultPlan::ByName(plan_name, seed);
  SCOPED_TRACE(::testing::Message()
               << "plan " << plan_name << " seed " << seed
               << "; replay: " << ReplayCommand(seed) << "\n"
               << plan.ToString());
  SimNetwork net(Options(seed, plan));
  WorkloadOptions options;
  options.seed = seed;
  options.clients = 3;
  options.bytes_per_client = 8 * 1024;
  options.datagrams = 30;
  const WorkloadResult result = RunEchoWorkload(net, options);
  net.CheckInvariants();
  const SimStats stats = net.stats();
  EXPECT_TRUE(result.violation.empty()) << result.ToString();
  EXPECT_FALSE(result.idle) << result.ToString();
  EXPECT_FALSE(result.out_of_time) << result.ToString();
  EXPECT_EQ(result.clients_completed + result.clients_gave_up, options.clients)
      << result.ToString();
  EXPECT_GT(stats.invariant_checks, 0u);
  // Every byte is accounted for: read, or discarded by a reset or close.
  EXPECT_EQ(stats.bytes_written, stats.bytes_read + stats.bytes_discarded)
      << stats.ToString();
  EXPECT_EQ(net.open_handles(), 0u);
}

TEST(HostileTest, InvariantsHoldForManySeeds) {
  // Goal: under the hostile plan, 40 seeds run to the end with every
  // invariant intact and every stream byte accounted for.
  for (uint64_t seed : Seeds(1000, 40)) RunSeed("hostile", seed);
}

TEST(HostileTest, SwarmPlansHoldForManySeeds) {
  // Goal: the same under 40 swarm plans, each a different mix of faults.
  for (uint64_t seed : Seeds(2000, 40)) RunSeed("swarm", seed);
}

TEST(HostileTest, HostileRunsInjectEveryStreamFault) {
  // Goal: the hostile plan really is hostile: over a few seeds it resets,
  // clogs, partitions, crashes, splits, shortens writes and damages
  // datagrams.
  // Crashes are drawn per 512-byte block delivered to a host with a
  // restart hook, at 0.1%: the echo workload meets one within a few dozen
  // seeds.
  const char* const kinds[] = {"reset",
                               "clog",
                               "partition",
                               "crash",
                               "restart",
                               "split",
                               "short_write",
                               "accept_no_resources",
                               "datagram_loss",
                               "datagram_duplicate",
                               "datagram_reorder",
                               "resolve_failure"};
  std::map<std::string, uint64_t> faults;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimNetwork net(Options(seed, FaultPlan::Hostile()));
    WorkloadOptions options;
    options.seed = seed;
    RunEchoWorkload(net, options);
    for (const auto& [kind, count] : net.stats().faults) faults[kind] += count;
    bool all = true;
    for (const char* kind : kinds) all = all && faults[kind] > 0;
    if (all) break;
  }
  for (const char* kind : kinds) EXPECT_GT(faults[kind], 0u) << kind;
}

}  // namespace
}  // namespace ember::sim
