// The reactor's event trace: a running hash of every event it dispatches.
//
// Under the simulated backend the same seed must give the same run, event for
// event (DESIGN.md, the determinism contract, rule 6). Every dispatch (a
// timer, a tick, an accept, a read of N bytes, a write, an unbind and its
// reason) is folded into a 64-bit hash with a fixed mixing function, so two
// runs are compared by one number. When recording is on, the events are also
// kept (up to a limit) so that two diverging runs can be compared event by
// event to find the first difference.

#ifndef EMBER_REACTOR_TRACE_H_
#define EMBER_REACTOR_TRACE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

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
  kResume,  // A coroutine task resumed (reactor/coro); subject: task id.
};

struct TraceEvent {
  absl::Time time;
  TraceKind kind;
  uint64_t subject;  // Connection or timer id.
  uint64_t value;    // Bytes, reason code, ...

  friend bool operator==(const TraceEvent&, const TraceEvent&) = default;
  std::string ToString() const;
};

class Trace {
 public:
  // Keeps at most `events_max` events when recording (older ones are kept;
  // later ones only hashed), so memory stays bounded on long runs.
  static constexpr size_t kDefaultEventsMax = 1 << 20;

  void Record(absl::Time time, TraceKind kind, uint64_t subject,
              uint64_t value);

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
  uint64_t hash_ = 0x9e3779b97f4a7c15ull;
  uint64_t count_ = 0;
  bool recording_ = false;
  size_t events_max_ = kDefaultEventsMax;
  std::vector<TraceEvent> events_;
};

// SplitMix64's finaliser: a fixed, well-mixing 64-bit permutation. Stable
// across processes, machines and library versions (unlike std::hash).
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace ember

#endif  // EMBER_REACTOR_TRACE_H_
