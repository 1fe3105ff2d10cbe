// Goal: the echo example returns every byte, and a client that sends much
// more than it reads does not grow the server's buffer past the high-water
// mark plus one read: the server pauses reading instead.

#include "examples/echo/echo_server.h"

#include <algorithm>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "io/epoll/epoll_network.h"
#include "reactor/reactor.h"

namespace ember::examples {
namespace {

class Tracked : public EchoConnection {
 public:
  explicit Tracked(size_t* peak) : peak_(peak) {}
  void ReceiveData(std::string_view data) override {
    EchoConnection::ReceiveData(data);
    *peak_ = std::max(*peak_, OutboundDataSize());
  }
  size_t* peak_;
};

class SlowReader : public Connection {
 public:
  SlowReader(std::string* got, const std::string* payload)
      : got_(got), payload_(payload) {}
  void ConnectionCompleted() override {
    Pause();  // Read nothing until the test resumes us.
    ASSERT_TRUE(SendData(*payload_).ok());
  }
  void ReceiveData(std::string_view data) override { got_->append(data); }
  std::string* got_;
  const std::string* payload_;
};

TEST(EchoServerTest, ThrottlesAClientThatDoesNotRead) {
  auto network = io::EpollNetwork::Create();
  ASSERT_TRUE(network.ok());
  Reactor reactor(**network);
  size_t peak = 0;
  auto server = reactor.StartServer(
      "127.0.0.1", 0, [&] { return std::make_unique<Tracked>(&peak); });
  ASSERT_TRUE(server.ok());
  std::string payload(16 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>((i * 131) >> 7);
  }
  std::string got;
  auto client = reactor.Connect(
      "127.0.0.1", reactor.ServerAddress(*server)->port(),
      std::make_unique<SlowReader>(&got, &payload));
  ASSERT_TRUE(client.ok());
  // Let the client stay paused for a while, then read everything.
  ASSERT_TRUE(reactor.AddTimer(absl::Milliseconds(200), [&] {
    (*client)->Resume();
  }).ok());
  ASSERT_TRUE(reactor.AddPeriodicTimer(absl::Milliseconds(2), [&] {
    if (got.size() == payload.size()) reactor.Stop();
  }).ok());
  ASSERT_TRUE(reactor.AddTimer(absl::Seconds(30), [&] {
    ADD_FAILURE() << "echo incomplete: " << got.size() << " bytes";
    reactor.Stop();
  }).ok());
  ASSERT_TRUE(reactor.Run().ok());
  EXPECT_TRUE(got == payload);
  const OutboundLimits limits;
  EXPECT_LE(peak, limits.high_water_bytes + reactor.options().read_chunk_bytes *
                                              reactor.options().reads_per_event);
}

}  // namespace
}  // namespace ember::examples
