#include "reactor/trace.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/hash.h"

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
    case TraceKind::kConnectAttempt: return "connect-attempt";
    case TraceKind::kConnectAttemptFailed: return "connect-attempt-failed";
    case TraceKind::kPause: return "pause";
    case TraceKind::kResume: return "resume";
    case TraceKind::kHighWater: return "high-water";
    case TraceKind::kLowWater: return "low-water";
    case TraceKind::kTaskResume: return "task-resume";
  }
  return "unknown";
}

}  // namespace

std::string TraceEvent::ToString() const {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E6S", time,
                                       absl::UTCTimeZone()),
                      " ", KindName(kind), " subject=", subject,
                      " value=", value,
                      digest != 0 ? absl::StrCat(" digest=", absl::Hex(digest))
                                  : std::string());
}

void Trace::Fold(absl::Time time, TraceKind kind, uint64_t subject,
                 uint64_t value, uint64_t digest) {
  constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
  const int64_t nanos = absl::ToUnixNanos(time);
  uint64_t h = hash_;
  h = io::Mix64(h ^ static_cast<uint64_t>(nanos)) + kGolden;
  h = io::Mix64(h ^ (static_cast<uint64_t>(kind) << 56 ^ subject)) + kGolden;
  h = io::Mix64(h ^ value) + kGolden;
  h = io::Mix64(h ^ digest);
  hash_ = h;
  if (recording_ && events_.size() < events_max_) {
    events_.push_back(TraceEvent{time, kind, subject, value, digest});
  }
}

uint64_t Trace::ContentDigest(std::string_view bytes) const {
  return content_ ? io::HashBytes(bytes) : 0;
}

uint64_t TraceDigest(const io::Address& a) {
  const uint64_t tag =
      static_cast<uint64_t>(a.family()) << 16 | static_cast<uint64_t>(a.port());
  if (a.is_unix()) return io::HashBytes(a.path(), tag);
  const std::array<uint8_t, 16>& ip = a.ip_bytes();
  return io::HashBytes(
      std::string_view(reinterpret_cast<const char*>(ip.data()), ip.size()),
      tag);
}

uint64_t TraceDigest(const std::vector<io::Address>& addresses) {
  uint64_t h = addresses.size();
  for (const io::Address& a : addresses) h = io::Mix64(h ^ TraceDigest(a));
  return h;
}

uint64_t TraceDigest(const absl::Status& status) {
  if (status.ok()) return 0;
  return io::HashBytes(StdView(status.message()),
                       static_cast<uint64_t>(status.code()));
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
