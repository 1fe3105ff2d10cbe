#include "io/epoll/thread_affinity.h"

#include <errno.h>
#include <sched.h>

#include "io/check.h"
#include "io/error.h"

namespace ember::io {

absl::StatusOr<int> PinThisThread(size_t index) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  // 0: the calling thread. A new thread inherits its creator's mask, which
  // is the process's unless someone pinned the creator.
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    return ErrnoError(errno, "sched_getaffinity");
  }
  const int count = CPU_COUNT(&allowed);
  EMBER_CHECK(count > 0);
  const int wanted = static_cast<int>(index % static_cast<size_t>(count));
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ != wanted) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) {
      return ErrnoError(errno, "sched_setaffinity");
    }
    return cpu;
  }
  EMBER_CHECK_MSG(false, "CPU_COUNT disagrees with CPU_ISSET");
  return -1;
}

}  // namespace ember::io
