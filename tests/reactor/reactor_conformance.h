// One reactor test suite, run against every backend.
//
// The tests in reactor_conformance.cc exercise the reactor and its
// connection API end to end: loop, timers, servers, clients, datagrams,
// limits, timeouts and shutdown. They are written against `io::Network`
// only, so the same assertions hold on the real epoll backend (over
// loopback) and on the simulator. A backend joins by instantiating the
// suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Epoll, ReactorConformanceTest,
//                            testing::Values(EpollBackend()),
//                            BackendName);
//
// Real backends also instantiate ReactorThreadTest.

#ifndef EMBER_TESTS_REACTOR_REACTOR_CONFORMANCE_H_
#define EMBER_TESTS_REACTOR_REACTOR_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "io/network.h"
#include "reactor/reactor.h"

namespace ember::testing_support {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<io::Network>()> make;
};

inline void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

class ReactorConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the reactor until something calls Stop. Fails the test when `limit`
  // of backend time passes first (a watchdog timer, not a sleep).
  void RunUntilStopped(absl::Duration limit = absl::Seconds(30));

  // A Unix socket path that is unique to this test.
  std::string UnixPath(const std::string& name) const;

  std::unique_ptr<io::Network> network_;
  std::unique_ptr<Reactor> reactor_;
  bool watchdog_fired_ = false;
};

// The tests that call the reactor from other threads. Only real backends
// instantiate them: the simulated path has no threads, by contract.
class ReactorThreadTest : public ReactorConformanceTest {};

}  // namespace ember::testing_support

#endif  // EMBER_TESTS_REACTOR_REACTOR_CONFORMANCE_H_
