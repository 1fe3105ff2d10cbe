// Goal: the reactor conformance suite passes on the simulator, unchanged,
// with no faults (the ideal plan) and with the LAN plan's latency, jitter,
// bandwidth, short writes and split deliveries; the same handler code that
// passed on epoll. The LAN variant keeps datagrams lossless, since the suite
// counts them (UDP's loss is the simulator's own tests' business).

#include "sim/sim_network.h"
#include "tests/reactor/reactor_conformance.h"

namespace ember::testing_support {
namespace {

Backend SimBackend(std::string name, sim::FaultPlan plan) {
  return Backend{std::move(name),
                 [plan] {
                   sim::SimOptions options;
                   options.seed = 42;
                   options.plan = plan;
                   return std::unique_ptr<io::Network>(
                       std::make_unique<sim::SimNetwork>(options));
                 }};
}

sim::FaultPlan LanWithoutDatagramLoss() {
  sim::FaultPlan plan = sim::FaultPlan::Lan();
  plan.datagram_loss_probability = 0;
  return plan;
}

INSTANTIATE_TEST_SUITE_P(Sim, ReactorConformanceTest,
                         testing::Values(SimBackend("SimIdeal",
                                                    sim::FaultPlan::Ideal()),
                                         SimBackend("SimLan", LanWithoutDatagramLoss())),
                         BackendName);

}  // namespace
}  // namespace ember::testing_support
