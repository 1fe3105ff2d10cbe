// The reactor's event trace: a running hash of every event it dispatches.
//
// Under the simulated backend the same seed must give the same run, event for
// event (the determinism contract, rule 6). Everything a handler can observe
// is folded into a 64-bit hash with fixed functions (io/hash.h), so two runs
// are compared by one number: which timer or tick ran, accepts, connects and
// each attempt of a connect race, the bytes of every read and write (their
// count and, when content tracing is on, a hash of the bytes themselves),
// end of stream, pause and resume, outbound water marks, datagrams with
// their bytes and addresses, resolved addresses, errors, and each unbind
// with its reason and status. When recording is on, the events are also kept
// (up to a limit) so that two diverging runs can be compared event by event
// to find the first difference.

#ifndef EMBER_REACTOR_TRACE_H_
#define EMBER_REACTOR_TRACE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "io/address.h"

namespace ember {

enum class TraceKind : uint8_t {
  kTimer = 1,
  kTick,
  kAccept,
  kConnected,
  kRead,
  kEof,
  kWrite,
  kUnbind,
  kDatagramIn,
  kDatagramOut,
  kResolved,
  kError,
  kConnectAttempt,        // value: the address's index in the race
  kConnectAttemptFailed,  // value: index << 8 | io::ErrorKind
  kPause,
  kResume,
  kHighWater,             // value: bytes queued
  kLowWater,              // value: bytes queued
  kTaskResume,  // A coroutine task resumed (reactor/coro); subject: task id.
};

struct TraceEvent {
  absl::Time time;
  TraceKind kind;
  uint64_t subject;     // Connection, timer or tick id.
  uint64_t value;       // Bytes, reason code, ...
  uint64_t digest = 0;  // io::HashBytes of the bytes, addresses or status.

  friend bool operator==(const TraceEvent&, const TraceEvent&) = default;
  std::string ToString() const;
};

class Trace {
 public:
  // Keeps at most `events_max` events when recording (older ones are kept;
  // later ones only hashed), so memory stays bounded on long runs.
  static constexpr size_t kDefaultEventsMax = 1 << 20;

  // Counts the event and, when hashing is on, folds it into hash().
  void Record(absl::Time time, TraceKind kind, uint64_t subject,
              uint64_t value, uint64_t digest = 0) {
    ++count_;
    if (hashing_) Fold(time, kind, subject, value, digest);
  }

  // Whether events are folded into hash() (and kept, when recording).
  // The reactor turns it off where runs cannot be reproduced
  // (io::Network::Reproducible: epoll), unless asked to record, since there
  // no two runs could be compared and the hashing would only cost time
  // (about 100 instructions an event).
  void set_hashing(bool on) { hashing_ = on; }
  bool hashing() const { return hashing_; }

  // Whether the bytes of reads, writes and datagrams are hashed into the
  // digest (otherwise only their count is folded). The reactor turns it on
  // for reproducible backends (io::Network::Reproducible).
  void set_content(bool on) { content_ = on; }
  bool content() const { return content_; }
  // The digest of `bytes` for an event: io::HashBytes when content tracing
  // is on, else 0 (only the count is folded).
  uint64_t ContentDigest(std::string_view bytes) const;

  void set_recording(bool on, size_t events_max = kDefaultEventsMax) {
    recording_ = on;
    events_max_ = events_max;
  }

  uint64_t hash() const { return hash_; }
  uint64_t count() const { return count_; }
  const std::vector<TraceEvent>& events() const { return events_; }

  // The index of the first event where `a` and `b` differ (comparing the
  // recorded events, then the counts), or nullopt when they agree.
  static std::optional<size_t> FirstDivergence(const Trace& a,
                                               const Trace& b);

 private:
  void Fold(absl::Time time, TraceKind kind, uint64_t subject, uint64_t value,
            uint64_t digest);

  uint64_t hash_ = 0x9e3779b97f4a7c15ull;
  uint64_t count_ = 0;
  bool hashing_ = true;
  bool recording_ = false;
  bool content_ = false;
  size_t events_max_ = kDefaultEventsMax;
  std::vector<TraceEvent> events_;
};

// Digests for TraceEvent::digest: an address (family, IP, port or path), a
// list of them, and a status (code and message).
uint64_t TraceDigest(const io::Address& address);
uint64_t TraceDigest(const std::vector<io::Address>& addresses);
uint64_t TraceDigest(const absl::Status& status);

}  // namespace ember

#endif  // EMBER_REACTOR_TRACE_H_
