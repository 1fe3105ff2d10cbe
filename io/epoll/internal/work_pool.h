// Blocking work off the network's thread, for the epoll backend's
// `Network::Offload`.
//
// `WorkPool` runs submitted work on a fixed number of worker threads,
// started on the first submission. Each job is a pair: `work` runs on a
// worker; `done` is handed back, once `work` returned, to the network's
// thread, which collects it with `TakeFinished` from inside `Poll` and runs
// it there. After each job the worker calls `notify` (the network's `Wake`).
// The two halves of a job live together until `work` has returned, so
// state `done` owns may be used by `work`.
//
// Bounded: at most `jobs_max` jobs are outstanding (queued, running, or
// finished and not yet taken); `Submit` beyond it fails with
// kResourceExhausted, and both halves are destroyed unrun.
//
// Destroying the pool drops every job not yet started (both halves are
// destroyed unrun), waits for the jobs running to return, and drops their
// `done` too: the pool never leaves a thread behind.

#ifndef EMBER_IO_EPOLL_INTERNAL_WORK_POOL_H_
#define EMBER_IO_EPOLL_INTERNAL_WORK_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

namespace ember::io::epoll_internal {

class WorkPool {
 public:
  using Work = absl::AnyInvocable<void()>;

  // `threads` >= 1 workers, `jobs_max` >= 1. `notify` is called on a worker
  // after each job, never after the destructor has returned; it must be
  // thread-safe and must not call back into the pool.
  WorkPool(int threads, size_t jobs_max, absl::AnyInvocable<void()> notify);
  ~WorkPool();

  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues a job. kResourceExhausted at the limit, kInternal when a worker
  // thread cannot be started; on an error both halves are destroyed unrun.
  absl::Status Submit(Work work, Work done);

  // Moves the `done` half of every finished job, in the order they
  // finished, to the end of `out`.
  void TakeFinished(std::vector<Work>* out);

  // Jobs submitted and not yet taken back.
  size_t outstanding() const;

 private:
  struct Job {
    Work work;
    Work done;
  };
  void WorkerMain();
  absl::Status StartWorkers();

  const int threads_max_;
  const size_t jobs_max_;
  absl::AnyInvocable<void()> notify_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;       // Guarded by mu_.
  std::vector<Work> finished_;  // Guarded by mu_.
  size_t outstanding_ = 0;      // Guarded by mu_.
  bool stopping_ = false;       // Guarded by mu_.
  std::vector<std::thread> workers_;  // Started on the first Submit.
};

}  // namespace ember::io::epoll_internal

#endif  // EMBER_IO_EPOLL_INTERNAL_WORK_POOL_H_
