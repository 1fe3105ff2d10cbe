// RapidCheck support for FaultPlan: `rc::Arbitrary<ember::sim::FaultPlan>`,
// so a property can take a `FaultPlan` argument, and RapidCheck generates
// plans and shrinks a failing one toward `FaultPlan::Ideal()`.
//
// Each fault kind is switched on or off by its own boolean (which shrinks to
// off), and its rate or duration is a power-of-two step below a ceiling
// (which shrinks to the gentlest step). A shrunk counterexample therefore
// keeps only the faults needed to fail, each as mild as still fails. The
// ceilings are about those of `FaultPlan::Hostile()`, except that Accept
// fails with at most probability 1/2, since a plan where every Accept fails
// is valid but makes every server livelock, which no property is about, and
// every plan passes FaultPlan::ValidateRealistic (windows of 1 KiB or more).
//
// Usage:
//   #include "sim/fault_plan_arbitrary.h"
//   RC_GTEST_PROP(MyTest, Survives, (ember::sim::FaultPlan plan)) { ... }

#ifndef EMBER_SIM_FAULT_PLAN_ARBITRARY_H_
#define EMBER_SIM_FAULT_PLAN_ARBITRARY_H_

#include <cstdint>

#include "absl/time/time.h"
#include "rapidcheck.h"
#include "sim/fault_plan.h"

namespace ember::sim::internal_arbitrary {

// Picks (inside gen::exec) `on`, then a step k in [0, steps]: the value is
// ceiling / 2^(steps - k), or `off` when not on. Shrinks to `off`, then to
// the smallest step.
inline double PickRate(double ceiling, int steps) {
  if (!*rc::gen::arbitrary<bool>()) return 0;
  const int k = *rc::gen::inRange(0, steps + 1);
  double p = ceiling;
  for (int i = k; i < steps; ++i) p /= 2;
  return p;
}

inline absl::Duration PickDuration(absl::Duration ceiling, int steps) {
  if (!*rc::gen::arbitrary<bool>()) return absl::ZeroDuration();
  const int k = *rc::gen::inRange(0, steps + 1);
  return ceiling / (int64_t{1} << (steps - k));
}

// A fraction of `max` in whole percent, shrinking to 0.
inline absl::Duration PickBelow(absl::Duration max) {
  const int percent = *rc::gen::inRange(0, 101);
  return max * percent / 100;
}

}  // namespace ember::sim::internal_arbitrary

namespace rc {

template <>
struct Arbitrary<ember::sim::FaultPlan> {
  static Gen<ember::sim::FaultPlan> arbitrary() {
    return gen::exec([] {
      using ember::sim::FaultPlan;
      using namespace ember::sim::internal_arbitrary;
      FaultPlan p;
      p.connect_latency_max = PickDuration(absl::Seconds(2), 14);
      p.connect_latency_min = PickBelow(p.connect_latency_max);
      p.latency_max = PickDuration(absl::Milliseconds(500), 14);
      p.latency_min = PickBelow(p.latency_max);
      if (*gen::arbitrary<bool>()) {
        // 1 Gbit/s down to about 15 KB/s.
        p.bandwidth_bytes_per_second =
            int64_t{1'000'000'000} >> *gen::inRange(0, 17);
      }
      if (*gen::arbitrary<bool>()) {
        // 256 KiB down to 1 KiB (FaultPlan::kRealisticWindowBytesMin).
        p.window_bytes = FaultPlan::kDefaultWindowBytes >> *gen::inRange(0, 9);
      }
      p.split_probability = PickRate(1.0, 8);
      p.short_write_probability = PickRate(0.5, 8);
      p.reset_probability = PickRate(0.05, 12);
      p.clog_probability = PickRate(0.1, 12);
      p.clog_duration_max = p.clog_probability > 0
                                ? PickDuration(absl::Seconds(5), 12)
                                : absl::ZeroDuration();
      p.partition_probability = PickRate(0.02, 12);
      p.partition_duration_max = p.partition_probability > 0
                                     ? PickDuration(absl::Seconds(30), 12)
                                     : absl::ZeroDuration();
      p.crash_probability = PickRate(0.005, 12);
      p.crash_downtime_max = p.crash_probability > 0
                                 ? PickDuration(absl::Seconds(10), 12)
                                 : absl::ZeroDuration();
      p.accept_no_resources_probability = PickRate(0.5, 10);
      p.datagram_loss_probability = PickRate(0.5, 10);
      p.datagram_duplicate_probability = PickRate(0.5, 10);
      p.datagram_reorder_probability = PickRate(0.5, 10);
      p.datagram_truncate_probability = PickRate(0.2, 10);
      p.resolve_latency_max = PickDuration(absl::Seconds(2), 12);
      p.resolve_failure_probability = PickRate(0.2, 10);
      // A dead IPv6 route, in some runs. Per-address black holes and
      // refusals are left to properties that ask for them: a plan that
      // refuses a server's only address for the whole run tells nothing.
      p.ipv6_blackhole_probability = PickRate(1.0, 4);
      if (*gen::arbitrary<bool>()) {
        p.wall_drift_ppm_max = *gen::inRange(0, 1001);
      }
      if (*gen::arbitrary<bool>()) {
        // Every minute to every day, jumps of up to 2 hours.
        p.wall_jump_interval =
            absl::Hours(24) / (int64_t{1} << *gen::inRange(0, 11));
        p.wall_jump_max = PickBelow(absl::Hours(2));
      }
      return p;
    });
  }
};

}  // namespace rc

#endif  // EMBER_SIM_FAULT_PLAN_ARBITRARY_H_
