// Queue<T>: a bounded FIFO between tasks and callbacks on one reactor
// (EventMachine's EM::Queue, with a limit and backpressure).
//
//   ember::Queue<std::string> jobs(/*capacity=*/100);
//   jobs.Push("a").IgnoreError();                    // from anywhere on the loop
//   absl::StatusOr<std::string> job = co_await jobs.Pop();     // in a task
//   EMBER_CO_RETURN_IF_ERROR(co_await jobs.PushWait("b"));     // waits if full
//
// Items leave in the order they came; tasks waiting to pop get them in the
// order they started waiting, and tasks waiting to push put theirs in, in
// order, as room appears. A waiting task is resumed from the loop, never
// inside the Push or Pop that served it.
//
// Limit: at most `capacity` items held. `Push` on a full queue fails with
// kResourceExhausted and leaves the item with the caller (it is moved only
// on success); `PushWait` waits instead. After `Close`, pushes fail with
// kFailedPrecondition, the items held can still be popped, and then Pop
// gives kOutOfRange ("closed"). Destroying the queue ends every waiting
// task's await with kCancelled.
//
// Not thread-safe: use on the reactor's thread (from another thread, hop
// there with Reactor::NextTick first).

#ifndef EMBER_REACTOR_CORO_QUEUE_H_
#define EMBER_REACTOR_CORO_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "reactor/coro/task.h"

namespace ember {

template <typename T>
class Queue {
 public:
  class PopAwaiter;
  class PushAwaiter;

  // Precondition: capacity >= 1.
  explicit Queue(size_t capacity) : capacity_(capacity) {
    EMBER_CHECK_MSG(capacity >= 1, "a Queue needs a capacity of at least 1");
  }
  ~Queue() {
    while (!poppers_.empty()) {
      PopAwaiter* p = poppers_.front();
      p->Cancel(absl::CancelledError("the queue was destroyed"));
      p->queue_ = nullptr;
    }
    while (!pushers_.empty()) {
      PushAwaiter* p = pushers_.front();
      p->Cancel(absl::CancelledError("the queue was destroyed"));
      p->queue_ = nullptr;
    }
  }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Adds `item` (moved from only on success).
  absl::Status Push(T&& item) {
    if (closed_) return absl::FailedPreconditionError("the queue is closed");
    if (!poppers_.empty()) {
      Hand(std::move(item));
      return absl::OkStatus();
    }
    if (items_.size() >= capacity_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the queue holds ", items_.size(), " items, its capacity"));
    }
    items_.push_back(std::move(item));
    return absl::OkStatus();
  }
  absl::Status Push(const T& item) {
    T copy = item;
    return Push(std::move(copy));
  }

  // `co_await Pop()`: StatusOr<T>, waiting while the queue is empty.
  PopAwaiter Pop() { return PopAwaiter(this); }
  // `co_await PushWait(item)`: Status, waiting while the queue is full.
  PushAwaiter PushWait(T item) { return PushAwaiter(this, std::move(item)); }

  // The first item, if any, without waiting.
  std::optional<T> TryPop() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    AdmitPusher();
    return item;
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    while (!pushers_.empty()) {
      pushers_.front()->Finish(
          absl::FailedPreconditionError("the queue was closed"));
    }
    if (items_.empty()) {
      while (!poppers_.empty()) {
        poppers_.front()->Finish(absl::OutOfRangeError("the queue is closed"));
      }
    }
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t capacity() const { return capacity_; }
  bool closed() const { return closed_; }
  size_t waiting_to_pop() const { return poppers_.size(); }
  size_t waiting_to_push() const { return pushers_.size(); }

  class [[nodiscard]] PopAwaiter final : public coro_internal::Waiter {
   public:
    explicit PopAwaiter(Queue* queue) : queue_(queue) {}
    PopAwaiter(PopAwaiter&& other)
        : Waiter(std::move(other)), queue_(other.queue_) {}
    ~PopAwaiter() { Stop(); }
    absl::StatusOr<T> await_resume() { return std::move(result_); }

   private:
    friend class Queue;
    bool Start() override {
      if (queue_ == nullptr) {
        result_ = absl::FailedPreconditionError("pop from a destroyed queue");
        return false;
      }
      if (std::optional<T> item = queue_->TryPop()) {
        result_ = std::move(*item);
        return false;
      }
      if (queue_->closed_) {
        result_ = absl::OutOfRangeError("the queue is closed");
        return false;
      }
      queue_->poppers_.push_back(this);
      return true;
    }
    void Stop() override {
      if (queue_ == nullptr) return;
      auto& list = queue_->poppers_;
      list.erase(std::remove(list.begin(), list.end(), this), list.end());
    }
    void Fail(absl::Status status) override { result_ = std::move(status); }
    void Finish(absl::StatusOr<T> result) {
      Stop();
      result_ = std::move(result);
      Complete();
    }

    Queue* queue_;
    absl::StatusOr<T> result_ = absl::UnknownError("not popped");
  };

  class [[nodiscard]] PushAwaiter final : public coro_internal::Waiter {
   public:
    PushAwaiter(Queue* queue, T item)
        : queue_(queue), item_(std::move(item)) {}
    PushAwaiter(PushAwaiter&& other)
        : Waiter(std::move(other)),
          queue_(other.queue_),
          item_(std::move(other.item_)) {}
    ~PushAwaiter() { Stop(); }
    absl::Status await_resume() { return std::move(result_); }

   private:
    friend class Queue;
    bool Start() override {
      if (queue_ == nullptr) {
        result_ = absl::FailedPreconditionError("push to a destroyed queue");
        return false;
      }
      result_ = queue_->Push(std::move(*item_));
      if (result_.code() != absl::StatusCode::kResourceExhausted) {
        return false;
      }
      queue_->pushers_.push_back(this);
      return true;
    }
    void Stop() override {
      if (queue_ == nullptr) return;
      auto& list = queue_->pushers_;
      list.erase(std::remove(list.begin(), list.end(), this), list.end());
    }
    void Fail(absl::Status status) override { result_ = std::move(status); }
    void Finish(absl::Status status) {
      Stop();
      result_ = std::move(status);
      Complete();
    }

    Queue* queue_;
    std::optional<T> item_;
    absl::Status result_;
  };

 private:
  // Gives `item` to the longest-waiting popper.
  void Hand(T&& item) {
    poppers_.front()->Finish(std::move(item));
  }
  // Room appeared: the longest-waiting pusher puts its item in.
  void AdmitPusher() {
    if (pushers_.empty() || items_.size() >= capacity_) return;
    PushAwaiter* pusher = pushers_.front();
    items_.push_back(std::move(*pusher->item_));
    pusher->Finish(absl::OkStatus());
  }

  const size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  std::deque<PopAwaiter*> poppers_;
  std::deque<PushAwaiter*> pushers_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_QUEUE_H_
