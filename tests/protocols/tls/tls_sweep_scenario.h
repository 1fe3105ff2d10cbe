// The TLS scenario the seed sweeps and the determinism test run: TLS echo
// clients against a TLS echo server over the simulator, with a reconnect
// that should resume its session. `RunTlsEcho` returns what went wrong, if
// anything, checking on every plan that application data arrives intact
// and in order, that a connection which lost data never ends as an orderly
// close, and that every failure has a reason; on plans that break no stream
// and partition nothing, that every connection succeeds and the reconnect
// resumes.

#ifndef EMBER_TESTS_PROTOCOLS_TLS_TLS_SWEEP_SCENARIO_H_
#define EMBER_TESTS_PROTOCOLS_TLS_TLS_SWEEP_SCENARIO_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember::tls::testing {

struct TlsEchoTotals {
  int connections = 0;
  int succeeded = 0;
  int resumed = 0;
  // Failures by "unbind kind / TLS failure".
  std::map<std::string, int> failures;
};

// Runs one scenario. `plaintext_hash`, when given, receives a hash of every
// plaintext event (which connection, what bytes, in order), to compare runs.
absl::Status RunTlsEcho(Reactor& reactor, sim::SimNetwork& net,
                        TlsEchoTotals* totals = nullptr,
                        uint64_t* plaintext_hash = nullptr);

}  // namespace ember::tls::testing

#endif  // EMBER_TESTS_PROTOCOLS_TLS_TLS_SWEEP_SCENARIO_H_
