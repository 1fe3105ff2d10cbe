// Goal: the hello example's handler, served by HttpServer over the
// simulator, answers GET / with "Hello, World!" as text/plain, keeps the
// connection alive, and answers a pipelined burst (GET, HEAD, echo, 404) in
// order on one connection.

#include "examples/http/hello_server.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "protocols/http/http_server.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"

namespace ember::examples {
namespace {

using protocols::testing::RawClient;
using protocols::testing::RawRecord;
using protocols::testing::ReadResponses;
using protocols::testing::RunUntil;

TEST(HelloServerTest, AnswersAPipelinedBurstInOrderOnOneConnection) {
  RawRecord record;
  sim::SimNetwork net;
  Reactor reactor(net);
  protocols::HttpServer server(reactor, {}, HandleHello);
  ASSERT_TRUE(server.Listen("127.0.0.1", 8080).ok());
  auto client =
      reactor.Connect("127.0.0.1", 8080, std::make_unique<RawClient>(&record));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)
                  ->SendData("GET / HTTP/1.1\r\nHost: h\r\n\r\n"
                             "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /echo HTTP/1.1\r\nHost: h\r\n"
                             "Content-Length: 4\r\n\r\nping"
                             "GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n"
                             "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                  .ok());
  const std::vector<std::string> methods = {"GET", "HEAD", "POST", "GET",
                                            "GET"};
  ASSERT_TRUE(RunUntil(reactor, [&] {
    return ReadResponses(record.received, methods, false).size() == 5;
  }));
  auto responses = ReadResponses(record.received, methods, false);
  EXPECT_EQ(responses[0].status_code, 200);
  EXPECT_EQ(responses[0].body, "Hello, World!");
  EXPECT_EQ(responses[0].headers.Get("Content-Type"), "text/plain");
  EXPECT_EQ(responses[1].headers.Get("Content-Length"), "13");
  EXPECT_EQ(responses[1].body, "");
  EXPECT_EQ(responses[2].body, "ping");
  EXPECT_EQ(responses[3].status_code, 404);
  EXPECT_EQ(responses[4].body, "Hello, World!");
  EXPECT_FALSE(record.unbound);
  EXPECT_EQ(server.stats().connections_accepted, 1u);
}

}  // namespace
}  // namespace ember::examples
