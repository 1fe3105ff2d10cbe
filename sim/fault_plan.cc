#include "sim/fault_plan.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "sim/random.h"

namespace ember::sim {

FaultPlan FaultPlan::Ideal() { return FaultPlan(); }

FaultPlan FaultPlan::Lan() {
  FaultPlan p;
  p.connect_latency_min = absl::Microseconds(100);
  p.connect_latency_max = absl::Microseconds(400);
  p.latency_min = absl::Microseconds(50);
  p.latency_max = absl::Microseconds(200);
  p.bandwidth_bytes_per_second = 125'000'000;  // 1 Gbit/s
  p.window_bytes = kDefaultWindowBytes;
  p.split_probability = 0.1;
  p.short_write_probability = 0.01;
  p.datagram_loss_probability = 1e-4;
  p.datagram_reorder_probability = 1e-3;
  p.resolve_latency_max = absl::Milliseconds(1);
  p.wall_drift_ppm_max = 20;
  return p;
}

FaultPlan FaultPlan::Wan() {
  FaultPlan p;
  p.connect_latency_min = absl::Milliseconds(20);
  p.connect_latency_max = absl::Milliseconds(150);
  p.latency_min = absl::Milliseconds(10);
  p.latency_max = absl::Milliseconds(80);
  p.bandwidth_bytes_per_second = 1'250'000;  // 10 Mbit/s
  p.window_bytes = 64 * 1024;
  p.split_probability = 0.5;
  p.short_write_probability = 0.05;
  p.reset_probability = 1e-4;
  p.clog_probability = 1e-3;
  p.clog_duration_max = absl::Seconds(2);
  p.partition_probability = 1e-4;
  p.partition_duration_max = absl::Seconds(10);
  p.datagram_loss_probability = 0.01;
  p.datagram_duplicate_probability = 0.005;
  p.datagram_reorder_probability = 0.02;
  p.datagram_truncate_probability = 0.001;
  p.resolve_latency_max = absl::Milliseconds(50);
  p.resolve_failure_probability = 0.001;
  p.ipv6_blackhole_probability = 0.05;
  p.wall_drift_ppm_max = 50;
  p.wall_jump_interval = absl::Hours(1);
  p.wall_jump_max = absl::Seconds(1);
  return p;
}

FaultPlan FaultPlan::Hostile() {
  FaultPlan p;
  p.connect_latency_min = absl::ZeroDuration();
  p.connect_latency_max = absl::Seconds(2);
  p.latency_min = absl::ZeroDuration();
  p.latency_max = absl::Milliseconds(500);
  p.bandwidth_bytes_per_second = 64 * 1024;
  p.window_bytes = 1024;
  p.split_probability = 1.0;
  p.short_write_probability = 0.3;
  p.reset_probability = 0.01;
  p.clog_probability = 0.05;
  p.clog_duration_max = absl::Seconds(5);
  p.partition_probability = 0.01;
  p.partition_duration_max = absl::Seconds(30);
  p.crash_probability = 0.001;
  p.crash_downtime_max = absl::Seconds(10);
  p.accept_no_resources_probability = 0.1;
  p.datagram_loss_probability = 0.2;
  p.datagram_duplicate_probability = 0.1;
  p.datagram_reorder_probability = 0.2;
  p.datagram_truncate_probability = 0.05;
  p.resolve_latency_max = absl::Seconds(1);
  p.resolve_failure_probability = 0.1;
  p.ipv6_blackhole_probability = 0.5;
  p.wall_drift_ppm_max = 500;
  p.wall_jump_interval = absl::Minutes(1);
  p.wall_jump_max = absl::Hours(1);
  return p;
}

namespace {

// A probability spread log-uniformly over [1/denominator_max,
// 1/denominator_min].
double DrawRate(Random& r, uint64_t denominator_min, uint64_t denominator_max) {
  return 1.0 /
         static_cast<double>(r.LogUniform(denominator_min, denominator_max));
}

absl::Duration DrawDuration(Random& r, absl::Duration lo, absl::Duration hi) {
  return absl::Nanoseconds(static_cast<int64_t>(r.LogUniform(
      absl::ToInt64Nanoseconds(lo), absl::ToInt64Nanoseconds(hi))));
}

}  // namespace

FaultPlan FaultPlan::Swarm(uint64_t seed) {
  // A fixed offset keeps the plan's stream apart from the simulator's own,
  // which starts from the same seed.
  Random r(seed ^ 0x5357'4152'4d21'0001ull);
  FaultPlan p;
  auto on = [&r] { return r.Chance(0.5); };
  if (on()) {
    p.connect_latency_max =
        DrawDuration(r, absl::Microseconds(50), absl::Seconds(2));
    p.connect_latency_min = absl::Nanoseconds(
        r.BetweenSigned(0, absl::ToInt64Nanoseconds(p.connect_latency_max)));
  }
  if (on()) {
    p.latency_max = DrawDuration(r, absl::Microseconds(20), absl::Seconds(1));
    p.latency_min = absl::Nanoseconds(
        r.BetweenSigned(0, absl::ToInt64Nanoseconds(p.latency_max)));
  }
  if (on()) {
    p.bandwidth_bytes_per_second =
        static_cast<int64_t>(r.LogUniform(16 * 1024, 1'000'000'000));
  }
  if (on()) {
    p.window_bytes = static_cast<int64_t>(
        r.LogUniform(kRealisticWindowBytesMin, kDefaultWindowBytes));
  }
  if (on()) p.split_probability = DrawRate(r, 1, 100);
  if (on()) p.short_write_probability = DrawRate(r, 2, 1000);
  if (on()) p.reset_probability = DrawRate(r, 50, 1'000'000);
  if (on()) {
    p.clog_probability = DrawRate(r, 10, 100'000);
    p.clog_duration_max =
        DrawDuration(r, absl::Milliseconds(1), absl::Seconds(10));
  }
  if (on()) {
    p.partition_probability = DrawRate(r, 50, 1'000'000);
    p.partition_duration_max =
        DrawDuration(r, absl::Milliseconds(10), absl::Seconds(60));
  }
  if (on()) {
    p.crash_probability = DrawRate(r, 500, 1'000'000);
    p.crash_downtime_max =
        DrawDuration(r, absl::Milliseconds(1), absl::Seconds(30));
  }
  if (on()) p.accept_no_resources_probability = DrawRate(r, 3, 1000);
  if (on()) p.datagram_loss_probability = DrawRate(r, 2, 10'000);
  if (on()) p.datagram_duplicate_probability = DrawRate(r, 3, 10'000);
  if (on()) p.datagram_reorder_probability = DrawRate(r, 2, 10'000);
  if (on()) p.datagram_truncate_probability = DrawRate(r, 5, 10'000);
  if (on()) {
    p.resolve_latency_max =
        DrawDuration(r, absl::Microseconds(100), absl::Seconds(2));
  }
  if (on()) p.resolve_failure_probability = DrawRate(r, 5, 10'000);
  if (on()) p.wall_drift_ppm_max = static_cast<int64_t>(r.LogUniform(1, 1000));
  if (on()) {
    p.wall_jump_interval = DrawDuration(r, absl::Seconds(10), absl::Hours(24));
    p.wall_jump_max = DrawDuration(r, absl::Milliseconds(1), absl::Hours(2));
  }
  // Kinds added later draw from a stream of their own, so that the kinds
  // above keep the values every earlier swarm seed gave them.
  Random later(seed ^ 0x5357'4152'4d21'0002ull);
  if (later.Chance(0.5)) p.ipv6_blackhole_probability = DrawRate(later, 1, 4);
  return p;
}

absl::StatusOr<FaultPlan> FaultPlan::ByName(std::string_view name,
                                            uint64_t seed) {
  if (name == "ideal") return Ideal();
  if (name == "lan") return Lan();
  if (name == "wan") return Wan();
  if (name == "hostile") return Hostile();
  if (name == "swarm") return Swarm(seed);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fault plan \"", AbslView(name),
                   "\"; expected ideal, lan, wan, hostile or swarm"));
}

namespace {

absl::Status CheckProbability(double p, const char* field) {
  if (p >= 0 && p <= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("fault plan: ", field, " = ", p, " is not in [0, 1]"));
}

absl::Status CheckDuration(absl::Duration d, const char* field) {
  if (d >= absl::ZeroDuration() && d < absl::InfiniteDuration()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("fault plan: ", field, " = ",
                                                 absl::FormatDuration(d),
                                                 " is negative or infinite"));
}

absl::Status CheckRange(absl::Duration lo, absl::Duration hi,
                        const char* field) {
  EMBER_RETURN_IF_ERROR(CheckDuration(lo, field));
  EMBER_RETURN_IF_ERROR(CheckDuration(hi, field));
  if (lo <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("fault plan: ", field, " min ", absl::FormatDuration(lo),
                   " exceeds max ", absl::FormatDuration(hi)));
}

}  // namespace

absl::Status FaultPlan::Validate() const {
  EMBER_RETURN_IF_ERROR(
      CheckRange(connect_latency_min, connect_latency_max, "connect_latency"));
  EMBER_RETURN_IF_ERROR(CheckRange(latency_min, latency_max, "latency"));
  if (bandwidth_bytes_per_second < 0) {
    return absl::InvalidArgumentError(
        "fault plan: bandwidth_bytes_per_second is negative");
  }
  if (window_bytes < 1) {
    return absl::InvalidArgumentError(
        "fault plan: window_bytes must be at least 1");
  }
  EMBER_RETURN_IF_ERROR(
      CheckProbability(split_probability, "split_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckProbability(short_write_probability, "short_write_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckProbability(reset_probability, "reset_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(clog_probability, "clog_probability"));
  EMBER_RETURN_IF_ERROR(CheckDuration(clog_duration_max, "clog_duration_max"));
  EMBER_RETURN_IF_ERROR(
      CheckProbability(partition_probability, "partition_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckDuration(partition_duration_max, "partition_duration_max"));
  EMBER_RETURN_IF_ERROR(
      CheckProbability(crash_probability, "crash_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckDuration(crash_downtime_max, "crash_downtime_max"));
  EMBER_RETURN_IF_ERROR(CheckProbability(accept_no_resources_probability,
                                         "accept_no_resources_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckProbability(datagram_loss_probability, "datagram_loss_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(datagram_duplicate_probability,
                                         "datagram_duplicate_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(datagram_reorder_probability,
                                         "datagram_reorder_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(datagram_truncate_probability,
                                         "datagram_truncate_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(ipv6_blackhole_probability,
                                         "ipv6_blackhole_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(address_blackhole_probability,
                                         "address_blackhole_probability"));
  EMBER_RETURN_IF_ERROR(CheckProbability(address_refuse_probability,
                                         "address_refuse_probability"));
  EMBER_RETURN_IF_ERROR(
      CheckDuration(resolve_latency_max, "resolve_latency_max"));
  EMBER_RETURN_IF_ERROR(CheckProbability(resolve_failure_probability,
                                         "resolve_failure_probability"));
  if (wall_drift_ppm_max < 0 || wall_drift_ppm_max > 1'000'000) {
    return absl::InvalidArgumentError(
        "fault plan: wall_drift_ppm_max is not in [0, 1000000]");
  }
  EMBER_RETURN_IF_ERROR(
      CheckDuration(wall_jump_interval, "wall_jump_interval"));
  if (wall_jump_interval > absl::ZeroDuration() &&
      wall_jump_interval < absl::Seconds(1)) {
    // Jumps are applied one by one as the clock advances; a shorter mean
    // gap would make an idle hour cost billions of steps.
    return absl::InvalidArgumentError(
        "fault plan: wall_jump_interval must be zero or at least 1s");
  }
  EMBER_RETURN_IF_ERROR(CheckDuration(wall_jump_max, "wall_jump_max"));
  return absl::OkStatus();
}

absl::Status FaultPlan::ValidateRealistic() const {
  EMBER_RETURN_IF_ERROR(Validate());
  if (window_bytes < kRealisticWindowBytesMin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fault plan: window_bytes = ", window_bytes, " is below ",
        kRealisticWindowBytesMin,
        ", the smallest window a realistic plan has"));
  }
  return absl::OkStatus();
}

std::string FaultPlan::ToString() const {
  auto d = [](absl::Duration x) { return absl::FormatDuration(x); };
  return absl::StrCat(
      "FaultPlan{connect_latency=[", d(connect_latency_min), ",",
      d(connect_latency_max), "] latency=[", d(latency_min), ",",
      d(latency_max),
      "] bandwidth_bytes_per_second=", bandwidth_bytes_per_second,
      " window_bytes=", window_bytes, " split=", split_probability,
      " short_write=", short_write_probability, " reset=", reset_probability,
      " clog=", clog_probability, "/", d(clog_duration_max),
      " partition=", partition_probability, "/", d(partition_duration_max),
      " crash=", crash_probability, "/", d(crash_downtime_max),
      " accept_no_resources=", accept_no_resources_probability,
      " datagram_loss=", datagram_loss_probability,
      " datagram_duplicate=", datagram_duplicate_probability,
      " datagram_reorder=", datagram_reorder_probability,
      " datagram_truncate=", datagram_truncate_probability,
      " ipv6_blackhole=", ipv6_blackhole_probability,
      " address_blackhole=", address_blackhole_probability,
      " address_refuse=", address_refuse_probability, " resolve=", d(resolve_latency_max), "/", resolve_failure_probability,
      " wall_drift_ppm_max=", wall_drift_ppm_max,
      " wall_jump=", d(wall_jump_interval), "/", d(wall_jump_max), "}");
}

std::ostream& operator<<(std::ostream& os, const FaultPlan& plan) {
  return os << plan.ToString();
}

}  // namespace ember::sim
