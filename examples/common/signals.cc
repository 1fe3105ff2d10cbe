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

ShutdownOnSignal::ShutdownOnSignal(Reactor& reactor, absl::Duration drain) {
  sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([&reactor, drain, set] {
    int count = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || sig == SIGUSR2) return;
      if (++count == 1) {
        std::fprintf(stderr, "shutting down: draining connections for %s\n",
                     absl::FormatDuration(drain).c_str());
        reactor.Schedule([&reactor, drain] {
          reactor.GracefulShutdown(drain);
        });
      } else {
        reactor.Stop();
      }
    }
  });
}

ShutdownOnSignal::~ShutdownOnSignal() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

}  // namespace ember::examples
