// Goal: tasks run on the reactor as documented in reactor/coro/task.h and
// task_group.h: lazily, resumed only from the loop, in a fixed order; with
// results, errors and cancellation as statuses; destroyed without leaks or
// later resumes when their owner goes; and misuse refused at compile time or
// with a clear message. Everything runs over the simulator, so time is
// virtual and the tests are deterministic.

#include <coroutine>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "reactor/coro/awaitables.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

// Runs the loop until `done()` or `limit` of virtual time passes.
template <typename F>
bool RunUntil(Reactor& reactor, F done,
              absl::Duration limit = absl::Hours(1)) {
  const absl::Time end = reactor.Now() + limit;
  while (!done()) {
    if (reactor.Now() >= end) return false;
    absl::Status status = reactor.RunOnce(end);
    if (!status.ok()) return false;
  }
  return true;
}

class TaskTest : public ::testing::Test {
 protected:
  sim::SimNetwork net_;
  Reactor reactor_{net_};
};

Task<absl::Status> SleepThrice(std::vector<absl::Time>* woke, Reactor* r) {
  for (int i = 0; i < 3; ++i) {
    EMBER_CO_RETURN_IF_ERROR(co_await Sleep(absl::Seconds(1)));
    woke->push_back(r->Now());
  }
  co_return absl::OkStatus();
}

TEST_F(TaskTest, SleepsOnTheReactorClockAndReportsDone) {
  TaskGroup group(reactor_);
  std::vector<absl::Time> woke;
  std::optional<absl::Status> done;
  const absl::Time start = reactor_.Now();
  ASSERT_TRUE(group
                  .Spawn(SleepThrice(&woke, &reactor_),
                         [&](absl::Status s) { done = s; })
                  .ok());
  // Lazy: nothing ran inside Spawn.
  EXPECT_TRUE(woke.empty());
  EXPECT_EQ(group.size(), 1u);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return done.has_value(); }));
  EXPECT_TRUE(done->ok()) << *done;
  ASSERT_EQ(woke.size(), 3u);
  EXPECT_EQ(woke[0] - start, absl::Seconds(1));
  EXPECT_EQ(woke[2] - start, absl::Seconds(3));
  EXPECT_EQ(group.size(), 0u);
  EXPECT_EQ(reactor_.TimerCount(), 0u);
  EXPECT_EQ(group.stats().finished, 1u);
  EXPECT_EQ(group.stats().suspensions, 3u);
}

Task<int> Twice(int x) {
  co_await Yield();
  co_return 2 * x;
}

Task<absl::StatusOr<int>> SumOfTwice(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await Twice(i);
  co_return sum;
}

TEST_F(TaskTest, AwaitedTasksGiveTheirResults) {
  TaskGroup group(reactor_);
  std::optional<absl::StatusOr<int>> result;
  auto outer = [&]() -> Task<absl::Status> {
    result = co_await SumOfTwice(10);
    co_return absl::OkStatus();
  };
  ASSERT_TRUE(group.Spawn(outer()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok());
  EXPECT_EQ(**result, 90);
}

Task<int> Immediate(int x) { co_return x; }

TEST_F(TaskTest, AMillionSynchronousChildAwaitsDoNotGrowTheStack) {
  // Each child completes without suspending; symmetric transfer must hand
  // control back without nesting a frame per iteration.
  TaskGroup group(reactor_);
  int64_t total = -1;
  auto loop = [&]() -> Task<void> {
    int64_t sum = 0;
    for (int i = 0; i < 1000000; ++i) sum += co_await Immediate(1);
    total = sum;
  };
  ASSERT_TRUE(group.Spawn(loop()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return total >= 0; }));
  EXPECT_EQ(total, 1000000);
}

TEST_F(TaskTest, TasksReadyInOneTurnResumeInTheOrderTheyBecameReady) {
  TaskGroup group(reactor_);
  std::vector<int> order;
  auto step = [&](int who, absl::Duration d) -> Task<void> {
    (void)co_await Sleep(d);
    order.push_back(who);
    (void)co_await Yield();
    order.push_back(who + 10);
  };
  // Equal deadlines: timers fire in the order added, tasks resume so too.
  ASSERT_TRUE(group.Spawn(step(1, absl::Seconds(1))).ok());
  ASSERT_TRUE(group.Spawn(step(2, absl::Seconds(1))).ok());
  ASSERT_TRUE(group.Spawn(step(3, absl::Milliseconds(500))).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  EXPECT_EQ(order, (std::vector<int>{3, 13, 1, 2, 11, 12}));
}

TEST_F(TaskTest, WithTimeoutEndsALongAwaitWithDeadlineExceeded) {
  TaskGroup group(reactor_);
  std::optional<absl::Status> slept;
  std::optional<absl::Status> short_sleep;
  absl::Time woke;
  auto task = [&]() -> Task<void> {
    slept = co_await WithTimeout(absl::Seconds(2), Sleep(absl::Hours(1)));
    woke = reactor_.Now();
    short_sleep = co_await WithTimeout(absl::Seconds(2), Sleep(absl::Seconds(1)));
  };
  const absl::Time start = reactor_.Now();
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  ASSERT_TRUE(slept.has_value());
  EXPECT_EQ(slept->code(), absl::StatusCode::kDeadlineExceeded) << *slept;
  EXPECT_EQ(woke - start, absl::Seconds(2));
  EXPECT_TRUE(short_sleep->ok()) << *short_sleep;
  // Neither the hour-long sleep's timer nor the deadlines' remain.
  EXPECT_EQ(reactor_.TimerCount(), 0u);
}

Task<absl::Status> SleepsThenSleeps(std::vector<absl::Status>* seen) {
  seen->push_back(co_await Sleep(absl::Hours(1)));
  seen->push_back(co_await Sleep(absl::Seconds(1)));
  co_return absl::OkStatus();
}

TEST_F(TaskTest, WithTimeoutAroundATaskCancelsEveryLaterAwaitInIt) {
  TaskGroup group(reactor_);
  std::vector<absl::Status> seen;
  std::optional<absl::Status> result;
  auto task = [&]() -> Task<void> {
    result = co_await WithTimeout(absl::Seconds(5), SleepsThenSleeps(&seen));
  };
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(seen[1].code(), absl::StatusCode::kDeadlineExceeded);
  // The inner task chose to return OK anyway; its result is passed on.
  EXPECT_TRUE(result->ok());
}

TEST_F(TaskTest, CancelEndsTheCurrentAndEveryLaterAwaitWithTheStatus) {
  TaskGroup group(reactor_);
  std::vector<absl::Status> seen;
  std::optional<absl::Status> done;
  auto id = group.Spawn(SleepsThenSleeps(&seen),
                        [&](absl::Status s) { done = s; });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return group.stats().suspensions == 1;
  }));
  const absl::Time cancelled_at = reactor_.Now();
  EXPECT_TRUE(group.Cancel(*id));
  // Delivered from the loop, not inside Cancel.
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return done.has_value(); }));
  EXPECT_EQ(reactor_.Now(), cancelled_at);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen[1].code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(done->ok());
  EXPECT_EQ(reactor_.TimerCount(), 0u);
  EXPECT_FALSE(group.Cancel(*id));  // Gone.
}

TEST_F(TaskTest, DestroyingTheGroupDestroysSuspendedTasksWithoutResuming) {
  int resumed = 0;
  int destroyed_locals = 0;
  struct Local {
    int* count;
    ~Local() { ++*count; }
  };
  bool done_called = false;
  {
    TaskGroup group(reactor_);
    auto task = [&]() -> Task<void> {
      Local local{&destroyed_locals};
      (void)co_await Sleep(absl::Seconds(10));
      ++resumed;
    };
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(group.Spawn(task(), [&](absl::Status) {
                         done_called = true;
                       }).ok());
    }
    ASSERT_TRUE(RunUntil(reactor_, [&] {
      return group.stats().suspensions == 5;
    }));
    EXPECT_EQ(reactor_.TimerCount(), 5u);
  }
  EXPECT_EQ(destroyed_locals, 5);
  EXPECT_EQ(reactor_.TimerCount(), 0u);
  // Time passes; nothing of theirs runs again.
  ASSERT_TRUE(reactor_.AddTimer(absl::Seconds(20), [] {}).ok());
  RunUntil(reactor_, [&] { return reactor_.TimerCount() == 0; });
  EXPECT_EQ(resumed, 0);
  EXPECT_FALSE(done_called);
}

TEST_F(TaskTest, ATaskDestroyedWhileReadyToResumeIsNeverResumed) {
  // Goal: the window between "what it waited for happened" and "the loop
  // resumes it" is safe: destroying the task there means no resume, and
  // handles on it do nothing.
  int resumed = 0;
  auto group = std::make_unique<TaskGroup>(reactor_);
  auto task = [&]() -> Task<void> {
    (void)co_await Sleep(absl::Seconds(1));
    ++resumed;
  };
  absl::StatusOr<TaskId> id = group->Spawn(task());
  ASSERT_TRUE(id.ok());
  TaskHandle handle = group->Handle(*id);
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return group->stats().suspensions == 1;
  }));
  EXPECT_TRUE(handle.alive());
  // Due with the sleep's timer and added after it, this runs right after
  // it: the task is ready, its resume queued for the next tick.
  bool destroyed = false;
  ASSERT_TRUE(reactor_.AddTimer(absl::Seconds(1), [&] {
    EXPECT_TRUE(group->Cancel(*id));  // Ready: nothing left to cancel.
    group.reset();
    destroyed = true;
  }).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return destroyed; }));
  RunUntil(reactor_, [] { return false; }, absl::Seconds(5));
  EXPECT_EQ(resumed, 0);
  EXPECT_FALSE(handle.alive());
  EXPECT_FALSE(handle.Cancel());
}

TEST_F(TaskTest, ReactorRunReturningDestroysTheTasksStillSuspended) {
  TaskGroup group(reactor_);
  int resumed = 0;
  auto task = [&]() -> Task<void> {
    (void)co_await Sleep(absl::Hours(1));
    ++resumed;
  };
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(reactor_.AddTimer(absl::Seconds(1), [&] { reactor_.Stop(); }).ok());
  ASSERT_TRUE(reactor_.Run().ok());
  EXPECT_EQ(group.size(), 0u);
  EXPECT_EQ(group.stats().destroyed, 1u);
  EXPECT_EQ(resumed, 0);
  // The group works for the next run.
  bool ran = false;
  auto again = [&]() -> Task<void> {
    (void)co_await Yield();
    ran = true;
    reactor_.Stop();
  };
  ASSERT_TRUE(group.Spawn(again()).ok());
  ASSERT_TRUE(reactor_.Run().ok());
  EXPECT_TRUE(ran);
}

TEST_F(TaskTest, SpawnRefusesOtherThreadsEmptyTasksAndTheLimit) {
  TaskGroupOptions options;
  options.tasks_max = 1;
  TaskGroup group(reactor_, options);
  EXPECT_EQ(group.Spawn(Task<void>()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto forever = []() -> Task<void> { (void)co_await Sleep(absl::Hours(1)); };
  ASSERT_TRUE(group.Spawn(forever()).ok());
  EXPECT_EQ(group.Spawn(forever()).status().code(),
            absl::StatusCode::kResourceExhausted);
  absl::Status from_thread;
  std::thread other([&] { from_thread = group.Spawn(forever()).status(); });
  other.join();
  EXPECT_EQ(from_thread.code(), absl::StatusCode::kFailedPrecondition)
      << from_thread;
  EXPECT_EQ(group.size(), 1u);
}

TEST_F(TaskTest, AnExceptionReachesTheReactorsErrorHandler) {
  TaskGroup group(reactor_);
  std::string caught;
  reactor_.SetErrorHandler([&](std::exception_ptr e, Connection*) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      caught = ex.what();
    }
  });
  auto child = []() -> Task<int> {
    co_await Yield();
    throw std::runtime_error("boom");
  };
  std::optional<absl::Status> done;
  auto parent = [&]() -> Task<absl::Status> {
    co_return absl::StatusOr<int>(co_await child()).status();
  };
  ASSERT_TRUE(group.Spawn(parent(), [&](absl::Status s) { done = s; }).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return !caught.empty(); }));
  EXPECT_EQ(caught, "boom");
  EXPECT_EQ(done->code(), absl::StatusCode::kInternal);
}

// Misuse refused at compile time: awaitables need a Task's promise, and a
// task is awaited only as an rvalue (once).
struct ForeignPromise {};
template <typename A, typename P>
concept AwaitableIn = requires(A& a, std::coroutine_handle<P> h) {
  a.await_suspend(h);
};
template <typename T>
concept AwaitableAsLvalue = requires(T& t) { t.operator co_await(); };
template <typename T>
concept AwaitableAsRvalue = requires(T& t) { std::move(t).operator co_await(); };
static_assert(!AwaitableIn<SleepAwaiter, ForeignPromise>);
static_assert(AwaitableIn<SleepAwaiter, coro_internal::Promise<void>>);
static_assert(!AwaitableIn<Task<int>::Awaiter, ForeignPromise>);
static_assert(AwaitableIn<Task<int>::Awaiter, coro_internal::Promise<void>>);
static_assert(!AwaitableAsLvalue<Task<int>>);
static_assert(AwaitableAsRvalue<Task<int>>);

TEST_F(TaskTest, AwaitingATaskTwiceStopsWithAClearMessage) {
  EXPECT_DEATH(
      {
        TaskGroup group(reactor_);
        auto twice = []() -> Task<void> {
          Task<int> t = Immediate(1);
          (void)co_await std::move(t);
          (void)co_await std::move(t);
        };
        (void)group.Spawn(twice());
        RunUntil(reactor_, [&] { return group.size() == 0; });
      },
      "a task can be awaited once");
}

TEST_F(TaskTest, AwaitingOneAwaitableObjectTwiceStopsWithAClearMessage) {
  EXPECT_DEATH(
      {
        TaskGroup group(reactor_);
        auto twice = []() -> Task<void> {
          SleepAwaiter nap = Sleep(absl::Milliseconds(1));
          (void)co_await nap;
          (void)co_await nap;
        };
        (void)group.Spawn(twice());
        RunUntil(reactor_, [&] { return group.size() == 0; });
      },
      "an awaitable was awaited twice");
}

TEST_F(TaskTest, DestroyingTheGroupFromItsOwnTaskStopsWithAClearMessage) {
  EXPECT_DEATH(
      {
        auto* group = new TaskGroup(reactor_);
        auto suicide = [group]() -> Task<void> {
          co_await Yield();
          delete group;
        };
        (void)group->Spawn(suicide());
        RunUntil(reactor_, [&] { return false; }, absl::Seconds(1));
      },
      "destroyed from inside one of its own");
}

}  // namespace
}  // namespace ember
