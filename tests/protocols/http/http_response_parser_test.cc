// Unit tests for HttpResponseParser, each input fed whole and cut several
// ways with the same events: Content-Length, chunked and close-delimited
// bodies; the responses that never have a body (to HEAD, 1xx, 204, 304);
// 1xx before a final response; upgrades and CONNECT tunnels; pipelined
// answers matched to queued requests; and the errors a client must see.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocols/http/http_parser.h"
#include "tests/protocols/http/http_test_util.h"

namespace ember::protocols {
namespace {

using ::ember::protocols::testing::ParseResponses;
using ::ember::protocols::testing::ResponseEvents;
using ::ember::protocols::testing::ResponseRecorder;
using ::testing::ElementsAre;

TEST(HttpResponseParserTest, ContentLength) {
  EXPECT_THAT(ResponseEvents("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "Content-Type: text/plain\r\n\r\nhello"),
              ElementsAre("head:200 OK 1.1 len=5 ka|Content-Length=5|"
                          "Content-Type=text/plain",
                          "body:hello", "done"));
}

TEST(HttpResponseParserTest, ChunkedWithTrailers) {
  EXPECT_THAT(
      ResponseEvents("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2\r\nde\r\n0\r\nExpires: never\r\n\r\n"),
      ElementsAre("head:200 OK 1.1 chunked ka|Transfer-Encoding=chunked",
                  "body:abcde", "done|Expires=never"));
}

// A response with neither Content-Length nor Transfer-Encoding runs until
// the server closes; Finish completes it. Such a connection is not reused.
TEST(HttpResponseParserTest, CloseDelimited) {
  EXPECT_THAT(
      ResponseEvents("HTTP/1.1 200 OK\r\n\r\nall of this\r\n\r\n"),
      ElementsAre("head:200 OK 1.1 close", "body:all of this\r\n\r\n", "done"));
  // A non-chunked final coding is read until close too (RFC 9112 6.3).
  EXPECT_THAT(ResponseEvents("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                             "\r\nzz"),
              ElementsAre("head:200 OK 1.1 close|Transfer-Encoding=gzip",
                          "body:zz", "done"));
  // Without Finish the message is not complete.
  EXPECT_THAT(ResponseEvents("HTTP/1.1 200 OK\r\n\r\nabc", {}, {},
                             /*finish=*/false),
              ElementsAre("head:200 OK 1.1 close", "body:abc"));
}

// The answer to HEAD has no body even with a Content-Length, and the next
// response follows at once.
TEST(HttpResponseParserTest, HeadResponseHasNoBody) {
  EXPECT_THAT(ResponseEvents("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                             {"HEAD", "GET"}),
              ElementsAre("head:200 OK 1.1 none ka|Content-Length=1000", "done",
                          "head:200 OK 1.1 len=2 ka|Content-Length=2",
                          "body:ok", "done"));
}

// 204 and 304 never have a body; their fields are kept as sent.
TEST(HttpResponseParserTest, NoBodyStatuses) {
  EXPECT_THAT(
      ResponseEvents("HTTP/1.1 204 No Content\r\n\r\n"
                     "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
      ElementsAre("head:204 No Content 1.1 none ka", "done",
                  "head:304 Not Modified 1.1 none ka|Content-Length=50", "done",
                  "head:200 OK 1.1 len=0 ka|Content-Length=0", "done"));
}

// 100 Continue (and 103) precede the final response to the same request;
// the queued HEAD applies to the final one.
TEST(HttpResponseParserTest, InformationalResponses) {
  EXPECT_THAT(ResponseEvents("HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                             {"HEAD", "GET"}),
              ElementsAre("head:100 Continue 1.1 none ka", "done",
                          "head:103 Early Hints 1.1 none ka|Link=</a>", "done",
                          "head:200 OK 1.1 none ka|Content-Length=3", "done",
                          "head:200 OK 1.1 len=3 ka|Content-Length=3",
                          "body:abc", "done"));
}

// 101 switches protocols: the parser pauses and the rest is not HTTP.
TEST(HttpResponseParserTest, SwitchingProtocolsPauses) {
  ResponseRecorder recorder;
  HttpResponseParser parser(&recorder);
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n\r\n";
  EXPECT_EQ(parser.Feed(head + "\x81\x00"), head.size());
  EXPECT_TRUE(parser.paused());
  EXPECT_THAT(recorder.events,
              ElementsAre("head:101 Switching Protocols 1.1 none ka up|"
                          "Upgrade=websocket|Connection=Upgrade",
                          "done"));
}

// A 2xx answer to CONNECT opens a tunnel; a refusal is an ordinary response.
TEST(HttpResponseParserTest, ConnectTunnel) {
  ResponseRecorder recorder;
  HttpResponseParser parser(&recorder);
  ASSERT_TRUE(parser.ExpectResponseTo("CONNECT").ok());
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  EXPECT_EQ(parser.Feed(head + "tls bytes"), head.size());
  EXPECT_THAT(
      recorder.events,
      ElementsAre("head:200 Connection established 1.1 none ka up", "done"));

  EXPECT_THAT(ResponseEvents("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 1\r\n"
                             "\r\nx",
                             {"CONNECT"}),
              ElementsAre("head:407 Proxy Auth 1.1 len=1 ka|Content-Length=1",
                          "body:x", "done"));
}

// HTTP/1.0 responses close unless they say keep-alive; a status line
// without a reason phrase (or even its space) is accepted.
TEST(HttpResponseParserTest, VersionsAndReasons) {
  EXPECT_THAT(
      ResponseEvents("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
                     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                     "Content-Length: 0\r\n\r\n"
                     "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"
                     "HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n"),
      ElementsAre("head:200 OK 1.0 len=0|Content-Length=0", "done",
                  "head:200 OK 1.0 len=0 ka|Connection=keep-alive|"
                  "Content-Length=0",
                  "done", "head:404  1.1 len=0 ka|Content-Length=0", "done",
                  "head:500  1.1 len=0 ka|Content-Length=0", "done"));
}

struct Refusal {
  const char* name;
  std::string input;
  int http_status;
  absl::StatusCode code;
};

// Malformed and ambiguous responses are errors, with nothing after them.
TEST(HttpResponseParserTest, RefusesMalformedResponses) {
  const auto bad = absl::StatusCode::kInvalidArgument;
  const std::vector<Refusal> cases = {
      {"both framings",
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400, bad},
      {"differing lengths",
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400,
       bad},
      {"chunked twice",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
       bad},
      {"bad status code", "HTTP/1.1 2x0 OK\r\n\r\n", 400, bad},
      {"short status code", "HTTP/1.1 20 OK\r\n\r\n", 400, bad},
      {"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", 400, bad},
      {"no space after code", "HTTP/1.1 200OK\r\n\r\n", 400, bad},
      {"not HTTP", "ICY 200 OK\r\n\r\n", 400, bad},
      {"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", 505,
       absl::StatusCode::kUnimplemented},
      {"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 400, bad},
      {"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n",
       400, bad},
      {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 400, bad},
      {"too long", "HTTP/1.1 200 OK\r\nContent-Length: 9000000000\r\n\r\n", 413,
       absl::StatusCode::kResourceExhausted},
  };
  const std::string ok = "HTTP/1.1 204 No Content\r\n\r\n";
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> events = ResponseEvents(ok + c.input + ok);
    ASSERT_EQ(events.size(), 3u);
    ResponseRecorder r = ParseResponses(ok + c.input + ok, 0);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].http_status, c.http_status);
    EXPECT_EQ(r.errors[0].status.code(), c.code) << r.errors[0].status;
  }
}

// A close-delimited body is bounded too: bytes up to the limit arrive,
// then the error, the same however the bytes are cut.
TEST(HttpResponseParserTest, CloseDelimitedLimit) {
  HttpParserOptions options;
  options.body_bytes_max = 4;
  EXPECT_THAT(ResponseEvents("HTTP/1.1 200 OK\r\n\r\n12345", {}, options),
              ElementsAre("head:200 OK 1.1 close", "body:1234",
                          "error:413:RESOURCE_EXHAUSTED:body exceeds 4 bytes"));
}

// The end of the stream inside a sized or chunked body is kUnavailable.
TEST(HttpResponseParserTest, TruncatedBodies) {
  for (const std::string input :
       {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 200 OK\r\nContent-"}) {
    std::vector<std::string> events = ResponseEvents(input);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(),
              "error:400:UNAVAILABLE:stream ended inside a message");
  }
}

// The queue of awaited responses is bounded.
TEST(HttpResponseParserTest, ExpectQueueLimit) {
  ResponseRecorder recorder;
  HttpParserOptions options;
  options.pipeline_depth_max = 2;
  HttpResponseParser parser(&recorder, options);
  EXPECT_TRUE(parser.ExpectResponseTo("GET").ok());
  EXPECT_TRUE(parser.ExpectResponseTo("HEAD").ok());
  EXPECT_EQ(parser.ExpectResponseTo("GET").code(),
            absl::StatusCode::kResourceExhausted);
  parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(parser.ExpectResponseTo("GET").ok());
}

}  // namespace
}  // namespace ember::protocols
