// What the simulated network may do to the traffic it carries.
//
// A `FaultPlan` is a plain value: a struct of latencies, rates and durations
// that `SimNetwork` reads when it decides, from its seed, how each connect,
// write and datagram fares. Because it is a value it can be compared, printed
// on one line, stored next to a failing seed, generated and shrunk by
// RapidCheck (see `sim/fault_plan_arbitrary.h`), and drawn per seed for swarm
// testing.
//
// Presets, from kind to cruel:
//  - `Ideal()`: nothing goes wrong and nothing takes time. A connect, a write
//    or a datagram takes effect at the same virtual instant and is visible
//    from the next `Poll`; a write arrives whole. Only the receive window
//    (256 KiB per direction) limits a writer.
//  - `Lan()`: a quiet local network: sub-millisecond latency, 1 Gbit/s,
//    occasional split deliveries and short writes, very rare datagram loss.
//    No resets, partitions or crashes.
//  - `Wan()`: the Internet on a normal day: tens of milliseconds of latency
//    with jitter, 10 Mbit/s, 64 KiB windows, writes split often, occasional
//    resets, clogs and healing partitions, datagram loss, duplication and
//    reordering, slow and sometimes failing name resolution, now and then a
//    run whose IPv6 route is dead, a drifting wall clock that now and then
//    jumps.
//  - `Hostile()`: every fault, often: one-byte deliveries, tiny windows,
//    frequent resets, long partitions, host crashes, descriptor exhaustion,
//    heavy datagram damage, IPv6 dead in half the runs, a wall clock jumping
//    by hours.
//  - `Swarm(seed)`: a different mix per seed: each fault kind on or off, and
//    its rate, drawn from the seed (swarm testing: a plan that leaves some
//    faults out reaches states an everything-on plan drowns out).
//
// Rates are per occurrence, not per second: a fault is drawn when the thing
// it hits happens (a write is made, a 512-byte block of a stream is sent or
// delivered, a connect attempt is made, an accept is called). An idle world
// therefore stays idle, and the amount of chaos follows the amount of
// traffic. Each draw is made at a stable decision point (see
// sim/fault_schedule.h): changing one rate, or switching a kind off, moves
// no other decision.

#ifndef EMBER_SIM_FAULT_PLAN_H_
#define EMBER_SIM_FAULT_PLAN_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ember::sim {

struct FaultPlan {
  // The default receive window; also the window of `Ideal()`.
  static constexpr int64_t kDefaultWindowBytes = 256 * 1024;
  // A write cut into segments is cut into at most this many.
  static constexpr int kSplitPiecesMax = 16;
  // The smallest receive window a plan drawn at random (Swarm,
  // rc::Arbitrary) or a preset has: no real TCP stack advertises less
  // (Linux's smallest receive buffer is about 2 KiB), and a window of a few
  // bytes across hundreds of milliseconds of latency moves a few bytes a
  // second, which no application check can be expected to outlast. A plan
  // written by hand may go lower, down to 1, to test windows themselves.
  static constexpr int64_t kRealisticWindowBytesMin = 1024;

  // --- Stream connection establishment ---
  // The handshake round trip, drawn uniformly per connect: the SYN reaches
  // the listener after half of it, the client learns the outcome after all of
  // it. Refusals (no listener) come back the same way.
  absl::Duration connect_latency_min = absl::ZeroDuration();
  absl::Duration connect_latency_max = absl::ZeroDuration();

  // --- Delivery ---
  // One-way latency, drawn uniformly per stream segment and per datagram; the
  // spread between min and max is the jitter. Stream bytes of one direction
  // are never reordered: a segment never arrives before an earlier one.
  // Datagrams may be reordered by it.
  absl::Duration latency_min = absl::ZeroDuration();
  absl::Duration latency_max = absl::ZeroDuration();
  // Transmission rate per connection direction; 0 means unlimited.
  int64_t bandwidth_bytes_per_second = 0;
  // Receive window per direction: the most bytes written but not yet read
  // (in flight plus waiting at the reader). A writer facing a full window
  // gets a short write, then kWouldBlock, and kWritable once the reader
  // drains. At least 1.
  int64_t window_bytes = kDefaultWindowBytes;
  // Chance that a write is delivered in several segments (cut at uniformly
  // drawn boundaries, at most kSplitPiecesMax pieces, down to 1 byte) rather
  // than whole.
  double split_probability = 0;
  // Chance that a write with room for more accepts only a drawn prefix
  // (a short write the window did not force).
  double short_write_probability = 0;

  // --- Stream faults ---
  // Chance, per 512-byte block of a stream delivered (drawn when the
  // block's first byte arrives, so however the bytes were cut), that the
  // connection is reset then: both ends see kReset on their next read or
  // write; bytes not yet read are discarded.
  double reset_probability = 0;

  // --- Link faults (a link joins two hosts, or a host to itself) ---
  // Chance, per 512-byte block of a stream sent, per datagram and per
  // connect attempt, that the link clogs:
  // everything on it stalls for up to `clog_duration_max`, then resumes.
  double clog_probability = 0;
  absl::Duration clog_duration_max = absl::ZeroDuration();
  // Chance, per 512-byte block of a stream sent, per datagram and per
  // connect attempt, that the link partitions for up to
  // `partition_duration_max`: connect attempts get no
  // answer (and are retried like SYNs, timing out after the kernel connect
  // timeout), stream bytes wait for the heal, datagrams are lost.
  double partition_probability = 0;
  absl::Duration partition_duration_max = absl::ZeroDuration();

  // --- Hosts ---
  // Chance, per 512-byte block of a stream delivered to a host that has a
  // restart hook, that the host crashes on receipt: every connection with
  // an end on it is
  // reset, its listeners and datagram sockets die. It restarts after up to
  // `crash_downtime_max` and its restart hook runs. Hosts without a hook
  // never crash at random, since nothing would bring their listeners back.
  double crash_probability = 0;
  absl::Duration crash_downtime_max = absl::ZeroDuration();
  // Chance, per Accept with a connection pending, that it fails with
  // kNoResources (out of descriptors), leaving the connection queued.
  double accept_no_resources_probability = 0;

  // --- Datagrams (each drawn per datagram sent) ---
  double datagram_loss_probability = 0;
  double datagram_duplicate_probability = 0;
  // Extra delay of up to twice `latency_max` (at least 1 ms), so later
  // datagrams overtake it.
  double datagram_reorder_probability = 0;
  // The datagram arrives cut to a drawn shorter length.
  double datagram_truncate_probability = 0;

  // --- Address reachability (decided once per run: for each IP address,
  // and for IPv6 as a whole, from streams of their own, so that switching
  // them on changes no other decision of the run) ---
  // Chance that IPv6 is dead for the whole run: connects to every IPv6
  // address get no answer and time out, the classic broken dual-stack
  // route that Happy Eyeballs exists for. IPv4 is never taken down whole.
  double ipv6_blackhole_probability = 0;
  // Chance, per IP address, that connects to it get no answer for the whole
  // run (a black-holed address: a dead route or a firewall that drops).
  double address_blackhole_probability = 0;
  // Chance, per IP address, that every connect to it is refused for the
  // whole run (a firewall that rejects), whether or not anyone listens.
  double address_refuse_probability = 0;

  // --- Name resolution ---
  // Resolve completes after a delay drawn in [0, max].
  absl::Duration resolve_latency_max = absl::ZeroDuration();
  // Chance that a name the table knows fails anyway, with kNameLookupFailed
  // (a temporary failure, EAI_AGAIN). Names io/resolve.h answers (literals,
  // localhost, .invalid) never fail this way: no resolver is asked.
  double resolve_failure_probability = 0;

  // --- Wall clock (the monotonic clock is never disturbed) ---
  // The wall clock runs fast or slow by a rate drawn once per run in
  // [-max, max] parts per million.
  int64_t wall_drift_ppm_max = 0;
  // Mean virtual time between wall clock jumps (each gap drawn in
  // [interval/2, 3*interval/2]); zero means no jumps, otherwise at least 1 s.
  absl::Duration wall_jump_interval = absl::ZeroDuration();
  // Each jump is drawn uniformly in [-max, max].
  absl::Duration wall_jump_max = absl::ZeroDuration();

  static FaultPlan Ideal();
  static FaultPlan Lan();
  static FaultPlan Wan();
  static FaultPlan Hostile();
  static FaultPlan Swarm(uint64_t seed);

  // "ideal", "lan", "wan", "hostile" or "swarm" (drawn from `seed`); anything
  // else fails with kInvalidArgument listing the names.
  static absl::StatusOr<FaultPlan> ByName(std::string_view name, uint64_t seed);

  // OK when every probability is in [0, 1], every duration is finite and
  // not negative, every min <= its max, the window is at least 1 byte, the
  // wall jump interval is zero or at least 1 s, and nothing is negative;
  // otherwise kInvalidArgument naming the field.
  absl::Status Validate() const;

  // OK when the plan stays within what plans drawn at random and presets
  // keep to (see kRealisticWindowBytesMin): Validate(), and a window of at
  // least kRealisticWindowBytesMin. Otherwise kInvalidArgument saying why.
  absl::Status ValidateRealistic() const;

  // True when the plan can lose stream bytes or a stream connection
  // (resets or crashes); a plan without them keeps every established
  // stream lossless.
  bool BreaksStreams() const {
    return reset_probability > 0 || crash_probability > 0;
  }

  // One line that names every field: "FaultPlan{connect_latency=[0,0]
  // latency=[10ms,80ms] ... split=0.5 ... wall_jump=1h/1s}". Exact: Parse
  // gives back an equal plan (rates as the shortest decimal that reads
  // back as the same double, durations to the nanosecond).
  std::string ToString() const;

  // Reads ToString's form back. Fields may be left out (they keep their
  // Ideal() value) and come in any order, so "FaultPlan{split=0.5}" is a
  // plan too. kInvalidArgument naming the bad part: an unknown or repeated
  // field, a malformed value, or a plan that fails Validate().
  static absl::StatusOr<FaultPlan> Parse(std::string_view text);

  friend bool operator==(const FaultPlan&, const FaultPlan&) = default;
};

std::ostream& operator<<(std::ostream& os, const FaultPlan& plan);

}  // namespace ember::sim

#endif  // EMBER_SIM_FAULT_PLAN_H_
