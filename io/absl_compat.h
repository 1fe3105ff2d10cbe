// Bridges between the standard library and Debian's Abseil build.
//
// Debian builds Abseil 20220623 with its own `absl::string_view` and
// `absl::optional` (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so they are not
// `std::string_view` and `std::optional`, and neither converts to the other
// implicitly. Ember's API speaks `std::string_view`; where it hands a view to
// Abseil, it converts with `AbslView`. With an upstream Abseil, where the two
// are one type, the conversion is a no-op.

#ifndef EMBER_IO_ABSL_COMPAT_H_
#define EMBER_IO_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ember {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline std::string_view StdView(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace ember

#endif  // EMBER_IO_ABSL_COMPAT_H_
