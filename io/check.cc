#include "io/check.h"

#include <cstdio>
#include <cstdlib>

namespace ember::internal {

void CheckFailed(const char* file, int line, const char* condition,
                 const char* message) {
  std::fprintf(stderr, "%s:%d: EMBER_CHECK failed: %s%s%s\n", file, line,
               condition, message != nullptr ? ": " : "",
               message != nullptr ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace ember::internal
