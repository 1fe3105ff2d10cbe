// Goal: the reactor conformance suite passes on the real epoll backend, over
// loopback TCP, UDP and Unix sockets.

#include "io/epoll/epoll_network.h"
#include "tests/reactor/reactor_conformance.h"

namespace ember::testing_support {
namespace {

Backend EpollBackend() {
  return Backend{
      "Epoll",
      [] {
        // 1,100 concurrent loopback connections need 2,200 descriptors.
        absl::StatusOr<int> limit = io::EpollNetwork::RaiseDescriptorLimit(4096);
        EXPECT_TRUE(limit.ok()) << limit.status();
        auto network = io::EpollNetwork::Create();
        EXPECT_TRUE(network.ok()) << network.status();
        return network.ok() ? std::unique_ptr<io::Network>(std::move(*network))
                            : nullptr;
      }};
}

INSTANTIATE_TEST_SUITE_P(Epoll, ReactorConformanceTest,
                         testing::Values(EpollBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(Epoll, ReactorThreadTest,
                         testing::Values(EpollBackend()), BackendName);

}  // namespace
}  // namespace ember::testing_support
