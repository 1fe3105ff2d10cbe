// CPU pinning for threads that each run one reactor (reactor/group).
//
// It lives with the real backend because it calls the operating system
// (sched_getaffinity/sched_setaffinity, Linux): reactor/ never includes a
// system header, and the simulated backend has no threads to pin.

#ifndef EMBER_IO_EPOLL_THREAD_AFFINITY_H_
#define EMBER_IO_EPOLL_THREAD_AFFINITY_H_

#include <cstddef>

#include "absl/status/statusor.h"

namespace ember::io {

// Pins the calling thread to one CPU: the (index mod n)-th of the n CPUs the
// process may run on (its affinity mask, so a taskset or cgroup limit is
// respected), so threads 0..n-1 get one CPU each. Returns that CPU's number,
// or the system's error (io::ErrnoError) with the thread left as it was.
absl::StatusOr<int> PinThisThread(size_t index);

}  // namespace ember::io

#endif  // EMBER_IO_EPOLL_THREAD_AFFINITY_H_
