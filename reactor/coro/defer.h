// Defer: blocking work off the loop, its result back on the loop
// (EventMachine's EM.defer).
//
//   // Callbacks:
//   ember::Defer(reactor, [] { HashPassword(...); }, [] { /* on the loop */ });
//   // In a task:
//   absl::StatusOr<std::string> digest =
//       co_await ember::DeferWork([data] { return Sha256(data); });
//
// Where the work runs is the backend's decision (io::Network::Offload), so
// this code is the same on both: on epoll, a bounded pool of worker threads
// (EpollNetwork::Options::offload_threads, offload_jobs_max); under the
// simulator, on the loop's thread at a simulated later time, so programs
// that defer work still replay exactly from their seed.
//
// The work runs on another thread on the real backend: it must not touch
// the reactor, connections or anything else the loop uses. It gets what it
// needs by value and returns its result; the result reaches the task (or
// `done`) on the loop's thread.
//
// Limits and errors: when the backend's job limit is reached, Defer returns
// (and the await completes with) kResourceExhausted and the work never
// runs. A cancelled or destroyed task stops waiting at once; work already
// handed to a worker still runs to its end, and its result is dropped.
//
// Stopping: the reactor's Run returning does not wait for deferred work;
// results arrive from the network's next Poll (the next Run). Destroying
// the network drops jobs not yet started, waits for the ones running and
// drops their results. The callback form's `done` may run after the
// reactor is destroyed if the network is polled again: keep what it uses
// alive, or use the awaitable, which is safe.

#ifndef EMBER_REACTOR_CORO_DEFER_H_
#define EMBER_REACTOR_CORO_DEFER_H_

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reactor/coro/task.h"
#include "reactor/reactor.h"

namespace ember {

namespace coro_internal {
template <typename T>
inline constexpr bool kIsStatusOr = false;
template <typename T>
inline constexpr bool kIsStatusOr<absl::StatusOr<T>> = true;
}  // namespace coro_internal

// Runs `work` off the loop, then `done` on the loop's thread. OK, or
// kResourceExhausted (then neither runs).
inline absl::Status Defer(Reactor& reactor, absl::AnyInvocable<void()> work,
                          absl::AnyInvocable<void()> done) {
  return reactor.network().Offload(std::move(work), std::move(done));
}

// `co_await DeferWork(f)`: runs `f()` off the loop; gives StatusOr<R> for a
// result type R (a Status for void; a Status or StatusOr result is passed
// through as is).
template <typename F>
class [[nodiscard]] DeferAwaiter final : public coro_internal::Waiter {
 public:
  using R = std::invoke_result_t<F&>;
  using Result = std::conditional_t<
      std::is_void_v<R>, absl::Status,
      std::conditional_t<std::is_same_v<R, absl::Status>, absl::Status,
                         std::conditional_t<coro_internal::kIsStatusOr<R>,
                                            R, absl::StatusOr<R>>>>;

  explicit DeferAwaiter(F work) : work_(std::move(work)) {}
  DeferAwaiter(DeferAwaiter&& other)
      : Waiter(std::move(other)), work_(std::move(other.work_)) {}
  ~DeferAwaiter() { Stop(); }
  Result await_resume() { return std::move(*result_); }

 private:
  // Owned by the job's `done` half. The worker fills `value` (the pool
  // hands the job back under its lock before `done` runs, which orders the
  // two); everything else is touched on the loop's thread only.
  struct Slot {
    DeferAwaiter* awaiter = nullptr;
    std::optional<Result> value;
    ~Slot() {
      if (awaiter != nullptr) awaiter->slot_ = nullptr;
    }
  };

  bool Start() override {
    auto slot = std::make_unique<Slot>();
    Slot* raw = slot.get();
    raw->awaiter = this;
    slot_ = raw;
    absl::Status status = reactor().network().Offload(
        [raw, work = std::move(work_)]() mutable {
          if constexpr (std::is_void_v<R>) {
            work();
            raw->value.emplace(absl::OkStatus());
          } else {
            raw->value.emplace(work());
          }
        },
        [slot = std::move(slot)]() {
          DeferAwaiter* awaiter = std::exchange(slot->awaiter, nullptr);
          if (awaiter == nullptr) return;  // The task stopped waiting.
          awaiter->slot_ = nullptr;
          awaiter->result_ = std::move(slot->value);
          awaiter->Complete();
        });
    if (!status.ok()) {
      result_.emplace(std::move(status));
      return false;
    }
    return true;
  }
  void Stop() override {
    if (slot_ != nullptr) {
      slot_->awaiter = nullptr;
      slot_ = nullptr;
    }
  }
  void Fail(absl::Status status) override { result_.emplace(std::move(status)); }

  F work_;
  Slot* slot_ = nullptr;
  std::optional<Result> result_;
};

template <typename F>
DeferAwaiter<std::decay_t<F>> DeferWork(F&& work) {
  return DeferAwaiter<std::decay_t<F>>(std::forward<F>(work));
}

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_DEFER_H_
