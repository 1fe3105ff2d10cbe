// Goal: EventMachine's concurrency helpers, on Ember's rules: Queue,
// Channel, Deferrable, ForEach and Map deliver in a fixed order, from the
// loop and never inside the call that caused them, refuse work at their
// limits with kResourceExhausted (keeping nothing), and end waiting tasks
// with a status when they go away. Over the simulator: deterministic.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "reactor/coro/awaitables.h"
#include "reactor/coro/channel.h"
#include "reactor/coro/deferrable.h"
#include "reactor/coro/iterator.h"
#include "reactor/coro/queue.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

template <typename F>
bool RunUntil(Reactor& reactor, F done,
              absl::Duration limit = absl::Hours(1)) {
  const absl::Time end = reactor.Now() + limit;
  while (!done()) {
    if (reactor.Now() >= end) return false;
    if (!reactor.RunOnce(end).ok()) return false;
  }
  return true;
}

class HelpersTest : public ::testing::Test {
 protected:
  sim::SimNetwork net_;
  Reactor reactor_{net_};
  TaskGroup group_{reactor_};
};

// ---- Queue ----

TEST_F(HelpersTest, QueueHandsItemsInOrderToPoppersInOrder) {
  Queue<int> queue(10);
  std::vector<std::pair<int, int>> got;  // (popper, item)
  auto popper = [&](int who) -> Task<void> {
    for (;;) {
      absl::StatusOr<int> item = co_await queue.Pop();
      if (!item.ok()) co_return;
      got.emplace_back(who, *item);
    }
  };
  ASSERT_TRUE(group_.Spawn(popper(1)).ok());
  ASSERT_TRUE(group_.Spawn(popper(2)).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return queue.waiting_to_pop() == 2; }));
  ASSERT_TRUE(queue.Push(10).ok());
  ASSERT_TRUE(queue.Push(20).ok());
  ASSERT_TRUE(queue.Push(30).ok());
  // Never inside Push.
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return got.size() == 3; }));
  // 10 and 20 went to the waiting poppers in the order they waited; 30 was
  // queued, and popper 1, resumed first, took it before popper 2 ran.
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{{1, 10}, {1, 30}, {2, 20}}));
  queue.Close();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.size() == 0; }));
}

TEST_F(HelpersTest, QueueRefusesAtCapacityKeepingTheItemAndPushWaitWaits) {
  Queue<std::string> queue(2);
  ASSERT_TRUE(queue.Push("a").ok());
  ASSERT_TRUE(queue.Push("b").ok());
  std::string c = "c";
  absl::Status full = queue.Push(std::move(c));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(c, "c");  // Not moved from.
  std::vector<std::string> order;
  std::optional<absl::Status> pushed;
  auto pusher = [&]() -> Task<void> { pushed = co_await queue.PushWait("c"); };
  ASSERT_TRUE(group_.Spawn(pusher()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return queue.waiting_to_push() == 1; }));
  EXPECT_FALSE(pushed.has_value());
  order.push_back(*queue.TryPop());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return pushed.has_value(); }));
  EXPECT_TRUE(pushed->ok());
  while (auto item = queue.TryPop()) order.push_back(*item);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(HelpersTest, QueueCloseDrainsThenOutOfRangeAndDestroyCancels) {
  auto queue = std::make_unique<Queue<int>>(4);
  ASSERT_TRUE(queue->Push(1).ok());
  queue->Close();
  EXPECT_EQ(queue->Push(2).code(), absl::StatusCode::kFailedPrecondition);
  std::vector<absl::StatusOr<int>> got;
  auto drain = [&]() -> Task<void> {
    got.push_back(co_await queue->Pop());
    got.push_back(co_await queue->Pop());
  };
  ASSERT_TRUE(group_.Spawn(drain()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.size() == 0; }));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(*got[0], 1);
  EXPECT_EQ(got[1].status().code(), absl::StatusCode::kOutOfRange);

  auto open = std::make_unique<Queue<int>>(4);
  std::optional<absl::Status> waited;
  auto waiter = [&]() -> Task<void> { waited = (co_await open->Pop()).status(); };
  ASSERT_TRUE(group_.Spawn(waiter()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return open->waiting_to_pop() == 1; }));
  open.reset();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return waited.has_value(); }));
  EXPECT_EQ(waited->code(), absl::StatusCode::kCancelled);
}

TEST_F(HelpersTest, ACancelledPopperTakesNothing) {
  Queue<int> queue(4);
  std::optional<absl::Status> first;
  std::optional<int> second;
  auto a = [&]() -> Task<void> { first = (co_await queue.Pop()).status(); };
  auto b = [&]() -> Task<void> {
    absl::StatusOr<int> item = co_await queue.Pop();
    if (item.ok()) second = *item;
  };
  absl::StatusOr<TaskId> id = group_.Spawn(a());
  ASSERT_TRUE(group_.Spawn(b()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return queue.waiting_to_pop() == 2; }));
  group_.Cancel(*id);
  ASSERT_TRUE(queue.Push(7).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.size() == 0; }));
  EXPECT_EQ(first->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(second, 7);
}

// ---- Channel ----

TEST_F(HelpersTest, ChannelDeliversFromTheLoopInOrderUntilUnsubscribe) {
  Channel<std::string> channel(reactor_);
  std::vector<std::string> a, b;
  auto ida = channel.Subscribe([&](const std::string& m) { a.push_back(m); });
  absl::StatusOr<Channel<std::string>::SubscriptionId> idb;
  idb = channel.Subscribe([&](const std::string& m) {
    b.push_back(m);
    if (m == "2") channel.Unsubscribe(*idb);  // Leaves from inside.
  });
  ASSERT_TRUE(ida.ok() && idb.ok());
  ASSERT_TRUE(channel.Push("1").ok());
  ASSERT_TRUE(channel.Push("2").ok());
  ASSERT_TRUE(channel.Push("3").ok());
  EXPECT_TRUE(a.empty());  // Not inside Push.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return a.size() == 3; }));
  EXPECT_EQ(a, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(b, (std::vector<std::string>{"1", "2"}));
  // A late subscriber gets only later messages; an unsubscribed one nothing
  // pushed before it left.
  ASSERT_TRUE(channel.Push("4").ok());
  std::vector<std::string> c;
  ASSERT_TRUE(channel.Subscribe([&](const std::string& m) { c.push_back(m); })
                  .ok());
  EXPECT_TRUE(channel.Unsubscribe(*ida));
  ASSERT_TRUE(channel.Push("5").ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return channel.pending() == 0; }));
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(c, (std::vector<std::string>{"5"}));
  EXPECT_EQ(channel.subscriber_count(), 1u);
}

TEST_F(HelpersTest, ChannelLimitsAndATaskConsumingThroughAQueue) {
  ChannelOptions options;
  options.subscribers_max = 2;
  options.pending_max = 3;
  Channel<int> channel(reactor_, options);
  Queue<int> mailbox(2);
  int dropped = 0;
  ASSERT_TRUE(channel.Subscribe([&](const int& m) {
    if (!mailbox.Push(m).ok()) ++dropped;
  }).ok());
  ASSERT_TRUE(channel.Subscribe([](const int&) {}).ok());
  EXPECT_EQ(channel.Subscribe([](const int&) {}).status().code(),
            absl::StatusCode::kResourceExhausted);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(channel.Push(i).ok());
  EXPECT_EQ(channel.Push(4).code(), absl::StatusCode::kResourceExhausted);
  std::vector<int> got;
  auto reader = [&]() -> Task<void> {
    for (int i = 0; i < 2; ++i) got.push_back(*co_await mailbox.Pop());
  };
  ASSERT_TRUE(RunUntil(reactor_, [&] { return channel.pending() == 0; }));
  // The mailbox held two; the third was refused and counted.
  EXPECT_EQ(dropped, 1);
  ASSERT_TRUE(group_.Spawn(reader()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.size() == 0; }));
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

// ---- Deferrable ----

TEST_F(HelpersTest, DeferrableRunsCallbacksOrErrbacksFromTheLoopOnce) {
  Deferrable<int> d(reactor_);
  std::vector<std::string> log;
  ASSERT_TRUE(d.Callback([&](const int& v) {
    log.push_back("cb" + std::to_string(v));
  }).ok());
  ASSERT_TRUE(d.Errback([&](const absl::Status&) { log.push_back("eb"); }).ok());
  std::optional<absl::StatusOr<int>> awaited;
  auto waiter = [&]() -> Task<void> { awaited = co_await d.Wait(); };
  ASSERT_TRUE(group_.Spawn(waiter()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.stats().suspensions == 1; }));
  EXPECT_TRUE(d.Succeed(5));
  EXPECT_FALSE(d.Succeed(6));
  EXPECT_FALSE(d.Fail(absl::InternalError("late")));
  EXPECT_TRUE(log.empty());  // Not inside Succeed.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return awaited.has_value(); }));
  EXPECT_EQ(**awaited, 5);
  EXPECT_EQ(log, (std::vector<std::string>{"cb5"}));
  // Added after completion: runs on a later turn, not at once.
  ASSERT_TRUE(d.Callback([&](const int& v) {
    log.push_back("late" + std::to_string(v));
  }).ok());
  EXPECT_EQ(log.size(), 1u);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return log.size() == 2; }));
  EXPECT_EQ(log[1], "late5");
}

TEST_F(HelpersTest, DeferrableTimeoutFailsWithDeadlineExceeded) {
  Deferrable<std::string> d(reactor_);
  std::optional<absl::Status> failed;
  ASSERT_TRUE(d.Errback([&](const absl::Status& s) { failed = s; }).ok());
  ASSERT_TRUE(d.Timeout(absl::Seconds(3)).ok());
  const absl::Time start = reactor_.Now();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return failed.has_value(); }));
  EXPECT_EQ(failed->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(reactor_.Now() - start, absl::Seconds(3));
  EXPECT_FALSE(d.Succeed("too late"));
  EXPECT_EQ(reactor_.TimerCount(), 0u);
}

TEST_F(HelpersTest, DeferrableLimitAndDestructionCancelWaiters) {
  auto d = std::make_unique<Deferrable<int>>(reactor_, /*callbacks_max=*/2);
  ASSERT_TRUE(d->Callback([](const int&) {}).ok());
  ASSERT_TRUE(d->Errback([](const absl::Status&) {}).ok());
  EXPECT_EQ(d->Callback([](const int&) {}).code(),
            absl::StatusCode::kResourceExhausted);
  std::optional<absl::Status> waited;
  auto waiter = [&]() -> Task<void> { waited = (co_await d->Wait()).status(); };
  ASSERT_TRUE(group_.Spawn(waiter()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group_.stats().suspensions == 1; }));
  d.reset();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return waited.has_value(); }));
  EXPECT_EQ(waited->code(), absl::StatusCode::kCancelled);
}

// ---- ForEach and Map ----

TEST_F(HelpersTest, MapRunsWithBoundedConcurrencyAndKeepsOrder) {
  int running = 0, most = 0;
  auto slow_square = [&](int x) -> Task<absl::StatusOr<int>> {
    ++running;
    most = std::max(most, running);
    // Later items finish sooner: order must still hold.
    (void)co_await Sleep(absl::Seconds(10 - x));
    --running;
    co_return x * x;
  };
  std::optional<absl::StatusOr<std::vector<int>>> result;
  auto task = [&]() -> Task<void> {
    // (A named vector: GCC 12 miscompiles a braced list inside co_await.)
    std::vector<int> items = {1, 2, 3, 4, 5, 6, 7};
    result = co_await Map<int>(std::move(items), 3, slow_square);
  };
  ASSERT_TRUE(group_.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ(**result, (std::vector<int>{1, 4, 9, 16, 25, 36, 49}));
  EXPECT_EQ(most, 3);
}

TEST_F(HelpersTest, ForEachStopsAtTheFirstErrorAndCancelsTheRest) {
  std::vector<int> started;
  std::vector<absl::Status> ended;
  auto work = [&](int x) -> Task<absl::Status> {
    started.push_back(x);
    if (x == 2) co_return absl::InvalidArgumentError("two is bad");
    absl::Status slept = co_await Sleep(absl::Seconds(5));
    ended.push_back(slept);
    co_return slept;
  };
  std::optional<absl::Status> result;
  auto task = [&]() -> Task<void> {
    std::vector<int> items = {1, 2, 3, 4, 5};
    result = co_await ForEach(std::move(items), 2, work);
  };
  ASSERT_TRUE(group_.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(started, (std::vector<int>{1, 2}));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].code(), absl::StatusCode::kCancelled);

  std::optional<absl::Status> zero;
  auto none = [&]() -> Task<void> {
    std::vector<int> items = {1};
    zero = co_await ForEach(std::move(items), 0, work);
  };
  ASSERT_TRUE(group_.Spawn(none()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return zero.has_value(); }));
  EXPECT_EQ(zero->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(started.size(), 2u);
}

TEST_F(HelpersTest, CancellingForEachDestroysTheRunningItems) {
  int finished_items = 0;
  auto work = [&](int) -> Task<absl::Status> {
    (void)co_await Sleep(absl::Hours(1));
    ++finished_items;
    co_return absl::OkStatus();
  };
  std::optional<absl::Status> result;
  auto task = [&]() -> Task<void> {
    std::vector<int> items = {1, 2, 3};
    result = co_await ForEach(std::move(items), 3, work);
  };
  absl::StatusOr<TaskId> id = group_.Spawn(task());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return reactor_.TimerCount() == 3; }));
  group_.Cancel(*id);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(finished_items, 0);
  EXPECT_EQ(reactor_.TimerCount(), 0u);
}

}  // namespace
}  // namespace ember
