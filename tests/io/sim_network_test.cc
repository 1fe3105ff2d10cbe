// Runs the io::Network conformance suite against the simulated backend with
// the ideal fault plan, so that handler code tested on the simulator sees
// what it will see on epoll.

#include "sim/sim_network.h"

#include <memory>

#include "gtest/gtest.h"
#include "io/network.h"
#include "tests/io/network_conformance.h"

namespace ember::io::conformance {
namespace {

std::unique_ptr<Network> MakeSimNetwork() {
  sim::SimOptions options;
  options.seed = 1;
  options.plan = sim::FaultPlan::Ideal();
  return std::make_unique<sim::SimNetwork>(options);
}

INSTANTIATE_TEST_SUITE_P(Sim, NetworkConformanceTest,
                         ::testing::Values(NetworkFactory{"sim",
                                                          &MakeSimNetwork}),
                         NetworkFactoryName);

}  // namespace
}  // namespace ember::io::conformance
