// Task<T>: C++20 coroutines that run on a reactor.
//
// A function returning `ember::Task<T>` is a coroutine that can wait for
// reactor events with `co_await` and still runs on the reactor's one
// thread, so code that reads like blocking I/O stays evented:
//
//   ember::Task<absl::Status> Greet(ember::Stream stream) {
//     EMBER_CO_RETURN_IF_ERROR(co_await stream.Write("hello\n"));
//     absl::StatusOr<std::string> reply = co_await stream.Read();
//     if (!reply.ok()) co_return reply.status();
//     co_return absl::OkStatus();
//   }
//
// A task is lazy: nothing runs until it is spawned into a `TaskGroup` (the
// group owns it; see task_group.h) or awaited by another task
// (`co_await std::move(child)`), which runs it inside the awaiting task and
// resumes the awaiter with its result. Every task therefore runs under one
// root task of one group on one reactor, and its awaitables find the reactor
// through that root (its context), so `co_await Sleep(d)` needs no reactor
// argument.
//
// Rules the types enforce:
//   - Awaitables in this library work only inside an `ember::Task`: awaiting
//     one from any other coroutine type does not compile (their
//     `await_suspend` requires a Task promise).
//   - A task is awaited at most once. `co_await task` on an lvalue does not
//     compile (write `co_await std::move(task)`); awaiting a moved-from or
//     already awaited task stops the process with a message naming the
//     mistake (EMBER_CHECK), never undefined behaviour.
//   - Nobody holds a raw coroutine handle: a task is resumed only by its
//     group, from the loop, through the waiter it is suspended on, and a
//     destroyed task unregisters that waiter first, so a destroyed task can
//     never be resumed.
//
// Errors and cancellation are values: awaitables return `absl::Status` or
// `absl::StatusOr<T>`; no exceptions are needed. (A coroutine that throws
// anyway propagates the exception to the task awaiting it, and from a root
// task to the reactor's error handler.)
//
// Cancellation has two forms (see TaskGroup): a soft cancel (TaskGroup::
// Cancel, a deadline from WithTimeout) makes the await in progress, and
// every later one, complete at once with the cancellation status, so the
// coroutine finishes its own way; destroying the owner (the group, or the
// reactor's Run returning) destroys the coroutine frame where it is
// suspended, running its locals' destructors and no more of its code.
//
// Not thread-safe: tasks live on the reactor's thread.

#ifndef EMBER_REACTOR_CORO_TASK_H_
#define EMBER_REACTOR_CORO_TASK_H_

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/check.h"

namespace ember {

class Reactor;
class TaskGroup;
template <typename T = void>
class Task;

namespace coro_internal {

class Waiter;

// A region of a task's code that can be cancelled on its own: the root
// task's whole run, or one WithTimeout. Scopes nest as a stack per root.
struct CancelScope {
  CancelScope* outer = nullptr;
  absl::Status status;  // Not OK once the scope is cancelled.
};

// What one root task and every task it awaits share.
struct Context {
  TaskGroup* group = nullptr;
  Reactor* reactor = nullptr;
  uint64_t id = 0;
  CancelScope root;
  CancelScope* innermost = &root;
  // The waiter the chain is suspended on, if any, and the coroutine to
  // resume when it completes.
  Waiter* waiting = nullptr;
  std::coroutine_handle<> resume_point;
  bool ready = false;  // Queued in the group to be resumed.

  // The status every await in the current scope completes with: the
  // outermost cancelled scope's, or OK when none is cancelled.
  absl::Status CancelStatus() const {
    absl::Status found;
    for (const CancelScope* s = innermost; s != nullptr; s = s->outer) {
      if (!s->status.ok()) found = s->status;
    }
    return found;
  }
};

// Called by waiters and scopes; implemented by TaskGroup.
void MakeReady(Context* context);
void NoteSuspended(Context* context);

class PromiseBase {
 public:
  Context* context() const { return context_; }
  void set_context(Context* context) { context_ = context; }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& promise = h.promise();
      // Finished while its awaiter was still starting it: return there,
      // and the awaiter continues without suspending (see Task::Awaiter).
      if (promise.starting_ || !promise.continuation_) {
        return std::noop_coroutine();
      }
      return promise.continuation_;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() { exception_ = std::current_exception(); }
  void RethrowIfFailed() {
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
  }
  std::exception_ptr TakeException() {
    return std::exchange(exception_, nullptr);
  }

  void set_continuation(std::coroutine_handle<> c) { continuation_ = c; }
  void set_starting(bool starting) { starting_ = starting; }

 private:
  Context* context_ = nullptr;
  // True while Task::Awaiter runs the task's first steps inline.
  bool starting_ = false;
  std::coroutine_handle<> continuation_;
  std::exception_ptr exception_;
};

// True for the promise of an ember::Task: what every awaitable requires.
template <typename P>
concept TaskPromise = std::derived_from<P, PromiseBase>;

template <typename T>
class Promise : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <typename U>
    requires std::convertible_to<U&&, T>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  T TakeValue() {
    RethrowIfFailed();
    EMBER_CHECK_MSG(value_.has_value(), "a Task finished without a value");
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() {}
  void TakeValue() { RethrowIfFailed(); }
};

// The base of every leaf awaitable (a sleep, a read, a connect...): it
// registers with its source when the task suspends, and completes (with the
// result stored by the subclass) from the source's callback, from a
// cancellation, or from a deadline. Resumption always goes through the
// group, from the loop.
//
// Subclasses implement:
//   bool Start();            // Register with the source; return false when
//                            // the result is already there (no suspend).
//   void Stop();             // Unregister from the source (cancel; also
//                            // call it from the subclass destructor).
//   void Fail(absl::Status); // Store `status` as the result.
// and call Complete() once the source stored a result.
class Waiter {
 public:
  Waiter() = default;
  // Movable only before it is awaited (awaitables are built, then awaited).
  Waiter(Waiter&& other) noexcept : context_(nullptr) {
    EMBER_CHECK_MSG(other.context_ == nullptr,
                    "an awaitable cannot move while it is being awaited");
  }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  bool await_ready() const noexcept { return false; }

  template <TaskPromise P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    Context* context = handle.promise().context();
    EMBER_CHECK_MSG(context != nullptr,
                    "an ember awaitable was awaited in a Task that is not "
                    "running under a TaskGroup");
    EMBER_CHECK_MSG(context_ == nullptr, "an awaitable was awaited twice");
    absl::Status cancelled = context->CancelStatus();
    if (!cancelled.ok()) {
      Fail(std::move(cancelled));
      return false;
    }
    context_ = context;
    if (!Start()) {
      context_ = nullptr;
      return false;
    }
    context->waiting = this;
    context->resume_point = handle;
    NoteSuspended(context);
    return true;
  }

  // Ends the wait now with `status` (from a cancellation or a deadline).
  void Cancel(absl::Status status) {
    if (context_ == nullptr || completed_) return;
    Stop();
    Fail(std::move(status));
    Complete();
  }

  bool waiting() const { return context_ != nullptr && !completed_; }
  Reactor& reactor() const { return *context_->reactor; }

 protected:
  ~Waiter() {
    if (context_ != nullptr && context_->waiting == this) {
      context_->waiting = nullptr;
    }
  }
  virtual bool Start() = 0;
  virtual void Stop() = 0;
  virtual void Fail(absl::Status status) = 0;

  // The source stored a result: resume the task from the loop.
  void Complete() {
    if (context_ == nullptr || completed_) return;
    completed_ = true;
    MakeReady(context_);
  }
  Context* context() const { return context_; }

 private:
  Context* context_ = nullptr;
  bool completed_ = false;
};

// `co_await ThisContext()` gives the running task's context without
// suspending. For awaitables written as coroutines (WithTimeout).
struct ThisContext {
  bool await_ready() const noexcept { return false; }
  template <TaskPromise P>
  bool await_suspend(std::coroutine_handle<P> handle) noexcept {
    context_ = handle.promise().context();
    return false;
  }
  Context* await_resume() const noexcept { return context_; }
  Context* context_ = nullptr;
};

}  // namespace coro_internal

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = coro_internal::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;
  using value_type = T;

  Task() = default;
  explicit Task(Handle handle) : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // Destroys a task never started, or one finished.
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // False once moved from or awaited.
  bool valid() const { return static_cast<bool>(handle_); }

  // Awaiting runs the task inside the awaiting one (same root, same
  // cancellation scopes) and gives its result.
  class Awaiter {
   public:
    explicit Awaiter(Handle handle) : handle_(handle) {}
    Awaiter(Awaiter&& other) noexcept
        : handle_(std::exchange(other.handle_, {})) {}
    ~Awaiter() {
      if (handle_) handle_.destroy();
    }
    bool await_ready() const noexcept { return false; }
    // Runs the task inline until it finishes or first suspends. Finishing
    // inline continues the awaiter without suspending it, so a loop of
    // awaits that complete at once runs in constant stack (no reliance on
    // the compiler turning symmetric transfer into tail calls).
    template <coro_internal::TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> parent) {
      promise_type& promise = handle_.promise();
      promise.set_context(parent.promise().context());
      promise.set_continuation(parent);
      promise.set_starting(true);
      handle_.resume();
      promise.set_starting(false);
      return !handle_.done();
    }
    T await_resume() { return handle_.promise().TakeValue(); }

   private:
    Handle handle_;
  };

  Awaiter operator co_await() && {
    EMBER_CHECK_MSG(handle_,
                    "co_await of an empty ember::Task: a task can be awaited "
                    "once, and this one was moved from or already awaited");
    return Awaiter(std::exchange(handle_, {}));
  }

 private:
  friend class TaskGroup;
  Handle Release() { return std::exchange(handle_, {}); }

  Handle handle_;
};

namespace coro_internal {

template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}

inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

}  // namespace coro_internal

// Inside a Task: returns the status from the coroutine when it is not OK.
#define EMBER_CO_RETURN_IF_ERROR(expr)                                      \
  do {                                                                      \
    ::absl::Status ember_co_status_ = (expr);                               \
    if (ABSL_PREDICT_FALSE(!ember_co_status_.ok())) {                       \
      co_return ember_co_status_;                                           \
    }                                                                       \
  } while (false)

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_TASK_H_
