// Goal: the reactor conformance suite passes on the io_uring backend, over
// loopback TCP, UDP and Unix sockets.

#include "io/epoll/epoll_network.h"
#include "io/uring/uring_network.h"
#include "tests/reactor/reactor_conformance.h"

namespace ember::testing_support {
namespace {

// `defer`: completions run only when Poll asks (Linux 6.1 on), or whenever
// the loop's thread enters the kernel, as on older kernels.
Backend UringBackend(bool defer) {
  return Backend{
      defer ? "Uring" : "UringUndeferred",
      [defer] {
        // 1,100 concurrent loopback connections need 2,200 descriptors.
        absl::StatusOr<int> limit = io::EpollNetwork::RaiseDescriptorLimit(4096);
        EXPECT_TRUE(limit.ok()) << limit.status();
        io::UringNetwork::Options options;
        options.defer_completions = defer;
        auto network = io::UringNetwork::Create(options);
        EXPECT_TRUE(network.ok()) << network.status();
        return network.ok() ? std::unique_ptr<io::Network>(std::move(*network))
                            : nullptr;
      }};
}

INSTANTIATE_TEST_SUITE_P(Uring, ReactorConformanceTest,
                         testing::Values(UringBackend(true), UringBackend(false)),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Uring, ReactorThreadTest,
                         testing::Values(UringBackend(true), UringBackend(false)),
                         BackendName);

}  // namespace
}  // namespace ember::testing_support
