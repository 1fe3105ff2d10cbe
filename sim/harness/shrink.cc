#include "sim/harness/shrink.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ember::sim {
namespace {

using IdSet = std::vector<uint64_t>;  // sorted, distinct

class Shrinker {
 public:
  Shrinker(const SimOptions& options, const Scenario& scenario,
           const ShrinkOptions& shrink)
      : options_(options), scenario_(scenario), shrink_(shrink) {
    options_.fault_log_max = shrink.faults_max + 1;
    source_ = options_.decisions;
  }

  absl::StatusOr<ShrinkResult> Run() {
    original_ = RunScenarioWith(options_.fault_filter);
    ++result_.runs;
    if (original_.status.ok()) {
      return absl::FailedPreconditionError("the run to shrink does not fail");
    }
    if (original_log_.size() > shrink_.faults_max || truncated_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the run injects more than ", shrink_.faults_max,
                       " faults; shrink a shorter run"));
    }
    result_.original = original_log_;
    IdSet all = IdsOf(original_log_);
    best_ = all;
    best_log_ = original_log_;
    best_status_ = original_.status;
    // No fault at all is the smallest answer; try it first.
    if (Fails(IdSet{})) {
      result_.minimal = true;
    } else {
      DeltaDebug(all);
      // ddmin's answer is 1-minimal, not always the smallest: timing can
      // make a few faults matter together where one alone also fails. A
      // pass over single faults finds such a one.
      if (best_.size() > 1) {
        for (uint64_t id : all) {
          if (Fails(IdSet{id}) && best_.size() <= 1) break;
          if (out_of_budget_) break;
        }
      }
    }
    result_.kept = best_log_;
    result_.filter =
        FaultFilter::Only(std::set<uint64_t>(best_.begin(), best_.end()));
    result_.status = best_status_;
    return result_;
  }

 private:
  static IdSet IdsOf(const std::vector<FaultRecord>& log) {
    IdSet ids;
    for (const FaultRecord& r : log) ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }

  ScenarioResult RunScenarioWith(const FaultFilter& filter) {
    SimOptions o = options_;
    o.fault_filter = filter;
    // A decision source is asked once, in the original run; later runs
    // answer each point as it did.
    RecordingDecisions recording(source_, &result_.decisions);
    RecordedDecisions recorded(&result_.decisions);
    if (source_ != nullptr) {
      o.decisions = result_.runs == 0 ? static_cast<DecisionSource*>(&recording)
                                      : &recorded;
    }
    // The log comes out through a scenario wrapper: the network dies with
    // RunScenario.
    std::vector<FaultRecord> log;
    bool truncated = false;
    ScenarioResult r = RunScenario(
        o,
        [&](Reactor& reactor, SimNetwork& net) {
          absl::Status s = scenario_(reactor, net);
          // The scenario has ended its connections: the log is complete
          // but for what the reactor's teardown adds, which injects no
          // plan faults.
          log = net.fault_log();
          truncated = net.fault_log_truncated();
          return s;
        },
        shrink_.scenario);
    last_log_ = std::move(log);
    truncated_ = truncated;
    if (result_.runs == 0) original_log_ = last_log_;
    return r;
  }

  // Whether the run keeping only `ids` still fails; remembers the
  // smallest failing run seen.
  bool Fails(const IdSet& ids) {
    if (auto it = cache_.find(ids); it != cache_.end()) return it->second;
    if (result_.runs >= shrink_.runs_max) {
      out_of_budget_ = true;
      return false;
    }
    ++result_.runs;
    const ScenarioResult r = RunScenarioWith(
        FaultFilter::Only(std::set<uint64_t>(ids.begin(), ids.end())));
    bool fails;
    if (shrink_.still_fails) {
      fails = shrink_.still_fails(original_, r);
    } else {
      fails = !r.status.ok() && r.status.code() == original_.status.code();
    }
    cache_[ids] = fails;
    if (fails) {
      // Only the faults that struck matter: a kept fault whose point the
      // changed run never reached drops out here.
      IdSet struck = IdsOf(last_log_);
      if (struck.size() <= best_.size()) {
        best_ = struck;
        best_log_ = last_log_;
        best_status_ = r.status;
      }
      cache_[struck] = true;
    }
    return fails;
  }

  // ddmin: split the failing set into n parts; keep a part that fails on
  // its own, else a complement that does, else split finer; done when the
  // parts are single faults and none can go.
  void DeltaDebug(IdSet c) {
    size_t n = 2;
    while (c.size() >= 2) {
      const size_t parts = std::min(n, c.size());
      std::vector<IdSet> chunks(parts);
      for (size_t i = 0; i < c.size(); ++i) {
        chunks[i * parts / c.size()].push_back(c[i]);
      }
      bool reduced = false;
      for (const IdSet& chunk : chunks) {
        if (Fails(chunk)) {
          c = Narrow(chunk);
          n = 2;
          reduced = true;
          break;
        }
      }
      if (!reduced && parts > 2) {
        for (size_t k = 0; k < parts && !reduced; ++k) {
          IdSet rest;
          for (size_t j = 0; j < parts; ++j) {
            if (j != k)
              rest.insert(rest.end(), chunks[j].begin(), chunks[j].end());
          }
          std::sort(rest.begin(), rest.end());
          if (Fails(rest)) {
            c = Narrow(rest);
            n = std::max<size_t>(parts - 1, 2);
            reduced = true;
          }
        }
      }
      if (out_of_budget_) return;
      if (!reduced) {
        if (parts >= c.size()) break;
        n = std::min(parts * 2, c.size());
      }
    }
    if (c.size() == 1 && Fails(IdSet{})) c.clear();
    result_.minimal = !out_of_budget_;
  }

  // The failing set to go on with: the faults that struck in the run that
  // kept `ids`, when that is a subset.
  IdSet Narrow(const IdSet& ids) const {
    if (best_.size() <= ids.size() &&
        std::includes(ids.begin(), ids.end(), best_.begin(), best_.end())) {
      return best_;
    }
    return ids;
  }

  SimOptions options_;
  DecisionSource* source_ = nullptr;
  const Scenario& scenario_;
  const ShrinkOptions& shrink_;
  ScenarioResult original_;
  std::vector<FaultRecord> original_log_;
  std::vector<FaultRecord> last_log_;
  bool truncated_ = false;
  IdSet best_;
  std::vector<FaultRecord> best_log_;
  absl::Status best_status_;
  std::map<IdSet, bool> cache_;
  bool out_of_budget_ = false;
  ShrinkResult result_;
};

}  // namespace

std::string ShrinkResult::KeepList() const {
  std::vector<std::string> tokens;
  for (const FaultRecord& r : kept) tokens.push_back(r.Token());
  return tokens.empty() ? "none" : absl::StrJoin(tokens, ",");
}

std::string ShrinkResult::Report() const {
  std::string out =
      absl::StrCat(kept.size(), " of ", original.size(), " faults kept (",
                   minimal ? "1-minimal" : "budget spent, not minimal", ", ",
                   runs, " runs):");
  if (kept.empty()) {
    absl::StrAppend(&out,
                    "\n  none: the run fails without any injected "
                    "fault (the plan's latencies and windows suffice)");
  }
  for (const FaultRecord& r : kept) absl::StrAppend(&out, "\n  ", r.ToString());
  absl::StrAppend(&out, "\n  reduced run: ", status.ToString());
  return out;
}

absl::StatusOr<ShrinkResult> ShrinkFaults(const SimOptions& options,
                                          const Scenario& scenario,
                                          const ShrinkOptions& shrink) {
  if (options.fault_filter.mode == FaultFilter::Mode::kExcept) {
    return absl::InvalidArgumentError(
        "ShrinkFaults takes a run with all faults or a kept set");
  }
  Shrinker shrinker(options, scenario, shrink);
  return shrinker.Run();
}

ScenarioResult RunKeeping(const SimOptions& options, const Scenario& scenario,
                          const FaultFilter& filter,
                          const ScenarioOptions& scenario_options) {
  SimOptions o = options;
  if (options.decisions == nullptr) {
    o.fault_filter = filter;
    return RunScenario(o, scenario, scenario_options);
  }
  std::map<uint64_t, RecordedDecision> answers;
  RecordingDecisions recording(options.decisions, &answers);
  o.decisions = &recording;
  (void)RunScenario(o, scenario, scenario_options);
  RecordedDecisions recorded(&answers);
  o.decisions = &recorded;
  o.fault_filter = filter;
  return RunScenario(o, scenario, scenario_options);
}

absl::StatusOr<FaultFilter> FaultFilterFromEnvironment() {
  const char* text = std::getenv("EMBER_KEEP_FAULTS");
  if (text == nullptr || *text == '\0') return FaultFilter::All();
  absl::StatusOr<FaultFilter> filter = FaultFilter::ParseKeepList(text);
  if (!filter.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("EMBER_KEEP_FAULTS: ", filter.status().message()));
  }
  return filter;
}

}  // namespace ember::sim
