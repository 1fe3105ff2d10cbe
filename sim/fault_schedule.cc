#include "sim/fault_schedule.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "io/absl_compat.h"

namespace ember::sim {

std::string FaultRecord::Token() const {
  return absl::StrCat(kind, ":", absl::Hex(id, absl::kZeroPad16));
}

std::string FaultRecord::ToString() const {
  std::string out =
      absl::StrCat(kind, " of ", where, " at ", absl::FormatDuration(at));
  if (!detail.empty()) absl::StrAppend(&out, " (", detail, ")");
  absl::StrAppend(&out, " [", Token(), "]");
  return out;
}

absl::StatusOr<FaultFilter> FaultFilter::ParseKeepList(std::string_view text) {
  FaultFilter filter;
  filter.mode = Mode::kOnly;
  if (text == "none") return filter;
  for (absl::string_view token :
       absl::StrSplit(AbslView(text), ',', absl::SkipWhitespace())) {
    token = absl::StripAsciiWhitespace(token);
    absl::string_view hex = token;
    if (const size_t colon = token.rfind(':'); colon != token.npos) {
      hex = token.substr(colon + 1);
    }
    uint64_t id = 0;
    if (hex.empty() || hex.size() > 16 || !absl::SimpleHexAtoi(hex, &id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a fault token (kind:hex id): \"", token, "\""));
    }
    filter.ids.insert(id);
  }
  return filter;
}

std::string FaultFilter::KeepList() const {
  if (ids.empty()) return "none";
  std::vector<std::string> parts;
  for (uint64_t id : ids)
    parts.push_back(absl::StrCat(absl::Hex(id, absl::kZeroPad16)));
  return absl::StrJoin(parts, ",");
}

uint64_t ByteDecisions::TakeBytes(size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && pos_ < back_; ++i) v = v << 8 | data_[pos_++];
  return v;
}

bool ByteDecisions::Decide(uint64_t /*point*/, double probability,
                           uint64_t* params) {
  if (pos_ >= back_) {
    *params = 0;
    return false;
  }
  const uint8_t byte = data_[pos_++];
  double scaled = std::ceil(probability * 256);
  const unsigned threshold = scaled < 1     ? 1u
                             : scaled > 256 ? 256u
                                            : static_cast<unsigned>(scaled);
  if (byte >= threshold) return false;
  *params = TakeBytes(8);
  return true;
}

uint64_t ByteDecisions::Choose(uint64_t n) {
  if (n <= 1) return 0;
  size_t bytes = 1;
  while (bytes < 8 && (n - 1) >> (8 * bytes) != 0) ++bytes;
  uint64_t v = 0;
  for (size_t i = 0; i < bytes && back_ > pos_; ++i)
    v = v << 8 | data_[--back_];
  return v % n;
}

}  // namespace ember::sim
