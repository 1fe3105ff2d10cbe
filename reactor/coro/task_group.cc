#include "reactor/coro/task_group.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember {

namespace coro_internal {

void MakeReady(Context* context) { context->group->MakeReady(context); }

void NoteSuspended(Context* context) {
  TaskGroup* group = context->group;
  ++group->stats_.suspensions;
  if (group->suspend_hook_) group->suspend_hook_(context->id);
}

}  // namespace coro_internal

bool TaskHandle::Cancel(absl::Status status) const {
  std::shared_ptr<TaskGroup*> group = group_.lock();
  if (group == nullptr || *group == nullptr) return false;
  return (*group)->Cancel(id_, std::move(status));
}

bool TaskHandle::alive() const {
  std::shared_ptr<TaskGroup*> group = group_.lock();
  return group != nullptr && *group != nullptr && (*group)->Contains(id_);
}

TaskGroup::TaskGroup(Reactor& reactor, TaskGroupOptions options)
    : reactor_(reactor),
      options_(options),
      alive_(std::make_shared<TaskGroup*>(this)) {}

TaskGroup::~TaskGroup() {
  EMBER_CHECK_MSG(running_ == 0,
                  "a TaskGroup was destroyed from inside one of its own "
                  "tasks; cancel the task instead, or own the group "
                  "elsewhere");
  *alive_ = nullptr;
  DestroyAll();
}

absl::StatusOr<TaskId> TaskGroup::Spawn(Task<absl::Status> task,
                                        DoneCallback done) {
  if (!task.valid()) {
    return absl::InvalidArgumentError("Spawn of an empty task");
  }
  Task<absl::Status>::Handle handle = task.Release();
  return Adopt(
      handle, &handle.promise(),
      [handle]() mutable { return handle.promise().TakeValue(); },
      std::move(done));
}

absl::StatusOr<TaskId> TaskGroup::Spawn(Task<void> task, DoneCallback done) {
  if (!task.valid()) {
    return absl::InvalidArgumentError("Spawn of an empty task");
  }
  Task<void>::Handle handle = task.Release();
  return Adopt(
      handle, &handle.promise(),
      [handle]() mutable {
        handle.promise().TakeValue();
        return absl::OkStatus();
      },
      std::move(done));
}

absl::StatusOr<TaskId> TaskGroup::Adopt(
    std::coroutine_handle<> handle, coro_internal::PromiseBase* promise,
    absl::AnyInvocable<absl::Status()> result, DoneCallback done) {
  if (!reactor_.IsReactorThread()) {
    handle.destroy();
    return absl::FailedPreconditionError(
        "TaskGroup::Spawn called off the reactor's thread; use "
        "Reactor::NextTick to get there first");
  }
  if (tasks_.size() >= options_.tasks_max) {
    handle.destroy();
    return absl::ResourceExhaustedError(
        absl::StrCat("the task group holds ", tasks_.size(),
                     " tasks, its limit; the task was not started"));
  }
  const TaskId id = next_id_++;
  Entry entry;
  entry.context = std::make_unique<coro_internal::Context>();
  entry.context->group = this;
  entry.context->reactor = &reactor_;
  entry.context->id = id;
  entry.context->resume_point = handle;
  entry.handle = handle;
  entry.promise = promise;
  entry.result = std::move(result);
  entry.done = std::move(done);
  promise->set_context(entry.context.get());
  coro_internal::Context* context = entry.context.get();
  tasks_.emplace(id, std::move(entry));
  ++stats_.spawned;
  MakeReady(context);
  return id;
}

bool TaskGroup::Cancel(TaskId id, absl::Status status) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return false;
  if (status.ok()) status = absl::CancelledError("the task was cancelled");
  coro_internal::Context* context = it->second.context.get();
  if (context->root.status.ok()) context->root.status = status;
  // A suspended task wakes with the status; a running or ready one meets
  // it at its next await.
  if (context->waiting != nullptr) context->waiting->Cancel(status);
  return true;
}

void TaskGroup::CancelAll(absl::Status status) {
  std::vector<TaskId> ids;
  ids.reserve(tasks_.size());
  for (const auto& [id, entry] : tasks_) ids.push_back(id);
  for (TaskId id : ids) Cancel(id, status);
}

void TaskGroup::MakeReady(coro_internal::Context* context) {
  if (context->ready) return;
  context->ready = true;
  ready_.push_back(context->id);
  ScheduleRun();
}

void TaskGroup::ScheduleRun() {
  std::weak_ptr<TaskGroup*> weak = alive_;
  if (!hook_registered_) {
    hook_registered_ = true;
    reactor_.AddShutdownHook([weak] {
      std::shared_ptr<TaskGroup*> self = weak.lock();
      if (self != nullptr && *self != nullptr) (*self)->OnReactorStopped();
    });
  }
  if (run_scheduled_) return;
  run_scheduled_ = true;
  reactor_.NextTick([weak] {
    std::shared_ptr<TaskGroup*> self = weak.lock();
    if (self != nullptr && *self != nullptr) (*self)->RunReady();
  });
}

void TaskGroup::RunReady() {
  run_scheduled_ = false;
  std::weak_ptr<TaskGroup*> alive = alive_;
  // Tasks made ready while this batch runs wait for the next turn.
  batch_.swap(ready_);
  while (!batch_.empty()) {
    const TaskId id = batch_.front();
    batch_.pop_front();
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    coro_internal::Context* context = it->second.context.get();
    if (!context->ready) continue;
    context->ready = false;
    std::coroutine_handle<> resume = std::exchange(context->resume_point, {});
    context->waiting = nullptr;
    if (!resume) continue;
    running_ = id;
    ++stats_.resumes;
    // Which task resumes, in the trace: two runs that resume tasks in a
    // different order diverge right here.
    reactor_.trace().Record(reactor_.Now(), TraceKind::kTaskResume, id, 0);
    resume.resume();
    running_ = 0;
    it = tasks_.find(id);
    if (it != tasks_.end() && it->second.handle.done()) {
      Finish(id);
      if (alive.expired()) return;  // `done` destroyed the group.
    }
  }
}

void TaskGroup::Finish(TaskId id) {
  auto node = tasks_.extract(id);
  Entry& entry = node.mapped();
  std::exception_ptr error = entry.promise->TakeException();
  absl::Status status =
      error ? absl::InternalError("the task ended with an exception")
            : entry.result();
  entry.handle.destroy();
  ++stats_.finished;
  if (error) {
    // The reactor reports it to its error handler, like any callback's.
    reactor_.NextTick([error] { std::rethrow_exception(error); });
  }
  if (entry.done) entry.done(std::move(status));
}

void TaskGroup::DestroyAll() {
  // One at a time, in id order; a frame's destructors may touch the group
  // (a Stream closes, a waiter unregisters), never resume anything.
  while (!tasks_.empty()) {
    auto node = tasks_.extract(tasks_.begin());
    node.mapped().handle.destroy();
    ++stats_.destroyed;
  }
  ready_.clear();
  batch_.clear();
}

void TaskGroup::OnReactorStopped() {
  hook_registered_ = false;
  DestroyAll();
  // The reactor drops its pending ticks after its shutdown hooks.
  run_scheduled_ = false;
}

}  // namespace ember
