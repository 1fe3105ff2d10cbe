// Goal: the timer queue fires in (deadline, order added) order, cancels in
// O(1) also from inside a callback, re-arms periodic timers, never runs a
// timer added during RunDue in the same call, and keeps its heap bounded
// under cancel churn.

#include "reactor/timer_queue.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ember {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

size_t RunAll(TimerQueue& q, absl::Time now) {
  return q.RunDue(now, [](TimerId, TimerQueue::Callback& cb) { cb(); });
}

TEST(TimerQueueTest, EqualDeadlinesFireInOrderAdded) {
  TimerQueue q;
  std::string order;
  for (char c : std::string("abcdef")) {
    q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser,
          [&order, c] { order += c; });
  }
  q.Add(kT0 - absl::Seconds(1), absl::ZeroDuration(),
        TimerQueue::Origin::kUser, [&order] { order += '0'; });
  EXPECT_EQ(RunAll(q, kT0), 7u);
  EXPECT_EQ(order, "0abcdef");
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTest, NotDueTimersWait) {
  TimerQueue q;
  int fired = 0;
  q.Add(kT0 + absl::Seconds(5), absl::ZeroDuration(),
        TimerQueue::Origin::kUser, [&] { ++fired; });
  EXPECT_EQ(RunAll(q, kT0), 0u);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(5));
  EXPECT_EQ(RunAll(q, kT0 + absl::Seconds(5)), 1u);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(q.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerQueueTest, CancelFromOutsideAndInside) {
  TimerQueue q;
  int fired = 0;
  TimerId a = q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser,
                    [&] { ++fired; });
  TimerId b = 0;
  q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser,
        [&] { EXPECT_TRUE(q.Cancel(b)); });
  b = q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser,
            [&] { ADD_FAILURE() << "cancelled timer ran"; });
  EXPECT_TRUE(q.Cancel(a));
  EXPECT_FALSE(q.Cancel(a));
  RunAll(q, kT0);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(q.user_count(), 0u);
}

TEST(TimerQueueTest, PeriodicRearmsAndCancelsItself) {
  TimerQueue q;
  int fired = 0;
  TimerId id = 0;
  id = q.Add(kT0 + absl::Seconds(1), absl::Seconds(1),
             TimerQueue::Origin::kUser, [&] {
               if (++fired == 4) {
                 EXPECT_TRUE(q.Cancel(id));
               }
             });
  for (int s = 1; s <= 10; ++s) RunAll(q, kT0 + absl::Seconds(s));
  EXPECT_EQ(fired, 4);
  EXPECT_FALSE(q.IsPending(id));
  EXPECT_EQ(q.user_count(), 0u);
}

TEST(TimerQueueTest, TimerAddedDuringRunWaitsForNextCall) {
  TimerQueue q;
  int inner = 0;
  q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser, [&] {
    q.Add(kT0 - absl::Seconds(1), absl::ZeroDuration(),
          TimerQueue::Origin::kUser, [&] { ++inner; });
  });
  EXPECT_EQ(RunAll(q, kT0), 1u);
  EXPECT_EQ(inner, 0);
  EXPECT_EQ(RunAll(q, kT0), 1u);
  EXPECT_EQ(inner, 1);
}

TEST(TimerQueueTest, HugeDelayDoesNotOverflow) {
  TimerQueue q;
  const absl::Time far = kT0 + absl::Seconds(11948602000);
  q.Add(far, absl::ZeroDuration(), TimerQueue::Origin::kUser, [] {});
  EXPECT_EQ(q.NextDeadline(), far);
  EXPECT_EQ(RunAll(q, kT0), 0u);
  EXPECT_EQ(RunAll(q, far), 1u);
}

TEST(TimerQueueTest, OnlyUserTimersCount) {
  TimerQueue q;
  q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kInternal, [] {});
  TimerId u = q.Add(kT0, absl::ZeroDuration(), TimerQueue::Origin::kUser,
                    [] {});
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.user_count(), 1u);
  q.Cancel(u);
  EXPECT_EQ(q.user_count(), 0u);
}

TEST(TimerQueueTest, CancelChurnKeepsQueueConsistent) {
  TimerQueue q;
  std::vector<TimerId> ids;
  int fired = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 100; ++i) {
      ids.push_back(q.Add(kT0 + absl::Seconds(1000 + i), absl::ZeroDuration(),
                          TimerQueue::Origin::kInternal, [&] { ++fired; }));
    }
    for (TimerId id : ids) q.Cancel(id);
    ids.clear();
  }
  q.Add(kT0 + absl::Seconds(1), absl::ZeroDuration(),
        TimerQueue::Origin::kUser, [&] { ++fired; });
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(1));
  RunAll(q, kT0 + absl::Seconds(5000));
  EXPECT_EQ(fired, 1);
}

// The queue remembers a top it found live between calls (every turn asks
// for it twice). Against a plain model, under adds, cancels (the top ones
// most of all), periodic re-arms and runs: the next deadline, the size and
// the timers each run fires, in order, stay right after every step.
TEST(TimerQueueTest, NextDeadlineFollowsAModelUnderChurn) {
  struct ModelTimer {
    absl::Time deadline;
    uint64_t seq;
    absl::Duration period;
  };
  std::mt19937_64 random(20261201);
  auto below = [&random](uint64_t n) { return random() % n; };
  TimerQueue q;
  std::map<TimerId, ModelTimer> model;
  uint64_t seq = 0;
  absl::Time now = kT0;
  std::vector<TimerId> fired;
  // The model's first timer in (deadline, order added) order; not empty.
  auto model_top = [&model] {
    auto top = model.begin();
    for (auto it = model.begin(); it != model.end(); ++it) {
      if (std::pair(it->second.deadline, it->second.seq) <
          std::pair(top->second.deadline, top->second.seq)) {
        top = it;
      }
    }
    return top->first;
  };
  auto model_next = [&] {
    return model.empty() ? absl::InfiniteFuture()
                         : model.at(model_top()).deadline;
  };
  for (int step = 0; step < 20000; ++step) {
    const uint64_t op = below(10);
    if (op < 4 || model.empty()) {
      const absl::Time deadline = now + absl::Milliseconds(below(50));
      const absl::Duration period =
          below(4) == 0 ? absl::Milliseconds(1 + below(20))
                        : absl::ZeroDuration();
      const TimerId id = q.Add(deadline, period, TimerQueue::Origin::kUser, {});
      model[id] = ModelTimer{deadline, ++seq, period};
    } else if (op < 7) {
      // Cancel: the top timer half of the time, else any.
      TimerId id;
      if (below(2) == 0) {
        id = model_top();
      } else {
        auto it = model.begin();
        std::advance(it, below(model.size()));
        id = it->first;
      }
      EXPECT_TRUE(q.Cancel(id));
      model.erase(id);
    } else {
      now += absl::Milliseconds(below(30));
      std::vector<std::pair<std::pair<absl::Time, uint64_t>, TimerId>> due;
      for (const auto& [id, t] : model) {
        if (t.deadline <= now) due.push_back({{t.deadline, t.seq}, id});
      }
      std::sort(due.begin(), due.end());
      std::vector<TimerId> expected;
      for (const auto& d : due) {
        expected.push_back(d.second);
        ModelTimer& t = model[d.second];
        if (t.period > absl::ZeroDuration()) {
          t.deadline = now + t.period;
          t.seq = ++seq;
        } else {
          model.erase(d.second);
        }
      }
      fired.clear();
      q.RunDue(now, [&fired](TimerId id, TimerQueue::Callback&) {
        fired.push_back(id);
      });
      ASSERT_EQ(fired, expected) << "step " << step;
    }
    ASSERT_EQ(q.NextDeadline(), model_next()) << "step " << step;
    ASSERT_EQ(q.size(), model.size()) << "step " << step;
  }
}

}  // namespace
}  // namespace ember
