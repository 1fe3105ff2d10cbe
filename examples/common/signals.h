// Graceful shutdown on SIGINT and SIGTERM for example programs.
//
// Signal handlers may not touch the reactor (it is not async-signal-safe),
// so the signals are blocked in every thread and one small thread waits for
// them with sigwait, then asks the reactor, through its thread-safe
// Schedule, to shut down gracefully. A program with several reactors
// (reactor/group) passes its own actions, which must be thread-safe.

#ifndef EMBER_EXAMPLES_COMMON_SIGNALS_H_
#define EMBER_EXAMPLES_COMMON_SIGNALS_H_

#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "reactor/reactor.h"

namespace ember::examples {

class ShutdownOnSignal {
 public:
  // Call before starting any other thread. `drain` is how long connections
  // may take to finish after the first signal; a second signal stops at
  // once.
  ShutdownOnSignal(Reactor& reactor, absl::Duration drain);
  // The same with any actions: `graceful` on the first signal (given
  // `drain`), `stop` on every later one. Both run on the waiting thread.
  ShutdownOnSignal(absl::Duration drain,
                   absl::AnyInvocable<void(absl::Duration)> graceful,
                   absl::AnyInvocable<void()> stop);
  // Joins the waiting thread (sending it a wake-up signal).
  ~ShutdownOnSignal();

 private:
  std::thread waiter_;
};

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_COMMON_SIGNALS_H_
