#include "io/network.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace ember::io {
namespace {

// Linux's TCP_MAX_KEEPIDLE, TCP_MAX_KEEPINTVL and TCP_MAX_KEEPCNT.
constexpr int64_t kKeepAliveSecondsMax = 32767;
constexpr int kKeepAliveProbesMax = 127;

}  // namespace

absl::StatusOr<KeepAliveSeconds> KeepAliveForKernel(
    const KeepAliveOptions& options) {
  const int64_t idle =
      absl::ToInt64Seconds(absl::Ceil(options.idle, absl::Seconds(1)));
  const int64_t interval =
      absl::ToInt64Seconds(absl::Ceil(options.interval, absl::Seconds(1)));
  if (idle < 1 || idle > kKeepAliveSecondsMax || interval < 1 ||
      interval > kKeepAliveSecondsMax || options.probes < 1 ||
      options.probes > kKeepAliveProbesMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keepalive needs idle and interval in (0s, ", kKeepAliveSecondsMax,
        "s] and probes in [1, ", kKeepAliveProbesMax, "]; got idle ",
        absl::FormatDuration(options.idle), ", interval ",
        absl::FormatDuration(options.interval), ", probes ", options.probes));
  }
  return KeepAliveSeconds{static_cast<int>(idle), static_cast<int>(interval),
                          options.probes};
}

}  // namespace ember::io
