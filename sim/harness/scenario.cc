#include "sim/harness/scenario.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
  if (std::getenv("EMBER_SEED") != nullptr) {
    absl::StatusOr<uint64_t> seed = EnvNumber("EMBER_SEED", 0);
    if (!seed.ok()) return seed.status();
    return std::vector<uint64_t>{*seed};
  }
  absl::StatusOr<uint64_t> first = EnvNumber("EMBER_SEED_FIRST", default_first);
  if (!first.ok()) return first.status();
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
    seeds.push_back(*first + i);
  }
  return seeds;
}

std::string ReplayCommand(uint64_t seed, std::string_view extra_env) {
  const char* target = std::getenv("TEST_TARGET");
  std::string command = absl::StrCat(
      "./bazelw test ", target != nullptr ? target : "<this test target>",
      " --test_env=EMBER_SEED=", seed);
  if (!extra_env.empty()) {
    absl::StrAppend(&command, " --test_env=", AbslView(extra_env));
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
    // Destroying the reactor unbinds what is left; those events count too.
    result.trace = reactor.trace();
  }
  result.reactor_trace_hash = result.trace.hash();
  result.reactor_events = result.trace.count();
  result.sim_trace_hash = net->trace_hash();
  result.stats = net->stats();
  return result;
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
