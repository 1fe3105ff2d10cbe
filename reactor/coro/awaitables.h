// Awaitables on the reactor's clock: Sleep, Yield, and WithTimeout, a
// deadline around any other await.
//
//   EMBER_CO_RETURN_IF_ERROR(co_await ember::Sleep(absl::Seconds(1)));
//   absl::StatusOr<std::string> line =
//       co_await ember::WithTimeout(absl::Seconds(5), reader.ReadLine());
//
// Time comes only from the reactor's clock (its timers), so under the
// simulator a sleep costs no real time and replays exactly.
//
// Every awaitable here, and every one in this library, completes with an
// absl::Status (or StatusOr): kCancelled when its task is cancelled,
// kDeadlineExceeded when an enclosing WithTimeout's deadline passes, the
// operation's own error otherwise. Each needs to be awaited inside an
// ember::Task; anywhere else it does not compile.

#ifndef EMBER_REACTOR_CORO_AWAITABLES_H_
#define EMBER_REACTOR_CORO_AWAITABLES_H_

#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "reactor/coro/task.h"
#include "reactor/reactor.h"
#include "reactor/timer_queue.h"

namespace ember {

// `co_await Sleep(d)`: OK after `d` on the reactor's clock (a zero or
// negative `d` waits for a later turn). kResourceExhausted when the
// reactor's timer limit is reached (ReactorOptions::timers_max; a sleep is
// a user timer), kCancelled / kDeadlineExceeded when cancelled.
class [[nodiscard]] SleepAwaiter final : public coro_internal::Waiter {
 public:
  explicit SleepAwaiter(absl::Duration delay) : delay_(delay) {}
  SleepAwaiter(SleepAwaiter&&) = default;
  ~SleepAwaiter() { Stop(); }
  absl::Status await_resume() { return std::move(result_); }

 private:
  bool Start() override {
    absl::StatusOr<TimerId> id = reactor().AddTimer(delay_, [this] {
      timer_ = 0;
      Complete();
    });
    if (!id.ok()) {
      result_ = id.status();
      return false;
    }
    timer_ = *id;
    return true;
  }
  void Stop() override {
    if (timer_ != 0) {
      reactor().CancelTimer(timer_);
      timer_ = 0;
    }
  }
  void Fail(absl::Status status) override { result_ = std::move(status); }

  absl::Duration delay_;
  TimerId timer_ = 0;
  absl::Status result_;
};

inline SleepAwaiter Sleep(absl::Duration delay) { return SleepAwaiter(delay); }

// `co_await Yield()`: lets every other ready task and callback run, and
// continues on a later turn of the loop. OK, or the cancellation status.
class [[nodiscard]] YieldAwaiter final : public coro_internal::Waiter {
 public:
  YieldAwaiter() = default;
  YieldAwaiter(YieldAwaiter&&) = default;
  absl::Status await_resume() { return std::move(result_); }

 private:
  bool Start() override {
    Complete();
    return true;
  }
  void Stop() override {}
  void Fail(absl::Status status) override { result_ = std::move(status); }
  absl::Status result_;
};

inline YieldAwaiter Yield() { return YieldAwaiter(); }

namespace coro_internal {

template <typename T>
struct IsStatusLike : std::false_type {};
template <>
struct IsStatusLike<absl::Status> : std::true_type {};
template <typename T>
struct IsStatusLike<absl::StatusOr<T>> : std::true_type {};

template <typename A>
struct AwaitResult {
  using type = std::decay_t<decltype(std::declval<A&>().await_resume())>;
};
template <typename T>
struct AwaitResult<Task<T>> {
  using type = T;
};

// A cancellation scope with a deadline on the reactor's clock: pushed on
// the task's scope stack for its lifetime; when the timer fires, the scope
// is cancelled with kDeadlineExceeded and the await in progress ends.
class DeadlineScope {
 public:
  DeadlineScope(Context* context, absl::Duration timeout)
      : context_(context), timeout_(timeout) {
    scope_.outer = context_->innermost;
    context_->innermost = &scope_;
    absl::StatusOr<TimerId> id =
        context_->reactor->AddTimer(timeout, [this] { Fire(); });
    if (!id.ok()) {
      scope_.status = id.status();
    } else {
      timer_ = *id;
    }
  }
  ~DeadlineScope() {
    if (timer_ != 0) context_->reactor->CancelTimer(timer_);
    EMBER_CHECK_MSG(context_->innermost == &scope_,
                    "cancellation scopes must nest");
    context_->innermost = scope_.outer;
  }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  void Fire() {
    timer_ = 0;
    scope_.status = absl::DeadlineExceededError(absl::StrCat(
        "deadline of ", absl::FormatDuration(timeout_), " passed"));
    // The chain is suspended inside this scope, if it is suspended at all.
    if (context_->waiting != nullptr) {
      context_->waiting->Cancel(context_->CancelStatus());
    }
  }

  Context* context_;
  absl::Duration timeout_;
  CancelScope scope_;
  TimerId timer_ = 0;
};

}  // namespace coro_internal

// `co_await WithTimeout(d, awaitable)`: awaits `awaitable` (any awaitable
// of this library, or a Task whose result is a Status or StatusOr) and
// gives its result, or kDeadlineExceeded if `d` passes first. Inside a
// task awaited this way, every await after the deadline also completes
// with kDeadlineExceeded, so the task winds down. A cancellation of the
// enclosing task wins over the deadline (kCancelled). The timer counts
// toward the reactor's timers_max; at the limit the await completes with
// kResourceExhausted.
template <typename A>
  requires coro_internal::IsStatusLike<
      typename coro_internal::AwaitResult<std::decay_t<A>>::type>::value
Task<typename coro_internal::AwaitResult<std::decay_t<A>>::type> WithTimeout(
    absl::Duration timeout, A awaitable) {
  coro_internal::Context* context = co_await coro_internal::ThisContext();
  coro_internal::DeadlineScope scope(context, timeout);
  co_return co_await std::move(awaitable);
}

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_AWAITABLES_H_
