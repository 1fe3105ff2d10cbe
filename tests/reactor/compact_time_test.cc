// The 8-byte times and durations every connection carries: what they hold
// must read back as it went in, to the nanosecond, and infinities stay
// infinite.

#include <cstdint>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "reactor/connection.h"

namespace ember {
namespace {

using reactor_internal::CompactDuration;
using reactor_internal::CompactTime;

TEST(CompactTimeTest, ClockReadingsReadBackToTheNanosecond) {
  const absl::Time now = absl::FromUnixNanos(1'790'000'000'123'456'789);
  EXPECT_EQ(CompactTime(now).get(), now);
  EXPECT_EQ(CompactTime(absl::UnixEpoch()).get(), absl::UnixEpoch());
  // The monotonic clock counts from boot: small values.
  const absl::Time boot = absl::FromUnixNanos(12'345);
  EXPECT_EQ(CompactTime(boot).get(), boot);
}

TEST(CompactTimeTest, BeforeTheEpochReadsBack) {
  const absl::Time before = absl::FromUnixNanos(-86'400'000'000'007);
  EXPECT_EQ(CompactTime(before).get(), before);
}

TEST(CompactTimeTest, SubNanosecondsRoundDown) {
  const absl::Time t =
      absl::FromUnixNanos(5'000'000'001) + absl::Nanoseconds(1) / 4;
  EXPECT_EQ(CompactTime(t).get(), absl::FromUnixNanos(5'000'000'001));
}

TEST(CompactTimeTest, InfinitiesStayInfinite) {
  EXPECT_EQ(CompactTime(absl::InfiniteFuture()).get(), absl::InfiniteFuture());
  EXPECT_EQ(CompactTime(absl::InfinitePast()).get(), absl::InfinitePast());
}

TEST(CompactDurationTest, ReadsBackAndSaturates) {
  EXPECT_EQ(CompactDuration(absl::Milliseconds(1500)).get(),
            absl::Milliseconds(1500));
  EXPECT_EQ(CompactDuration(-absl::Nanoseconds(3)).get(),
            -absl::Nanoseconds(3));
  EXPECT_EQ(CompactDuration(absl::InfiniteDuration()).get(),
            absl::InfiniteDuration());
  EXPECT_EQ(CompactDuration(-absl::InfiniteDuration()).get(),
            -absl::InfiniteDuration());
  // Beyond about 292 years a duration is taken as infinite.
  EXPECT_EQ(CompactDuration(absl::Hours(24 * 365 * 300)).get(),
            absl::InfiniteDuration());
}

}  // namespace
}  // namespace ember
