// Deferrable<T>: a result that arrives later, with callbacks, errbacks, a
// timeout, and `co_await` (EventMachine's EM::Deferrable).
//
//   ember::Deferrable<int> answer(reactor);
//   answer.Callback([](const int& v) { ... }).IgnoreError();
//   answer.Errback([](const absl::Status& s) { ... }).IgnoreError();
//   answer.Timeout(absl::Seconds(5)).IgnoreError();
//   ...
//   answer.Succeed(42);                  // or answer.Fail(status)
//   // In a task:
//   absl::StatusOr<int> v = co_await answer.Wait();
//
// It completes once: `Succeed` or `Fail` (or the timeout, which fails it
// with kDeadlineExceeded); later completions are refused (they return
// false). On completion the callbacks (on success) or the errbacks (on
// failure) run in the order added, and waiting tasks resume, all from the
// loop on a later turn, never inside Succeed or Fail. A callback added
// after completion runs on a later turn too (EventMachine runs it at
// once; here nothing runs inside the call that caused it).
//
// Limit: at most `callbacks_max` callbacks and errbacks together
// (kResourceExhausted beyond it). Destroying the deferrable drops the
// callbacks not yet run and ends waiting tasks' awaits with kCancelled. The
// reactor must outlive it. Not thread-safe.

#ifndef EMBER_REACTOR_CORO_DEFERRABLE_H_
#define EMBER_REACTOR_CORO_DEFERRABLE_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "reactor/coro/task.h"
#include "reactor/reactor.h"

namespace ember {

template <typename T>
class Deferrable {
 public:
  using OnSuccess = absl::AnyInvocable<void(const T&)>;
  using OnFailure = absl::AnyInvocable<void(const absl::Status&)>;
  class WaitAwaiter;

  explicit Deferrable(Reactor& reactor, size_t callbacks_max = 64)
      : reactor_(reactor),
        callbacks_max_(callbacks_max),
        alive_(std::make_shared<Deferrable*>(this)) {}
  ~Deferrable() {
    *alive_ = nullptr;
    CancelTimeout();
    while (!waiters_.empty()) {
      WaitAwaiter* w = waiters_.front();
      w->Cancel(absl::CancelledError("the deferrable was destroyed"));
      w->deferrable_ = nullptr;
    }
  }
  Deferrable(const Deferrable&) = delete;
  Deferrable& operator=(const Deferrable&) = delete;

  absl::Status Callback(OnSuccess callback) {
    return Add(Entry{std::move(callback)});
  }
  absl::Status Errback(OnFailure errback) {
    return Add(Entry{std::move(errback)});
  }

  // False when already completed. Fail with an OK status fails with
  // kUnknown instead (a failure needs a reason).
  bool Succeed(T value) { return Complete(absl::StatusOr<T>(std::move(value))); }
  bool Fail(absl::Status status) {
    if (status.ok()) status = absl::UnknownError("failed without a reason");
    return Complete(absl::StatusOr<T>(std::move(status)));
  }

  // Fails with kDeadlineExceeded after `timeout` unless completed first;
  // replaces an earlier timeout. kResourceExhausted at the reactor's timer
  // limit; kFailedPrecondition when already completed.
  absl::Status Timeout(absl::Duration timeout) {
    if (result_.has_value()) {
      return absl::FailedPreconditionError("the deferrable already completed");
    }
    CancelTimeout();
    absl::StatusOr<TimerId> id = reactor_.AddTimer(timeout, [this, timeout] {
      timer_ = 0;
      Fail(absl::DeadlineExceededError(absl::StrCat(
          "no result within ", absl::FormatDuration(timeout))));
    });
    if (!id.ok()) return id.status();
    timer_ = *id;
    return absl::OkStatus();
  }
  void CancelTimeout() {
    if (timer_ != 0) {
      reactor_.CancelTimer(timer_);
      timer_ = 0;
    }
  }

  bool completed() const { return result_.has_value(); }
  // The result once completed, else nullptr.
  const absl::StatusOr<T>* result() const {
    return result_.has_value() ? &*result_ : nullptr;
  }

  // `co_await Wait()`: a copy of the result, once completed.
  WaitAwaiter Wait() { return WaitAwaiter(this); }

  class [[nodiscard]] WaitAwaiter final : public coro_internal::Waiter {
   public:
    explicit WaitAwaiter(Deferrable* deferrable) : deferrable_(deferrable) {}
    WaitAwaiter(WaitAwaiter&& other)
        : Waiter(std::move(other)), deferrable_(other.deferrable_) {}
    ~WaitAwaiter() { Stop(); }
    absl::StatusOr<T> await_resume() { return std::move(result_); }

   private:
    friend class Deferrable;
    bool Start() override {
      if (deferrable_ == nullptr) {
        result_ = absl::FailedPreconditionError("the deferrable is gone");
        return false;
      }
      if (deferrable_->result_.has_value()) {
        result_ = *deferrable_->result_;
        return false;
      }
      deferrable_->waiters_.push_back(this);
      return true;
    }
    void Stop() override {
      if (deferrable_ == nullptr) return;
      auto& list = deferrable_->waiters_;
      list.erase(std::remove(list.begin(), list.end(), this), list.end());
    }
    void Fail(absl::Status status) override { result_ = std::move(status); }
    void Finish(const absl::StatusOr<T>& result) {
      Stop();
      result_ = result;
      Complete();
    }

    Deferrable* deferrable_;
    absl::StatusOr<T> result_ = absl::UnknownError("not completed");
  };

 private:
  using Entry = std::variant<OnSuccess, OnFailure>;

  absl::Status Add(Entry entry) {
    if (added_ >= callbacks_max_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the deferrable has ", added_, " callbacks, its limit"));
    }
    ++added_;
    entries_.push_back(std::move(entry));
    if (result_.has_value()) ScheduleRun();
    return absl::OkStatus();
  }

  bool Complete(absl::StatusOr<T> result) {
    if (result_.has_value()) return false;
    CancelTimeout();
    result_ = std::move(result);
    while (!waiters_.empty()) waiters_.front()->Finish(*result_);
    ScheduleRun();
    return true;
  }

  void ScheduleRun() {
    if (run_scheduled_) return;
    run_scheduled_ = true;
    std::weak_ptr<Deferrable*> weak = alive_;
    reactor_.NextTick([weak] {
      std::shared_ptr<Deferrable*> self = weak.lock();
      if (self != nullptr && *self != nullptr) (*self)->RunCallbacks();
    });
  }

  void RunCallbacks() {
    run_scheduled_ = false;
    std::weak_ptr<Deferrable*> weak = alive_;
    std::vector<Entry> entries;
    entries.swap(entries_);
    for (Entry& entry : entries) {
      if (result_->ok()) {
        if (auto* cb = std::get_if<OnSuccess>(&entry)) (*cb)(**result_);
      } else {
        if (auto* eb = std::get_if<OnFailure>(&entry)) (*eb)(result_->status());
      }
      if (weak.expired()) return;  // A callback destroyed the deferrable.
    }
  }

  Reactor& reactor_;
  const size_t callbacks_max_;
  size_t added_ = 0;
  std::vector<Entry> entries_;
  std::vector<WaitAwaiter*> waiters_;
  std::optional<absl::StatusOr<T>> result_;
  TimerId timer_ = 0;
  bool run_scheduled_ = false;
  std::shared_ptr<Deferrable*> alive_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_DEFERRABLE_H_
