#include "examples/common/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>

namespace ember::examples {
namespace {

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // Used only to end the waiting thread.
  return set;
}

}  // namespace

ShutdownOnSignal::ShutdownOnSignal(Reactor& reactor, absl::Duration drain)
    : ShutdownOnSignal(
          drain,
          [&reactor](absl::Duration d) {
            reactor.Schedule([&reactor, d] { reactor.GracefulShutdown(d); });
          },
          [&reactor] { reactor.Stop(); }) {}

ShutdownOnSignal::ShutdownOnSignal(
    absl::Duration drain, absl::AnyInvocable<void(absl::Duration)> graceful,
    absl::AnyInvocable<void()> stop) {
  sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([graceful = std::move(graceful),
                         stop = std::move(stop), drain, set]() mutable {
    int count = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || sig == SIGUSR2) return;
      if (++count == 1) {
        std::fprintf(stderr, "shutting down: draining connections for %s\n",
                     absl::FormatDuration(drain).c_str());
        graceful(drain);
      } else {
        stop();
      }
    }
  });
}

ShutdownOnSignal::~ShutdownOnSignal() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

}  // namespace ember::examples
