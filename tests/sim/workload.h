// A small echo workload written against io::Network alone, for whole-run
// simulator tests: determinism, invariants under hostile plans, and
// properties over generated fault plans.
//
// It adds two hosts to a fresh SimNetwork: "server" (10.0.0.1) runs a TCP
// and a UDP echo service on port 7 and re-listens from its restart hook;
// "client" (10.0.0.2, the default host) runs stream clients and a datagram
// pinger. Each client resolves "server", connects, streams its own seeded
// bytes with writes of drawn sizes, half-closes and reads the echo until end
// of stream. Any error (refused, timed out, reset) ends the attempt, and the
// client retries from scratch after a backoff. Every byte read is checked
// against what was sent: an echo must always be an exact prefix of the
// client's bytes, and end of stream before the whole echo is a violation
// (bytes lost without a reset). Datagram echoes must be prefixes of a sent
// datagram (the plan may truncate, lose, duplicate and reorder them).

#ifndef EMBER_TESTS_SIM_WORKLOAD_H_
#define EMBER_TESTS_SIM_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "sim/sim_network.h"

namespace ember::sim::testing {

struct WorkloadOptions {
  // Seeds the workload's own choices (bytes, write and read sizes).
  uint64_t seed = 1;
  int clients = 4;
  size_t bytes_per_client = 16 * 1024;
  int datagrams = 40;
  // A client gives up after this many failed attempts.
  int attempts_max = 40;
  // Virtual time the run may take.
  absl::Duration budget = absl::Hours(12);
};

struct WorkloadResult {
  int clients_completed = 0;
  int clients_gave_up = 0;
  int attempts_failed = 0;      // connections ended by an error
  uint64_t bytes_verified = 0;  // echoed bytes checked, over all attempts
  int datagrams_echoed = 0;     // distinct datagrams whose echo came back
  bool idle = false;            // Poll said nothing could ever happen (a hang)
  bool out_of_time = false;
  std::string violation;  // the first data error seen; empty when none
  absl::Duration elapsed;

  friend bool operator==(const WorkloadResult&,
                         const WorkloadResult&) = default;
  std::string ToString() const;
};

// Runs the workload to completion (every client done or given up) or to the
// budget. Precondition: `net` has no hosts besides localhost yet.
WorkloadResult RunEchoWorkload(SimNetwork& net, const WorkloadOptions& options);

}  // namespace ember::sim::testing

#endif  // EMBER_TESTS_SIM_WORKLOAD_H_
