#include "sim/harness/scenario.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/check.h"
#include "io/absl_compat.h"

namespace ember::sim {
namespace {

absl::StatusOr<uint64_t> EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=\"", value, "\" is not a whole number"));
  }
  return n;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> SeedsFromEnvironment(
    uint64_t default_first, uint64_t default_count) {
  // Tell Bazel this test knows about sharding.
  if (const char* status_file = std::getenv("TEST_SHARD_STATUS_FILE")) {
    if (FILE* f = std::fopen(status_file, "w")) std::fclose(f);
  }
  if (std::getenv("EMBER_SEED_FIRST") != nullptr) {
    return absl::InvalidArgumentError(
        "EMBER_SEED_FIRST is no longer read: it gave every test case of the "
        "binary the same first seed. Use EMBER_SEED_OFFSET=<n> to move every "
        "case's seeds up by n, or EMBER_SEED=<n> to replay one seed");
  }
  if (std::getenv("EMBER_SEED") != nullptr) {
    absl::StatusOr<uint64_t> seed = EnvNumber("EMBER_SEED", 0);
    if (!seed.ok()) return seed.status();
    return std::vector<uint64_t>{*seed};
  }
  absl::StatusOr<uint64_t> offset = EnvNumber("EMBER_SEED_OFFSET", 0);
  if (!offset.ok()) return offset.status();
  absl::StatusOr<uint64_t> count = EnvNumber("EMBER_SEEDS", default_count);
  if (!count.ok()) return count.status();
  absl::StatusOr<uint64_t> shards = EnvNumber("TEST_TOTAL_SHARDS", 1);
  if (!shards.ok()) return shards.status();
  absl::StatusOr<uint64_t> index = EnvNumber("TEST_SHARD_INDEX", 0);
  if (!index.ok()) return index.status();
  if (*shards == 0 || *index >= *shards) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard index ", *index, " is not below the shard count ", *shards));
  }
  std::vector<uint64_t> seeds;
  for (uint64_t i = *index; i < *count; i += *shards) {
    seeds.push_back(default_first + *offset + i);
  }
  return seeds;
}

absl::StatusOr<FaultPlan> PlanFromEnvironment(const FaultPlan& fallback) {
  const char* text = std::getenv("EMBER_PLAN");
  if (text == nullptr || *text == '\0') return fallback;
  absl::StatusOr<FaultPlan> plan = FaultPlan::Parse(text);
  if (!plan.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("EMBER_PLAN: ", plan.status().message()));
  }
  return plan;
}

std::string ReplayCommand(uint64_t seed, const ReplayOptions& options) {
  const char* target = std::getenv("TEST_TARGET");
  std::string command = absl::StrCat(
      "./bazelw test ", target != nullptr ? target : "<this test target>");
  std::string filter = options.test_filter;
  if (filter.empty()) {
    if (const ::testing::TestInfo* test =
            ::testing::UnitTest::GetInstance()->current_test_info()) {
      filter = absl::StrCat(test->test_suite_name(), ".", test->name());
    }
  }
  if (!filter.empty()) absl::StrAppend(&command, " --test_filter=", filter);
  absl::StrAppend(&command, " --test_env=EMBER_SEED=", seed);
  for (const std::string& env : options.extra_env) {
    absl::StrAppend(&command, " --test_env=", env);
  }
  if (options.plan.has_value()) {
    // Single quotes for the shell: the plan's text holds spaces and
    // brackets, never a quote.
    absl::StrAppend(&command, " '--test_env=EMBER_PLAN=",
                    options.plan->ToString(), "'");
  }
  absl::StrAppend(&command, " --test_output=all");
  return command;
}

ScenarioResult RunScenario(const SimOptions& sim_options,
                           const Scenario& scenario,
                           const ScenarioOptions& options) {
  ScenarioResult result;
  auto net = std::make_unique<SimNetwork>(sim_options);
  {
    ReactorOptions reactor_options = options.reactor;
    reactor_options.record_trace = options.record_trace;
    Reactor reactor(*net, reactor_options);
    result.status = scenario(reactor, *net);
    if (reactor.ConnectionCount() > 0) {
      const std::string message = absl::StrCat(
          "the scenario returned with ", reactor.ConnectionCount(),
          " connections still in the reactor (seed ", sim_options.seed,
          "): their Unbind would run after the scenario's objects are gone. "
          "End them before returning: close them and run the reactor until "
          "ConnectionCount() is 0 (sim::RunUntil), or Stop() and Run() it");
      std::fprintf(stderr, "ember: %s\n", message.c_str());
      if (result.status.ok()) result.status = absl::FailedPreconditionError(message);
    }
    // Destroying the reactor unbinds what is left; those events count too.
    result.trace = reactor.trace();
  }
  result.reactor_trace_hash = result.trace.hash();
  result.reactor_events = result.trace.count();
  result.sim_trace_hash = net->trace_hash();
  result.stats = net->stats();
  return result;
}

absl::Status RunUntil(Reactor& reactor, const std::function<bool()>& done,
                      absl::Duration budget) {
  const absl::Time deadline = reactor.Now() + budget;
  // Alternate a look without waiting (so `done` is checked after every
  // batch of callbacks) with a wait up to the deadline.
  bool wait = false;
  while (!done()) {
    if (reactor.Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "condition not reached within ", absl::FormatDuration(budget),
          " of simulated time"));
    }
    EMBER_RETURN_IF_ERROR(
        reactor.RunOnce(wait ? deadline : absl::InfinitePast()));
    wait = !wait;
  }
  return absl::OkStatus();
}

SweepSummary Sweep(std::string_view plan_name, uint64_t first, uint64_t count,
                   const Scenario& scenario, const ScenarioOptions& options) {
  SweepSummary summary;
  absl::StatusOr<std::vector<uint64_t>> seeds =
      SeedsFromEnvironment(first, count);
  if (!seeds.ok()) {
    ADD_FAILURE() << seeds.status();
    return summary;
  }
  for (uint64_t seed : *seeds) {
    ++summary.runs;
    absl::StatusOr<FaultPlan> named = FaultPlan::ByName(plan_name, seed);
    if (!named.ok()) {
      ADD_FAILURE() << named.status();
      return summary;
    }
    absl::StatusOr<FaultPlan> plan = PlanFromEnvironment(*named);
    if (!plan.ok()) {
      ADD_FAILURE() << plan.status();
      return summary;
    }
    SimOptions sim_options;
    sim_options.seed = seed;
    sim_options.plan = *plan;
    const ScenarioResult result = RunScenario(sim_options, scenario, options);
    if (result.status.ok()) continue;
    ++summary.failures;
    ReplayOptions replay;
    if (*plan != *named) replay.plan = *plan;
    ADD_FAILURE() << "plan " << plan_name << " seed " << seed << ": "
                  << result.status << "\n  " << plan->ToString() << "\n  "
                  << result.stats.ToString()
                  << "\n  replay: " << ReplayCommand(seed, replay);
  }
  return summary;
}

absl::Status CheckDeterministic(const SimOptions& sim_options,
                                const Scenario& scenario,
                                const ScenarioOptions& options) {
  ScenarioOptions recorded = options;
  recorded.record_trace = true;
  const ScenarioResult a = RunScenario(sim_options, scenario, recorded);
  const ScenarioResult b = RunScenario(sim_options, scenario, recorded);
  if (a.reactor_trace_hash == b.reactor_trace_hash &&
      a.sim_trace_hash == b.sim_trace_hash && a.stats == b.stats) {
    return absl::OkStatus();
  }
  std::string report = absl::StrCat(
      "seed ", sim_options.seed, " is not deterministic: reactor hashes ",
      absl::Hex(a.reactor_trace_hash), " vs ", absl::Hex(b.reactor_trace_hash),
      ", simulator hashes ", absl::Hex(a.sim_trace_hash), " vs ",
      absl::Hex(b.sim_trace_hash));
  std::optional<size_t> at = Trace::FirstDivergence(a.trace, b.trace);
  if (at.has_value()) {
    auto describe = [&](const Trace& t) -> std::string {
      return *at < t.events().size() ? t.events()[*at].ToString()
                                     : std::string("(no event: the run ended)");
    };
    absl::StrAppend(&report, "; first divergence at reactor event ", *at,
                    ": run 1 ", describe(a.trace), ", run 2 ",
                    describe(b.trace));
  } else {
    absl::StrAppend(&report,
                    "; the reactor's events agree, so the difference is "
                    "inside the simulator");
  }
  return absl::InternalError(report);
}

}  // namespace ember::sim
