// Goal: PinThisThread pins the calling thread (and only it) to one CPU,
// chosen among those the process may use, index modulo their number.

#include "io/epoll/thread_affinity.h"

#include <sched.h>

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ember::io {
namespace {

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

TEST(ThreadAffinityTest, PinsTheCallingThreadToTheIndexedCpu) {
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  for (size_t index : {size_t{0}, size_t{1}, allowed.size() + 1}) {
    SCOPED_TRACE(index);
    std::vector<int> after;
    absl::StatusOr<int> cpu;
    // A thread of its own, so this one keeps its mask.
    std::thread pinned([&] {
      cpu = PinThisThread(index);
      after = AllowedCpus();
    });
    pinned.join();
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    EXPECT_EQ(*cpu, allowed[index % allowed.size()]);
    EXPECT_EQ(after, std::vector<int>{*cpu});
  }
  EXPECT_EQ(AllowedCpus(), allowed);
}

}  // namespace
}  // namespace ember::io
