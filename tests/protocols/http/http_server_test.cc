// Goal: the HTTP server, driven over the simulator by raw clients that send
// exact bytes, answers every request in request order whatever order its
// handler answers in; reads bodies by Content-Length and chunked (with
// trailers); streams chunked responses; does Expect: 100-continue, HEAD,
// keep-alive and Connection: close; and meets every limit, malformed or
// smuggling-prone request and timeout with its status and a close.

#include "protocols/http/http_server.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"

namespace ember::protocols {
namespace {

using testing::RawClient;
using testing::RawRecord;
using testing::ReadResponses;
using testing::RunFor;
using testing::RunUntil;

constexpr uint16_t kPort = 8080;

// Answers "<method> <target> <body>" with the request's X-Id echoed.
void Echo(HttpRequest request, HttpResponder responder) {
  HttpResponse response;
  response.headers.Set("Content-Type", "text/plain");
  if (auto id = request.headers.Get("X-Id")) {
    response.headers.Set("X-Id", *id);
  }
  for (const auto& field : request.trailers) {
    response.headers.Add(absl::StrCat("X-Trailer-", field.name), field.value);
  }
  response.body =
      absl::StrCat(request.method, " ", request.target, " ", request.body);
  ASSERT_TRUE(responder.Send(std::move(response)).ok());
}

std::string Get(const std::string& target, const std::string& extra = "") {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: a\r\n", extra,
                      "\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : net_(sim::SimOptions()), reactor_(net_) {}
  ~HttpServerTest() override { server_.reset(); }

  template <typename Handler>
  void Start(Handler handler, HttpServerOptions options = {}) {
    server_ =
        std::make_unique<HttpServer>(reactor_, options, std::move(handler));
    auto address = server_->Listen("127.0.0.1", kPort);
    ASSERT_TRUE(address.ok()) << address.status();
  }

  // A raw connection that sends `bytes` as soon as it is connected.
  RawRecord* Open(std::string_view bytes = "") {
    records_.push_back(std::make_unique<RawRecord>());
    RawRecord* record = records_.back().get();
    auto connection = reactor_.Connect("127.0.0.1", kPort,
                                       std::make_unique<RawClient>(record));
    EXPECT_TRUE(connection.ok()) << connection.status();
    connections_[record] = *connection;
    if (!bytes.empty()) Send(record, bytes);
    return record;
  }

  void Send(RawRecord* record, std::string_view bytes) {
    ASSERT_FALSE(record->unbound);
    ASSERT_TRUE(connections_[record]->SendData(bytes).ok());
  }

  void CloseWrite(RawRecord* record) { connections_[record]->CloseWrite(); }

  // Runs until `record` holds `count` responses to `methods` (or closed).
  std::vector<HttpResponse> Await(RawRecord* record, size_t count,
                                  std::vector<std::string> methods = {}) {
    methods.resize(std::max(methods.size(), count), "GET");
    std::vector<HttpResponse> responses;
    EXPECT_TRUE(RunUntil(reactor_,
                         [&] {
                           responses =
                               ReadResponses(record->received, methods, false);
                           return responses.size() >= count || record->unbound;
                         }))
        << "no " << count << " responses; got: " << record->received;
    return responses;
  }

  // Runs until the server closed `record`'s connection.
  void AwaitClose(RawRecord* record) {
    EXPECT_TRUE(RunUntil(reactor_, [&] { return record->eof; }))
        << "the server did not close; got: " << record->received;
  }

  // Sends `request` on a new connection; expects one response of `status`
  // with "Connection: close", then the close, and the handler not called.
  void ExpectRefused(std::string_view request, int status) {
    SCOPED_TRACE(request);
    const uint64_t requests = server_->stats().requests;
    RawRecord* record = Open(request);
    AwaitClose(record);
    std::string error;
    auto responses = ReadResponses(record->received, {"GET"}, true, &error);
    ASSERT_EQ(responses.size(), 1u) << record->received << error;
    EXPECT_EQ(responses[0].status_code, status) << record->received;
    EXPECT_TRUE(responses[0].headers.HasToken("Connection", "close"));
    EXPECT_EQ(server_->stats().requests, requests);
  }

  // Serves "/p" at once with prepared_, "/r" with plain_ (the response
  // prepared_ was made from), and keeps the responder of any other target
  // in held_, to be answered later.
  void StartPrepared(HttpServerOptions options = {}) {
    plain_.headers.Set("Content-Type", "text/plain");
    plain_.body = "prepared";
    prepared_ = std::make_unique<HttpPreparedResponse>(
        *HttpPreparedResponse::Create(plain_));
    Start(
        [this](const HttpRequestView& request, HttpResponder responder) {
          if (request.target == "/p") {
            ASSERT_TRUE(responder.Send(*prepared_).ok());
            // Complete: the responder is spent.
            EXPECT_FALSE(responder.active());
            EXPECT_EQ(responder.Send(*prepared_).code(),
                      absl::StatusCode::kFailedPrecondition);
          } else if (request.target == "/r") {
            ASSERT_TRUE(responder.Send(plain_).ok());
          } else {
            held_.push_back(std::move(responder));
          }
        },
        options);
  }

  // Has a prepared response sent on a connection of its own, so that the
  // server holds its bytes for the current second.
  void SendPreparedOnce() {
    RawRecord* record = Open(Get("/p"));
    ASSERT_EQ(Await(record, 1).size(), 1u);
  }

  // Declared before the reactor, which writes to them as it closes.
  std::vector<std::unique_ptr<RawRecord>> records_;
  std::map<RawRecord*, Connection*> connections_;
  sim::SimNetwork net_;
  Reactor reactor_;
  std::unique_ptr<HttpServer> server_;
  HttpResponse plain_;
  std::unique_ptr<HttpPreparedResponse> prepared_;
  std::vector<HttpResponder> held_;
};

TEST_F(HttpServerTest, AnswersKeepAliveRequestsOnOneConnection) {
  // Goal: two requests in turn on one connection get their answers, with
  // Content-Length and Date, and the connection stays open.
  Start(Echo);
  RawRecord* record = Open(Get("/one"));
  ASSERT_EQ(Await(record, 1).size(), 1u);
  Send(record, Get("/two"));
  auto responses = Await(record, 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_code, 200);
  EXPECT_EQ(responses[0].body, "GET /one ");
  EXPECT_EQ(responses[1].body, "GET /two ");
  EXPECT_EQ(responses[1].headers.Get("Content-Length"), "9");
  EXPECT_TRUE(responses[1].headers.Contains("Date"));
  EXPECT_FALSE(responses[1].headers.Contains("Connection"));
  EXPECT_FALSE(record->unbound);
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_EQ(server_->stats().requests, 2u);
}

TEST_F(HttpServerTest,
       PipelinedResponsesKeepRequestOrderWhenAnsweredOutOfOrder) {
  // Goal: five pipelined requests whose handler answers the later ones
  // first (from timers) still get their responses in request order.
  std::vector<HttpResponder> held;
  Start([&](HttpRequest request, HttpResponder responder) {
    const int n = request.target.back() - '0';
    // Request n answers after (6 - n) seconds: the last one first.
    auto timer = reactor_.AddTimer(
        absl::Seconds(6 - n),
        [r = std::move(responder), request = std::move(request)]() mutable {
          HttpResponse response;
          response.body = request.target;
          ASSERT_TRUE(r.Send(std::move(response)).ok());
        });
    ASSERT_TRUE(timer.ok());
  });
  std::string burst;
  for (int n = 1; n <= 5; ++n) burst += Get(absl::StrCat("/", n));
  RawRecord* record = Open(burst);
  auto responses = Await(record, 5);
  ASSERT_EQ(responses.size(), 5u);
  for (int n = 1; n <= 5; ++n) {
    EXPECT_EQ(responses[n - 1].body, absl::StrCat("/", n));
  }
}

TEST_F(HttpServerTest, ReadsContentLengthAndChunkedBodiesWithTrailers) {
  // Goal: a Content-Length body and a chunked body with trailers reach the
  // handler whole, and the connection carries on after each.
  Start(Echo);
  RawRecord* record = Open(
      "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n" +
      Get("/c"));
  auto responses = Await(record, 3);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "POST /a hello");
  EXPECT_EQ(responses[1].body, "POST /b abcdefg");
  EXPECT_EQ(responses[1].headers.Get("X-Trailer-X-Sum"), "7");
  EXPECT_EQ(responses[2].body, "GET /c ");
}

TEST_F(HttpServerTest, StreamsAChunkedResponseWithTrailers) {
  // Goal: StartChunked, WriteChunk from timers, and Finish with trailers
  // give a chunked response the client reads whole; a request pipelined
  // behind it is answered after it.
  Start([&](HttpRequest request, HttpResponder responder) {
    if (request.target != "/stream") {
      Echo(std::move(request), std::move(responder));
      return;
    }
    HttpResponse head;
    head.headers.Set("Content-Type", "text/plain");
    head.body = "first;";
    ASSERT_TRUE(responder.StartChunked(std::move(head)).ok());
    auto r = std::make_shared<HttpResponder>(std::move(responder));
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(
          reactor_
              .AddTimer(absl::Seconds(i),
                        [r, i] {
                          ASSERT_TRUE(
                              r->WriteChunk(absl::StrCat("part", i, ";")).ok());
                          if (i == 3) {
                            ASSERT_TRUE(
                                r->Finish(HttpHeaders{{"X-Parts", "3"}}).ok());
                            EXPECT_EQ(r->Finish().code(),
                                      absl::StatusCode::kFailedPrecondition);
                          }
                        })
              .ok());
    }
  });
  RawRecord* record = Open(Get("/stream") + Get("/after"));
  auto responses = Await(record, 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].headers.Get("Transfer-Encoding"), "chunked");
  EXPECT_EQ(responses[0].body, "first;part1;part2;part3;");
  EXPECT_EQ(responses[0].trailers.Get("X-Parts"), "3");
  EXPECT_EQ(responses[1].body, "GET /after ");
}

TEST_F(HttpServerTest, StreamsToAnHttp10ClientUntilTheClose) {
  // Goal: HTTP/1.0 has no chunked coding: a streamed response goes out
  // without one and the close ends its body.
  Start([&](HttpRequest request, HttpResponder responder) {
    ASSERT_TRUE(responder.StartChunked(HttpResponse()).ok());
    ASSERT_TRUE(responder.WriteChunk("abc").ok());
    ASSERT_TRUE(responder.Finish().ok());
  });
  RawRecord* record = Open("GET / HTTP/1.0\r\n\r\n");
  AwaitClose(record);
  auto responses = ReadResponses(record->received, {"GET"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].headers.Contains("Transfer-Encoding"));
  EXPECT_EQ(responses[0].headers.Get("Connection"), "close");
  EXPECT_EQ(responses[0].body, "abc");
}

TEST_F(HttpServerTest, Http10KeepAliveIsHonouredAndDefaultCloses) {
  // Goal: HTTP/1.0 with "Connection: keep-alive" stays open and is told so;
  // without it the server closes after the response.
  Start(Echo);
  RawRecord* kept = Open("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto responses = Await(kept, 1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].headers.Get("Connection"), "keep-alive");
  RawRecord* closed = Open("GET /c HTTP/1.0\r\n\r\n");
  AwaitClose(closed);
  EXPECT_FALSE(kept->eof);
  auto last = ReadResponses(closed->received, {"GET"}, true);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].headers.Get("Connection"), "close");
}

TEST_F(HttpServerTest, ConnectionCloseEndsTheConnectionAfterThatResponse) {
  // Goal: a request with "Connection: close" is answered with it and the
  // server closes; a request pipelined behind it is not answered.
  Start(Echo);
  RawRecord* record = Open(Get("/last", "Connection: close\r\n") + Get("/x"));
  AwaitClose(record);
  auto responses = ReadResponses(record->received, {"GET", "GET"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].body, "GET /last ");
  EXPECT_EQ(responses[0].headers.Get("Connection"), "close");
  EXPECT_EQ(server_->stats().requests, 1u);
}

TEST_F(HttpServerTest, HeadGetsTheHeadersOfGetAndNoBody) {
  // Goal: HEAD is answered with GET's Content-Length and no body, for a
  // whole and a streamed response, and the connection goes on correctly.
  Start([&](HttpRequest request, HttpResponder responder) {
    if (request.target == "/stream") {
      ASSERT_TRUE(responder.StartChunked(HttpResponse()).ok());
      ASSERT_TRUE(responder.WriteChunk("ignored").ok());
      ASSERT_TRUE(responder.Finish().ok());
      return;
    }
    Echo(std::move(request), std::move(responder));
  });
  RawRecord* record = Open(
      "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /stream HTTP/1.1\r\nHost: a\r\n\r\n" +
      Get("/g"));
  auto responses = Await(record, 3, {"HEAD", "HEAD", "GET"});
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].headers.Get("Content-Length"), "8");  // "HEAD /h "
  EXPECT_EQ(responses[0].body, "");
  EXPECT_EQ(responses[1].headers.Get("Transfer-Encoding"), "chunked");
  EXPECT_EQ(responses[1].body, "");
  EXPECT_EQ(responses[2].body, "GET /g ");
  // Exactly the three heads and one body were sent.
  EXPECT_EQ(record->received.find("ignored"), std::string::npos);
}

TEST_F(HttpServerTest, ExpectContinueAsksForTheBodyFirst) {
  // Goal: a request with "Expect: 100-continue" gets "100 Continue" before
  // it sends its body, then its response.
  Start(Echo);
  RawRecord* record = Open(
      "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
      "Expect: 100-continue\r\n\r\n");
  ASSERT_TRUE(RunUntil(reactor_, [&] { return !record->received.empty(); }));
  EXPECT_EQ(record->received, "HTTP/1.1 100 Continue\r\n\r\n");
  Send(record, "data");
  auto responses = Await(record, 2, {"POST"});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_code, 100);
  EXPECT_EQ(responses[1].body, "POST /up data");
  EXPECT_EQ(server_->stats().continues_sent, 1u);
}

TEST_F(HttpServerTest, ExpectContinueOverTheBodyLimitIs413WithoutContinue) {
  // Goal: an Expect: 100-continue request whose Content-Length passes the
  // body limit is answered 413 at once, without 100, and closed.
  HttpServerOptions options;
  options.parser.body_bytes_max = 100;
  Start(Echo, options);
  ExpectRefused(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n"
      "Expect: 100-continue\r\n\r\n",
      413);
  EXPECT_EQ(server_->stats().continues_sent, 0u);
}

TEST_F(HttpServerTest, LimitsAreAnsweredWithTheirStatusAndAClose) {
  // Goal: each limit and each unsupported request gets its status, a
  // "Connection: close" and the close, and never reaches the handler.
  HttpServerOptions options;
  options.parser.header_bytes_max = 1024;
  options.parser.header_count_max = 10;
  options.parser.line_bytes_max = 256;
  options.parser.body_bytes_max = 100;
  Start(Echo, options);
  std::string big_section;
  for (int i = 0; i < 5; ++i) {
    absl::StrAppend(&big_section, "X-Pad-", i, ": ", std::string(200, 'x'),
                    "\r\n");
  }
  std::string many_fields;
  for (int i = 0; i < 10; ++i)
    absl::StrAppend(&many_fields, "X-", i, ": 1\r\n");
  ExpectRefused(Get("/", big_section), 431);
  ExpectRefused(Get("/", many_fields), 431);
  ExpectRefused(Get("/", "X-Long: " + std::string(300, 'y') + "\r\n"), 431);
  ExpectRefused(Get("/" + std::string(300, 'z')), 414);
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
                413);
  ExpectRefused(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "64\r\n" +
          std::string(100, 'a') + "\r\n1\r\nb\r\n0\r\n\r\n",
      413);
  ExpectRefused("GET /\r\n\r\n", 400);
  ExpectRefused(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      501);
  ExpectRefused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  ExpectRefused("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501);
  EXPECT_EQ(server_->stats().errors.at(431), 3u);
  EXPECT_EQ(server_->stats().errors.at(413), 2u);
}

TEST_F(HttpServerTest, SmugglingProneRequestsAre400AndClosed) {
  // Goal: every request RFC 9112 says could be framed two ways is refused
  // with 400 and a close, so no second request hides in its body.
  Start(Echo);
  const std::string post = "POST / HTTP/1.1\r\nHost: a\r\n";
  for (const std::string& request : {
           post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\n\r\n",
           post + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
           post + "Content-Length: +4\r\n\r\nabcd",
           post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
           post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
           post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
           post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
           post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
           std::string("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\n\r\n"),
           std::string("GET / HTTP/1.1\nHost: a\n\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
       }) {
    ExpectRefused(request, 400);
  }
}

TEST_F(HttpServerTest, ErrorResponseWaitsForEarlierResponses) {
  // Goal: a malformed request behind one whose handler answers later is
  // answered 400 only after that earlier response.
  Start([&](HttpRequest request, HttpResponder responder) {
    ASSERT_TRUE(reactor_
                    .AddTimer(absl::Seconds(1),
                              [r = std::move(responder)]() mutable {
                                ASSERT_TRUE(r.Send(HttpResponse()).ok());
                              })
                    .ok());
  });
  RawRecord* record = Open(Get("/slow") + "BAD\r\n\r\n");
  AwaitClose(record);
  auto responses = ReadResponses(record->received, {"GET", "GET"}, true);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_code, 200);
  EXPECT_EQ(responses[1].status_code, 400);
}

TEST_F(HttpServerTest, SlowHeadGets408AfterTheHeaderTimeout) {
  // Goal: a client that never finishes its head gets 408 and a close when
  // header_timeout has passed, not earlier.
  Start(Echo);
  const absl::Time start = reactor_.Now();
  RawRecord* record = Open("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ");
  RunFor(reactor_, absl::Seconds(10));
  Send(record, "still");  // Bytes do not extend the deadline.
  AwaitClose(record);
  const absl::Duration took = reactor_.Now() - start;
  EXPECT_GE(took, absl::Seconds(30));
  EXPECT_LT(took, absl::Seconds(31));
  auto responses = ReadResponses(record->received, {"GET"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status_code, 408);
  EXPECT_EQ(server_->stats().header_timeouts, 1u);
}

TEST_F(HttpServerTest, SilentConnectionIsClosedAfterTheHeaderTimeout) {
  // Goal: a connection that sends nothing is closed, without a response,
  // after header_timeout.
  HttpServerOptions options;
  options.header_timeout = absl::Seconds(5);
  Start(Echo, options);
  const absl::Time start = reactor_.Now();
  RawRecord* record = Open();
  AwaitClose(record);
  EXPECT_GE(reactor_.Now() - start, absl::Seconds(5));
  EXPECT_EQ(record->received, "");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterItsTimeout) {
  // Goal: after its response, a keep-alive connection that sends nothing
  // more is closed after keep_alive_idle_timeout, silently.
  Start(Echo);
  RawRecord* record = Open(Get("/"));
  ASSERT_EQ(Await(record, 1).size(), 1u);
  const size_t answered = record->received.size();
  const absl::Time start = reactor_.Now();
  RunFor(reactor_, absl::Seconds(59));
  EXPECT_FALSE(record->eof);
  AwaitClose(record);
  EXPECT_GE(reactor_.Now() - start, absl::Seconds(60));
  EXPECT_LT(reactor_.Now() - start, absl::Seconds(61));
  EXPECT_EQ(record->received.size(), answered);
  EXPECT_EQ(server_->stats().idle_timeouts, 1u);
}

TEST_F(HttpServerTest, StalledBodyGets408) {
  // Goal: a body that stops arriving is answered 408 and closed after
  // body_timeout without a byte (checked at that granularity).
  Start(Echo);
  const absl::Time start = reactor_.Now();
  RawRecord* record =
      Open("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
  AwaitClose(record);
  EXPECT_GE(reactor_.Now() - start, absl::Seconds(30));
  EXPECT_LE(reactor_.Now() - start, absl::Seconds(61));
  auto responses = ReadResponses(record->received, {"POST"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status_code, 408);
  EXPECT_EQ(server_->stats().body_timeouts, 1u);
}

TEST_F(HttpServerTest, StopsReadingAtThePipelineDepthUntilResponsesDrain) {
  // Goal: with pipeline_depth_max 2, a burst of six requests reaches the
  // handler two at a time; answering them lets the rest in; all six are
  // answered in order.
  HttpServerOptions options;
  options.pipeline_depth_max = 2;
  std::vector<HttpResponder> held;
  std::vector<std::string> targets;
  Start(
      [&](HttpRequest request, HttpResponder responder) {
        targets.push_back(request.target);
        held.push_back(std::move(responder));
      },
      options);
  std::string burst;
  for (int n = 1; n <= 6; ++n) burst += Get(absl::StrCat("/", n));
  RawRecord* record = Open(burst);
  for (size_t round = 1; round <= 3; ++round) {
    ASSERT_TRUE(RunUntil(reactor_, [&] { return held.size() == 2; }));
    RunFor(reactor_, absl::Seconds(1));
    EXPECT_EQ(held.size(), 2u) << "read past the pipeline limit";
    // Answering lets the next requests in at once: answer a moved batch.
    std::vector<HttpResponder> batch = std::move(held);
    held.clear();
    for (HttpResponder& responder : batch) {
      ASSERT_TRUE(responder.Send(HttpResponse()).ok());
    }
  }
  auto responses = Await(record, 6);
  EXPECT_EQ(responses.size(), 6u);
  EXPECT_EQ(targets,
            (std::vector<std::string>{"/1", "/2", "/3", "/4", "/5", "/6"}));
  EXPECT_GE(server_->stats().pipeline_pauses, 2u);
}

// Every shape of request the view path serves differently: heads within
// one read and cut byte by byte (the parser then buffers them), HEAD,
// HTTP/1.0, bodies by Content-Length and chunked with trailers, and a
// pipelined burst.
std::vector<std::string> ViewTestRequests() {
  std::string burst;
  for (int n = 1; n <= 4; ++n) burst += Get(absl::StrCat("/p", n));
  return {
      Get("/one?q=1", "Accept: */*\r\nX-Long: " + std::string(300, 'v') +
                          "\r\n"),
      "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /old HTTP/1.0\r\nConnection: keep-alive\r\nX-A:  b \r\n\r\n",
      "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
      "POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-Sum: 3\r\nX-More: m\r\n\r\n",
      burst,
  };
}

TEST_F(HttpServerTest, AViewHandlerSeesWhatAnOwnedHandlerSees) {
  // Goal: a ViewHandler gets the same requests (method, target, version,
  // fields, body, trailers) as a Handler, whether a head arrives in one
  // read or byte by byte, and the connection goes on after each.
  for (const bool views : {false, true}) {
    for (const bool bytewise : {false, true}) {
      SCOPED_TRACE(absl::StrCat(views ? "views" : "owned",
                                bytewise ? ", byte by byte" : ", whole"));
      std::vector<HttpRequest> seen;
      const auto answer = [](HttpResponder& responder) {
        ASSERT_TRUE(responder.Send(HttpResponse()).ok());
      };
      server_.reset();
      HttpServerOptions options;
      options.header_timeout = absl::Hours(1);  // Bytes come a turn apart.
      if (views) {
        Start(
            [&](const HttpRequestView& request, HttpResponder responder) {
              seen.push_back(request.ToOwned());
              answer(responder);
            },
            options);
      } else {
        Start(
            [&](HttpRequest&& request, HttpResponder responder) {
              seen.push_back(request);
              answer(responder);
            },
            options);
      }
      RawRecord* record = Open();
      size_t expected = 0;
      std::vector<std::string> methods;
      for (const std::string& request : ViewTestRequests()) {
        if (bytewise) {
          for (char c : request) {
            ASSERT_FALSE(record->unbound) << record->received;
            Send(record, std::string_view(&c, 1));
            RunFor(reactor_, absl::Milliseconds(1));
          }
        } else {
          Send(record, request);
        }
        expected += request == ViewTestRequests().back() ? 4 : 1;
        methods.push_back(request.substr(0, request.find(' ')));
        Await(record, expected, methods);
      }
      methods.resize(expected, "GET");
      ASSERT_EQ(Await(record, expected, methods).size(), expected);
      ASSERT_EQ(seen.size(), expected);
      EXPECT_EQ(seen[0].target, "/one?q=1");
      EXPECT_EQ(seen[0].headers.Get("X-Long"), std::string(300, 'v'));
      EXPECT_EQ(seen[1].method, "HEAD");
      EXPECT_EQ(seen[2].version, (HttpVersion{1, 0}));
      EXPECT_EQ(seen[2].headers.Get("X-A"), "b");
      EXPECT_EQ(seen[3].body, "hello");
      EXPECT_EQ(seen[4].body, "abc");
      EXPECT_EQ(seen[4].trailers.Get("X-More"), "m");
      EXPECT_EQ(seen[8].target, "/p4");
      // Owned and views, whole and byte by byte: all the same.
      static std::vector<HttpRequest> first;
      if (!views && !bytewise) {
        first = seen;
      } else {
        EXPECT_EQ(seen, first);
      }
    }
  }
}

TEST_F(HttpServerTest, AViewStaysIntactWhenItsHandlerServesAnotherConnection) {
  // Goal: a view handler that, by answering a held responder, lets another
  // connection's paused pipeline go on (whose requests then reach the
  // handler inside this call) still sees its own request whole afterwards.
  HttpServerOptions options;
  options.pipeline_depth_max = 1;
  HttpResponder held;
  std::vector<std::string> order;
  Start(
      [&](const HttpRequestView& request, HttpResponder responder) {
        order.push_back(std::string(request.target));
        if (request.target == "/b1") {
          held = std::move(responder);  // Pauses b's pipeline.
          return;
        }
        if (request.target == "/a") {
          ASSERT_TRUE(held.Send(HttpResponse()).ok());  // /b2 runs in here.
          EXPECT_EQ(order.back(), "/b2");
          EXPECT_EQ(request.method, "GET");
          EXPECT_EQ(request.target, "/a");
          EXPECT_EQ(request.headers.Get("X-Who"), "a");
          EXPECT_EQ(request.headers.size(), 2u);
        }
        ASSERT_TRUE(responder.Send(HttpResponse()).ok());
      },
      options);
  RawRecord* b = Open(Get("/b1", "X-Who: b1\r\n") + Get("/b2", "X-Who: b2\r\n"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held.active(); }));
  RawRecord* a = Open(Get("/a", "X-Who: a\r\n"));
  EXPECT_EQ(Await(a, 1).size(), 1u);
  EXPECT_EQ(Await(b, 2).size(), 2u);
  EXPECT_EQ(order, (std::vector<std::string>{"/b1", "/a", "/b2"}));
}

TEST_F(HttpServerTest, DroppedResponderIsAnswered500) {
  // Goal: a handler that lets its responder go unanswered does not hang the
  // client: the server answers 500 and the connection goes on.
  Start([](HttpRequest request, HttpResponder responder) {});
  RawRecord* record = Open(Get("/a") + Get("/b"));
  auto responses = Await(record, 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_code, 500);
  EXPECT_EQ(responses[1].status_code, 500);
  EXPECT_FALSE(record->unbound);
  EXPECT_EQ(server_->stats().dropped_responders, 2u);
}

TEST_F(HttpServerTest, ResponderCallsFailClearlyOutOfOrderAndAfterTheClose) {
  // Goal: misuse gets kFailedPrecondition, bad responses kInvalidArgument,
  // and a responder whose connection is gone kUnavailable.
  HttpResponder kept;
  Start([&](HttpRequest request, HttpResponder responder) {
    EXPECT_EQ(responder.WriteChunk("x").code(),
              absl::StatusCode::kFailedPrecondition);
    HttpResponse interim;
    interim.status_code = 100;
    EXPECT_EQ(responder.Send(interim).code(),
              absl::StatusCode::kInvalidArgument);
    HttpResponse framed;
    framed.headers.Set("Transfer-Encoding", "chunked");
    EXPECT_EQ(responder.Send(framed).code(),
              absl::StatusCode::kInvalidArgument);
    kept = std::move(responder);
    EXPECT_TRUE(kept.active());
  });
  RawRecord* record = Open(Get("/"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return kept.active(); }));
  Connection* client = connections_[record];
  ASSERT_GT(net_.ResetConnection(*client->LocalName(), *client->PeerName()), 0);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return !kept.active(); }));
  EXPECT_EQ(kept.Send(HttpResponse()).code(), absl::StatusCode::kUnavailable);
  HttpResponder empty;
  EXPECT_EQ(empty.Send(HttpResponse()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(HttpServerTest, BufferedResponsesAreBounded) {
  // Goal: a response waiting behind an unfinished one is buffered only up
  // to buffered_response_bytes_max: beyond, Send fails with
  // kResourceExhausted, queues nothing, and may be retried.
  HttpServerOptions options;
  options.buffered_response_bytes_max = 1000;
  std::vector<HttpResponder> held;
  Start([&](HttpRequest request,
            HttpResponder responder) { held.push_back(std::move(responder)); },
        options);
  RawRecord* record = Open(Get("/1") + Get("/2"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held.size() == 2; }));
  HttpResponse big;
  big.body = std::string(2000, 'b');
  EXPECT_EQ(held[1].Send(big).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(held[1].active());
  ASSERT_TRUE(held[0].Send(HttpResponse()).ok());
  ASSERT_TRUE(held[1].Send(big).ok());  // Now at the front: fits.
  auto responses = Await(record, 2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[1].body.size(), 2000u);
}

TEST_F(HttpServerTest, HalfClosedClientStillGetsItsResponses) {
  // Goal: a client that sends its requests and then half-closes gets every
  // response before the server closes.
  std::vector<HttpResponder> held;
  Start([&](HttpRequest request, HttpResponder responder) {
    held.push_back(std::move(responder));
  });
  RawRecord* record = Open(Get("/1") + Get("/2"));
  CloseWrite(record);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held.size() == 2; }));
  RunFor(reactor_, absl::Seconds(1));
  for (HttpResponder& responder : held) {
    ASSERT_TRUE(responder.Send(HttpResponse()).ok());
  }
  AwaitClose(record);
  EXPECT_EQ(ReadResponses(record->received, {"GET", "GET"}, true).size(), 2u);
}

TEST_F(HttpServerTest, GracefulShutdownFinishesResponsesThenCloses) {
  // Goal: on Reactor::GracefulShutdown a connection with a response pending
  // gets it (marked "Connection: close"), then the close; an idle one
  // closes at once; then the reactor stops.
  HttpResponder kept;
  Start([&](HttpRequest request, HttpResponder responder) {
    kept = std::move(responder);
  });
  RawRecord* busy = Open(Get("/"));
  RawRecord* idle = Open();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return kept.active(); }));
  bool done = false;
  reactor_.GracefulShutdown(absl::Seconds(10), [&] { done = true; });
  ASSERT_TRUE(RunUntil(reactor_, [&] { return idle->eof; }));
  EXPECT_FALSE(busy->eof);
  ASSERT_TRUE(kept.Send(HttpResponse()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return busy->eof && done; }));
  auto responses = ReadResponses(busy->received, {"GET"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].headers.Get("Connection"), "close");
}

TEST_F(HttpServerTest, DestroyingTheServerClosesItsConnections) {
  // Goal: destroying the server closes its connections; a held responder
  // then reports kUnavailable instead of touching freed memory.
  HttpResponder kept;
  Start([&](HttpRequest request, HttpResponder responder) {
    kept = std::move(responder);
  });
  RawRecord* record = Open(Get("/"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return kept.active(); }));
  server_.reset();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return record->unbound; }));
  EXPECT_EQ(kept.Send(HttpResponse()).code(), absl::StatusCode::kUnavailable);
}

TEST_F(HttpServerTest, PreparedResponsesSendTheSameBytesAsSend) {
  // Goal: Send(HttpPreparedResponse) writes exactly the bytes that
  // Send(HttpResponse) writes for the response it was made from, for every
  // kind of response (set or replaced Content-Length, no-body statuses, the
  // handler's own Connection or Date, reason phrases, bodies past the join
  // limit) and every kind of request (HEAD, HTTP/1.0 with and without
  // keep-alive, Connection: close).
  std::vector<HttpResponse> responses;
  auto add = [&](int code, std::string reason, std::string body,
                 std::vector<std::pair<std::string, std::string>> fields) {
    HttpResponse response;
    response.status_code = code;
    response.reason = std::move(reason);
    response.body = std::move(body);
    for (auto& [name, value] : fields) response.headers.Add(name, value);
    responses.push_back(std::move(response));
  };
  add(200, "OK", "Hello, World!", {{"Content-Type", "text/plain"}});
  add(200, "", "", {});
  add(404, "OK", "gone", {});
  add(418, "Short And Stout", "tea", {{"X-A", "1"}, {"X-B", " two "}});
  add(200, "OK", "sized", {{"content-length", "99"}, {"X-After", "y"}});
  add(204, "", "", {{"Content-Length", "7"}});
  add(304, "", "", {{"ETag", "\"v1\""}});
  add(200, "OK", "bye", {{"Connection", "close"}});
  add(200, "OK", "stay", {{"Connection", "keep-alive"}});
  add(200, "OK", "dated", {{"Date", "Thu, 01 Jan 1970 00:00:00 GMT"}});
  add(200, "OK", std::string(5000, 'x'), {{"Content-Type", "a/b"}});
  std::vector<HttpPreparedResponse> prepared;
  for (const HttpResponse& response : responses) {
    auto made = HttpPreparedResponse::Create(response);
    ASSERT_TRUE(made.ok()) << made.status();
    EXPECT_EQ(made->status_code(), response.status_code);
    EXPECT_EQ(made->body(), response.body);
    prepared.push_back(*std::move(made));
  }
  // "/r/<i>" is answered with Send(responses[i]), "/p/<i>" with
  // Send(prepared[i]); the targets have the same length.
  Start([&](HttpRequest&& request, HttpResponder responder) {
    const size_t i = static_cast<size_t>(std::stoi(request.target.substr(3)));
    ASSERT_LT(i, responses.size());
    const absl::Status sent = request.target[1] == 'p'
                                  ? responder.Send(prepared[i])
                                  : responder.Send(responses[i]);
    EXPECT_TRUE(sent.ok()) << sent;
  });
  struct Request {
    std::string method;
    std::string version;
    std::string fields;
  };
  const std::vector<Request> requests = {
      {"GET", "HTTP/1.1", ""},
      {"HEAD", "HTTP/1.1", ""},
      {"GET", "HTTP/1.0", ""},
      {"GET", "HTTP/1.0", "Connection: keep-alive\r\n"},
      {"HEAD", "HTTP/1.0", "Connection: keep-alive\r\n"},
      {"GET", "HTTP/1.1", "Connection: close\r\n"},
  };
  for (size_t i = 0; i < responses.size(); ++i) {
    for (const Request& request : requests) {
      SCOPED_TRACE(absl::StrCat("response ", i, ", ", request.method, " ",
                                request.version, " ", request.fields));
      std::string received[2];
      for (int way = 0; way < 2; ++way) {
        RawRecord* record = Open(absl::StrCat(
            request.method, " /", way == 0 ? "r" : "p", "/", i, " ",
            request.version, "\r\nHost: a\r\n", request.fields, "\r\n"));
        Await(record, 1, {request.method});
        received[way] = record->received;
      }
      ASSERT_FALSE(received[0].empty());
      EXPECT_EQ(received[1], received[0]);
    }
  }
}

TEST_F(HttpServerTest, PreparedResponsesSentAgainStayRight) {
  // Goal: a server keeps the bytes of the prepared response it sent last
  // (for one second's Date) and sends them again; the bytes stay those of
  // Send(HttpResponse) when responses alternate, when the second changes,
  // and for a response moved elsewhere.
  HttpResponse plain[2];
  plain[0].body = "first";
  plain[1].body = "second";
  plain[1].headers.Set("X-Kind", "2");
  std::vector<HttpPreparedResponse> prepared;
  for (const HttpResponse& response : plain) {
    prepared.push_back(*HttpPreparedResponse::Create(response));
  }
  Start([&](const HttpRequestView& request, HttpResponder responder) {
    // "/p<i>" is answered with prepared[i], "/r<i>" with plain[i].
    const size_t i = static_cast<size_t>(request.target[2] - '0');
    const absl::Status sent = request.target[1] == 'p'
                                  ? responder.Send(prepared[i])
                                  : responder.Send(plain[i]);
    EXPECT_TRUE(sent.ok()) << sent;
  });
  RawRecord* record = Open();
  size_t count = 0;
  // Sends each target pair in one burst (so within one second) and expects
  // the two answers of each pair to be the same.
  auto pairs = [&](const std::vector<std::string>& targets) {
    std::string burst;
    for (const std::string& target : targets) {
      burst += Get("/p" + target) + Get("/r" + target);
    }
    Send(record, burst);
    count += 2 * targets.size();
    auto responses = Await(record, count);
    EXPECT_EQ(responses.size(), count);
    for (size_t i = count - 2 * targets.size(); i + 1 < responses.size();
         i += 2) {
      EXPECT_EQ(responses[i], responses[i + 1]) << i;
      EXPECT_TRUE(responses[i].headers.Contains("Date"));
    }
    return std::string(responses.back().headers.Get("Date").value_or(""));
  };
  const std::string date = pairs({"0", "0", "1", "0", "1", "1"});
  RunFor(reactor_, absl::Seconds(2));
  // The bytes kept are prepared[1]'s, of the second before.
  EXPECT_NE(pairs({"1", "0", "0"}), date);
  // Moved: the new home answers as the old one did.
  HttpPreparedResponse moved = std::move(prepared[0]);
  prepared[0] = std::move(moved);
  pairs({"0", "1", "0"});
}

TEST_F(HttpServerTest, PreparedResponseWaitsBehindAnEarlierPendingOne) {
  // Goal: prepared responses to requests pipelined behind one whose answer
  // is pending wait for it, and all go out in request order, counted.
  StartPrepared();
  RawRecord* record = Open(Get("/p") + Get("/hold") + Get("/p") + Get("/p"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  RunFor(reactor_, absl::Seconds(1));
  EXPECT_EQ(ReadResponses(record->received, {"GET"}, false).size(), 1u);
  EXPECT_EQ(server_->stats().responses, 3u);  // Two wait, complete.
  HttpResponse late;
  late.body = "late";
  ASSERT_TRUE(held_[0].Send(late).ok());
  auto responses = Await(record, 4);
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_EQ(responses[0].body, "prepared");
  EXPECT_EQ(responses[1].body, "late");
  EXPECT_EQ(responses[2].body, "prepared");
  EXPECT_EQ(responses[3].body, "prepared");
  EXPECT_EQ(server_->stats().requests, 4u);
  EXPECT_EQ(server_->stats().responses, 4u);
  EXPECT_FALSE(record->unbound);
}

TEST_F(HttpServerTest, PreparedResponseToAHeldFrontOneLetsTheRestOut) {
  // Goal: a prepared response to a held request at the front, with
  // requests answered behind it waiting, goes out first and lets them out
  // after it, in request order, each counted once.
  StartPrepared();
  RawRecord* record = Open(Get("/hold") + Get("/p") + Get("/r"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  EXPECT_TRUE(record->received.empty());
  SendPreparedOnce();  // The bytes are kept, for this second.
  ASSERT_TRUE(held_[0].Send(*prepared_).ok());
  auto responses = Await(record, 3);
  ASSERT_EQ(responses.size(), 3u);
  for (const HttpResponse& response : responses) {
    EXPECT_EQ(response.body, "prepared");
  }
  EXPECT_EQ(server_->stats().requests, 4u);
  EXPECT_EQ(server_->stats().responses, 4u);
  EXPECT_FALSE(record->unbound);
}

TEST_F(HttpServerTest, PreparedResponsesInABurstOfEveryKindOfRequest) {
  // Goal: on one connection, a burst of GET, HEAD, HTTP/1.0 keep-alive
  // GET and HEAD, GET, and a GET with "Connection: close", answered with a
  // prepared response at once, gets the same bytes as with Send and the
  // close after the last.
  StartPrepared();
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"GET", "HTTP/1.1\r\nHost: a\r\n"},
      {"HEAD", "HTTP/1.1\r\nHost: a\r\n"},
      {"GET", "HTTP/1.0\r\nConnection: keep-alive\r\n"},
      {"HEAD", "HTTP/1.0\r\nConnection: keep-alive\r\n"},
      {"GET", "HTTP/1.1\r\nHost: a\r\n"},
      {"GET", "HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"},
  };
  auto burst = [&](const std::string& target) {
    std::string bytes;
    for (const auto& [method, rest] : kinds) {
      bytes += method + " " + target + " " + rest + "\r\n";
    }
    return bytes;
  };
  RawRecord* plain = Open(burst("/r"));
  RawRecord* prepared = Open(burst("/p"));
  AwaitClose(plain);
  AwaitClose(prepared);
  std::vector<std::string> methods;
  for (const auto& kind : kinds) methods.push_back(kind.first);
  std::string error;
  auto responses = ReadResponses(prepared->received, methods, true, &error);
  ASSERT_EQ(responses.size(), 6u) << error;
  EXPECT_EQ(responses[0].body, "prepared");
  EXPECT_EQ(responses[1].body, "");
  EXPECT_EQ(responses[2].headers.Get("Connection"), "keep-alive");
  EXPECT_EQ(responses[5].headers.Get("Connection"), "close");
  EXPECT_EQ(prepared->received, plain->received);
}

TEST_F(HttpServerTest, PreparedResponseAtThePipelineDepthLetsTheRestIn) {
  // Goal: at pipeline_depth_max 1, a prepared response to the request that
  // stopped the reading lets the requests behind it in, each of which
  // stops it again until its own response is out.
  HttpServerOptions options;
  options.pipeline_depth_max = 1;
  StartPrepared(options);
  RawRecord* record = Open(Get("/p") + Get("/hold") + Get("/p") + Get("/p"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  EXPECT_EQ(server_->stats().pipeline_pauses, 1u);
  SendPreparedOnce();
  ASSERT_TRUE(held_[0].Send(*prepared_).ok());
  auto responses = Await(record, 4);
  ASSERT_EQ(responses.size(), 4u);
  for (const HttpResponse& response : responses) {
    EXPECT_EQ(response.body, "prepared");
  }
  // The two requests read after the held one was answered were answered
  // while the reading resumed, and each stopped it once more.
  EXPECT_EQ(server_->stats().pipeline_pauses, 3u);
  EXPECT_EQ(server_->stats().responses, 5u);
}

TEST_F(HttpServerTest, PreparedResponseToAHalfClosedClientEndsTheConnection) {
  // Goal: a client that half-closed after its requests gets the last of
  // them answered with a prepared response, and the close right after.
  StartPrepared();
  RawRecord* record = Open(Get("/p") + Get("/hold"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  CloseWrite(record);
  RunFor(reactor_, absl::Milliseconds(100));
  EXPECT_FALSE(record->eof);
  SendPreparedOnce();
  ASSERT_TRUE(held_[0].Send(*prepared_).ok());
  // Well before any timeout.
  ASSERT_TRUE(RunUntil(
      reactor_, [&] { return record->eof; }, absl::Seconds(1)));
  EXPECT_EQ(ReadResponses(record->received, {"GET", "GET"}, true).size(), 2u);
}

TEST_F(HttpServerTest, ShutdownFromAHandlerReadsOneMoreRequestAtMost) {
  // Goal: a handler that begins a graceful shutdown gets its answer out;
  // a request already read behind it is answered with "Connection: close",
  // and nothing after that is read. The requests arrive in one burst, so
  // each is taken whole in one call.
  int handled = 0;
  Start([&](const HttpRequestView& request, HttpResponder responder) {
    ++handled;
    if (request.target == "/stop") {
      reactor_.GracefulShutdown(absl::Seconds(10), [] {});
    }
    HttpResponse response;
    response.body = std::string(request.target);
    ASSERT_TRUE(responder.Send(response).ok());
  });
  RawRecord* record = Open(Get("/stop") + Get("/two") + Get("/three"));
  AwaitClose(record);
  auto responses = ReadResponses(record->received, {"GET", "GET"}, true);
  ASSERT_EQ(responses.size(), 2u) << record->received;
  EXPECT_EQ(responses[0].body, "/stop");
  EXPECT_EQ(responses[1].body, "/two");
  EXPECT_EQ(responses[1].headers.Get("Connection"), "close");
  EXPECT_EQ(handled, 2);
}

TEST_F(HttpServerTest, PreparedResponseDuringGracefulShutdownCloses) {
  // Goal: on Reactor::GracefulShutdown, a pending request answered with a
  // prepared response gets it with "Connection: close", then the close.
  StartPrepared();
  RawRecord* busy = Open(Get("/hold"));
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  SendPreparedOnce();
  bool done = false;
  reactor_.GracefulShutdown(absl::Seconds(10), [&] { done = true; });
  ASSERT_TRUE(held_[0].Send(*prepared_).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return busy->eof && done; }));
  auto responses = ReadResponses(busy->received, {"GET"}, true);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].body, "prepared");
  EXPECT_EQ(responses[0].headers.Get("Connection"), "close");
}

TEST(HttpPreparedResponseTest, RefusesWhatSendRefuses) {
  // Goal: a response Send would refuse cannot be prepared either, with the
  // same error.
  auto refused = [](HttpResponse response) {
    auto made = HttpPreparedResponse::Create(response);
    EXPECT_FALSE(made.ok());
    return made.status();
  };
  HttpResponse interim;
  interim.status_code = 100;
  EXPECT_EQ(refused(interim).message(),
            "Send needs a final status (200..999), not 100; interim "
            "responses are the server's");
  HttpResponse chunked;
  chunked.headers.Add("Transfer-Encoding", "chunked");
  EXPECT_EQ(refused(chunked).message(),
            "Send frames by Content-Length; use StartChunked to stream");
  HttpResponse trailers;
  trailers.trailers.Add("X-T", "1");
  EXPECT_EQ(refused(trailers).message(), "trailers need StartChunked");
  HttpResponse no_content;
  no_content.status_code = 204;
  no_content.body = "x";
  EXPECT_EQ(refused(no_content).message(), "a 204 response has no body");
  HttpResponse bad_name;
  bad_name.headers.Add("Bad Name", "v");
  EXPECT_EQ(refused(bad_name).code(), absl::StatusCode::kInvalidArgument);
  HttpResponse bad_value;
  bad_value.headers.Add("X-V", "a\r\nInjected: yes");
  EXPECT_EQ(refused(bad_value).code(), absl::StatusCode::kInvalidArgument);
  HttpResponse bad_reason;
  bad_reason.reason = "OK\r\nInjected: yes";
  EXPECT_EQ(refused(bad_reason).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ember::protocols

namespace ember::protocols {
namespace {

TEST(HttpServerLimitTest, PreparedResponseOverTheOutboundLimitIsRefused) {
  // Goal: a prepared response larger than the connection's outbound limit
  // is refused with kResourceExhausted every time it is sent, queueing
  // nothing; the responder stays usable.
  RawRecord record;  // Before the reactor, which writes to it as it closes.
  sim::SimNetwork net{sim::SimOptions()};
  ReactorOptions reactor_options;
  reactor_options.outbound_limits.low_water_bytes = 200;
  reactor_options.outbound_limits.high_water_bytes = 300;
  reactor_options.outbound_limits.max_bytes = 400;
  Reactor reactor(net, reactor_options);
  HttpResponse big;
  big.body = std::string(1000, 'b');
  const HttpPreparedResponse prepared = *HttpPreparedResponse::Create(big);
  HttpResponse small;
  small.body = "small";
  int answered = 0;
  HttpServer server(reactor, {},
                    [&](const HttpRequestView& request, HttpResponder r) {
                      for (int i = 0; i < 3; ++i) {
                        EXPECT_EQ(r.Send(prepared).code(),
                                  absl::StatusCode::kResourceExhausted);
                        EXPECT_TRUE(r.active());
                      }
                      EXPECT_TRUE(r.Send(small).ok());
                      ++answered;
                    });
  ASSERT_TRUE(server.Listen("127.0.0.1", kPort).ok());
  auto c =
      reactor.Connect("127.0.0.1", kPort, std::make_unique<RawClient>(&record));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->SendData(Get("/1") + Get("/2")).ok());
  std::vector<HttpResponse> responses;
  ASSERT_TRUE(RunUntil(reactor, [&] {
    responses = ReadResponses(record.received, {"GET", "GET"}, false);
    return responses.size() == 2;
  }));
  EXPECT_EQ(responses[0].body, "small");
  EXPECT_EQ(responses[1].body, "small");
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(server.stats().responses, 2u);
}

// A server whose connections queue at most 400 outbound bytes (high-water
// mark 390, low-water 100) and hold every request's responder, except for
// "/p", answered at once with a prepared response; a client sends it a GET
// and then a POST that expects 100 Continue. Answering the GET with 380
// bytes ("HTTP/1.1 200 OK\r\n" (17), "Content-Length: 340\r\n" (21), "\r\n"
// (2) and the body) leaves the continue (25) waiting behind it without room
// in the queue, which never passes its high-water mark.
class HttpServerWaitingContinueTest : public ::testing::Test {
 protected:
  static ReactorOptions TightQueue() {
    ReactorOptions options;
    options.outbound_limits.low_water_bytes = 100;
    options.outbound_limits.high_water_bytes = 390;
    options.outbound_limits.max_bytes = 400;
    return options;
  }

  HttpServerWaitingContinueTest() {
    HttpServerOptions options;
    options.date_header = false;  // Sizes below are exact.
    server_ = std::make_unique<HttpServer>(
        reactor_, options,
        [this](const HttpRequestView& request, HttpResponder r) {
          if (request.target == "/p") {
            EXPECT_TRUE(r.Send(prepared_).ok());
            return;
          }
          bodies_.emplace_back(request.body);
          held_.push_back(std::move(r));
        });
    EXPECT_TRUE(server_->Listen("127.0.0.1", kPort).ok());
  }

  // Connects a client recording into `record` and sends it `bytes`.
  void Send(RawRecord* record, const std::string& bytes) {
    auto c = reactor_.Connect("127.0.0.1", kPort,
                              std::make_unique<RawClient>(record));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->SendData(bytes).ok());
    client_ = *c;
  }

  static std::string GetThenPostHead() {
    return Get("/1") +
           "POST /2 HTTP/1.1\r\nHost: a\r\n"
           "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n";
  }

  // Answers the GET with the 380 bytes that leave no room for the continue.
  void FillTheQueue() {
    ASSERT_FALSE(held_.empty());
    HttpResponse first;
    first.body = std::string(340, 'a');
    ASSERT_TRUE(held_[0].Send(first).ok());
  }

  // Before the reactor, which writes to them as it closes.
  RawRecord record_;
  RawRecord other_;
  sim::SimNetwork net_{sim::SimOptions()};
  Reactor reactor_{net_, TightQueue()};
  const HttpPreparedResponse prepared_ = *HttpPreparedResponse::Create(
      HttpResponse{.status_code = 200, .body = "prepared"});
  std::vector<HttpResponder> held_;
  std::vector<std::string> bodies_;
  std::unique_ptr<HttpServer> server_;
  Connection* client_ = nullptr;
};

TEST_F(HttpServerWaitingContinueTest, GoesOutOnceTheQueueDrains) {
  // Goal: the continue goes out as soon as the queue has room, although no
  // crossing of the low-water mark calls back (the queue never passed the
  // high-water mark): a client that waits for it before sending the body
  // is not left hanging.
  Send(&record_, GetThenPostHead());  // The body waits for the continue.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 1; }));
  FillTheQueue();
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  ASSERT_TRUE(RunUntil(
      reactor_,
      [&] { return record_.received.find(kContinue) != std::string::npos; },
      absl::Seconds(30)))
      << record_.received;
  EXPECT_EQ(record_.received.find(kContinue), 380u);
  ASSERT_TRUE(client_->SendData("x").ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 2; }));
  EXPECT_EQ(bodies_[1], "x");
  HttpResponse second;
  second.body = "done";
  ASSERT_TRUE(held_[1].Send(second).ok());
  std::vector<HttpResponse> responses;
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    responses = ReadResponses(record_.received, {"GET", "POST", "POST"}, false);
    return responses.size() == 3;
  })) << record_.received;
  EXPECT_EQ(responses[1].status_code, 100);
  EXPECT_EQ(responses[2].body, "done");
}

TEST_F(HttpServerWaitingContinueTest, APreparedAnswerGoesAfterIt) {
  // Goal: the final response to the request that waited for its continue,
  // prepared and with its bytes at hand, goes out after the continue.
  Send(&record_, GetThenPostHead() + "x");
  ASSERT_TRUE(RunUntil(reactor_, [&] { return held_.size() == 2; }));
  FillTheQueue();
  RunFor(reactor_, absl::Milliseconds(100));
  // Sent once elsewhere, the prepared response's bytes are at hand.
  Send(&other_, Get("/p"));
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return ReadResponses(other_.received, {"GET"}, false).size() == 1;
  }));
  ASSERT_TRUE(held_[1].Send(prepared_).ok());
  std::vector<HttpResponse> responses;
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    responses = ReadResponses(record_.received, {"GET", "POST", "POST"}, false);
    return responses.size() == 3;
  })) << record_.received;
  EXPECT_EQ(responses[0].body.size(), 340u);
  EXPECT_EQ(responses[1].status_code, 100);
  EXPECT_EQ(responses[2].body, "prepared");
}

TEST(HttpServerScaleTest, ConnectionTimeoutsNeedNoTimerEach) {
  // Goal: a server's connection timeouts do not count against the reactor's
  // user timer limit (the whole server holds one timer), so a server keeps
  // far more connections than timers_max, and each still times out on time.
  sim::SimNetwork net{sim::SimOptions()};
  ReactorOptions reactor_options;
  reactor_options.timers_max = 4;
  Reactor reactor(net, reactor_options);
  HttpServerOptions options;
  options.keep_alive_idle_timeout = absl::Seconds(30);
  HttpServer server(reactor, options, [](HttpRequest&&, HttpResponder r) {
    HttpResponse response;
    response.body = "ok";
    r.Send(response).IgnoreError();
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", kPort).ok());
  constexpr int kClients = 300;
  std::vector<std::unique_ptr<RawRecord>> records;
  for (int i = 0; i < kClients; ++i) {
    records.push_back(std::make_unique<RawRecord>());
    auto c = reactor.Connect("127.0.0.1", kPort,
                             std::make_unique<RawClient>(records.back().get()));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->SendData(Get("/")).ok());
  }
  ASSERT_TRUE(RunUntil(reactor, [&] {
    for (auto& r : records) {
      if (ReadResponses(r->received, {"GET"}, false).size() != 1) return false;
    }
    return true;
  }));
  const absl::Time answered = reactor.Now();
  EXPECT_EQ(server.connection_count(), static_cast<size_t>(kClients));
  EXPECT_LE(reactor.TimerCount(), 1u);
  // Idle now: none closes before the idle timeout, and all close at it.
  RunFor(reactor, absl::Seconds(29));
  EXPECT_EQ(server.connection_count(), static_cast<size_t>(kClients));
  ASSERT_TRUE(RunUntil(reactor, [&] { return server.connection_count() == 0; }));
  EXPECT_LE(reactor.Now() - answered, absl::Seconds(31));
  EXPECT_EQ(server.stats().idle_timeouts, static_cast<uint64_t>(kClients));
  for (auto& r : records) EXPECT_TRUE(r->eof);
}

}  // namespace
}  // namespace ember::protocols
