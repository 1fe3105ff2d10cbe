// Tests of FaultPlan as a value: the presets are valid and ordered from kind
// to cruel, names map to presets, swarm plans vary by seed yet replay,
// validation names the bad field, and ToString is one line.

#include "sim/fault_plan.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ember::sim {
namespace {

TEST(FaultPlanTest, PresetsAreValidAndRealistic) {
  // Goal: every preset passes Validate and stays within the realistic
  // envelope that drawn plans keep to.
  for (const FaultPlan& p : {FaultPlan::Ideal(), FaultPlan::Lan(),
                             FaultPlan::Wan(), FaultPlan::Hostile()}) {
    EXPECT_TRUE(p.Validate().ok()) << p.Validate() << "\n" << p;
    EXPECT_TRUE(p.ValidateRealistic().ok()) << p.ValidateRealistic();
  }
}

TEST(FaultPlanTest, SwarmPlansAreRealistic) {
  // Goal: no swarm seed draws a window of a few bytes (which made long
  // chat sweeps fail at seeds 1037, 1141, 1317, 2218 and 2445: windows of 1
  // to 10 bytes across hundreds of milliseconds of latency); the window is
  // still drawn over the whole realistic range.
  int64_t smallest = FaultPlan::kDefaultWindowBytes;
  for (uint64_t seed = 0; seed < 20000; ++seed) {
    const FaultPlan p = FaultPlan::Swarm(seed);
    ASSERT_TRUE(p.ValidateRealistic().ok()) << seed << ": " << p;
    smallest = std::min(smallest, p.window_bytes);
  }
  EXPECT_LT(smallest, 2 * FaultPlan::kRealisticWindowBytesMin);
}

TEST(FaultPlanTest, ValidateRealisticRefusesTinyWindowsThatValidateAllows) {
  FaultPlan p;
  p.window_bytes = 10;
  EXPECT_TRUE(p.Validate().ok());
  EXPECT_EQ(p.ValidateRealistic().code(), absl::StatusCode::kInvalidArgument);
  p.window_bytes = FaultPlan::kRealisticWindowBytesMin;
  EXPECT_TRUE(p.ValidateRealistic().ok());
}

TEST(FaultPlanTest, IdealIsTheDefaultAndBreaksNothing) {
  // Goal: Ideal() is a default-constructed plan with no faults.
  const FaultPlan ideal = FaultPlan::Ideal();
  EXPECT_EQ(ideal, FaultPlan());
  EXPECT_FALSE(ideal.BreaksStreams());
  EXPECT_EQ(ideal.latency_max, absl::ZeroDuration());
  EXPECT_EQ(ideal.split_probability, 0);
  EXPECT_EQ(ideal.window_bytes, FaultPlan::kDefaultWindowBytes);
  EXPECT_FALSE(FaultPlan::Lan().BreaksStreams());
  EXPECT_TRUE(FaultPlan::Wan().BreaksStreams());
  EXPECT_TRUE(FaultPlan::Hostile().BreaksStreams());
}

TEST(FaultPlanTest, PresetsGrowCrueler) {
  // Goal: each preset is at least as harsh as the one before on the main
  // axes: latency, window, resets.
  const FaultPlan lan = FaultPlan::Lan(), wan = FaultPlan::Wan(),
                  hostile = FaultPlan::Hostile();
  EXPECT_LT(lan.latency_max, wan.latency_max);
  EXPECT_LT(wan.latency_max, hostile.latency_max);
  EXPECT_GT(lan.window_bytes, wan.window_bytes);
  EXPECT_GT(wan.window_bytes, hostile.window_bytes);
  EXPECT_LT(lan.reset_probability, wan.reset_probability);
  EXPECT_LT(wan.reset_probability, hostile.reset_probability);
  EXPECT_GT(hostile.crash_probability, 0);
}

TEST(FaultPlanTest, ByNameFindsEveryPreset) {
  // Goal: ByName maps names to presets (swarm from the seed) and rejects
  // others with kInvalidArgument.
  EXPECT_EQ(*FaultPlan::ByName("ideal", 1), FaultPlan::Ideal());
  EXPECT_EQ(*FaultPlan::ByName("lan", 1), FaultPlan::Lan());
  EXPECT_EQ(*FaultPlan::ByName("wan", 1), FaultPlan::Wan());
  EXPECT_EQ(*FaultPlan::ByName("hostile", 1), FaultPlan::Hostile());
  EXPECT_EQ(*FaultPlan::ByName("swarm", 77), FaultPlan::Swarm(77));
  absl::StatusOr<FaultPlan> bad = FaultPlan::ByName("chaos", 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FaultPlanTest, SwarmVariesBySeedAndReplays) {
  // Goal: swarm plans are valid, equal for equal seeds, mostly distinct
  // across seeds, and switch each fault kind both on and off somewhere.
  std::set<std::string> distinct;
  int with_resets = 0, with_latency = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const FaultPlan p = FaultPlan::Swarm(seed);
    ASSERT_TRUE(p.Validate().ok()) << p.Validate() << " seed " << seed;
    EXPECT_EQ(p, FaultPlan::Swarm(seed));
    distinct.insert(p.ToString());
    with_resets += p.reset_probability > 0;
    with_latency += p.latency_max > absl::ZeroDuration();
  }
  EXPECT_GT(distinct.size(), 190u);
  EXPECT_GT(with_resets, 60);
  EXPECT_LT(with_resets, 140);
  EXPECT_GT(with_latency, 60);
  EXPECT_LT(with_latency, 140);
}

TEST(FaultPlanTest, ValidateNamesTheBadField) {
  // Goal: out-of-range fields fail with kInvalidArgument naming the field.
  FaultPlan p;
  p.reset_probability = 1.5;
  EXPECT_EQ(p.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.Validate().message().find("reset_probability"),
            std::string::npos);
  p = FaultPlan();
  p.latency_min = absl::Milliseconds(5);
  p.latency_max = absl::Milliseconds(1);
  EXPECT_NE(p.Validate().message().find("latency"), std::string::npos);
  p = FaultPlan();
  p.window_bytes = 0;
  EXPECT_FALSE(p.Validate().ok());
  p = FaultPlan();
  p.clog_duration_max = -absl::Seconds(1);
  EXPECT_FALSE(p.Validate().ok());
  p = FaultPlan();
  p.partition_duration_max = absl::InfiniteDuration();
  EXPECT_FALSE(p.Validate().ok());
  p = FaultPlan();
  p.datagram_loss_probability = -0.1;
  EXPECT_FALSE(p.Validate().ok());
  p = FaultPlan();
  p.wall_jump_interval = absl::Milliseconds(1);
  EXPECT_FALSE(p.Validate().ok());
  p.wall_jump_interval = absl::Seconds(1);
  EXPECT_TRUE(p.Validate().ok());
}

TEST(FaultPlanTest, ToStringIsOneLineAndDistinguishesPlans) {
  // Goal: ToString prints one line, and different plans print differently.
  const std::string s = FaultPlan::Wan().ToString();
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_EQ(s.rfind("FaultPlan{", 0), 0u);
  EXPECT_NE(s, FaultPlan::Lan().ToString());
  std::ostringstream os;
  os << FaultPlan::Wan();
  EXPECT_EQ(os.str(), s);
}

TEST(FaultPlanTest, ToStringRoundTripsExactly) {
  // Goal: what a failing sweep prints can be pasted back: Parse(ToString())
  // gives an equal plan for every preset and for many swarm plans, whose
  // rates have every bit of a double (6 digits used to be printed).
  std::vector<FaultPlan> plans = {FaultPlan::Ideal(), FaultPlan::Lan(),
                                  FaultPlan::Wan(), FaultPlan::Hostile()};
  for (uint64_t seed = 0; seed < 5000; ++seed) {
    plans.push_back(FaultPlan::Swarm(seed));
  }
  FaultPlan odd;
  odd.split_probability = 1.0 / 3;
  odd.latency_max = absl::Nanoseconds(123456789012);
  odd.latency_min = absl::Nanoseconds(1);
  plans.push_back(odd);
  for (const FaultPlan& p : plans) {
    absl::StatusOr<FaultPlan> back = FaultPlan::Parse(p.ToString());
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(*back, p) << p.ToString() << "\n" << back->ToString();
  }
}

TEST(FaultPlanTest, ParseTakesPartialPlansAndNamesWhatIsWrong) {
  absl::StatusOr<FaultPlan> p =
      FaultPlan::Parse("FaultPlan{split=0.5 latency=[1ms,2ms]}");
  ASSERT_TRUE(p.ok()) << p.status();
  FaultPlan want;
  want.split_probability = 0.5;
  want.latency_min = absl::Milliseconds(1);
  want.latency_max = absl::Milliseconds(2);
  EXPECT_EQ(*p, want);
  EXPECT_EQ(*FaultPlan::Parse("FaultPlan{}"), FaultPlan::Ideal());
  for (const char* bad :
       {"split=0.5", "FaultPlan{split=half}", "FaultPlan{splits=0.5}",
        "FaultPlan{split=0.5 split=0.5}", "FaultPlan{latency=1ms}",
        "FaultPlan{split=1.5}", "FaultPlan{clog=0.5}"}) {
    absl::StatusOr<FaultPlan> r = FaultPlan::Parse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(FaultPlan::Parse("FaultPlan{splits=1}").status().message().find(
                "splits"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace ember::sim
