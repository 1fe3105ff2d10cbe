#include "reactor/timer_queue.h"

#include <algorithm>
#include <utility>

#include "io/check.h"

namespace ember {

TimerId TimerQueue::Add(absl::Time deadline, absl::Duration period,
                        Origin origin, Callback callback, uint64_t owner) {
  EMBER_CHECK(period >= absl::ZeroDuration());
  const TimerId id = next_id_++;
  const uint64_t seq = next_seq_++;
  live_.emplace(id, Live{std::move(callback), period, seq, owner, origin});
  if (origin == Origin::kUser) ++user_count_;
  Push(deadline, id, seq);
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  auto it = live_.find(id);
  if (it == live_.end()) return false;
  if (it->second.origin == Origin::kUser) --user_count_;
  live_.erase(it);
  if (top_live_ && heap_.front().id == id) top_live_ = false;
  MaybeCompact();
  return true;
}

void TimerQueue::Clear() {
  heap_.clear();
  live_.clear();
  user_count_ = 0;
  top_live_ = false;
}

void TimerQueue::Push(absl::Time deadline, TimerId id, uint64_t seq) {
  heap_.push_back(HeapEntry{deadline, seq, id});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  // A new entry is its timer's current one; any other top is unchanged.
  if (heap_.front().seq == seq) top_live_ = true;
}

void TimerQueue::PopTop() {
  std::pop_heap(heap_.begin(), heap_.end(), Later);
  heap_.pop_back();
  top_live_ = false;
}

void TimerQueue::FindLiveTop() {
  while (!heap_.empty()) {
    const HeapEntry& top = heap_.front();
    auto it = live_.find(top.id);
    if (it != live_.end() && it->second.seq == top.seq) {
      top_live_ = true;
      return;
    }
    PopTop();
  }
}

void TimerQueue::MaybeCompact() {
  // Cancelled entries stay in the heap until they surface; rebuild once they
  // are the majority so memory stays proportional to live timers.
  if (heap_.size() <= 2 * live_.size() + 64) return;
  std::vector<HeapEntry> kept;
  kept.reserve(live_.size());
  for (const HeapEntry& e : heap_) {
    auto it = live_.find(e.id);
    if (it != live_.end() && it->second.seq == e.seq) kept.push_back(e);
  }
  std::make_heap(kept.begin(), kept.end(), Later);
  heap_ = std::move(kept);
  top_live_ = false;
}

}  // namespace ember
