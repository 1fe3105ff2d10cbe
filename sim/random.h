// A small, fixed, seeded random number generator for simulation.
//
// Everything the simulator decides "at random" (latencies, where a write is
// cut, which segment is lost, which fault plan a swarm seed picks) comes from
// `Random`, so one 64-bit seed replays a whole run. The algorithms are written
// out here, with their own range reduction and probability helpers, because
// Abseil's bit generators and the standard distribution templates are free
// to change their output between library versions and processes, which
// would break replay. Only integer arithmetic and exact IEEE operations are
// used (no `log`/`exp`, whose last bits differ between libm builds), so the
// same seed gives the same stream on every machine.
//
// `SplitMix64` expands a seed into state; `Random` is xoshiro256** (Blackman
// and Vigna), seeded through SplitMix64 as its authors recommend. Neither is
// suitable for cryptography.

#ifndef EMBER_SIM_RANDOM_H_
#define EMBER_SIM_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/time/time.h"
#include "io/check.h"
#include "io/hash.h"

namespace ember::sim {

// The SplitMix64 finaliser on its own (io/hash.h): a fixed bijective mixing
// of 64 bits. Also used by the simulator to fold events into its trace hash.
using io::Mix64;

// SplitMix64 (Steele, Lea, Flood): a Weyl sequence through `Mix64`. Every seed,
// including 0, gives a good stream.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(uint64_t seed) : state_(seed) {}

  constexpr uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return Mix64(state_);
  }

 private:
  uint64_t state_;
};

// xoshiro256** with range and probability helpers.
class Random {
 public:
  explicit Random(uint64_t seed) {
    SplitMix64 expand(seed);
    for (uint64_t& word : s_) word = expand.Next();
  }

  // The next 64 uniformly distributed bits.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n). Precondition: n > 0. Unbiased (Lemire's multiply and
  // reject), and a single draw in almost every case.
  uint64_t Below(uint64_t n) {
    EMBER_CHECK(n > 0);
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi], both included. Precondition: lo <= hi. The whole
  // 64-bit range is allowed.
  uint64_t Between(uint64_t lo, uint64_t hi) {
    EMBER_CHECK(lo <= hi);
    const uint64_t span = hi - lo;
    if (span == UINT64_MAX) return Next();
    return lo + Below(span + 1);
  }

  // Signed variant of `Between`.
  int64_t BetweenSigned(int64_t lo, int64_t hi) {
    EMBER_CHECK(lo <= hi);
    const uint64_t offset =
        Between(0, static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo));
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + offset);
  }

  // Uniform in [0, 1) with 53 random bits: exact, so comparisons against it
  // are the same on every machine.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // True with probability `p`. p <= 0 is never and p >= 1 is always, and
  // neither consumes a draw, so a plan with a fault switched off draws exactly
  // as many numbers as if the fault did not exist.
  bool Chance(double p) {
    if (!(p > 0)) return false;
    if (p >= 1) return true;
    return Unit() < p;
  }

  // Uniform in [lo, hi] at nanosecond resolution. Precondition: lo <= hi,
  // both finite. Consumes no draw when lo == hi.
  absl::Duration DurationBetween(absl::Duration lo, absl::Duration hi) {
    const int64_t lo_ns = absl::ToInt64Nanoseconds(lo);
    const int64_t hi_ns = absl::ToInt64Nanoseconds(hi);
    if (lo_ns == hi_ns) return lo;
    return absl::Nanoseconds(BetweenSigned(lo_ns, hi_ns));
  }

  // Log-uniform-ish in [lo, hi]: first a uniformly chosen power of two
  // between the two bounds, then a uniform value within that octave. Used to
  // spread rates over orders of magnitude without floating-point logarithms.
  // Precondition: 0 < lo <= hi.
  uint64_t LogUniform(uint64_t lo, uint64_t hi) {
    EMBER_CHECK(lo > 0 && lo <= hi);
    const int lo_bit = 63 - __builtin_clzll(lo);
    const int hi_bit = 63 - __builtin_clzll(hi);
    const int bit = static_cast<int>(Between(lo_bit, hi_bit));
    uint64_t octave_lo = uint64_t{1} << bit;
    uint64_t octave_hi =
        bit == 63 ? UINT64_MAX : (uint64_t{1} << (bit + 1)) - 1;
    if (octave_lo < lo) octave_lo = lo;
    if (octave_hi > hi) octave_hi = hi;
    return Between(octave_lo, octave_hi);
  }

  // An independent generator seeded from this one: lets one part of a
  // simulation draw without shifting the numbers another part sees.
  Random Fork() { return Random(Next()); }

  // Fisher-Yates shuffle of data[0, n).
  template <typename T>
  void Shuffle(T* data, size_t n) {
    for (size_t i = n; i > 1; --i) {
      using std::swap;
      swap(data[i - 1], data[Below(i)]);
    }
  }

 private:
  static constexpr uint64_t Rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
  }

  uint64_t s_[4];
};

}  // namespace ember::sim

#endif  // EMBER_SIM_RANDOM_H_
