// Goal: the header-and-content adapter hands a reactor connection whole
// messages however the network cuts the bytes (the simulator splits every
// write at random points, per seed), pipelined messages one by one in
// order, and turns an over-long body into an error and a close.

#include "protocols/header_content/header_content_connection.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember::protocols {
namespace {

struct Received {
  std::vector<std::string> first_lines;
  std::vector<std::string> contents;
  std::vector<size_t> header_counts;
  absl::Status error;
  bool unbound = false;
};

class Server : public HeaderContentConnection {
 public:
  Server(Received* r, HeaderContentParser::Options options)
      : HeaderContentConnection(options), r_(r) {}
  void ReceiveFirstHeaderLine(std::string_view line) override {
    r_->first_lines.emplace_back(line);
  }
  void ReceiveRequest(std::span<const std::string_view> headers,
                      std::string_view content) override {
    r_->header_counts.push_back(headers.size());
    r_->contents.emplace_back(content);
    SendData(absl::StrCat("ok ", r_->contents.size(), "\n")).IgnoreError();
  }
  void ReceiveHeaderContentError(const absl::Status& status) override {
    r_->error = status;
    SendData("error\n").IgnoreError();
    CloseAfterWriting();
  }
  void Unbind(const UnbindReason&) override { r_->unbound = true; }
  Received* r_;
};

class Client : public Connection {
 public:
  Client(std::string payload, std::string* got)
      : payload_(std::move(payload)), got_(got) {}
  void ConnectionCompleted() override { SendData(payload_).IgnoreError(); }
  void ReceiveData(std::string_view d) override { got_->append(d); }
  std::string payload_;
  std::string* got_;
};

std::string Message(int i) {
  std::string body = std::string(i * 7, 'a' + i);
  return absl::StrCat("GET /", i, " HTTP/1.0\r\nHost: x\r\nContent-Length: ",
                      body.size(), "\r\n\r\n", body);
}

void RunExchange(uint64_t seed, const std::string& payload,
                 HeaderContentParser::Options options, Received* received,
                 std::string* reply) {
  sim::SimOptions sim_options;
  sim_options.seed = seed;
  sim_options.plan.split_probability = 1.0;  // Every write cut somewhere.
  sim_options.plan.latency_max = absl::Milliseconds(3);
  sim::SimNetwork net(sim_options);
  Reactor reactor(net);
  auto server = reactor.StartServer("127.0.0.1", 80, [&] {
    return std::make_unique<Server>(received, options);
  });
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(reactor.Connect("127.0.0.1", 80,
                              std::make_unique<Client>(payload, reply))
                  .ok());
  ASSERT_TRUE(reactor.AddTimer(absl::Seconds(10), [&] { reactor.Stop(); })
                  .ok());
  ASSERT_TRUE(reactor.Run().ok());
}

TEST(HeaderContentConnectionTest, PipelinedMessagesArriveWholeUnderAnyCut) {
  std::string payload = "\r\n";  // Blank lines before a message are skipped.
  for (int i = 0; i < 5; ++i) payload += Message(i);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Received received;
    std::string reply;
    RunExchange(seed, payload, {}, &received, &reply);
    ASSERT_EQ(received.contents.size(), 5u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(received.first_lines[i], absl::StrCat("GET /", i, " HTTP/1.0"));
      EXPECT_EQ(received.contents[i], std::string(i * 7, 'a' + i));
      EXPECT_EQ(received.header_counts[i], 3u);
    }
    EXPECT_EQ(reply, "ok 1\nok 2\nok 3\nok 4\nok 5\n");
    EXPECT_TRUE(received.error.ok());
  }
}

TEST(HeaderContentConnectionTest, OverLimitBodyIsAnErrorAndAClose) {
  HeaderContentParser::Options options;
  options.content_bytes_max = 10;
  Received received;
  std::string reply;
  RunExchange(7, Message(1) + Message(4), options, &received, &reply);
  EXPECT_EQ(received.contents.size(), 1u);
  EXPECT_EQ(received.error.code(), absl::StatusCode::kResourceExhausted);
  // The server closes with the rest of the request unread, which resets
  // the connection (as TCP does): the reply's tail may be cut by the
  // reset, never changed.
  EXPECT_EQ(std::string("ok 1\nerror\n").rfind(reply, 0), 0u) << reply;
  EXPECT_GE(reply.size(), 5u) << reply;
  EXPECT_TRUE(received.unbound);
}

}  // namespace
}  // namespace ember::protocols
