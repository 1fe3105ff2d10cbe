// TaskGroup: the owner of root tasks, and the one place tasks are resumed.
//
// Every coroutine runs under a root task spawned into a group. The group
// owns the coroutine frames and resumes them, only from the reactor's loop
// (a next-tick callback), never from inside the call that completed what a
// task waited for. Tasks made ready in the same turn resume in the order
// they became ready; since the reactor dispatches events in a fixed order
// under the simulator, a coroutine program replays exactly from its seed.
// Each resume is recorded in the reactor's trace (TraceKind::kTaskResume, the
// task's id), so two runs that diverge are told apart at the first task
// resumed differently.
//
//   ember::TaskGroup group(reactor);
//   auto id = group.Spawn(Serve(std::move(stream)),
//                         [](absl::Status done) { ... });
//
// Lifetimes (structured: a task never outlives its owner):
//   - `Cancel(id)` / `CancelAll()` cancel softly: the await in progress and
//     every later one complete at once with kCancelled (or the status
//     given), from the loop, and the coroutine finishes its own way; its
//     `done` callback then runs with what it returned.
//   - Destroying the group destroys every task where it is suspended: the
//     locals' destructors run (a Stream closes its connection, a Sleep
//     cancels its timer), no more of the coroutine's code runs, and `done`
//     is not called.
//   - When the reactor's Run returns (Stop, GracefulShutdown), every task
//     still in the group is destroyed the same way, after the reactor has
//     closed its connections. A later Run starts from an empty group.
// The reactor must outlive the group.
//
// Misuse is refused: Spawn from another thread or of an empty task fails
// with kFailedPrecondition / kInvalidArgument (the task is not run);
// destroying a group from inside one of its own tasks stops the process
// with a message (EMBER_CHECK), since the task would destroy itself.
//
// Limit: at most `TaskGroupOptions::tasks_max` tasks at once; Spawn beyond
// it fails with kResourceExhausted and the task is destroyed unrun.

#ifndef EMBER_REACTOR_CORO_TASK_GROUP_H_
#define EMBER_REACTOR_CORO_TASK_GROUP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reactor/coro/task.h"
#include "reactor/reactor.h"

namespace ember {

using TaskId = uint64_t;

class TaskGroup;

// A reference to a task of a group that stays safe to use after the task
// or the group is gone (then it does nothing): for owners other than the
// group, such as a Stream that cancels a task when its connection ends.
class TaskHandle {
 public:
  TaskHandle() = default;
  // Soft-cancels the task (see TaskGroup::Cancel). False when the task or
  // its group no longer exists.
  bool Cancel(absl::Status status = absl::CancelledError(
                  "the task was cancelled")) const;
  bool alive() const;
  TaskId id() const { return id_; }

 private:
  friend class TaskGroup;
  TaskHandle(std::weak_ptr<TaskGroup*> group, TaskId id)
      : group_(std::move(group)), id_(id) {}
  std::weak_ptr<TaskGroup*> group_;
  TaskId id_ = 0;
};

struct TaskGroupOptions {
  // Most tasks alive in the group at once.
  size_t tasks_max = 100000;
};

struct TaskGroupStats {
  uint64_t spawned = 0;
  uint64_t finished = 0;     // Ran to their end (done was called).
  uint64_t destroyed = 0;    // Destroyed unfinished (group gone, Run ended).
  uint64_t suspensions = 0;  // Times a task suspended on an awaitable.
  uint64_t resumes = 0;
};

class TaskGroup {
 public:
  using DoneCallback = absl::AnyInvocable<void(absl::Status)>;
  // Test hook: called each time a task of the group suspends, right after
  // it registered its waiter (it may Cancel tasks, not destroy the group).
  using SuspendHook = absl::AnyInvocable<void(TaskId)>;

  // `reactor` must outlive the group.
  explicit TaskGroup(Reactor& reactor, TaskGroupOptions options = {});
  // Destroys every task where it is suspended (see the file comment).
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Takes `task` and starts it from the loop, on a later turn. `done` runs
  // from the loop when it finishes, with what it returned (OK for a
  // Task<void>); not when it is destroyed unfinished. Errors (the task is
  // then destroyed unrun and `done` never runs): kFailedPrecondition off the
  // reactor's thread, kInvalidArgument for an empty task, kResourceExhausted
  // at tasks_max.
  absl::StatusOr<TaskId> Spawn(Task<absl::Status> task,
                               DoneCallback done = nullptr);
  absl::StatusOr<TaskId> Spawn(Task<void> task, DoneCallback done = nullptr);

  // Soft cancel (see the file comment). False if `id` is not in the group.
  bool Cancel(TaskId id, absl::Status status = absl::CancelledError(
                             "the task was cancelled"));
  void CancelAll(absl::Status status = absl::CancelledError(
                     "the task was cancelled"));

  bool Contains(TaskId id) const { return tasks_.count(id) != 0; }
  // A handle on task `id` (whether or not it exists now).
  TaskHandle Handle(TaskId id) const { return TaskHandle(alive_, id); }
  size_t size() const { return tasks_.size(); }
  const TaskGroupStats& stats() const { return stats_; }
  Reactor& reactor() const { return reactor_; }

  void SetSuspendHook(SuspendHook hook) { suspend_hook_ = std::move(hook); }

 private:
  friend void coro_internal::MakeReady(coro_internal::Context* context);
  friend void coro_internal::NoteSuspended(coro_internal::Context* context);

  struct Entry {
    std::unique_ptr<coro_internal::Context> context;
    std::coroutine_handle<> handle;
    coro_internal::PromiseBase* promise = nullptr;
    // Reads the finished task's result.
    absl::AnyInvocable<absl::Status()> result;
    DoneCallback done;
  };

  absl::StatusOr<TaskId> Adopt(std::coroutine_handle<> handle,
                               coro_internal::PromiseBase* promise,
                               absl::AnyInvocable<absl::Status()> result,
                               DoneCallback done);
  void MakeReady(coro_internal::Context* context);
  void ScheduleRun();
  void RunReady();
  void Finish(TaskId id);
  void DestroyAll();
  void OnReactorStopped();

  Reactor& reactor_;
  const TaskGroupOptions options_;
  std::map<TaskId, Entry> tasks_;
  std::deque<TaskId> ready_;
  std::deque<TaskId> batch_;
  TaskId next_id_ = 1;
  TaskId running_ = 0;  // The task being resumed, if any.
  bool run_scheduled_ = false;
  bool hook_registered_ = false;
  // Ticks and shutdown hooks hold a weak reference: they do nothing once
  // the group is gone.
  std::shared_ptr<TaskGroup*> alive_;
  SuspendHook suspend_hook_;
  TaskGroupStats stats_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_TASK_GROUP_H_
