// ForEach and Map: bounded concurrency over a collection (EventMachine's
// EM::Iterator), as tasks.
//
//   // At most 4 fetches at a time; the first error stops the rest.
//   absl::Status all = co_await ember::ForEach(
//       urls, 4, [&](std::string url) { return Fetch(std::move(url)); });
//   absl::StatusOr<std::vector<int>> sizes = co_await ember::Map<int>(
//       urls, 4, [&](std::string url) { return SizeOf(std::move(url)); });
//
// `fn(item)` returns a Task: Task<absl::Status> for ForEach,
// Task<absl::StatusOr<R>> for Map. Items start in order, at most
// `concurrency` running at once; each runs as a task of its own (in a task
// group owned by the ForEach, so none outlives it), and a new one starts
// as soon as one finishes. Map's results are in the items' order.
//
// Errors: kInvalidArgument for a concurrency of 0 (nothing runs). The first
// item to fail stops new ones from starting, cancels the running ones
// softly (their awaits end with kCancelled) and, once they have finished,
// the whole gives that first error. If the awaiting task is itself
// cancelled, the running items are destroyed at once and the whole gives
// the cancellation status.
//
// `fn` is kept by the ForEach for its whole run, so a lambda's captures
// stay valid while the items run.

#ifndef EMBER_REACTOR_CORO_ITERATOR_H_
#define EMBER_REACTOR_CORO_ITERATOR_H_

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reactor/coro/queue.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"

namespace ember {

namespace coro_internal {

template <typename R, typename Fn, typename T>
Task<absl::Status> MapOne(Fn* fn, T item, std::optional<R>* slot) {
  absl::StatusOr<R> result = co_await (*fn)(std::move(item));
  if (!result.ok()) co_return result.status();
  slot->emplace(std::move(*result));
  co_return absl::OkStatus();
}

// Runs make(i) for i in [0, count) with bounded concurrency.
template <typename Make>
Task<absl::Status> RunBounded(size_t count, size_t concurrency, Make make) {
  if (concurrency == 0) {
    co_return absl::InvalidArgumentError(
        "ForEach and Map need a concurrency of at least 1");
  }
  Context* context = co_await ThisContext();
  struct Finished {
    size_t index;
    absl::Status status;
  };
  // Holds at most `concurrency` entries: one per item running.
  Queue<Finished> finished(concurrency);
  TaskGroup items(*context->reactor);
  absl::Status first_error;
  size_t next = 0;
  size_t running = 0;
  while (next < count || running > 0) {
    while (first_error.ok() && next < count && running < concurrency) {
      const size_t index = next++;
      absl::StatusOr<TaskId> id = items.Spawn(
          make(index), [&finished, index](absl::Status status) {
            // Room for it: one entry per running item.
            finished.Push(Finished{index, std::move(status)}).IgnoreError();
          });
      if (!id.ok()) {
        first_error = id.status();
        break;
      }
      ++running;
    }
    if (running == 0) break;
    absl::StatusOr<Finished> done = co_await finished.Pop();
    if (!done.ok()) co_return done.status();  // We were cancelled.
    --running;
    if (!done->status.ok() && first_error.ok()) {
      first_error = done->status;
      items.CancelAll(absl::CancelledError(
          "another item failed; the rest are cancelled"));
    }
  }
  co_return first_error;
}

}  // namespace coro_internal

template <typename T, typename Fn>
Task<absl::Status> ForEach(std::vector<T> items, size_t concurrency, Fn fn) {
  co_return co_await coro_internal::RunBounded(
      items.size(), concurrency,
      [&items, &fn](size_t i) { return fn(std::move(items[i])); });
}

template <typename R, typename T, typename Fn>
Task<absl::StatusOr<std::vector<R>>> Map(std::vector<T> items,
                                          size_t concurrency, Fn fn) {
  std::vector<std::optional<R>> slots(items.size());
  absl::Status status = co_await coro_internal::RunBounded(
      items.size(), concurrency, [&items, &fn, &slots](size_t i) {
        return coro_internal::MapOne<R>(&fn, std::move(items[i]), &slots[i]);
      });
  if (!status.ok()) co_return status;
  std::vector<R> results;
  results.reserve(slots.size());
  for (std::optional<R>& slot : slots) results.push_back(std::move(*slot));
  co_return results;
}

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_ITERATOR_H_
