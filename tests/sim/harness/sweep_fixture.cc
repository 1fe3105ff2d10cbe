// A sweep with one failing seed (17), for sweep_runner_test.sh: a scenario
// that splits a few writes and fails on that seed only.

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/harness/scenario.h"

namespace ember::sim {
namespace {

TEST(SweepFixture, FailsOnSeedSeventeen) {
  Sweep("wan", 1, 40, [](Reactor& reactor, SimNetwork& net) {
    if (net.options().seed == 17) {
      return absl::DataLossError("seed 17 fails on purpose");
    }
    return absl::OkStatus();
  });
}

}  // namespace
}  // namespace ember::sim
