// The reactor's timers: one-shot and periodic callbacks ordered by deadline.
//
// A binary min-heap keyed by (deadline, sequence number), so timers with equal
// deadlines fire in the order they were added (the determinism contract, rule
// 5). Cancelling is O(1): the entry leaves the live table at once and its heap
// slot is skipped when it surfaces; the heap is rebuilt when cancelled slots
// outnumber live ones, so churn cannot grow it without bound.
//
// Not thread-safe: the reactor owns it and uses it from its own thread.

#ifndef EMBER_REACTOR_TIMER_QUEUE_H_
#define EMBER_REACTOR_TIMER_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace ember {

// Identifies a timer; 0 is never a valid id.
using TimerId = uint64_t;

class TimerQueue {
 public:
  using Callback = absl::AnyInvocable<void()>;

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // User timers count toward `user_count()` (the reactor limits them);
  // internal ones (connection timeouts) do not.
  enum class Origin : uint8_t { kUser, kInternal };

  // Adds a timer due at `deadline`. A non-zero `period` re-arms it after each
  // run at (the time it ran + period) until cancelled. `owner` is handed to
  // the runner with the callback (the reactor: the connection a timer
  // belongs to; 0 for none).
  TimerId Add(absl::Time deadline, absl::Duration period, Origin origin,
              Callback callback, uint64_t owner = 0);

  // Cancels a pending timer, also from inside its own callback (a periodic
  // timer then stops re-arming). Returns false when `id` is not pending.
  bool Cancel(TimerId id);

  bool IsPending(TimerId id) const { return live_.contains(id); }

  // The earliest deadline of a live timer, or absl::InfiniteFuture().
  absl::Time NextDeadline() {
    DropStaleTop();
    return heap_.empty() ? absl::InfiniteFuture() : heap_.front().deadline;
  }

  // Runs every timer due at or before `now`, in (deadline, order added)
  // order. Timers added by a callback with a deadline <= now run in a later
  // call, never in this one, so a zero-delay timer cannot starve the loop.
  // `run(id, callback)`, or `run(id, callback, owner)`, is called for each
  // due timer; it must not let an exception escape. Returns how many ran.
  template <typename Runner>
  size_t RunDue(absl::Time now, Runner&& run);

  // Removes every timer.
  void Clear();

  size_t size() const { return live_.size(); }
  size_t user_count() const { return user_count_; }

 private:
  struct HeapEntry {
    absl::Time deadline;
    uint64_t seq;
    TimerId id;
  };
  struct Live {
    Callback callback;
    absl::Duration period;
    uint64_t seq;  // Matches the one heap entry that is current.
    uint64_t owner;
    Origin origin;
  };
  static bool Later(const HeapEntry& a, const HeapEntry& b) {
    if (a.deadline != b.deadline) return a.deadline > b.deadline;
    return a.seq > b.seq;
  }
  void Push(absl::Time deadline, TimerId id, uint64_t seq);
  void PopTop();
  // Pops cancelled entries off the top until a live one (or none) is there.
  // Every turn asks for the top twice (RunDue, NextDeadline) and it rarely
  // changes in between, so a top found live is remembered until it might
  // not be.
  void DropStaleTop() {
    if (!top_live_ && !heap_.empty()) FindLiveTop();
  }
  void FindLiveTop();
  void MaybeCompact();

  std::vector<HeapEntry> heap_;
  absl::flat_hash_map<TimerId, Live> live_;  // tidy: allow looked up only, never iterated
  TimerId next_id_ = 1;
  uint64_t next_seq_ = 1;
  size_t user_count_ = 0;
  // heap_.front() is known to be a live timer's current entry. Set by
  // FindLiveTop and by a Push that becomes the top; cleared by whatever may
  // make the top stale (PopTop, cancelling the top, rebuilding the heap).
  bool top_live_ = false;
};

template <typename Runner>
size_t TimerQueue::RunDue(absl::Time now, Runner&& run_timer) {
  auto run = [&run_timer](TimerId id, Callback& callback, uint64_t owner) {
    if constexpr (std::is_invocable_v<Runner&, TimerId, Callback&, uint64_t>) {
      run_timer(id, callback, owner);
    } else {
      run_timer(id, callback);
    }
  };
  size_t ran = 0;
  // Only timers added before this call may run in it.
  const uint64_t seq_limit = next_seq_;
  for (;;) {
    DropStaleTop();
    if (heap_.empty()) break;
    const HeapEntry top = heap_.front();
    if (top.deadline > now || top.seq >= seq_limit) break;
    PopTop();
    auto it = live_.find(top.id);
    Live& live = it->second;
    if (live.period > absl::ZeroDuration()) {
      // Re-arm first so a throwing or self-cancelling callback is handled by
      // the same path as any other cancel.
      Callback callback = std::move(live.callback);
      const uint64_t seq = next_seq_++;
      live.seq = seq;
      Push(now + live.period, top.id, seq);
      ++ran;
      struct Restore {
        TimerQueue* q;
        TimerId id;
        Callback* cb;
        ~Restore() {
          auto again = q->live_.find(id);
          if (again != q->live_.end()) again->second.callback = std::move(*cb);
        }
      } restore{this, top.id, &callback};
      run(top.id, callback, live.owner);
    } else {
      Callback callback = std::move(live.callback);
      const uint64_t owner = live.owner;
      if (live.origin == Origin::kUser) --user_count_;
      live_.erase(it);
      ++ran;
      run(top.id, callback, owner);
    }
  }
  return ran;
}

}  // namespace ember

#endif  // EMBER_REACTOR_TIMER_QUEUE_H_
