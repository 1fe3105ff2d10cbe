#include "io/epoll/internal/work_pool.h"

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember::io::epoll_internal {

WorkPool::WorkPool(int threads, size_t jobs_max,
                   absl::AnyInvocable<void()> notify)
    : threads_max_(threads), jobs_max_(jobs_max), notify_(std::move(notify)) {
  EMBER_CHECK(threads_max_ >= 1);
  EMBER_CHECK(jobs_max_ >= 1);
}

WorkPool::~WorkPool() {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  // Destroyed here, on the owner's thread, after every worker is gone.
  dropped.clear();
  finished_.clear();
}

absl::Status WorkPool::StartWorkers() {
  while (static_cast<int>(workers_.size()) < threads_max_) {
    try {
      workers_.emplace_back([this] { WorkerMain(); });
    } catch (const std::system_error& e) {
      if (!workers_.empty()) return absl::OkStatus();  // Run with fewer.
      return absl::InternalError(
          absl::StrCat("cannot start a worker thread: ", e.what()));
    }
  }
  return absl::OkStatus();
}

absl::Status WorkPool::Submit(Work work, Work done) {
  if (workers_.empty()) {
    absl::Status started = StartWorkers();
    if (!started.ok()) return started;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outstanding_ >= jobs_max_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          outstanding_, " offloaded jobs outstanding, the limit; not queued"));
    }
    ++outstanding_;
    queue_.push_back(Job{std::move(work), std::move(done)});
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void WorkPool::TakeFinished(std::vector<Work>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Work& done : finished_) out->push_back(std::move(done));
  EMBER_CHECK(outstanding_ >= finished_.size());
  outstanding_ -= finished_.size();
  finished_.clear();
}

size_t WorkPool::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outstanding_;
}

void WorkPool::WorkerMain() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // Stopping, and nothing left to run.
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.work();
    job.work = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_.push_back(std::move(job.done));
      // Under the lock: the destructor cannot finish (and the network
      // cannot close what notify writes to) while a worker notifies.
      notify_();
    }
  }
}

}  // namespace ember::io::epoll_internal
