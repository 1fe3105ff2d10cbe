#include "reactor/trace.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ember {
namespace {

const char* KindName(TraceKind kind) {
  switch (kind) {
    case TraceKind::kTimer: return "timer";
    case TraceKind::kTick: return "tick";
    case TraceKind::kAccept: return "accept";
    case TraceKind::kConnected: return "connected";
    case TraceKind::kRead: return "read";
    case TraceKind::kEof: return "eof";
    case TraceKind::kWrite: return "write";
    case TraceKind::kUnbind: return "unbind";
    case TraceKind::kDatagramIn: return "datagram-in";
    case TraceKind::kDatagramOut: return "datagram-out";
    case TraceKind::kResolved: return "resolved";
    case TraceKind::kError: return "error";
    case TraceKind::kResume: return "resume";
  }
  return "unknown";
}

}  // namespace

std::string TraceEvent::ToString() const {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E6S", time,
                                       absl::UTCTimeZone()),
                      " ", KindName(kind), " subject=", subject,
                      " value=", value);
}

void Trace::Record(absl::Time time, TraceKind kind, uint64_t subject,
                   uint64_t value) {
  const int64_t nanos = absl::ToUnixNanos(time);
  uint64_t h = hash_;
  h = Mix64(h ^ static_cast<uint64_t>(nanos));
  h = Mix64(h ^ (static_cast<uint64_t>(kind) << 56 ^ subject));
  h = Mix64(h ^ value);
  hash_ = h;
  ++count_;
  if (recording_ && events_.size() < events_max_) {
    events_.push_back(TraceEvent{time, kind, subject, value});
  }
}

std::optional<size_t> Trace::FirstDivergence(const Trace& a, const Trace& b) {
  const size_t n = std::min(a.events_.size(), b.events_.size());
  for (size_t i = 0; i < n; ++i) {
    if (!(a.events_[i] == b.events_[i])) return i;
  }
  if (a.count_ != b.count_ || a.hash_ != b.hash_) return n;
  return std::nullopt;
}

}  // namespace ember
