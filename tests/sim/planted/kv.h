// A small key-value server and client written on Ember, with realistic
// handler bugs that can be planted one at a time, to measure how well the
// simulator finds bugs (seed sweeps, swarm plans, fuzzer-chosen faults) and
// how well it shrinks a failing run to the faults that caused it.
//
// Protocol: one request per line, answered in order (no ids, like Redis):
//   PUT <key> <value>\n  ->  OK <key>\n
//   GET <key>\n          ->  VAL <key> <value>\n  or  NONE <key>\n
// Anything else gets "ERR <what>\n".
//
// The bug-free versions: the server frames lines across reads (at most
// kLineBytesMax per line), stops reading while its outbound queue is above
// the high-water mark, and forgets a session however the connection ends;
// the client frames replies, resends what was unanswered on a new connection
// (PUT is idempotent), and trusts the connection (TCP) rather than a timer
// to say a request is lost.

#ifndef EMBER_TESTS_SIM_PLANTED_KV_H_
#define EMBER_TESTS_SIM_PLANTED_KV_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "reactor/reactor.h"
#include "sim/fault_schedule.h"
#include "sim/sim_network.h"

namespace ember::planted {

enum class KvBug {
  kNone,
  // (a) The server takes each read as holding whole requests: a request
  // cut between two reads becomes two malformed ones.
  kWholeMessagePerRead,
  // (b) After a reconnect the client sends its unanswered requests again
  // but keeps them in its pending queue too, so replies pair up with the
  // wrong requests.
  kResendWithoutClearing,
  // (c) The server forgets a session only when the client closes cleanly;
  // a reset leaks it.
  kLeakOnReset,
  // (d) The client gives a reply 250 ms, fine on a LAN, and counts a
  // request that timed out as done; the late reply then answers the next.
  kShortTimeout,
  // (e) The server keeps reading and answering while its outbound queue is
  // over the high-water mark, until the queue's hard limit drops the client.
  kIgnoreBackpressure,
};

std::string_view KvBugName(KvBug bug);

struct KvWorkload {
  KvBug bug = KvBug::kNone;
  int clients = 3;
  int ops_per_client = 150;
  // Requests a client keeps in flight.
  int pipeline = 32;
  // Values are 1 to this many bytes.
  int value_bytes_max = 4000;
  // Where the workload's own choices (operation, key, value size) come
  // from: bytes (fuzzing) or, when null, the network's seeded stream.
  sim::ByteDecisions* choices = nullptr;
  absl::Duration budget = absl::Minutes(30);
};

// The server's limits.
inline constexpr size_t kLineBytesMax = 4096;
inline constexpr size_t kServerHighWaterBytes = 16 * 1024;
inline constexpr size_t kServerLowWaterBytes = 4 * 1024;
inline constexpr size_t kServerOutboundMaxBytes = 32 * 1024;

// Runs the workload: a server on host "kv" (10.0.0.1:7000), clients on
// their own hosts, each doing its operations and leaving cleanly. OK when
// every reply matched its request and the client's model, every client
// finished, the server dropped nobody and kept no session after all left.
// Otherwise: kDataLoss (a wrong reply), kResourceExhausted (the server
// dropped a client at its outbound limit), kInternal (sessions leaked),
// kDeadlineExceeded (not finished within the budget).
absl::Status RunKv(Reactor& reactor, sim::SimNetwork& net,
                   const KvWorkload& workload);

}  // namespace ember::planted

#endif  // EMBER_TESTS_SIM_PLANTED_KV_H_
