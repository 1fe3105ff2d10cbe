// The conformance suite for `io::Network` backends.
//
// One set of tests states what every backend must do, whatever it runs on:
// streams over IPv4, IPv6 and Unix sockets carry every byte value in order,
// half-close and refusal behave as documented, datagrams keep their
// boundaries, callbacks come only from `Poll` and never reach a destroyed
// handle, and so on. Each backend instantiates the suite with a factory
// (GoogleTest wants the suite's name unqualified, hence the using):
//
//   using ember::io::conformance::NetworkConformanceTest;
//   INSTANTIATE_TEST_SUITE_P(
//       Epoll, NetworkConformanceTest,
//       ::testing::Values(NetworkFactory{"epoll", &MakeEpollNetwork}),
//       NetworkFactoryName);
//
// The tests talk only to loopback addresses and to Unix sockets under
// $TEST_TMPDIR, never sleep, and wait only by pumping `Poll` with a bound on
// the number of polls and on the backend's own clock, so that they run the
// same on the real and on a simulated backend. What only one backend can do
// (reset a connection with SO_LINGER, raise descriptor limits) belongs in
// that backend's own test.

#ifndef EMBER_TESTS_IO_NETWORK_CONFORMANCE_H_
#define EMBER_TESTS_IO_NETWORK_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/network.h"

namespace ember::io::conformance {

// A backend under test: a name for test names, and how to make a fresh
// network for each test.
struct NetworkFactory {
  std::string name;
  std::function<std::unique_ptr<Network>()> make;
};

// Names instantiations after the backend ("NetworkConformanceTest/epoll").
std::string NetworkFactoryName(
    const ::testing::TestParamInfo<NetworkFactory>& info);

// Keeps GoogleTest from printing the factory's bytes.
void PrintTo(const NetworkFactory& factory, std::ostream* os);

// An IoWatcher that runs a function.
class FunctionWatcher final : public IoWatcher {
 public:
  explicit FunctionWatcher(std::function<void(uint32_t)> on_ready)
      : on_ready_(std::move(on_ready)) {}
  void OnIoReady(uint32_t readiness) override {
    ++calls_;
    on_ready_(readiness);
  }
  int calls() const { return calls_; }

 private:
  std::function<void(uint32_t)> on_ready_;
  int calls_ = 0;
};

// Polls `network` until `done()` holds, and says whether it did. Each Poll
// waits for events up to a deadline `budget` after the first call, on the
// backend's clock; the pumping stops after `polls_max` polls or at that
// deadline. Reports a Poll error as a test failure.
bool PollUntil(Network& network, const std::function<bool()>& done,
               int polls_max = 10000,
               absl::Duration budget = absl::Seconds(30));

// Polls without waiting `polls` times and returns the callbacks run.
int PollNow(Network& network, int polls = 3);

// A path for a Unix socket named `name` under $TEST_TMPDIR. When the
// absolute path would not fit a sockaddr_un, changes the working directory
// to $TEST_TMPDIR and returns `name` alone.
std::string UnixSocketPath(std::string_view name);

// A listener with one connection through it.
struct StreamPair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<StreamSocket> client;
  std::unique_ptr<StreamSocket> server;
};

// Listens on `address`, connects to the listener and accepts, pumping `Poll`
// until both ends are established (FinishConnect OK). Fails the test
// otherwise. Leaves no watcher set and interest 0 on every handle.
void MakePair(Network& net, const Address& address, StreamPair* pair,
              const ConnectOptions& connect_options = {});

// Writes all of `data` to `socket`, waiting for writability as needed.
void WriteAll(Network& net, StreamSocket& socket, std::string_view data);

struct ReadOutcome {
  std::string data;
  bool end_of_stream = false;
  absl::Status error;
};

// Reads from `socket` until `bytes` bytes have arrived, or (with
// `until_end_of_stream`) until end of stream, or an error.
ReadOutcome ReadUntil(Network& net, StreamSocket& socket, size_t bytes,
                      bool until_end_of_stream);

// `size` bytes that differ at every offset and rarely repeat, so that a lost,
// doubled or reordered chunk shows.
std::string Pattern(size_t size);

class NetworkConformanceTest : public ::testing::TestWithParam<NetworkFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Network& net() { return *network_; }

  std::unique_ptr<Network> network_;
};

}  // namespace ember::io::conformance

#endif  // EMBER_TESTS_IO_NETWORK_CONFORMANCE_H_
