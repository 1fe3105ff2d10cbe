// Goal: once warm, the reactor on its real backends (epoll, and io_uring
// with completions deferred to Poll and without) allocates nothing per
// event: an echo exchange and a keep-alive HTTP exchange with the hello
// server, each ping-pong and pipelined over several connections, run
// thousands of round trips without a single call of operator new (the
// README's claim). The counter replaces the global operator new for this
// binary; see tests/common/allocation_counter.h.

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "examples/echo/echo_server.h"
#include "examples/http/hello_server.h"
#include "protocols/http/http_server.h"
#include "gtest/gtest.h"
#include "io/epoll/epoll_network.h"
#include "io/uring/uring_network.h"
#include "reactor/connection.h"
#include "reactor/reactor.h"
#include "tests/common/allocation_counter.h"

namespace ember {
namespace {

using testing_support::AllocationWindow;

constexpr size_t kMessageBytes = 64;

// Keeps `in_flight` messages outstanding: each time one has come back whole,
// sends the next, until `*budget` round trips are used up.
class EchoClient : public Connection {
 public:
  EchoClient(int in_flight, int64_t* budget, int64_t* done)
      : in_flight_(in_flight), budget_(budget), done_(done) {
    for (size_t i = 0; i < kMessageBytes; ++i) {
      message_[i] = static_cast<char>('a' + i % 26);
    }
  }
  void ConnectionCompleted() override {
    for (int i = 0; i < in_flight_; ++i) SendOne();
  }
  void ReceiveData(std::string_view data) override {
    for (char c : data) {
      if (c != message_[received_ % kMessageBytes]) mismatches_++;
      if (++received_ % kMessageBytes == 0) {
        ++*done_;
        SendOne();
      }
    }
  }
  int64_t mismatches() const { return mismatches_; }

 private:
  void SendOne() {
    if (*budget_ <= 0) return;
    --*budget_;
    SendData(std::string_view(message_, kMessageBytes)).IgnoreError();
  }

  const int in_flight_;
  int64_t* const budget_;
  int64_t* const done_;
  char message_[kMessageBytes];
  int64_t received_ = 0;
  int64_t mismatches_ = 0;
};

// Keep-alive HTTP: keeps `in_flight` GET / requests outstanding (pipelined
// when more than one), sending the next each time a response has come back
// whole, until `*budget` is used up. The hello server's responses are
// fixed-length heads (the Date value always has 29 characters) and a
// 13-byte body.
class HttpClient : public Connection {
 public:
  HttpClient(int in_flight, int64_t* budget, int64_t* done)
      : in_flight_(in_flight), budget_(budget), done_(done) {}
  void ConnectionCompleted() override {
    for (int i = 0; i < in_flight_; ++i) SendOne();
  }
  void ReceiveData(std::string_view data) override {
    static constexpr std::string_view kEnd = "\r\n\r\n";
    for (char c : data) {
      if (body_left_ > 0) {
        if (c != examples::kHelloBody[examples::kHelloBody.size() - body_left_]) {
          ++mismatches_;
        }
        if (--body_left_ == 0) {
          ++*done_;
          SendOne();
        }
        continue;
      }
      matched_ = c == kEnd[matched_] ? matched_ + 1 : (c == '\r' ? 1 : 0);
      if (matched_ == kEnd.size()) {
        matched_ = 0;
        body_left_ = examples::kHelloBody.size();
      }
    }
  }
  int64_t mismatches() const { return mismatches_; }

 private:
  void SendOne() {
    if (*budget_ <= 0) return;
    --*budget_;
    SendData("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: "
             "steady-state-alloc-test/1.0\r\nAccept: */*\r\n\r\n")
        .IgnoreError();
  }

  const int in_flight_;
  int64_t* const budget_;
  int64_t* const done_;
  size_t matched_ = 0;
  size_t body_left_ = 0;
  int64_t mismatches_ = 0;
};

// The counter itself: it sees an allocation made in its window, and only
// those.
TEST(AllocationCounterTest, CountsAllocationsInTheWindowOnly) {
  auto before = std::make_unique<std::string>(100, 'x');
  AllocationWindow window;
  auto inside = std::make_unique<std::string>(100, 'y');
  window.Stop();
  auto after = std::make_unique<std::string>(100, 'z');
  // The unique_ptr's string object and the string's heap buffer.
  EXPECT_EQ(window.count(), 2);
  EXPECT_NE(window.Report().find("allocation 1"), std::string::npos);
}

struct Case {
  const char* name;
  int connections;
  int in_flight;
};

enum class Backend { kEpoll, kUring, kUringUndeferred };

constexpr const char* kBackendNames[] = {"Epoll", "Uring", "UringUndeferred"};

// Names in a failure's message, rather than the parameters' bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
void PrintTo(Backend backend, std::ostream* os) {
  *os << kBackendNames[static_cast<int>(backend)];
}

// The real backend under test; a failure to create it fails the test.
std::unique_ptr<io::Network> MakeNetwork(Backend backend) {
  absl::StatusOr<std::unique_ptr<io::Network>> network;
  if (backend == Backend::kEpoll) {
    network = io::EpollNetwork::Create();
  } else {
    io::UringNetwork::Options options;
    options.defer_completions = backend == Backend::kUring;
    network = io::UringNetwork::Create(options);
  }
  EXPECT_TRUE(network.ok()) << network.status();
  return network.ok() ? std::move(*network) : nullptr;
}

class SteadyStateAllocTest
    : public ::testing::TestWithParam<std::tuple<Case, Backend>> {
 protected:
  static const Case& exchange() { return std::get<0>(GetParam()); }
  static Backend backend() { return std::get<1>(GetParam()); }
};

// Opens `c.connections` clients of type `Client` to `address`, warms them
// up with 2,000 round trips (two runs of 1,000), then counts allocations
// over 20,000 more (each connection keeps its messages in flight as long as
// the budget lasts).
// Returns the round trips done, or -1 after a failure it has reported.
template <typename Client>
int64_t CountSteadyAllocations(Reactor& reactor, const io::Address& address,
                               const Case& c) {
  int64_t budget = 0;
  int64_t done = 0;
  std::vector<Client*> clients;
  for (int i = 0; i < c.connections; ++i) {
    auto conn = reactor.ConnectTo(
        address, std::make_unique<Client>(c.in_flight, &budget, &done));
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return -1;
    clients.push_back(static_cast<Client*>(*conn));
  }
  auto run = [&](int64_t rounds) {
    const int64_t target = done + rounds;
    budget += rounds;
    // Restart connections whose pipelines ran dry at the previous budget.
    for (Client* client : clients) client->ConnectionCompleted();
    while (done < target) {
      absl::Status status = reactor.RunOnce();
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  };
  // Warm up: connections established, blocks pooled, buffers grown. Twice,
  // so that the restart above also meets connected clients (all of them
  // queueing writes at once, outside any callback) before the window.
  for (int i = 0; i < 2; ++i) {
    const absl::Status warm = run(1000);
    EXPECT_TRUE(warm.ok()) << warm;
    if (!warm.ok()) return -1;
  }

  AllocationWindow window;
  const absl::Status status = run(20000);
  window.Stop();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(window.count(), 0) << window.Report();
  for (Client* client : clients) EXPECT_EQ(client->mismatches(), 0);
  return status.ok() ? done : -1;
}

TEST_P(SteadyStateAllocTest, EchoAllocatesNothingOnceWarm) {
  std::unique_ptr<io::Network> network = MakeNetwork(backend());
  ASSERT_NE(network, nullptr);
  Reactor reactor(*network);
  auto server = reactor.StartServer("127.0.0.1", 0, [] {
    return std::make_unique<examples::EchoConnection>();
  });
  ASSERT_TRUE(server.ok()) << server.status();
  auto address = reactor.ServerAddress(*server);
  ASSERT_TRUE(address.ok());
  EXPECT_GT(CountSteadyAllocations<EchoClient>(reactor, *address, exchange()),
            0);
}

// Serves keep-alive HTTP with `handler` (either kind) on `backend` and
// counts allocations over the steady exchange.
template <typename Handler>
void ExpectSteadyHttpAllocatesNothing(Backend backend, const Case& exchange,
                                      Handler handler) {
  std::unique_ptr<io::Network> network = MakeNetwork(backend);
  ASSERT_NE(network, nullptr);
  Reactor reactor(*network);
  protocols::HttpServer server(reactor, {}, std::move(handler));
  auto address = server.Listen("127.0.0.1", 0);
  ASSERT_TRUE(address.ok()) << address.status();
  const int64_t done =
      CountSteadyAllocations<HttpClient>(reactor, *address, exchange);
  ASSERT_GT(done, 0);
  EXPECT_EQ(server.stats().requests, static_cast<uint64_t>(done));
}

// HandleHello takes the request as views and answers with a prepared
// response.
TEST_P(SteadyStateAllocTest, KeepAliveHttpAllocatesNothingOnceWarm) {
  ExpectSteadyHttpAllocatesNothing(backend(), exchange(),
                                   examples::HandleHello);
}

// A handler that takes an owned request (copied from the parser's bytes)
// and sends an HttpResponse, which the server checks and serialises on
// every send.
TEST_P(SteadyStateAllocTest, KeepAliveHttpWithAPlainResponseAllocatesNothing) {
  protocols::HttpResponse hello;
  hello.headers.Set("Content-Type", "text/plain");
  hello.body = std::string(examples::kHelloBody);
  ExpectSteadyHttpAllocatesNothing(
      backend(), exchange(),
      [&hello](protocols::HttpRequest&&, protocols::HttpResponder responder) {
        responder.Send(hello).IgnoreError();
      });
}

std::string CaseName(
    const ::testing::TestParamInfo<std::tuple<Case, Backend>>& info) {
  return std::string(std::get<0>(info.param).name) +
         kBackendNames[static_cast<int>(std::get<1>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(
    Steady, SteadyStateAllocTest,
    ::testing::Combine(::testing::Values(Case{"PingPong", 1, 1},
                                         Case{"Pipelined", 8, 16}),
                       ::testing::Values(Backend::kEpoll, Backend::kUring,
                                         Backend::kUringUndeferred)),
    CaseName);

}  // namespace
}  // namespace ember
