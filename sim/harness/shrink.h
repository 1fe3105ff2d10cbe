// Shrinking a failing simulated run to the faults that caused it.
//
// A failing seed usually carries hundreds of injected faults, of which one
// or two matter. `ShrinkFaults` replays the run with subsets of its faults
// (the simulator's fault log, each fault named by its stable decision point,
// see sim/fault_schedule.h) and the rest suppressed, by delta debugging
// (Zeller's ddmin), until no single remaining fault can be removed without
// the failure going away (1-minimal). Because every fault is decided at its
// own point, suppressing one fault leaves every other decision of the run
// where it was, so the subsets replay faithfully.
//
// The result replays with the same seed and plan plus
// EMBER_KEEP_FAULTS=<tokens> (FaultFilter::ParseKeepList), which `Sweep`
// reads and `ShrinkResult::replay` spells out.

#ifndef EMBER_SIM_HARNESS_SHRINK_H_
#define EMBER_SIM_HARNESS_SHRINK_H_

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/fault_schedule.h"
#include "sim/harness/scenario.h"
#include "sim/sim_network.h"

namespace ember::sim {

struct ShrinkOptions {
  // At most this many replays (the original run counts). ddmin needs about
  // k * log(n) runs to keep k of n faults; when the budget runs out the
  // result is smaller than the original but not proved 1-minimal.
  int runs_max = 400;
  // At most this many faults are recorded; a run with more is not shrunk
  // (kResourceExhausted).
  size_t faults_max = 1 << 16;
  // Whether a replay still shows the failure being shrunk. Empty: it fails
  // with the same status code as the original run.
  std::function<bool(const ScenarioResult& original,
                     const ScenarioResult& replay)>
      still_fails;
  ScenarioOptions scenario;
};

struct ShrinkResult {
  // The faults of the original failing run, in the order they struck.
  std::vector<FaultRecord> original;
  // The faults of the reduced run that still fails, in order.
  std::vector<FaultRecord> kept;
  // Replays the reduced run with `sim_options.fault_filter` set to this.
  FaultFilter filter;
  // The reduced run's verdict.
  absl::Status status;
  int runs = 0;
  // True when ddmin finished: removing any one kept fault makes the
  // failure go away.
  bool minimal = false;

  // When the run's decisions came from a source (SimOptions::decisions,
  // e.g. bytes from a fuzzer), what it answered at each point: the
  // reduced runs replay these by point (RecordedDecisions), so that a
  // suppressed fault does not shift the decisions read after it.
  std::map<uint64_t, RecordedDecision> decisions;

  // "3 of 212 faults kept (1-minimal, 41 runs):\n  split of c3 ... \n".
  std::string Report() const;
  // EMBER_KEEP_FAULTS's value for this result.
  std::string KeepList() const;
};

// Runs `options` (which must fail) and shrinks its faults. kFailedPrecondition
// when the run does not fail, kResourceExhausted when it injects more than
// `faults_max` faults. `options.fault_filter` must be kAll or kOnly (a
// filter already applied narrows the faults considered).
absl::StatusOr<ShrinkResult> ShrinkFaults(const SimOptions& options,
                                          const Scenario& scenario,
                                          const ShrinkOptions& shrink = {});

// Runs `options` keeping only the faults `filter` allows, as the shrinker
// replays: with a decision source, once to record its answers by point and
// once more, filtered, from the recording (with seeded decisions, one run).
// The scenario must rewind a byte source it reads (ByteDecisions::Rewind).
ScenarioResult RunKeeping(const SimOptions& options, const Scenario& scenario,
                          const FaultFilter& filter,
                          const ScenarioOptions& scenario_options = {});

// The filter EMBER_KEEP_FAULTS asks for, or kAll when it is not set
// (kInvalidArgument when it does not parse).
absl::StatusOr<FaultFilter> FaultFilterFromEnvironment();

}  // namespace ember::sim

#endif  // EMBER_SIM_HARNESS_SHRINK_H_
