// Fixed hash functions for traces and seeds.
//
// The determinism contract forbids `std::hash` and `absl::Hash` wherever a
// value can reach behaviour or a trace: their results differ between library
// versions and, for Abseil, between processes (a per-process seed). These
// functions are written out here and give the same result on every run,
// process and machine:
//  - `Mix64`: SplitMix64's finaliser, a bijective mixing of 64 bits;
//  - `HashBytes`: a 64-bit hash of a byte string (its length and every
//    byte), for folding payloads into a trace. Not for security.

#ifndef EMBER_IO_HASH_H_
#define EMBER_IO_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ember::io {

inline constexpr uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Four independent lanes of multiply-rotate over 32-byte blocks, so the
// loop runs at memory speed; the tail and the length are mixed in at the
// end.
inline uint64_t HashBytes(std::string_view data, uint64_t seed = 0) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  auto load = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    return w;  // Host order: a trace is compared on one kind of machine.
  };
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  uint64_t lane[4] = {seed ^ 0x243f6a8885a308d3ull, seed ^ 0x13198a2e03707344ull,
                      seed ^ 0xa4093822299f31d0ull, seed ^ 0x082efa98ec4e6c89ull};
  const char* p = data.data();
  size_t n = data.size();
  while (n >= 32) {
    for (int i = 0; i < 4; ++i) {
      lane[i] = rotl((lane[i] ^ load(p + 8 * i)) * kMul, 29);
    }
    p += 32;
    n -= 32;
  }
  uint64_t h = Mix64(lane[0] ^ rotl(lane[1], 16) ^ rotl(lane[2], 32) ^
                     rotl(lane[3], 48));
  while (n >= 8) {
    h = Mix64(h ^ load(p));
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) {
    tail |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return Mix64(h ^ tail ^ (static_cast<uint64_t>(data.size()) * kMul));
}

}  // namespace ember::io

#endif  // EMBER_IO_HASH_H_
