// Goal: Defer (reactor/coro/defer.h) runs work off the loop and delivers
// its result on the loop, on both backends, within its limit:
//   - under the simulator, at a simulated later time, deterministically, on
//     the loop's own thread (no thread is started);
//   - on epoll, on the bounded worker pool, under load (this target also
//     runs under --config=tsan): results correct, work off the loop's
//     thread, results on it, the limit refusing exactly what exceeds it;
//   - a task that stops waiting never sees the result; destroying the
//     network with work queued and running neither hangs nor runs a `done`.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/epoll/epoll_network.h"
#include "reactor/coro/awaitables.h"
#include "reactor/coro/defer.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"
#include "sim/harness/scenario.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

template <typename F>
bool RunUntil(Reactor& reactor, F done,
              absl::Duration limit = absl::Seconds(60)) {
  const absl::Time end = reactor.Now() + limit;
  while (!done()) {
    if (reactor.Now() >= end) return false;
    if (!reactor.RunOnce(end).ok()) return false;
  }
  return true;
}

int64_t SumTo(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 1);
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

TEST(DeferSimTest, RunsAtASimulatedLaterTimeOnTheLoopsThread) {
  sim::SimOptions options;
  options.offload_latency_min = absl::Milliseconds(5);
  options.offload_latency_max = absl::Milliseconds(5);
  sim::SimNetwork net(options);
  Reactor reactor(net);
  TaskGroup group(reactor);
  std::optional<absl::StatusOr<int64_t>> result;
  bool work_on_loop_thread = false;
  absl::Duration took;
  auto task = [&]() -> Task<void> {
    const absl::Time start = reactor.Now();
    result = co_await DeferWork([&] {
      work_on_loop_thread = reactor.IsReactorThread();
      return SumTo(1000);
    });
    took = reactor.Now() - start;
  };
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok());
  EXPECT_EQ(**result, 500500);
  EXPECT_EQ(took, absl::Milliseconds(5));
  EXPECT_TRUE(work_on_loop_thread);
}

TEST(DeferSimTest, TheJobLimitRefusesTheRestAndTheyNeverRun) {
  sim::SimOptions options;
  options.offload_jobs_max = 3;
  sim::SimNetwork net(options);
  Reactor reactor(net);
  int ran = 0, delivered = 0;
  std::vector<absl::Status> statuses;
  for (int i = 0; i < 5; ++i) {
    statuses.push_back(Defer(
        reactor, [&] { ++ran; }, [&] { ++delivered; }));
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(statuses[i].ok());
  for (int i = 3; i < 5; ++i) {
    EXPECT_EQ(statuses[i].code(), absl::StatusCode::kResourceExhausted);
  }
  ASSERT_TRUE(RunUntil(reactor, [&] { return delivered == 3; }));
  RunUntil(reactor, [] { return false; }, absl::Seconds(1));
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(delivered, 3);
  // Room again once delivered.
  EXPECT_TRUE(Defer(reactor, [] {}, [] {}).ok());
}

TEST(DeferSimTest, ATaskThatStopsWaitingNeverSeesTheResult) {
  sim::SimOptions options;
  options.offload_latency_min = absl::Milliseconds(10);
  options.offload_latency_max = absl::Milliseconds(10);
  sim::SimNetwork net(options);
  Reactor reactor(net);
  TaskGroup group(reactor);
  bool work_ran = false;
  std::optional<absl::Status> got;
  auto task = [&]() -> Task<void> {
    got = (co_await WithTimeout(absl::Milliseconds(2), DeferWork([&] {
             work_ran = true;
             return 1;
           }))).status();
  };
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor, [&] { return got.has_value(); }));
  EXPECT_EQ(got->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(work_ran);
  // The job still runs later, and its result goes nowhere.
  ASSERT_TRUE(RunUntil(reactor, [&] { return work_ran; }));
  EXPECT_EQ(group.size(), 0u);
}

TEST(DeferSimTest, AProgramThatDefersReplaysFromItsSeed) {
  sim::SimOptions options;
  options.seed = 99;
  options.offload_latency_min = absl::Milliseconds(1);
  options.offload_latency_max = absl::Milliseconds(50);
  absl::Status status = sim::CheckDeterministic(
      options, [](Reactor& reactor, sim::SimNetwork&) {
        TaskGroup group(reactor);
        std::vector<int> order;
        auto task = [&](int i) -> Task<void> {
          for (int j = 0; j < 3; ++j) {
            (void)co_await DeferWork([i] { return i; });
            order.push_back(i);
          }
        };
        for (int i = 0; i < 20; ++i) (void)group.Spawn(task(i));
        RunUntil(reactor, [&] { return group.size() == 0; });
        return order.size() == 60 ? absl::OkStatus()
                                  : absl::InternalError("not all ran");
      });
  EXPECT_TRUE(status.ok()) << status;
}

// ---- The real backend ----

TEST(DeferEpollTest, ManyTasksDeferringUnderLoadGetCorrectResultsOnTheLoop) {
  io::EpollNetwork::Options options;
  options.offload_threads = 4;
  options.offload_jobs_max = 64;
  auto net = io::EpollNetwork::Create(options);
  ASSERT_TRUE(net.ok()) << net.status();
  Reactor reactor(**net);
  TaskGroup group(reactor);
  constexpr int kTasks = 32;
  constexpr int kJobsPerTask = 40;
  std::atomic<int> work_on_loop{0};
  std::atomic<int> work_done{0};
  int results_ok = 0;
  int resumed_off_loop = 0;
  int refused = 0;
  // Outside the loop: a coroutine lambda's captures live in the lambda
  // object, which must outlive the task; per-task values are parameters.
  auto task = [&](int t) -> Task<void> {
      for (int j = 0; j < kJobsPerTask; ++j) {
        const int64_t n = 1000 + t * 10 + j;
        absl::StatusOr<int64_t> sum = co_await DeferWork([&, n] {
          if (reactor.IsReactorThread()) ++work_on_loop;
          ++work_done;
          return SumTo(n);
        });
        if (!reactor.IsReactorThread()) ++resumed_off_loop;
        if (!sum.ok()) {
          // 32 tasks, at most 64 jobs: never refused here.
          ++refused;
          continue;
        }
        if (*sum == n * (n + 1) / 2) ++results_ok;
      }
  };
  for (int t = 0; t < kTasks; ++t) ASSERT_TRUE(group.Spawn(task(t)).ok());
  ASSERT_TRUE(RunUntil(reactor, [&] { return group.size() == 0; }));
  EXPECT_EQ(results_ok, kTasks * kJobsPerTask);
  EXPECT_EQ(work_done.load(), kTasks * kJobsPerTask);
  EXPECT_EQ(work_on_loop.load(), 0);
  EXPECT_EQ(resumed_off_loop, 0);
  EXPECT_EQ(refused, 0);
}

TEST(DeferEpollTest, ABurstPastTheLimitIsRefusedExactlyBeyondIt) {
  io::EpollNetwork::Options options;
  options.offload_threads = 3;
  options.offload_jobs_max = 16;
  auto net = io::EpollNetwork::Create(options);
  ASSERT_TRUE(net.ok());
  Reactor reactor(**net);
  std::atomic<int> ran{0};
  int delivered = 0;
  int accepted = 0, refused = 0;
  // No Poll happens during the burst, so nothing is taken back: exactly
  // the limit is accepted.
  for (int i = 0; i < 40; ++i) {
    absl::Status s = Defer(
        reactor, [&] { ++ran; },
        [&] {
          EXPECT_TRUE(reactor.IsReactorThread());
          ++delivered;
        });
    if (s.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
      ++refused;
    }
  }
  EXPECT_EQ(accepted, 16);
  EXPECT_EQ(refused, 24);
  ASSERT_TRUE(RunUntil(reactor, [&] { return delivered == 16; }));
  EXPECT_EQ(ran.load(), 16);
}

TEST(DeferEpollTest, DestroyingTheNetworkWithWorkQueuedAndRunningIsClean) {
  io::EpollNetwork::Options options;
  options.offload_threads = 2;
  options.offload_jobs_max = 64;
  auto net = io::EpollNetwork::Create(options);
  ASSERT_TRUE(net.ok());
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> started{0};
  int delivered = 0;
  {
    Reactor reactor(**net);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(Defer(
                      reactor,
                      [&] {
                        ++started;
                        std::unique_lock<std::mutex> lock(mu);
                        cv.wait(lock, [&] { return open; });
                      },
                      [&] { ++delivered; })
                      .ok());
    }
  }
  // Workers hold two jobs; eight wait in the queue. Open the gate and
  // destroy the network at once: queued jobs are dropped, running ones
  // finish, and no `done` runs.
  {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
  }
  cv.notify_all();
  net->reset();
  EXPECT_EQ(delivered, 0);
  EXPECT_LE(started.load(), 10);
}

}  // namespace
}  // namespace ember
