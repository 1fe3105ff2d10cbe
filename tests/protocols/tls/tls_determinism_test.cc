// Goal: with TLS on, one seed gives one run, also across processes, where
// BoringSSL's randomness (keys, nonces, ciphertext bytes) and the test
// certificates' keys all differ. Two child processes and this one run the
// TLS echo scenario with the same seed and plan; each prints the reactor's
// trace hash, the simulator's trace hash, its statistics and a hash of every
// plaintext event; all three must agree. They can only agree if no size or
// time the simulator sees depends on BoringSSL's random choices (see the
// determinism notes in README.md).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "tests/common/subprocess.h"
#include "tests/protocols/tls/tls_sweep_scenario.h"

namespace ember::tls::testing {
namespace {

constexpr char kChildFlag[] = "--tls_determinism_child";

std::string Fingerprint(uint64_t seed, const char* plan) {
  sim::SimOptions options;
  options.seed = seed;
  options.plan = *sim::FaultPlan::ByName(plan, seed);
  uint64_t plaintext = 0;
  sim::ScenarioResult result =
      sim::RunScenario(options, [&](Reactor& reactor, sim::SimNetwork& net) {
        return RunTlsEcho(reactor, net, nullptr, &plaintext);
      });
  EXPECT_TRUE(result.status.ok()) << result.status;
  return absl::StrCat("seed=", seed, " plan=", plan,
                      " reactor=", absl::Hex(result.reactor_trace_hash),
                      " events=", result.reactor_events,
                      " sim=", absl::Hex(result.sim_trace_hash),
                      " plaintext=", absl::Hex(plaintext),
                      " stats=", result.stats.ToString());
}

struct Case {
  uint64_t seed;
  const char* plan;
};
const Case kCases[] = {
    {77, "wan"}, {1001, "swarm"}, {5003, "hostile"}, {101, "lan"}};

bool IsChild() {
  for (const std::string& arg : ::testing::internal::GetArgvs()) {
    if (arg == kChildFlag) return true;
  }
  return false;
}

// Run by the children only: prints one line per case.
TEST(TlsDeterminismTest, PrintFingerprints) {
  if (!IsChild()) GTEST_SKIP() << "only run as a child of the test below";
  for (const Case& c : kCases) {
    std::cout << "FINGERPRINT " << Fingerprint(c.seed, c.plan) << "\n";
  }
}

TEST(TlsDeterminismTest, SameSeedSameRunInSeparateProcesses) {
  if (IsChild()) return;
  std::vector<std::string> mine;
  for (const Case& c : kCases) mine.push_back(Fingerprint(c.seed, c.plan));
  const std::string self = ::testing::internal::GetArgvs()[0];
  for (int child = 0; child < 2; ++child) {
    auto result = testing_support::RunProgram(
        {self, "--gtest_filter=TlsDeterminismTest.PrintFingerprints",
         kChildFlag},
        absl::Minutes(2));
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->exit_code, 0) << result->out << result->err;
    std::vector<std::string> theirs;
    size_t pos = 0;
    while ((pos = result->out.find("FINGERPRINT ", pos)) != std::string::npos) {
      pos += 12;
      const size_t end = result->out.find('\n', pos);
      theirs.push_back(result->out.substr(pos, end - pos));
    }
    ASSERT_EQ(theirs.size(), mine.size()) << result->out;
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(theirs[i], mine[i]) << "child " << child;
    }
  }
  // Different seeds do give different runs (the fingerprint can tell).
  EXPECT_NE(mine[0], mine[1]);
}

}  // namespace
}  // namespace ember::tls::testing
