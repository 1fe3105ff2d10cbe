// Goal: seeds come from the environment and split across Bazel shards
// without overlap or gaps; a deterministic scenario replays to one hash; a
// scenario that breaks the determinism contract is caught, and the report
// names the first diverging event.

#include "sim/harness/scenario.h"

#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "gtest/gtest.h"

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
      c("EMBER_SEED_FIRST", nullptr), d("TEST_TOTAL_SHARDS", nullptr),
      e("TEST_SHARD_INDEX", nullptr);
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
      c("EMBER_SEED_FIRST", "5000"), d("TEST_TOTAL_SHARDS", "7");
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

TEST(ReplayCommandTest, NamesSeedAndTarget) {
  EnvVar t("TEST_TARGET", "//tests/x:y");
  EXPECT_EQ(ReplayCommand(42),
            "./bazelw test //tests/x:y --test_env=EMBER_SEED=42 "
            "--test_output=all");
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
  SimOptions options;
  options.seed = 3;
  int run = 0;  // Differs between the two runs, as a wall clock would.
  Scenario s = [&run](Reactor& r, SimNetwork& n) {
    ++run;
    return EchoScenario(r, n, 50, &run);
  };
  absl::Status status = CheckDeterministic(options, s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("first divergence at reactor event"),
            absl::string_view::npos)
      << status;
}

}  // namespace
}  // namespace ember::sim
