// The chat server under the simulator, with simulated people talking to it.
//
// `ChatSimulation` puts an unchanged chat server (the callback `ChatServer`,
// or `CoroChatServer`, the same written with coroutines: options.server) on
// its own simulated host (10.0.0.1, port 8081, listening again from the
// host's restart hook after a crash) and drives `clients` simulated chat clients, each on its own host
// (10.1.x.y) and each with its own generator forked from the seed. A client
// connects, waits for the prompt, sends its name, then talks: lines at drawn
// intervals. The first `witnesses` clients join at the start and never leave
// on their own; the others leave after a drawn lifetime (mostly gracefully:
// half-close, read until the server closes; sometimes abruptly, as a killed
// process would), come back after a drawn pause, and every client reconnects
// with a growing backoff after a refusal, a timeout or a reset.
//
// Every line says who sent it and is checked as it arrives:
//
//   c<index>:<session>:<seq>:<payload>:<checksum>
//
// `seq` counts the sender's lines over the whole run (across sessions) and
// the checksum covers everything before it. The server relays it as
// "c<index> says: <line>". A receiver flags a violation when a line is
// malformed or fails its checksum (corruption), when the relayed name is not
// the one inside the line, is its own (misdelivery) or names no client, when
// a sequence number was never sent, and when, within one session of the
// receiver, a sender's numbers do not go up by exactly one within a sender
// session (duplication, reordering, or a gap, which a stream that lives must
// never have) or go back across sender sessions. The checker keeps one small
// record per (receiver, sender), so memory stays bounded on any run length.
//
// Witnesses give the end-to-end property. Talking starts once every witness
// has joined and the server has taken every witness's name (the settle);
// `Finish` stops the talking, waits for the lines in flight, then checks
// every pair of witnesses that stayed connected throughout: the receiver got
// a contiguous run of the sender's lines ending with its last one, and, when
// the plan cannot break streams (`FaultPlan::BreaksStreams()` false), the
// whole run from the first line: exactly once and in order. Under such plans
// every witness must also have stayed connected.
//
// Resources: `RunFor` samples `Reactor::stats()` and
// `SimNetwork::open_handles()` every `sample_interval` of simulated time and
// checks each sample against bounds proportional to the client count.
// `Finish` makes every client leave and runs until the reactor's
// connections, the server's client count, timers, queued bytes and the
// simulator's handles are back to their baseline (taken before any client
// joined), or reports what is left.
//
// Everything runs on the reactor's thread and draws only from the seed, so a
// run is a function of (seed, plan, options): same report, same trace hashes.

#ifndef EMBER_EXAMPLES_CHAT_CHAT_SIMULATION_H_
#define EMBER_EXAMPLES_CHAT_CHAT_SIMULATION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "examples/chat/chat_server.h"
#include "examples/chat/coro_chat_server.h"
#include "io/address.h"
#include "reactor/reactor.h"
#include "sim/random.h"
#include "sim/sim_network.h"

namespace ember::examples {

struct ChatSimulationOptions {
  // Simulated clients, of which the first `witnesses` never leave on their
  // own. Preconditions: 1 <= clients <= kClientsMax, witnesses <= clients.
  int clients = 8;
  int witnesses = 3;

  // Where the server listens (its host owns this IP).
  std::string server_ip = "10.0.0.1";
  uint16_t port = 8081;
  ChatOptions chat;
  // Which implementation of the server runs.
  ChatServerKind server = ChatServerKind::kCallback;

  // Gap between two lines of one client, drawn uniformly. The defaults are
  // a lively chat room: about a line every five minutes per person.
  absl::Duration talk_gap_min = absl::Seconds(10);
  absl::Duration talk_gap_max = absl::Minutes(10);
  // Random payload bytes per line, drawn in [0, max] (lowercase letters).
  size_t payload_bytes_max = 120;

  // A non-witness stays this long once named, then leaves ...
  absl::Duration lifetime_min = absl::Minutes(5);
  absl::Duration lifetime_max = absl::Hours(4);
  // ... abruptly (closing with whatever is unread, which resets the
  // connection) with this chance, else gracefully (half-close, then read
  // until the server closes) ...
  double abrupt_leave_probability = 0.25;
  // ... and comes back after this long. First joins of non-witnesses are
  // spread over [0, pause_max] after the settle.
  absl::Duration pause_min = absl::Minutes(1);
  absl::Duration pause_max = absl::Hours(2);

  // Reconnecting after a failure waits a drawn time in [min, current], where
  // current doubles from `backoff_min` per failure up to `backoff_max`.
  absl::Duration backoff_min = absl::Seconds(1);
  absl::Duration backoff_max = absl::Seconds(60);

  // Client hosts get a restart hook too, so plans with crashes crash them
  // (their clients see resets and reconnect).
  bool crash_client_hosts = true;

  // Talking starts when all witnesses have joined, or after this long (a
  // violation when the plan cannot break streams, since then nothing should
  // keep a witness out).
  absl::Duration settle_max = absl::Minutes(10);
  // Finish waits up to this long for lines in flight to reach the
  // witnesses, and as long again for every connection to close.
  absl::Duration drain_max = absl::Minutes(30);

  // Resource samples: how often, and the bounds each must be within. Zero
  // bounds are derived from `clients` (see ResourceBounds).
  absl::Duration sample_interval = absl::Hours(1);
  size_t connections_max = 0;
  size_t timers_max = 0;
  size_t outbound_bytes_max = 0;
  size_t open_handles_max = 0;
};

// One look at the live objects.
struct ResourceSample {
  absl::Duration elapsed;  // Since Start.
  size_t connections = 0;  // Reactor::stats().connections (both ends).
  size_t timers = 0;       // Reactor::stats().timers (user and internal).
  size_t outbound_bytes = 0;
  size_t open_handles = 0;  // SimNetwork::open_handles().
  size_t chat_clients = 0;  // ChatService::client_count().
};

struct ChatSimulationReport {
  absl::Duration simulated;  // From Start to the end of Finish (or now).
  uint64_t lines_sent = 0;
  uint64_t lines_delivered = 0;  // Lines received by clients, all checked.
  uint64_t bytes_received = 0;   // Bytes received by clients.
  uint64_t joins = 0;            // Sessions that got the prompt and a name.
  uint64_t leaves = 0;           // Voluntary leaves (graceful + abrupt).
  uint64_t abrupt_leaves = 0;
  uint64_t reconnects = 0;  // Sessions that ended in a failure, retried.
  // Failures by unbind kind ("refused", "reset", "timed out", ...).
  std::map<std::string, uint64_t> failures;

  uint64_t violations = 0;
  std::string first_violation;  // Empty when there were none.

  // Invariant checks made: lines verified, witness pairs, samples, drain.
  uint64_t checks = 0;
  bool exactly_once = false;  // Whether the plan allowed the strict check.
  int witness_pairs_checked = 0;
  int witness_pairs_skipped = 0;  // A witness of the pair reconnected.
  uint64_t witness_lines_verified = 0;

  int samples = 0;
  ResourceSample max;       // Per field, the largest value sampled.
  ResourceSample baseline;  // Before any client joined.
  ResourceSample final;     // After Finish.
  bool drained = false;     // Final equals baseline (no clients left).

  ChatStats chat;  // The server's own counters.

  // Several lines, "name: value", for people (the simulated time is left
  // to the caller).
  std::string ToString() const;
};

class ChatSimulation {
 public:
  // Each client keeps one small record per other client for its checks
  // (24 bytes), so memory grows with the square of the count: 24 MB here.
  static constexpr int kClientsMax = 1000;

  // `reactor` must run over `network`, and both must outlive this object.
  // Precondition: `network` has no host owning the addresses used.
  ChatSimulation(Reactor& reactor, sim::SimNetwork& network,
                 ChatSimulationOptions options);
  // Detaches from whatever is still open: connections still alive (when
  // Finish was not called or did not drain) are closed through the reactor,
  // timers cancelled and restart hooks removed.
  ~ChatSimulation();
  ChatSimulation(const ChatSimulation&) = delete;
  ChatSimulation& operator=(const ChatSimulation&) = delete;

  // Adds the hosts, starts the server and the witnesses. Call once, first.
  // Fails if the server cannot listen.
  absl::Status Start();

  // Runs the world for `duration` of simulated time, sampling resources
  // every `sample_interval` (and calling `on_sample`, when given, with each
  // sample). Returns the backend's error, if any.
  absl::Status RunFor(
      absl::Duration duration,
      const std::function<void(const ResourceSample&)>& on_sample = nullptr);

  // Stops the talking, waits for the lines in flight, checks the witnesses,
  // makes every client leave and runs until everything is back to the
  // baseline or `drain_max` has passed. Call once, after Start.
  absl::Status Finish();

  // The report so far (complete after Finish).
  ChatSimulationReport report() const;

  const ChatService& server() const { return *chat_; }
  ResourceSample Sample() const;
  // The bounds samples are checked against.
  size_t connections_max() const { return connections_max_; }
  size_t timers_max() const { return timers_max_; }
  size_t outbound_bytes_max() const { return outbound_bytes_max_; }
  size_t open_handles_max() const { return open_handles_max_; }

 private:
  class Client;
  class Session;

  // A reactor timer; a failure to add one is a violation (returns 0).
  TimerId After(absl::Duration delay, absl::AnyInvocable<void()> callback);
  // The index of the client named `name` ("c<index>"), or -1.
  int ClientIndex(std::string_view name) const;
  void Violation(std::string what);
  void CheckSettled();
  void BeginTalking();
  void CheckSample(const ResourceSample& s);
  // Runs the reactor until `done()` or `limit` of simulated time passed.
  // Returns whether `done()` held.
  bool RunUntil(const std::function<bool()>& done, absl::Duration limit,
                absl::Status* error);
  bool WitnessesComplete(bool record);
  bool Drained();
  void Relisten();

  Reactor& reactor_;
  sim::SimNetwork& network_;
  const ChatSimulationOptions options_;
  const bool exactly_once_;
  size_t connections_max_;
  size_t timers_max_;
  size_t outbound_bytes_max_;
  size_t open_handles_max_;

  std::unique_ptr<ChatService> chat_;
  io::Address server_address_;
  sim::HostId server_host_{};
  std::vector<sim::HostId> client_hosts_;
  std::vector<std::unique_ptr<Client>> clients_;
  sim::Random rng_;

  bool started_ = false;
  bool finished_ = false;
  bool talking_ = false;   // The settle is over.
  bool stopping_ = false;  // Finish began: no new lines, no new sessions.
  TimerId settle_timer_ = 0;
  absl::Time start_;
  absl::Time end_;
  absl::Time next_sample_;

  ChatSimulationReport report_;
};

// Start, RunFor(duration), Finish, and the report: the whole run in one call,
// with `status` the first error. For scenarios and tools.
ChatSimulationReport RunChatSimulation(Reactor& reactor,
                                       sim::SimNetwork& network,
                                       const ChatSimulationOptions& options,
                                       absl::Duration duration,
                                       absl::Status* status = nullptr);

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_CHAT_CHAT_SIMULATION_H_
