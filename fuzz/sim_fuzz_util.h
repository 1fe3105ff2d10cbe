// Fuzz targets whose input is not a message but a schedule: libFuzzer's
// bytes decide the simulator's faults (sim::ByteDecisions), so coverage
// guidance searches for the schedule that breaks a server, where a seed
// sweep can only sample them.
//
// `RunFuzzedSchedule` runs a scenario with its fault decisions read from the
// input under a fixed plan (the plan gives each fault's rate, hence the
// threshold a byte must be under; see sim/fault_schedule.h). A failing run is
// shrunk to the faults that matter, which are printed with the command that
// replays them, and then the process aborts, which libFuzzer records as a
// crash. The replay: `./bazelw run //fuzz:<target>_fuzzer -- <input>`, with
// EMBER_KEEP_FAULTS=<tokens> to keep only the shrunk faults.

#ifndef EMBER_FUZZ_SIM_FUZZ_UTIL_H_
#define EMBER_FUZZ_SIM_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "sim/fault_plan.h"
#include "sim/fault_schedule.h"
#include "sim/harness/scenario.h"
#include "sim/harness/shrink.h"
#include "sim/sim_network.h"

namespace ember::fuzz {

// The plan fuzzed schedules run under: WAN timing, and every stream and
// link fault possible (resets, clogs, partitions, splits, short writes).
inline sim::FaultPlan FuzzedSchedulePlan() {
  sim::FaultPlan p = sim::FaultPlan::Wan();
  p.split_probability = 0.2;
  p.short_write_probability = 0.05;
  p.reset_probability = 0.002;
  p.clog_probability = 0.002;
  p.clog_duration_max = absl::Seconds(2);
  p.partition_probability = 0.001;
  p.partition_duration_max = absl::Seconds(5);
  // Per-run draws stay off: the bytes decide what happens.
  p.ipv6_blackhole_probability = 0;
  p.resolve_failure_probability = 0;
  p.wall_jump_interval = absl::ZeroDuration();
  return p;
}

// Runs `scenario` with faults from `data`; aborts after printing the
// shrunk faults when it fails.
inline void RunFuzzedSchedule(
    const uint8_t* data, size_t size, const char* target,
    const std::function<absl::Status(Reactor&, sim::SimNetwork&)>& scenario) {
  sim::ByteDecisions bytes(data, size);
  sim::SimOptions options;
  options.seed = 1;
  options.plan = FuzzedSchedulePlan();
  options.decisions = &bytes;
  const sim::Scenario rewound = [&](Reactor& reactor, sim::SimNetwork& net) {
    bytes.Rewind();
    return scenario(reactor, net);
  };
  absl::StatusOr<sim::FaultFilter> filter = sim::FaultFilterFromEnvironment();
  if (!filter.ok()) {
    std::fprintf(stderr, "%s\n", filter.status().ToString().c_str());
    std::abort();
  }
  const sim::ScenarioResult result = sim::RunKeeping(options, rewound, *filter);
  if (result.status.ok()) return;
  std::fprintf(stderr, "%s: the schedule breaks the scenario: %s\n", target,
               result.status.ToString().c_str());
  options.fault_filter = *filter;
  absl::StatusOr<sim::ShrinkResult> shrunk =
      sim::ShrinkFaults(options, rewound);
  if (shrunk.ok()) {
    std::fprintf(
        stderr,
        "%s\nreplay: EMBER_KEEP_FAULTS=%s ./bazelw run //fuzz:%s_fuzzer "
        "-- <this input>\n",
        shrunk->Report().c_str(), shrunk->KeepList().c_str(), target);
  } else {
    std::fprintf(stderr, "not shrunk: %s\n",
                 shrunk.status().ToString().c_str());
  }
  std::abort();
}

}  // namespace ember::fuzz

#endif  // EMBER_FUZZ_SIM_FUZZ_UTIL_H_
