// Tests of the simulator's generator: its streams are fixed forever (so that
// recorded seeds keep replaying), its range reduction stays in bounds and
// reaches both ends, and helpers that are switched off draw nothing.

#include "sim/random.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ember::sim {
namespace {

TEST(SplitMix64Test, MatchesTheReferenceStream) {
  // Goal: SplitMix64 from seed 0 gives the published reference outputs.
  SplitMix64 g(0);
  EXPECT_EQ(g.Next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(g.Next(), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(g.Next(), 0x06c45d188009454full);
  SplitMix64 h(1234567);
  EXPECT_EQ(h.Next(), 0x599ed017fb08fc85ull);
  EXPECT_EQ(h.Next(), 0x2c73f08458540fa5ull);
}

TEST(RandomTest, FirstOutputsAreFixed) {
  // Goal: xoshiro256** seeded through SplitMix64 gives these exact first
  // outputs; a change here breaks every recorded replay seed.
  Random r(42);
  EXPECT_EQ(r.Next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(r.Next(), 0x6104d9866d113a7eull);
  EXPECT_EQ(r.Next(), 0xae17533239e499a1ull);
  EXPECT_EQ(r.Next(), 0xecb8ad4703b360a1ull);
  EXPECT_EQ(r.Next(), 0xfde6dc7fe2ec5e64ull);
  Random z(0);
  EXPECT_EQ(z.Next(), 0x99ec5f36cb75f2b4ull);
}

TEST(RandomTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  // Goal: replay works, and neighbouring seeds are unrelated.
  Random a(99), b(99), c(100);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    if (x != c.Next()) ++differ;
  }
  EXPECT_EQ(differ, 100);
}

TEST(RandomTest, BelowStaysInRangeAndReachesTheEnds) {
  // Goal: Below(n) is in [0, n) for small, odd, power-of-two and huge n, and
  // small ranges hit every value.
  Random r(1);
  for (uint64_t n :
       {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{64},
        uint64_t{1000}, (uint64_t{1} << 63) + 1, UINT64_MAX}) {
    for (int i = 0; i < 2000; ++i) EXPECT_LT(r.Below(n), n) << n;
  }
  EXPECT_EQ(r.Below(1), 0u);
  std::array<int, 7> hits{};
  for (int i = 0; i < 7000; ++i) ++hits[r.Below(7)];
  for (int h : hits) {
    EXPECT_GT(h, 800);  // about 1000 each
    EXPECT_LT(h, 1200);
  }
}

TEST(RandomTest, BetweenIncludesBothBounds) {
  // Goal: Between(lo, hi) includes lo and hi, handles lo == hi and the whole
  // 64-bit range; the signed form handles negative ranges.
  Random r(2);
  bool saw_lo = false, saw_hi = false;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t x = r.Between(10, 13);
    EXPECT_GE(x, 10u);
    EXPECT_LE(x, 13u);
    saw_lo |= x == 10;
    saw_hi |= x == 13;
  }
  EXPECT_TRUE(saw_lo);
  EXPECT_TRUE(saw_hi);
  EXPECT_EQ(r.Between(5, 5), 5u);
  r.Between(0, UINT64_MAX);  // must not overflow or hang
  for (int i = 0; i < 1000; ++i) {
    const int64_t x = r.BetweenSigned(-3, 2);
    EXPECT_GE(x, -3);
    EXPECT_LE(x, 2);
  }
  const int64_t any = r.BetweenSigned(INT64_MIN, INT64_MAX);
  (void)any;
}

TEST(RandomTest, UnitIsInTheHalfOpenInterval) {
  // Goal: Unit() is in [0, 1).
  Random r(3);
  for (int i = 0; i < 10000; ++i) {
    const double u = r.Unit();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(RandomTest, ChanceAtZeroAndOneDrawsNothing) {
  // Goal: Chance(0) is never, Chance(1) always, and neither consumes a draw,
  // so switching a fault off does not shift the rest of a run.
  Random a(4), b(4);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(a.Chance(0));
    EXPECT_TRUE(a.Chance(1));
    EXPECT_FALSE(a.Chance(-1));
  }
  EXPECT_EQ(a.Next(), b.Next());
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += a.Chance(0.25) ? 1 : 0;
  EXPECT_GT(hits, 2200);
  EXPECT_LT(hits, 2800);
}

TEST(RandomTest, DurationBetweenStaysInBounds) {
  // Goal: durations are drawn at nanosecond resolution within the bounds,
  // and an empty range returns its bound without drawing.
  Random r(5), s(5);
  for (int i = 0; i < 1000; ++i) {
    const absl::Duration d =
        r.DurationBetween(absl::Milliseconds(10), absl::Milliseconds(20));
    EXPECT_GE(d, absl::Milliseconds(10));
    EXPECT_LE(d, absl::Milliseconds(20));
  }
  Random t(6), u(6);
  EXPECT_EQ(t.DurationBetween(absl::Seconds(1), absl::Seconds(1)),
            absl::Seconds(1));
  EXPECT_EQ(t.Next(), u.Next());
}

TEST(RandomTest, LogUniformSpreadsOverOctaves) {
  // Goal: LogUniform stays in [lo, hi] and lands in low octaves about as
  // often as high ones.
  Random r(7);
  int below_1000 = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t x = r.LogUniform(1, 1'000'000);
    EXPECT_GE(x, 1u);
    EXPECT_LE(x, 1'000'000u);
    if (x < 1000) ++below_1000;
  }
  // 10 of the 20 octaves lie below 1000.
  EXPECT_GT(below_1000, 4000);
  EXPECT_LT(below_1000, 6000);
  EXPECT_EQ(r.LogUniform(5, 5), 5u);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = r.LogUniform(1, UINT64_MAX);
    EXPECT_GE(x, 1u);
  }
}

TEST(RandomTest, ForkGivesAnIndependentStream) {
  // Goal: a forked generator's numbers differ from its parent's, and forking
  // is itself deterministic.
  Random a(8), b(8);
  Random fa = a.Fork();
  Random fb = b.Fork();
  EXPECT_EQ(fa.Next(), fb.Next());
  EXPECT_NE(fa.Next(), a.Next());
}

TEST(RandomTest, ShuffleIsADeterministicPermutation) {
  // Goal: Shuffle permutes (nothing lost or doubled) and replays per seed.
  std::vector<int> v(50), w(50);
  std::iota(v.begin(), v.end(), 0);
  std::iota(w.begin(), w.end(), 0);
  Random a(9), b(9);
  a.Shuffle(v.data(), v.size());
  b.Shuffle(w.data(), w.size());
  EXPECT_EQ(v, w);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  int moved = 0;
  for (int i = 0; i < 50; ++i) moved += v[i] != i;
  EXPECT_GT(moved, 25);
}

}  // namespace
}  // namespace ember::sim
