// RapidCheck properties of the simulator over generated fault plans: without
// resets or crashes every stream byte written arrives exactly once and in
// order; with any plan nothing is corrupted, nothing hangs, every byte is
// accounted for, and the run replays from its seed. Also checks that the
// FaultPlan generator shrinks to the ideal plan.

#include <cstdint>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "sim/fault_plan.h"
#include "sim/fault_plan_arbitrary.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"
#include "tests/sim/workload.h"

namespace ember::sim {
namespace {

using testing::Options;
using testing::RunEchoWorkload;
using testing::WorkloadOptions;
using testing::WorkloadResult;

WorkloadOptions SmallWorkload(uint64_t seed) {
  WorkloadOptions options;
  options.seed = seed;
  options.clients = 2;
  options.bytes_per_client = 4096;
  options.datagrams = 8;
  return options;
}

RC_GTEST_PROP(SimPropertyTest, StreamsAreLosslessWithoutResetsOrCrashes,
              (FaultPlan plan, uint64_t seed)) {
  // Goal: whatever else the plan does, a plan without resets or crashes
  // delivers every stream byte written exactly once, in order: all clients
  // complete with their echo verified, nothing is discarded, and every
  // byte written is read.
  plan.reset_probability = 0;
  plan.crash_probability = 0;
  plan.crash_downtime_max = absl::ZeroDuration();
  RC_ASSERT(plan.Validate().ok());
  SimNetwork net(Options(seed, plan));
  const WorkloadResult result = RunEchoWorkload(net, SmallWorkload(seed));
  RC_LOG() << plan.ToString() << "\n"
           << result.ToString() << "\n"
           << net.stats().ToString();
  RC_ASSERT(result.violation.empty());
  RC_ASSERT(!result.idle);
  RC_ASSERT(!result.out_of_time);
  RC_ASSERT(result.clients_completed == 2);
  const SimStats stats = net.stats();
  RC_ASSERT(stats.bytes_discarded == 0u);
  RC_ASSERT(stats.bytes_written == stats.bytes_read);
  RC_ASSERT(stats.bytes_written >= 2u * 2 * 4096);
}

RC_GTEST_PROP(SimPropertyTest, AnyPlanKeepsStreamsHonestAndReplays,
              (FaultPlan plan, uint64_t seed)) {
  // Goal: under any plan, echoes are never corrupted or reordered, nothing
  // hangs, every byte written is read or discarded, and a second run of the
  // same seed and plan gives the same trace hash and stats.
  RC_ASSERT(plan.Validate().ok());
  SimNetwork net(Options(seed, plan));
  const WorkloadResult result = RunEchoWorkload(net, SmallWorkload(seed));
  RC_LOG() << plan.ToString() << "\n" << result.ToString();
  RC_ASSERT(result.violation.empty());
  RC_ASSERT(!result.idle);
  RC_ASSERT(!result.out_of_time);
  net.CheckInvariants();
  const SimStats stats = net.stats();
  RC_ASSERT(stats.bytes_written == stats.bytes_read + stats.bytes_discarded);

  SimNetwork again(Options(seed, plan));
  RC_ASSERT(RunEchoWorkload(again, SmallWorkload(seed)) == result);
  RC_ASSERT(again.trace_hash() == net.trace_hash());
  RC_ASSERT(again.stats() == stats);
}

TEST(FaultPlanArbitraryTest, GeneratedPlansAreValidAndShrinkToIdeal) {
  // Goal: generated plans validate, and following shrinks until none are
  // left ends at FaultPlan::Ideal(), so RapidCheck reports the gentlest plan
  // that still fails.
  const rc::Gen<FaultPlan> gen = rc::gen::arbitrary<FaultPlan>();
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    rc::Shrinkable<FaultPlan> shrinkable = gen(rc::Random(seed), 100);
    ASSERT_TRUE(shrinkable.value().ValidateRealistic().ok())
        << shrinkable.value().ValidateRealistic();
    for (int steps = 0; steps < 100000; ++steps) {
      rc::Seq<rc::Shrinkable<FaultPlan>> shrinks = shrinkable.shrinks();
      rc::Maybe<rc::Shrinkable<FaultPlan>> first = shrinks.next();
      if (!first) break;
      shrinkable = std::move(*first);
      ASSERT_TRUE(shrinkable.value().ValidateRealistic().ok());
    }
    EXPECT_EQ(shrinkable.value(), FaultPlan::Ideal()) << shrinkable.value();
  }
}

}  // namespace
}  // namespace ember::sim
