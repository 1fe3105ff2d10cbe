// Helpers shared by the fuzz targets: a small deterministic generator and a
// way to cut an input into pieces, so that each target can check that its
// parser gives the same events however its input is cut.

#ifndef EMBER_FUZZ_FUZZ_UTIL_H_
#define EMBER_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember::fuzz {

// SplitMix64: tiny, and the same on every platform and library version.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Cuts `data` into pieces of 1 to `piece_max` bytes chosen by `seed`.
inline std::vector<std::string_view> Cut(std::string_view data, uint64_t seed,
                                         size_t piece_max) {
  SplitMix64 random(seed);
  std::vector<std::string_view> pieces;
  while (!data.empty()) {
    const size_t n =
        std::min<size_t>(1 + random.Next() % piece_max, data.size());
    pieces.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return pieces;
}

// Every way the targets cut an input: whole, byte by byte (when short
// enough to stay fast), and two seeded random cuts.
inline std::vector<std::vector<std::string_view>> Cuts(std::string_view data,
                                                       uint64_t seed) {
  std::vector<std::vector<std::string_view>> cuts;
  cuts.push_back({data});
  if (data.size() <= 4096) cuts.push_back(Cut(data, 0, 1));
  cuts.push_back(Cut(data, seed, 16));
  cuts.push_back(Cut(data, seed + 1, 300));
  return cuts;
}

// Appends an event, joining it to the previous one when both are body
// chunks (their split depends on the cut; their bytes do not).
inline void AddEvent(std::vector<std::string>& events, std::string event,
                     std::string_view chunk_prefix) {
  if (event.rfind(chunk_prefix, 0) == 0 && !events.empty() &&
      events.back().rfind(chunk_prefix, 0) == 0) {
    events.back().append(event, chunk_prefix.size());
    return;
  }
  events.push_back(std::move(event));
}

}  // namespace ember::fuzz

#endif  // EMBER_FUZZ_FUZZ_UTIL_H_
