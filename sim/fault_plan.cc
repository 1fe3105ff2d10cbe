#include "sim/fault_plan.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

namespace {

// Exact text forms: a double as the shortest string that reads back as the
// same double, a duration as absl::FormatDuration (exact to the
// nanosecond; plans hold whole nanoseconds).
std::string Exact(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  EMBER_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::string Exact(int64_t x) { return absl::StrCat(x); }

std::string Exact(absl::Duration d) { return absl::FormatDuration(d); }

bool ReadExact(std::string_view text, double* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ReadExact(std::string_view text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ReadExact(std::string_view text, absl::Duration* out) {
  return absl::ParseDuration(AbslView(text), out);
}

// Splits "a<sep>b" into its two parts.
bool SplitPair(std::string_view text, char sep, std::string_view* a,
               std::string_view* b) {
  const size_t at = text.find(sep);
  if (at == std::string_view::npos) return false;
  *a = text.substr(0, at);
  *b = text.substr(at + 1);
  return true;
}

// One field of the text form: its name, how it prints and how it parses.
// ToString and Parse both walk this one table, so they cannot disagree.
struct FieldForm {
  const char* name;
  std::function<std::string(const FaultPlan&)> print;
  std::function<bool(std::string_view, FaultPlan&)> parse;
};

template <typename T>
FieldForm One(const char* name, T FaultPlan::*field) {
  return {name, [field](const FaultPlan& p) { return Exact(p.*field); },
          [field](std::string_view v, FaultPlan& p) {
            return ReadExact(v, &(p.*field));
          }};
}

template <typename A, typename B>
FieldForm Two(const char* name, A FaultPlan::*a, B FaultPlan::*b,
              bool bracketed) {
  return {name,
          [=](const FaultPlan& p) {
            return bracketed
                       ? absl::StrCat("[", Exact(p.*a), ",", Exact(p.*b), "]")
                       : absl::StrCat(Exact(p.*a), "/", Exact(p.*b));
          },
          [=](std::string_view v, FaultPlan& p) {
            if (bracketed) {
              if (v.size() < 2 || v.front() != '[' || v.back() != ']') {
                return false;
              }
              v = v.substr(1, v.size() - 2);
            }
            std::string_view x, y;
            return SplitPair(v, bracketed ? ',' : '/', &x, &y) &&
                   ReadExact(x, &(p.*a)) && ReadExact(y, &(p.*b));
          }};
}

const std::vector<FieldForm>& Fields() {
  using P = FaultPlan;
  static const auto* fields = new std::vector<FieldForm>{
      Two("connect_latency", &P::connect_latency_min, &P::connect_latency_max,
          true),
      Two("latency", &P::latency_min, &P::latency_max, true),
      One("bandwidth_bytes_per_second", &P::bandwidth_bytes_per_second),
      One("window_bytes", &P::window_bytes),
      One("split", &P::split_probability),
      One("short_write", &P::short_write_probability),
      One("reset", &P::reset_probability),
      Two("clog", &P::clog_probability, &P::clog_duration_max, false),
      Two("partition", &P::partition_probability, &P::partition_duration_max,
          false),
      Two("crash", &P::crash_probability, &P::crash_downtime_max, false),
      One("accept_no_resources", &P::accept_no_resources_probability),
      One("datagram_loss", &P::datagram_loss_probability),
      One("datagram_duplicate", &P::datagram_duplicate_probability),
      One("datagram_reorder", &P::datagram_reorder_probability),
      One("datagram_truncate", &P::datagram_truncate_probability),
      One("ipv6_blackhole", &P::ipv6_blackhole_probability),
      One("address_blackhole", &P::address_blackhole_probability),
      One("address_refuse", &P::address_refuse_probability),
      Two("resolve", &P::resolve_latency_max, &P::resolve_failure_probability,
          false),
      One("wall_drift_ppm_max", &P::wall_drift_ppm_max),
      Two("wall_jump", &P::wall_jump_interval, &P::wall_jump_max, false),
  };
  return *fields;
}

}  // namespace

std::string FaultPlan::ToString() const {
  std::string out = "FaultPlan{";
  bool first = true;
  for (const FieldForm& f : Fields()) {
    absl::StrAppend(&out, first ? "" : " ", f.name, "=", f.print(*this));
    first = false;
  }
  out += "}";
  return out;
}

absl::StatusOr<FaultPlan> FaultPlan::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse fault plan \"", AbslView(text),
                     "\": ", AbslView(why)));
  };
  std::string_view body = text;
  while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
  while (!body.empty() && body.back() == ' ') body.remove_suffix(1);
  constexpr std::string_view kOpen = "FaultPlan{";
  if (body.substr(0, kOpen.size()) != kOpen || body.empty() ||
      body.back() != '}') {
    return bad("expected FaultPlan{field=value ...}");
  }
  body = body.substr(kOpen.size(), body.size() - kOpen.size() - 1);
  FaultPlan plan;
  std::vector<std::string> seen;
  for (absl::string_view token :
       absl::StrSplit(AbslView(body), ' ', absl::SkipEmpty())) {
    std::string_view name, value;
    if (!SplitPair(StdView(token), '=', &name, &value)) {
      return bad(absl::StrCat("\"", token, "\" is not field=value"));
    }
    const FieldForm* field = nullptr;
    for (const FieldForm& f : Fields()) {
      if (name == f.name) field = &f;
    }
    if (field == nullptr) {
      return bad(absl::StrCat("no field \"", AbslView(name), "\""));
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return bad(absl::StrCat("\"", AbslView(name), "\" given twice"));
    }
    seen.emplace_back(name);
    if (!field->parse(value, plan)) {
      return bad(absl::StrCat("bad value \"", AbslView(value), "\" for ",
                              AbslView(name)));
    }
  }
  EMBER_RETURN_IF_ERROR(plan.Validate());
  return plan;
}

std::ostream& operator<<(std::ostream& os, const FaultPlan& plan) {
  return os << plan.ToString();
}

}  // namespace ember::sim
