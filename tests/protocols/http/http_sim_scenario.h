// The HTTP client and server talking to each other over the simulator:
// three clients pipelining GET, HEAD and POST requests to a server that
// answers at once, later from a timer, or streamed in chunks (through a
// ViewHandler on odd seeds, an owned-request Handler on even ones). Shared
// by the seed sweeps (http_sim_sweep_test.cc) and the fuzz target that lets
// libFuzzer choose the faults (fuzz/sim_http_fuzz.cc).

#ifndef EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_SCENARIO_H_
#define EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_SCENARIO_H_

#include "absl/status/status.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember::protocols {

struct HttpExchangeStats {
  int requests = 0;
  int failures = 0;  // failed by faults (kUnavailable, kDeadlineExceeded)
};

// Runs the exchange on a fresh network; OK when every request got exactly
// one callback, every response that arrived is its request's, no request
// was handled twice, and, when the plan breaks no stream and partitions
// nothing, no request failed. Otherwise kInternal saying which request and
// how. Leaves no connection behind.
absl::Status RunHttpExchange(Reactor& reactor, sim::SimNetwork& net,
                             HttpExchangeStats* stats = nullptr);

}  // namespace ember::protocols

#endif  // EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_SCENARIO_H_
