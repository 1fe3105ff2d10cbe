// Tests of the simulator's clocks and Poll: time moves only inside Poll,
// idle time is skipped straight to the next event, a deadline is hit
// exactly, a simulation that can never progress fails fast, and the wall
// clock drifts and jumps while the monotonic clock never goes back.

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"

namespace ember::sim {
namespace {

using testing::FnWatcher;
using testing::MakePair;
using testing::Options;
using testing::Pair;

TEST(ClockTest, ClocksStartAtTheConfiguredPoints) {
  // Goal: Now() and WallNow() start where SimOptions says; with no drift
  // they move together.
  SimOptions options;
  options.monotonic_start = absl::FromUnixSeconds(5000);
  options.wall_start = absl::FromUnixSeconds(1'800'000'000);
  SimNetwork net(options);
  EXPECT_EQ(net.Now(), absl::FromUnixSeconds(5000));
  EXPECT_EQ(net.WallNow(), absl::FromUnixSeconds(1'800'000'000));
  ASSERT_TRUE(net.Poll(net.Now() + absl::Seconds(10)).ok());
  EXPECT_EQ(net.Now(), absl::FromUnixSeconds(5010));
  EXPECT_EQ(net.WallNow(), absl::FromUnixSeconds(1'800'000'010));
}

TEST(ClockTest, PollWithNothingToDoReturnsAtExactlyTheDeadline) {
  // Goal: an idle Poll returns 0 with the clock exactly at its deadline; a
  // deadline in the past or InfinitePast does not move the clock.
  SimNetwork net;
  const absl::Time start = net.Now();
  const absl::Time deadline = start + absl::Milliseconds(1234);
  absl::StatusOr<int> polled = net.Poll(deadline);
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 0);
  EXPECT_EQ(net.Now(), deadline);

  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(net.Now(), deadline);
  ASSERT_TRUE(net.Poll(start).ok());
  EXPECT_EQ(net.Now(), deadline);
}

TEST(ClockTest, IdleTimeJumpsStraightToTheNextEvent) {
  // Goal: with a fixed 250 ms latency, one Poll with no deadline takes the
  // clock from the write exactly to the delivery and dispatches it.
  FaultPlan plan;
  plan.latency_min = plan.latency_max = absl::Milliseconds(250);
  SimNetwork net(Options(1, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, io::Address::Loopback4(0), &pair));
  FnWatcher watcher;
  pair.server->SetWatcher(&watcher);
  pair.server->SetInterest(io::kReadable);
  const absl::Time written_at = net.Now();
  ASSERT_EQ(testing::WriteNow(*pair.client, "x"), 1u);
  absl::StatusOr<int> polled = net.Poll(absl::InfiniteFuture());
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 1);
  EXPECT_EQ(watcher.calls(), 1);
  EXPECT_EQ(net.Now(), written_at + absl::Milliseconds(250));
  pair.server->SetWatcher(nullptr);
}

TEST(ClockTest, ReadyHandlesAreDispatchedWithoutAdvancingTime) {
  // Goal: while something is ready, Poll dispatches it and leaves the clock
  // alone, even with a far deadline.
  SimNetwork net;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, io::Address::Loopback4(0), &pair));
  FnWatcher watcher;
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(io::kWritable);
  const absl::Time before = net.Now();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<int> polled = net.Poll(before + absl::Hours(1));
    ASSERT_TRUE(polled.ok());
    EXPECT_EQ(*polled, 1);
  }
  EXPECT_EQ(net.Now(), before);
  pair.client->SetWatcher(nullptr);
}

TEST(ClockTest, IdleForeverFailsFast) {
  // Goal: nothing ready, nothing scheduled, no deadline: Poll fails with
  // kFailedPrecondition instead of hanging.
  SimNetwork net;
  absl::StatusOr<int> polled = net.Poll(absl::InfiniteFuture());
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(polled.status().message().find("idle forever"), std::string::npos);
}

TEST(ClockTest, WakeEndsAPollWithoutMovingTheClock) {
  // Goal: a pending Wake makes the next Poll return at once, once.
  SimNetwork net;
  const absl::Time before = net.Now();
  net.Wake();
  absl::StatusOr<int> polled = net.Poll(absl::InfiniteFuture());
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(*polled, 0);
  EXPECT_EQ(net.Now(), before);
  EXPECT_FALSE(net.Poll(absl::InfiniteFuture()).ok());  // consumed
}

TEST(ClockTest, ReadinessIsDispatchedInHandleCreationOrder) {
  // Goal: handles ready in the same Poll are called in the order they were
  // created, whatever order they became ready in.
  SimNetwork net;
  Pair first, second;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, io::Address::Loopback4(0), &first));
  ASSERT_NO_FATAL_FAILURE(MakePair(net, io::Address::Loopback4(0), &second));
  std::vector<int> order;
  FnWatcher w1([&](uint32_t) {
    order.push_back(1);
    first.server->SetInterest(0);
  });
  FnWatcher w2([&](uint32_t) {
    order.push_back(2);
    second.server->SetInterest(0);
  });
  first.server->SetWatcher(&w1);
  second.server->SetWatcher(&w2);
  first.server->SetInterest(io::kReadable);
  second.server->SetInterest(io::kReadable);
  // The second pair's data is written (and arrives) first.
  ASSERT_EQ(testing::WriteNow(*second.client, "b"), 1u);
  ASSERT_EQ(testing::WriteNow(*first.client, "a"), 1u);
  ASSERT_TRUE(net.Poll(absl::InfiniteFuture()).ok());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  first.server->SetWatcher(nullptr);
  second.server->SetWatcher(nullptr);
}

TEST(ClockTest, WallClockDriftsWhileMonotonicClockKeepsTime) {
  // Goal: with drift, after 1000 s of virtual time the wall clock is off by
  // at most max ppm (here up to 1 s), and the monotonic clock is exact.
  FaultPlan plan;
  plan.wall_drift_ppm_max = 1000;
  bool some_drift = false;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SimNetwork net(Options(seed, plan));
    const absl::Time mono0 = net.Now(), wall0 = net.WallNow();
    testing::PumpFor(net, absl::Seconds(1000));
    EXPECT_EQ(net.Now() - mono0, absl::Seconds(1000));
    const absl::Duration off = (net.WallNow() - wall0) - absl::Seconds(1000);
    EXPECT_LE(absl::AbsDuration(off), absl::Seconds(1));
    some_drift |= off != absl::ZeroDuration();
  }
  EXPECT_TRUE(some_drift);
}

TEST(ClockTest, WallClockJumpsBothWaysButNowNeverGoesBack) {
  // Goal: with jumps every minute or so, the wall clock jumps (sometimes
  // backwards) while Now() only ever increases; jumps are counted.
  FaultPlan plan;
  plan.wall_jump_interval = absl::Minutes(1);
  plan.wall_jump_max = absl::Hours(1);
  SimNetwork net(Options(3, plan));
  absl::Time last_now = net.Now();
  absl::Time last_wall = net.WallNow();
  int backwards = 0;
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(net.Poll(net.Now() + absl::Seconds(10)).ok());
    EXPECT_GT(net.Now(), last_now);
    if (net.WallNow() < last_wall) ++backwards;
    last_now = net.Now();
    last_wall = net.WallNow();
  }
  EXPECT_GT(backwards, 0);
  const SimStats stats = net.stats();
  ASSERT_EQ(stats.faults.count("wall_jump"), 1u);
  EXPECT_GE(stats.faults.at("wall_jump"), 10u);  // about 20 in 20 minutes
  EXPECT_LE(stats.faults.at("wall_jump"), 40u);
}

TEST(ClockTest, ScriptedWallClockJump) {
  // Goal: JumpWallClock moves the wall clock only.
  SimNetwork net;
  const absl::Time mono = net.Now(), wall = net.WallNow();
  net.JumpWallClock(-absl::Hours(2));
  EXPECT_EQ(net.WallNow(), wall - absl::Hours(2));
  EXPECT_EQ(net.Now(), mono);
}

TEST(ClockTest, RandomSeedFollowsTheSimulationSeed) {
  // Goal: RandomSeed replays per simulation seed and varies between calls
  // and between seeds.
  SimNetwork a(Options(11, FaultPlan())), b(Options(11, FaultPlan())),
      c(Options(12, FaultPlan()));
  const uint64_t a1 = a.RandomSeed();
  EXPECT_EQ(a1, b.RandomSeed());
  EXPECT_NE(a1, a.RandomSeed());
  EXPECT_NE(a1, c.RandomSeed());
}

}  // namespace
}  // namespace ember::sim
