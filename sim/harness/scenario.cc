#include "sim/harness/scenario.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "sim/harness/shrink.h"

extern char** environ;

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
  absl::StatusOr<SeedShard> shard = ShardFromEnvironment();
  if (!shard.ok()) return shard.status();
  std::vector<uint64_t> seeds;
  for (uint64_t i = shard->index; i < *count; i += shard->count) {
    seeds.push_back(default_first + *offset + i);
  }
  return seeds;
}

absl::StatusOr<SeedShard> ShardFromEnvironment() {
  struct Source {
    const char* name;
    const char* index;
    const char* count;
  };
  // Bazel's test sharding, a Kubernetes Indexed Job (the Job's completions
  // passed as EMBER_TOTAL_SHARDS), a Slurm job array.
  constexpr Source kSources[] = {
      {"Bazel", "TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS"},
      {"Kubernetes", "JOB_COMPLETION_INDEX", "EMBER_TOTAL_SHARDS"},
      {"Slurm", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
  };
  SeedShard shard;
  const Source* found = nullptr;
  for (const Source& source : kSources) {
    if (std::getenv(source.index) == nullptr) continue;
    if (found != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "both ", found->index, " (", found->name, ") and ", source.index,
          " (", source.name, ") are set: which one splits the seeds?"));
    }
    found = &source;
  }
  if (found != nullptr) {
    if (std::getenv(found->count) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(found->index, " is set but ", found->count,
                       " (the number of shards) is not"));
    }
    absl::StatusOr<uint64_t> index = EnvNumber(found->index, 0);
    if (!index.ok()) return index.status();
    absl::StatusOr<uint64_t> count = EnvNumber(found->count, 1);
    if (!count.ok()) return count.status();
    uint64_t first = 0;
    if (std::string_view(found->name) == "Slurm") {
      // Array task ids start where --array says (SLURM_ARRAY_TASK_MIN).
      absl::StatusOr<uint64_t> min = EnvNumber("SLURM_ARRAY_TASK_MIN", 0);
      if (!min.ok()) return min.status();
      first = *min;
    }
    if (*index < first || *count == 0 || *index - first >= *count) {
      return absl::InvalidArgumentError(
          absl::StrCat(found->name, " shard index ", *index, " is not in [",
                       first, ", ", first, " + ", *count, ")"));
    }
    shard = SeedShard{*index - first, *count, found->name};
  }
  // The sweep runner's processes split the machine's shard further.
  if (std::getenv("EMBER_JOB_INDEX") != nullptr) {
    absl::StatusOr<uint64_t> job = EnvNumber("EMBER_JOB_INDEX", 0);
    if (!job.ok()) return job.status();
    absl::StatusOr<uint64_t> jobs = EnvNumber("EMBER_JOB_COUNT", 1);
    if (!jobs.ok()) return jobs.status();
    if (*jobs == 0 || *job >= *jobs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EMBER_JOB_INDEX ", *job, " is not below EMBER_JOB_COUNT ", *jobs));
    }
    shard.index = shard.index * *jobs + *job;
    shard.count *= *jobs;
  }
  return shard;
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

namespace {

// Where SweepSeeds reports each seed for the sweep runner, or -1.
int ProgressFd() {
  const char* text = std::getenv("EMBER_SWEEP_PROGRESS_FD");
  int fd = -1;
  if (text == nullptr || !absl::SimpleAtoi(text, &fd) || fd < 0) return -1;
  return fd;
}

void WriteProgress(int fd, const std::string& line) {
  if (fd < 0) return;
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Newlines would break the runner's line protocol.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

SweepSummary SweepSeeds(std::string_view plan_name,
                        const std::vector<uint64_t>& seeds,
                        const Scenario& scenario, const SweepOptions& options) {
  SweepSummary summary;
  const int progress = ProgressFd();
  WriteProgress(progress, absl::StrCat("total ", seeds.size(), "\n"));
  absl::StatusOr<FaultFilter> filter = FaultFilterFromEnvironment();
  if (!filter.ok()) {
    if (options.report_failures) ADD_FAILURE() << filter.status();
    WriteProgress(
        progress,
        absl::StrCat("error ", OneLine(filter.status().ToString()), "\n"));
    return summary;
  }
  for (uint64_t seed : seeds) {
    ++summary.runs;
    FaultPlan named;
    if (options.plan) {
      named = options.plan(seed);
    } else {
      absl::StatusOr<FaultPlan> by_name = FaultPlan::ByName(plan_name, seed);
      if (!by_name.ok()) {
        if (options.report_failures) ADD_FAILURE() << by_name.status();
        return summary;
      }
      named = *by_name;
    }
    absl::StatusOr<FaultPlan> plan = PlanFromEnvironment(named);
    if (!plan.ok()) {
      if (options.report_failures) ADD_FAILURE() << plan.status();
      return summary;
    }
    SimOptions sim_options = options.sim;
    sim_options.seed = seed;
    sim_options.plan = *plan;
    sim_options.fault_filter = *filter;
    const ScenarioResult result =
        RunScenario(sim_options, scenario, options.scenario);
    const uint64_t events =
        result.stats.events_processed + result.reactor_events;
    summary.events += events;
    std::string fault_text;
    for (const auto& [kind, n] : result.stats.faults) {
      summary.faults[kind] += n;
      absl::StrAppend(&fault_text, " ", kind, "=", n);
    }
    if (result.status.ok()) {
      WriteProgress(progress, absl::StrCat("seed ", seed, " ok ", events,
                                           fault_text, "\n"));
      continue;
    }
    ++summary.failures;
    SweepFailure failure;
    failure.seed = seed;
    failure.plan = *plan;
    failure.status = result.status;
    ReplayOptions replay;
    if (*plan != named) replay.plan = *plan;
    if (summary.failures <= options.shrink_failures_max) {
      ShrinkOptions shrink;
      shrink.runs_max = options.shrink_runs_max;
      shrink.scenario = options.scenario;
      absl::StatusOr<ShrinkResult> shrunk =
          ShrinkFaults(sim_options, scenario, shrink);
      if (shrunk.ok()) {
        failure.shrunk = true;
        failure.kept = shrunk->kept;
        failure.faults_before_shrinking =
            static_cast<int>(shrunk->original.size());
        failure.shrink_report = shrunk->Report();
        replay.extra_env.push_back(
            absl::StrCat("EMBER_KEEP_FAULTS=", shrunk->KeepList()));
      } else {
        failure.shrink_report =
            absl::StrCat("not shrunk: ", shrunk.status().ToString());
      }
    } else if (filter->mode == FaultFilter::Mode::kOnly) {
      replay.extra_env.push_back(
          absl::StrCat("EMBER_KEEP_FAULTS=", filter->KeepList()));
    }
    failure.replay = ReplayCommand(seed, replay);
    WriteProgress(progress, absl::StrCat("seed ", seed, " fail ", events,
                                         fault_text, "\n"));
    WriteProgress(progress,
                  absl::StrCat("failure seed ", seed, ": ",
                               OneLine(result.status.ToString()), "\n"));
    WriteProgress(progress, absl::StrCat("replay ", failure.replay, "\n"));
    if (options.report_failures) {
      ADD_FAILURE() << "plan " << plan_name << " seed " << seed << ": "
                    << result.status << "\n  " << plan->ToString() << "\n  "
                    << result.stats.ToString()
                    << "\n  faults: " << failure.shrink_report
                    << "\n  replay: " << failure.replay;
    }
    summary.failed.push_back(std::move(failure));
    if (options.stop_after_failures > 0 &&
        summary.failures >= options.stop_after_failures) {
      break;
    }
  }
  return summary;
}

SweepSummary Sweep(std::string_view plan_name, uint64_t first, uint64_t count,
                   const Scenario& scenario, const ScenarioOptions& options) {
  absl::StatusOr<std::vector<uint64_t>> seeds =
      SeedsFromEnvironment(first, count);
  if (!seeds.ok()) {
    ADD_FAILURE() << seeds.status();
    return SweepSummary();
  }
  SweepOptions sweep;
  sweep.scenario = options;
  return SweepSeeds(plan_name, *seeds, scenario, sweep);
}

namespace {

// What one run of a scenario leaves to compare: the reactor's events, its
// hash and count, the simulator's hash and statistics.
struct RunRecord {
  std::vector<TraceEvent> events;
  uint64_t reactor_hash = 0;
  uint64_t reactor_count = 0;
  uint64_t sim_hash = 0;
  std::string stats;
  std::string status;
};

RunRecord RecordOf(const ScenarioResult& r) {
  return RunRecord{r.trace.events(), r.reactor_trace_hash, r.reactor_events,
                   r.sim_trace_hash, r.stats.ToString(), r.status.ToString()};
}

// One line per field, then one per event: "<unix ns> <kind> <subject>
// <value> <digest>". Statistics and status are one line each (no newline
// can occur in them).
std::string Serialize(const RunRecord& r) {
  std::string out = absl::StrCat("ember-run 1\n", r.reactor_hash, "\n",
                                 r.reactor_count, "\n", r.sim_hash, "\n",
                                 r.stats, "\n", r.status, "\n",
                                 r.events.size(), "\n");
  for (const TraceEvent& e : r.events) {
    absl::StrAppend(&out, absl::ToUnixNanos(e.time), " ",
                    static_cast<int>(e.kind), " ", e.subject, " ", e.value,
                    " ", e.digest, "\n");
  }
  return out;
}

absl::StatusOr<RunRecord> Deserialize(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  auto bad = [] {
    return absl::InternalError("the child's run record is malformed");
  };
  if (lines.size() < 7 || lines[0] != "ember-run 1") return bad();
  RunRecord r;
  uint64_t events = 0;
  if (!absl::SimpleAtoi(lines[1], &r.reactor_hash) ||
      !absl::SimpleAtoi(lines[2], &r.reactor_count) ||
      !absl::SimpleAtoi(lines[3], &r.sim_hash) ||
      !absl::SimpleAtoi(lines[6], &events) || lines.size() < 7 + events) {
    return bad();
  }
  r.stats = lines[4];
  r.status = lines[5];
  for (uint64_t i = 0; i < events; ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[7 + i], ' ');
    int64_t nanos = 0;
    int kind = 0;
    TraceEvent e{};
    if (f.size() != 5 || !absl::SimpleAtoi(f[0], &nanos) ||
        !absl::SimpleAtoi(f[1], &kind) || !absl::SimpleAtoi(f[2], &e.subject) ||
        !absl::SimpleAtoi(f[3], &e.value) || !absl::SimpleAtoi(f[4], &e.digest)) {
      return bad();
    }
    e.time = absl::FromUnixNanos(nanos);
    e.kind = static_cast<TraceKind>(kind);
    r.events.push_back(e);
  }
  return r;
}

// The report for two runs that differ, or OK.
absl::Status Compare(const SimOptions& sim_options, const RunRecord& a,
                     const RunRecord& b, std::string_view where_b) {
  if (a.reactor_hash == b.reactor_hash && a.reactor_count == b.reactor_count &&
      a.sim_hash == b.sim_hash && a.stats == b.stats) {
    return absl::OkStatus();
  }
  std::string report = absl::StrCat(
      "seed ", sim_options.seed, " is not deterministic (second run ",
      AbslView(where_b), "): reactor hashes ", absl::Hex(a.reactor_hash), " vs ",
      absl::Hex(b.reactor_hash), ", simulator hashes ", absl::Hex(a.sim_hash),
      " vs ", absl::Hex(b.sim_hash));
  const size_t n = std::min(a.events.size(), b.events.size());
  size_t at = 0;
  while (at < n && a.events[at] == b.events[at]) ++at;
  if (at < n || a.events.size() != b.events.size() ||
      a.reactor_hash != b.reactor_hash) {
    constexpr size_t kContext = 3;
    absl::StrAppend(&report, "\nfirst divergence at reactor event ", at, ":");
    for (const auto& [name, run] : {std::pair<const char*, const RunRecord*>{
                                        "run 1", &a},
                                    {"run 2", &b}}) {
      absl::StrAppend(&report, "\n  ", name, ":");
      for (size_t i = at >= kContext ? at - kContext : 0; i <= at; ++i) {
        absl::StrAppend(
            &report, "\n    ", i == at ? ">" : " ", " #", i, " ",
            i < run->events.size() ? run->events[i].ToString()
                                   : std::string("(no event: the run ended)"));
      }
    }
  } else {
    absl::StrAppend(&report,
                    "\nthe reactor's events agree, so the difference is "
                    "inside the simulator:\n  run 1: ",
                    a.stats, "\n  run 2: ", b.stats);
  }
  return absl::InternalError(report);
}

constexpr char kChildCall[] = "EMBER_DETERMINISM_CALL";
constexpr char kChildOut[] = "EMBER_DETERMINISM_OUT";

// Which CheckDeterministic call of the running test case this is.
int NextCallIndex() {
  static std::string test;
  static int calls = 0;
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      info == nullptr ? "" : absl::StrCat(info->test_suite_name(), ".", info->name());
  if (name != test) {
    test = name;
    calls = 0;
  }
  return calls++;
}

// Runs this test binary again with only `filter`, asking it to record call
// `call` of CheckDeterministic into a file; returns the file's contents.
absl::StatusOr<std::string> RunChild(const std::string& filter, int call) {
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) return absl::InternalError("cannot find this test binary");
  exe[len] = '\0';
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string out = absl::StrCat(tmp != nullptr ? tmp : "/tmp",
                                 "/ember-determinism-", getpid(), "-", call);
  std::remove(out.c_str());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    // The child must not write the parent's test result files.
    if (v.rfind("XML_OUTPUT_FILE=", 0) == 0 ||
        v.rfind("GTEST_OUTPUT=", 0) == 0 ||
        v.rfind("TEST_PREMATURE_EXIT_FILE=", 0) == 0 ||
        v.rfind(kChildCall, 0) == 0 || v.rfind(kChildOut, 0) == 0) {
      continue;
    }
    env.emplace_back(v);
  }
  env.push_back(absl::StrCat(kChildCall, "=", call));
  env.push_back(absl::StrCat(kChildOut, "=", out));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string filter_arg = absl::StrCat("--gtest_filter=", filter);
  char* argv[] = {exe, filter_arg.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start the child process: ", std::strerror(rc)));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  std::ifstream in(out);
  if (!in) {
    return absl::InternalError(absl::StrCat(
        "the child process (", filter, ") never reached call ", call,
        " of CheckDeterministic: the test case itself runs differently in "
        "another process"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::remove(out.c_str());
  return text.str();
}

}  // namespace

absl::Status CheckDeterministic(const SimOptions& sim_options,
                                const Scenario& scenario,
                                const ScenarioOptions& options) {
  ScenarioOptions recorded = options;
  recorded.record_trace = true;
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  const bool in_test = info != nullptr && !options.same_process;
  const int call = in_test ? NextCallIndex() : 0;

  if (const char* child_call = std::getenv(kChildCall)) {
    // This is the child: run only the asked-for call, record it, and leave
    // without GoogleTest's reporting.
    if (std::to_string(call) != child_call) return absl::OkStatus();
    const ScenarioResult run = RunScenario(sim_options, scenario, recorded);
    std::ofstream out(std::getenv(kChildOut));
    out << Serialize(RecordOf(run));
    out.close();
    std::_Exit(out ? 0 : 1);
  }

  const RunRecord a = RecordOf(RunScenario(sim_options, scenario, recorded));
  if (!in_test) {
    const RunRecord b = RecordOf(RunScenario(sim_options, scenario, recorded));
    return Compare(sim_options, a, b, "in this process");
  }
  const std::string filter =
      absl::StrCat(info->test_suite_name(), ".", info->name());
  absl::StatusOr<std::string> child = RunChild(filter, call);
  if (!child.ok()) return child.status();
  absl::StatusOr<RunRecord> b = Deserialize(*child);
  if (!b.ok()) return b.status();
  return Compare(sim_options, a, *b, "in another process");
}

}  // namespace ember::sim
