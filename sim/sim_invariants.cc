// SimNetwork's byte-accounting invariants and its statistics.

#include "sim/sim_network.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "io/error.h"
#include "io/hash.h"
#include "io/resolve.h"
#include "sim/internal/ring.h"
#include "sim/internal/sim_internal.h"

namespace ember::sim {

// ---------------------------------------------------------------------------
// Invariants and statistics.

void SimNetwork::CheckConn(const Conn* c) {
  ++stats_.invariant_checks;
  for (const Flow& f : c->flows) {
    EMBER_CHECK_MSG(f.written == f.read + f.unread + f.in_flight + f.discarded,
                    "stream bytes written != read + waiting + in flight + "
                    "discarded");
    EMBER_CHECK_MSG(f.bytes.size() == f.unread + f.in_flight,
                    "stream buffer out of step with its counters");
    EMBER_CHECK_MSG(f.bytes.size() <= static_cast<uint64_t>(plan_.window_bytes),
                    "stream direction holds more than its window");
    if (!f.segments.empty()) {
      EMBER_CHECK_MSG(
          f.segments.front().due_ns >= now_ns_ || f.armed_ns != INT64_MAX,
          "segments in flight with no delivery scheduled");
    }
  }
}

void SimNetwork::CheckInvariants() {
  events_since_sweep_ = 0;
  EMBER_CHECK_MSG(heap_.empty() || heap_.front().time_ns >= now_ns_,
                  "a scheduled event lies in the past");
  size_t live = 0;
  for (const auto& slot : conns_) {
    const Conn* c = slot.get();
    if (!c->live) continue;
    ++live;
    CheckConn(c);
    for (const Flow& f : c->flows) {
      uint64_t in_segments = 0;
      int64_t last = INT64_MIN;
      for (size_t i = 0; i < f.segments.size(); ++i) {
        const Segment& s = f.segments[i];
        EMBER_CHECK_MSG(s.due_ns >= last, "stream segments out of order");
        last = s.due_ns;
        if (!s.fin) in_segments += s.bytes;
      }
      EMBER_CHECK_MSG(in_segments == f.in_flight,
                      "segments in flight do not add up");
    }
    // A handle means not released; a client end without one is released
    // (a server end may wait in a listener's queue with none).
    for (int e = 0; e < 2; ++e) {
      const End& end = c->ends[e];
      if (end.handle != nullptr) {
        EMBER_CHECK_MSG(!end.released, "a released end still has a handle");
      } else if (e == 0) {
        EMBER_CHECK_MSG(end.released, "a client end lost its handle");
      }
    }
  }
  EMBER_CHECK_MSG(live == live_conns_, "live connection count is off");
  for (const auto& [id, handle] : handles_) {
    ++stats_.invariant_checks;
    const bool want = handle->watcher_ != nullptr &&
                      (handle->Readiness() & handle->interest_) != 0;
    EMBER_CHECK_MSG(want == handle->in_ready(),
                    "a handle's readiness changed without a refresh");
  }
  EMBER_CHECK(ready_.size() <= handles_.size());
}

SimStats SimNetwork::stats() const {
  SimStats s = stats_;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (fault_counts_[k] > 0) s.faults[kFaultNames[k]] = fault_counts_[k];
  }
  return s;
}

std::string SimStats::ToString() const {
  std::string out = absl::StrCat(
      "events=", events_processed, " polls=", polls, " callbacks=", callbacks,
      " bytes written=", bytes_written, " delivered=", bytes_delivered,
      " read=", bytes_read, " discarded=", bytes_discarded,
      " connections opened=", connections_opened,
      " established=", connections_established,
      " accepted=", connections_accepted, " refused=", connections_refused,
      " timed_out=", connections_timed_out, " reset=", connections_reset,
      " datagrams sent=", datagrams_sent, " delivered=", datagrams_delivered,
      " lost=", datagrams_lost, " duplicated=", datagrams_duplicated,
      " reordered=", datagrams_reordered, " truncated=", datagrams_truncated,
      " resolves=", resolves, " invariant_checks=", invariant_checks,
      " faults={");
  bool first = true;
  for (const auto& [name, count] : faults) {
    absl::StrAppend(&out, first ? "" : " ", name, "=", count);
    first = false;
  }
  absl::StrAppend(&out, "}");
  return out;
}

}  // namespace ember::sim
