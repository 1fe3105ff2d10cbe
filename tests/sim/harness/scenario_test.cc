// Goal: seeds come from the environment and split across Bazel shards
// without overlap or gaps; a deterministic scenario replays to one hash; a
// scenario that breaks the determinism contract is caught, and the report
// names the first diverging event.

#include "sim/harness/scenario.h"

#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/check.h"

namespace ember::sim {
namespace {

class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvVar() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(SeedsTest, DefaultsAndSingleSeedReplay) {
  EnvVar a("EMBER_SEED", nullptr), b("EMBER_SEEDS", nullptr),
      c("EMBER_SEED_OFFSET", nullptr), d("TEST_TOTAL_SHARDS", nullptr),
      e("TEST_SHARD_INDEX", nullptr), f("EMBER_SEED_FIRST", nullptr);
  EXPECT_EQ(*SeedsFromEnvironment(10, 3), (std::vector<uint64_t>{10, 11, 12}));
  {
    EnvVar one("EMBER_SEED", "777");
    EXPECT_EQ(*SeedsFromEnvironment(10, 3), (std::vector<uint64_t>{777}));
  }
  {
    EnvVar bad("EMBER_SEEDS", "many");
    EXPECT_EQ(SeedsFromEnvironment(10, 3).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(SeedsTest, ShardsCoverEverySeedOnce) {
  EnvVar a("EMBER_SEED", nullptr), b("EMBER_SEEDS", "100"),
      c("EMBER_SEED_OFFSET", "5000"), d("TEST_TOTAL_SHARDS", "7"),
      f("EMBER_SEED_FIRST", nullptr);
  std::multiset<uint64_t> all;
  for (int i = 0; i < 7; ++i) {
    EnvVar index("TEST_SHARD_INDEX", std::to_string(i).c_str());
    absl::StatusOr<std::vector<uint64_t>> seeds = SeedsFromEnvironment(0, 1);
    ASSERT_TRUE(seeds.ok()) << seeds.status();
    for (uint64_t s : *seeds) all.insert(s);
  }
  ASSERT_EQ(all.size(), 100u);
  for (uint64_t s = 5000; s < 5100; ++s) EXPECT_EQ(all.count(s), 1u) << s;
}

// Every shard of `count` (set up by `enter(i)`) together runs each seed of
// [first, first + seeds) exactly once.
void ExpectPartition(
    int count, uint64_t seeds,
    const std::function<std::vector<std::unique_ptr<EnvVar>>(int)>& enter) {
  std::multiset<uint64_t> all;
  for (int i = 0; i < count; ++i) {
    const auto vars = enter(i);
    absl::StatusOr<std::vector<uint64_t>> got =
        SeedsFromEnvironment(100, seeds);
    ASSERT_TRUE(got.ok()) << got.status();
    for (uint64_t s : *got) all.insert(s);
  }
  ASSERT_EQ(all.size(), seeds);
  for (uint64_t s = 100; s < 100 + seeds; ++s) EXPECT_EQ(all.count(s), 1u) << s;
}

TEST(SeedsTest, KubernetesIndexedJobsAndSlurmArraysPartitionTheSeeds) {
  // Goal: the same sweep splits over a Kubernetes Indexed Job
  // (JOB_COMPLETION_INDEX of EMBER_TOTAL_SHARDS), a Slurm job array
  // (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, ids from
  // SLURM_ARRAY_TASK_MIN) and, inside each, the sweep runner's processes
  // (EMBER_JOB_INDEX of EMBER_JOB_COUNT): no seed twice, none left out.
  EnvVar a("EMBER_SEED", nullptr), b("EMBER_SEEDS", nullptr),
      c("EMBER_SEED_OFFSET", nullptr), d("TEST_TOTAL_SHARDS", nullptr),
      e("TEST_SHARD_INDEX", nullptr), f("EMBER_SEED_FIRST", nullptr),
      g("JOB_COMPLETION_INDEX", nullptr), h("EMBER_TOTAL_SHARDS", nullptr),
      i("SLURM_ARRAY_TASK_ID", nullptr), j("SLURM_ARRAY_TASK_COUNT", nullptr),
      k("SLURM_ARRAY_TASK_MIN", nullptr), l("EMBER_JOB_INDEX", nullptr),
      m("EMBER_JOB_COUNT", nullptr);
  using Vars = std::vector<std::unique_ptr<EnvVar>>;
  auto set = [](Vars& v, const char* name, const std::string& value) {
    v.push_back(std::make_unique<EnvVar>(name, value.c_str()));
  };
  ExpectPartition(5, 103, [&](int shard) {
    Vars v;
    set(v, "JOB_COMPLETION_INDEX", std::to_string(shard));
    set(v, "EMBER_TOTAL_SHARDS", "5");
    return v;
  });
  ExpectPartition(4, 97, [&](int shard) {
    Vars v;
    set(v, "SLURM_ARRAY_TASK_ID", std::to_string(shard + 1));
    set(v, "SLURM_ARRAY_TASK_COUNT", "4");
    set(v, "SLURM_ARRAY_TASK_MIN", "1");
    return v;
  });
  // Three Bazel shards, each split over two runner processes.
  ExpectPartition(6, 100, [&](int n) {
    Vars v;
    set(v, "TEST_SHARD_INDEX", std::to_string(n / 2));
    set(v, "TEST_TOTAL_SHARDS", "3");
    set(v, "EMBER_JOB_INDEX", std::to_string(n % 2));
    set(v, "EMBER_JOB_COUNT", "2");
    return v;
  });
  // Mistakes are refused, not guessed at.
  {
    EnvVar index("JOB_COMPLETION_INDEX", "1");
    EXPECT_EQ(SeedsFromEnvironment(0, 10).status().code(),
              absl::StatusCode::kInvalidArgument);  // no EMBER_TOTAL_SHARDS
    EnvVar slurm("SLURM_ARRAY_TASK_ID", "0"),
        count("SLURM_ARRAY_TASK_COUNT", "2"), total("EMBER_TOTAL_SHARDS", "2");
    EXPECT_EQ(SeedsFromEnvironment(0, 10).status().code(),
              absl::StatusCode::kInvalidArgument);  // two sources at once
  }
  {
    EnvVar slurm("SLURM_ARRAY_TASK_ID", "4"),
        count("SLURM_ARRAY_TASK_COUNT", "4");
    EXPECT_EQ(SeedsFromEnvironment(0, 10).status().code(),
              absl::StatusCode::kInvalidArgument);  // out of range
  }
}

TEST(SeedsTest, AnOffsetKeepsEveryCaseOnItsOwnSeeds) {
  // Goal: EMBER_SEED_OFFSET moves each case's own range (cases that started
  // apart stay apart); EMBER_SEED_FIRST, which gave every case the same
  // seeds, is refused with a message saying what to use.
  EnvVar a("EMBER_SEED", nullptr), b("EMBER_SEEDS", "2"),
      c("EMBER_SEED_OFFSET", "1000"), d("TEST_TOTAL_SHARDS", nullptr),
      e("TEST_SHARD_INDEX", nullptr), f("EMBER_SEED_FIRST", nullptr);
  EXPECT_EQ(*SeedsFromEnvironment(100, 5), (std::vector<uint64_t>{1100, 1101}));
  EXPECT_EQ(*SeedsFromEnvironment(200, 5), (std::vector<uint64_t>{1200, 1201}));
  EnvVar old("EMBER_SEED_FIRST", "7");
  absl::StatusOr<std::vector<uint64_t>> refused = SeedsFromEnvironment(0, 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("EMBER_SEED_OFFSET"),
            absl::string_view::npos);
}

TEST(ReplayCommandTest, NamesTargetTestCaseSeedAndEnvironment) {
  // Goal: the command replays this seed in this test case only (a filter),
  // with every extra variable, and pins a plan when asked, quoted for the
  // shell; the header's promise is what it prints.
  EnvVar t("TEST_TARGET", "//tests/x:y");
  EXPECT_EQ(ReplayCommand(42),
            "./bazelw test //tests/x:y "
            "--test_filter=ReplayCommandTest."
            "NamesTargetTestCaseSeedAndEnvironment "
            "--test_env=EMBER_SEED=42 --test_output=all");
  ReplayOptions options;
  options.test_filter = "Suite.Case";
  options.extra_env = {"A=1", "B=two"};
  FaultPlan plan;
  plan.split_probability = 0.25;
  options.plan = plan;
  EXPECT_EQ(ReplayCommand(7, options),
            "./bazelw test //tests/x:y --test_filter=Suite.Case "
            "--test_env=EMBER_SEED=7 --test_env=A=1 --test_env=B=two "
            "'--test_env=EMBER_PLAN=" +
                plan.ToString() + "' --test_output=all");
}

TEST(PlanFromEnvironmentTest, EmberPlanReplacesThePlan) {
  {
    EnvVar unset("EMBER_PLAN", nullptr);
    EXPECT_EQ(*PlanFromEnvironment(FaultPlan::Wan()), FaultPlan::Wan());
  }
  {
    EnvVar set("EMBER_PLAN", FaultPlan::Hostile().ToString().c_str());
    EXPECT_EQ(*PlanFromEnvironment(FaultPlan::Wan()), FaultPlan::Hostile());
  }
  EnvVar bad("EMBER_PLAN", "FaultPlan{nope=1}");
  EXPECT_EQ(PlanFromEnvironment(FaultPlan()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A tiny scenario: a server echoes, a client sends N messages.
absl::Status EchoScenario(Reactor& reactor, SimNetwork& net, int messages,
                          const int* perturb) {
  class Echo : public Connection {
    void ReceiveData(std::string_view d) override { SendData(d).IgnoreError(); }
  };
  class Client : public Connection {
   public:
    Client(int n, const int* perturb, Reactor* r)
        : n_(n), perturb_(perturb), r_(r) {}
    void ConnectionCompleted() override { SendData("m").IgnoreError(); }
    void ReceiveData(std::string_view d) override {
      got_ += d.size();
      if (got_ >= static_cast<size_t>(n_)) {
        r_->Stop();
        return;
      }
      // A perturbation stands for code that reads a real clock or random
      // number: it changes what the run does.
      std::string next(perturb_ != nullptr && *perturb_ % 2 ? 2 : 1, 'm');
      SendData(next).IgnoreError();
    }
    int n_;
    const int* perturb_;
    Reactor* r_;
    size_t got_ = 0;
  };
  auto server = reactor.StartServer("127.0.0.1", 7,
                                    [] { return std::make_unique<Echo>(); });
  if (!server.ok()) return server.status();
  auto client = reactor.Connect(
      "127.0.0.1", 7, std::make_unique<Client>(messages, perturb, &reactor));
  if (!client.ok()) return client.status();
  return reactor.Run();
}

TEST(ScenarioTest, SameSeedSameHashes) {
  SimOptions options;
  options.seed = 9;
  options.plan = FaultPlan::Lan();
  Scenario s = [](Reactor& r, SimNetwork& n) {
    return EchoScenario(r, n, 200, nullptr);
  };
  ScenarioResult a = RunScenario(options, s);
  ScenarioResult b = RunScenario(options, s);
  EXPECT_TRUE(a.status.ok()) << a.status;
  EXPECT_EQ(a.reactor_trace_hash, b.reactor_trace_hash);
  EXPECT_EQ(a.sim_trace_hash, b.sim_trace_hash);
  EXPECT_GT(a.reactor_events, 200u);
  EXPECT_TRUE(CheckDeterministic(options, s).ok());
  options.seed = 10;
  EXPECT_NE(RunScenario(options, s).sim_trace_hash, a.sim_trace_hash);
}

TEST(ScenarioTest, NondeterminismIsReportedWithTheFirstDivergence) {
  // Goal: in one process (same_process), a scenario whose second run
  // differs (as if it read a wall clock) is caught at its first event.
  SimOptions options;
  options.seed = 3;
  int run = 0;  // Differs between the two runs, as a wall clock would.
  Scenario s = [&run](Reactor& r, SimNetwork& n) {
    ++run;
    return EchoScenario(r, n, 50, &run);
  };
  ScenarioOptions same;
  same.same_process = true;
  absl::Status status = CheckDeterministic(options, s, same);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("first divergence at reactor event"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("in this process"), absl::string_view::npos);
}

// ---------------------------------------------------------------------------
// Divergences planted between processes: CheckDeterministic runs the second
// time in a child process (this binary, this test case), so what varies from
// process to process shows.

bool InChildProcess() {
  return std::getenv("EMBER_DETERMINISM_CALL") != nullptr;
}

// A client sends `payload(i)` for i = 0..4 to an echo server, one after the
// other, and the run ends when all echoes are back.
absl::Status PayloadScenario(Reactor& reactor,
                             std::function<std::string(int)> payload) {
  class Echo : public Connection {
    void ReceiveData(std::string_view d) override { SendData(d).IgnoreError(); }
  };
  class Client : public Connection {
   public:
    explicit Client(std::function<std::string(int)> payload)
        : payload_(std::move(payload)) {}
    void ConnectionCompleted() override { Next(); }
    void ReceiveData(std::string_view d) override {
      pending_ -= d.size();
      if (pending_ == 0) Next();
    }
    void Next() {
      if (sent_ == 5) {
        CloseConnection();
        return;
      }
      const std::string p = payload_(sent_++);
      pending_ = p.size();
      SendData(p).IgnoreError();
    }

   private:
    std::function<std::string(int)> payload_;
    int sent_ = 0;
    size_t pending_ = 0;
  };
  EMBER_RETURN_IF_ERROR(reactor
                            .StartServer("127.0.0.1", 9,
                                         [] { return std::make_unique<Echo>(); })
                            .status());
  EMBER_RETURN_IF_ERROR(
      reactor.Connect("127.0.0.1", 9, std::make_unique<Client>(payload))
          .status());
  reactor.AddShutdownHook([] {});
  EMBER_RETURN_IF_ERROR(RunUntil(
      reactor, [&] { return reactor.ConnectionCount() == 0; }, absl::Minutes(1)));
  return absl::OkStatus();
}

TEST(CrossProcessTest, ADeterministicScenarioAgreesAcrossProcesses) {
  SimOptions options;
  options.seed = 5;
  options.plan = FaultPlan::Wan();
  absl::Status status = CheckDeterministic(options, [](Reactor& r, SimNetwork&) {
    return PayloadScenario(r, [](int i) { return absl::StrCat("message ", i); });
  });
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CrossProcessTest, APayloadThatDiffersOnlyInContentIsCaught) {
  // Goal: the third message has the same length in both processes but
  // other bytes (as if it came from the environment): reported at the
  // first write that carries it, with the events before it.
  SimOptions options;
  options.seed = 6;
  absl::Status status = CheckDeterministic(options, [](Reactor& r, SimNetwork&) {
    return PayloadScenario(r, [](int i) {
      return i == 2 ? std::string(InChildProcess() ? "bbbb" : "aaaa")
                    : std::string("same");
    });
  });
  ASSERT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  const std::string report(status.message());
  EXPECT_NE(report.find("in another process"), std::string::npos) << report;
  EXPECT_NE(report.find("first divergence at reactor event"), std::string::npos)
      << report;
  // The marked event is a write of 4 bytes in both runs, differing only in
  // its digest.
  const size_t first = report.find("> #");
  ASSERT_NE(first, std::string::npos) << report;
  EXPECT_NE(report.find(" write ", first), std::string::npos) << report;
  EXPECT_NE(report.find("value=4 digest=", first), std::string::npos) << report;
  EXPECT_NE(report.find("run 2:"), std::string::npos) << report;
}

TEST(CrossProcessTest, AnOrderThatDiffersBetweenProcessesIsCaught) {
  // Goal: the same messages sent in another order in the other process.
  SimOptions options;
  options.seed = 7;
  absl::Status status = CheckDeterministic(options, [](Reactor& r, SimNetwork&) {
    return PayloadScenario(r, [](int i) {
      const int j = InChildProcess() ? 4 - i : i;
      return absl::StrCat("m", j);
    });
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
}

TEST(CrossProcessTest, APerProcessHashSeedLeakingIntoBehaviourIsCaught) {
  // Goal: absl::Hash is seeded per process (from an address, so it moves
  // with address-space randomisation); a handler that lets a hash value
  // reach the wire diverges across processes, and in one process it cannot
  // be seen. All 64 bits go out, so two processes agree only if their seeds
  // do.
  SimOptions options;
  options.seed = 8;
  auto leaky = [](Reactor& r, SimNetwork&) {
    return PayloadScenario(r, [](int i) {
      return absl::StrCat(absl::Hex(absl::Hash<std::string>()(absl::StrCat("k", i)),
                                    absl::kZeroPad16));
    });
  };
  ScenarioOptions same;
  same.same_process = true;
  EXPECT_TRUE(CheckDeterministic(options, leaky, same).ok());
  absl::Status status = CheckDeterministic(options, leaky);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
}

TEST(ScenarioTest, AConnectionLeftBehindIsAClearFailure) {
  // Goal: a scenario that returns with a connection still open (whose
  // Unbind would reach objects already gone) fails with a message saying
  // how to end it, instead of passing; one that ends its connections with
  // RunUntil passes.
  class Quiet : public Connection {};
  Scenario leaky = [](Reactor& r, SimNetwork&) {
    auto s = r.StartServer("127.0.0.1", 8, [] { return std::make_unique<Quiet>(); });
    if (!s.ok()) return s.status();
    auto c = r.Connect("127.0.0.1", 8, std::make_unique<Quiet>());
    if (!c.ok()) return c.status();
    return RunUntil(r, [&] { return (*c)->connected(); }, absl::Seconds(1));
  };
  ScenarioResult result = RunScenario(SimOptions(), leaky);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status.message().find("still in the reactor"),
            absl::string_view::npos)
      << result.status;

  Scenario tidy = [](Reactor& r, SimNetwork&) {
    auto s = r.StartServer("127.0.0.1", 8, [] { return std::make_unique<Quiet>(); });
    if (!s.ok()) return s.status();
    auto c = r.Connect("127.0.0.1", 8, std::make_unique<Quiet>());
    if (!c.ok()) return c.status();
    Connection* client = *c;
    EMBER_RETURN_IF_ERROR(
        RunUntil(r, [&] { return client->connected(); }, absl::Seconds(1)));
    client->CloseConnection();
    return RunUntil(r, [&] { return r.ConnectionCount() == 0; },
                    absl::Seconds(1));
  };
  EXPECT_TRUE(RunScenario(SimOptions(), tidy).status.ok());
}

TEST(RunUntilTest, StopsAtTheConditionOrTheBudget) {
  SimNetwork net;
  Reactor reactor(net);
  bool fired = false;
  ASSERT_TRUE(reactor.AddTimer(absl::Seconds(3), [&] { fired = true; }).ok());
  const absl::Time start = reactor.Now();
  EXPECT_EQ(RunUntil(reactor, [&] { return fired; }, absl::Seconds(1)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(reactor.Now() - start, absl::Seconds(1));
  EXPECT_TRUE(RunUntil(reactor, [&] { return fired; }, absl::Seconds(10)).ok());
  EXPECT_EQ(reactor.Now() - start, absl::Seconds(3));
}

}  // namespace
}  // namespace ember::sim
