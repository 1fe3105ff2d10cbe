// Goal: the HTTP client, against scripted servers over the simulator, reads
// Content-Length, chunked and close-delimited responses, skips interim ones,
// handles HEAD, reuses one keep-alive connection, pipelines when asked, and
// gives every request exactly one callback, from the loop, with the right
// status when the server is absent, slow, wrong or gone.

#include "protocols/http/http_client.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "protocols/http/http_server.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"

namespace ember::protocols {
namespace {

using testing::RunFor;
using testing::RunUntil;

constexpr uint16_t kPort = 8080;

// A server that answers each request with whatever the test scripts.
struct Script {
  struct Request {
    int connection = 0;  // 0-based, in accept order.
    int index = 0;       // 0-based on its connection.
    std::string head;
    std::string body;
  };
  // Writes the answer (or nothing) on `connection`.
  std::function<void(Connection* connection, const Request& request)> answer;
  int accepted = 0;
  std::vector<Request> requests;
};

class ScriptedConnection : public Connection {
 public:
  explicit ScriptedConnection(Script* script)
      : script_(script), number_(script->accepted++) {}

  void ReceiveData(std::string_view data) override {
    buffer_.append(data.data(), data.size());
    while (true) {
      const size_t end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = buffer_.substr(0, end + 4);
      size_t length = 0;
      const size_t field = head.find("Content-Length: ");
      if (field != std::string::npos) {
        const size_t eol = head.find("\r\n", field);
        EXPECT_TRUE(absl::SimpleAtoi(AbslView(std::string_view(head).substr(
                                         field + 16, eol - field - 16)),
                                     &length));
      }
      if (buffer_.size() < end + 4 + length) return;
      Script::Request request{number_, index_++, head,
                              buffer_.substr(end + 4, length)};
      buffer_.erase(0, end + 4 + length);
      script_->requests.push_back(request);
      script_->answer(this, request);
      if (closing()) return;
    }
  }

 private:
  Script* script_;
  const int number_;
  int index_ = 0;
  std::string buffer_;
};

std::string Ok(std::string_view body, std::string_view extra = "") {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                      "\r\n", AbslView(extra), "\r\n", AbslView(body));
}

// What a callback received, and whether it ran inside the call that queued
// it.
struct Outcome {
  bool called = false;
  int calls = 0;
  absl::StatusOr<HttpResponse> result = absl::UnknownError("not called");
};

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() : net_(sim::SimOptions()), reactor_(net_) {}
  ~HttpClientTest() override {
    client_.reset();
    server_.reset();
    // Let posted cancellations run before the reactor goes.
    reactor_.RunOnce().IgnoreError();
  }

  void Listen(std::function<void(Connection*, const Script::Request&)> answer) {
    script_.answer = std::move(answer);
    auto id = reactor_.StartServer("127.0.0.1", kPort, [this] {
      return std::make_unique<ScriptedConnection>(&script_);
    });
    ASSERT_TRUE(id.ok()) << id.status();
  }

  HttpClient& Client(HttpClientOptions options = {}) {
    client_ =
        std::make_unique<HttpClient>(reactor_, "127.0.0.1", kPort, options);
    return *client_;
  }

  // Issues a request whose outcome lands in a new Outcome.
  Outcome* Issue(HttpRequest request) {
    outcomes_.push_back(std::make_unique<Outcome>());
    Outcome* outcome = outcomes_.back().get();
    absl::Status status = client_->Request(
        std::move(request), [outcome](absl::StatusOr<HttpResponse> result) {
          outcome->called = true;
          outcome->calls++;
          outcome->result = std::move(result);
        });
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_FALSE(outcome->called) << "callback ran inside Request";
    return outcome;
  }

  Outcome* IssueGet(const std::string& target) {
    HttpRequest request;
    request.target = target;
    return Issue(std::move(request));
  }

  void AwaitAll() {
    EXPECT_TRUE(RunUntil(reactor_, [&] {
      for (auto& outcome : outcomes_) {
        if (!outcome->called) return false;
      }
      return true;
    })) << "a request got no callback";
    RunFor(reactor_, absl::Seconds(1));
    for (auto& outcome : outcomes_) EXPECT_EQ(outcome->calls, 1);
  }

  Script script_;
  std::vector<std::unique_ptr<Outcome>> outcomes_;
  sim::SimNetwork net_;
  Reactor reactor_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpClientTest, ReusesOneKeepAliveConnection) {
  // Goal: three requests, one at a time, go over one connection, each
  // answered by Content-Length, with Host added.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(Ok(absl::StrCat("answer", r.index))).ok());
  });
  Client();
  Outcome* a = IssueGet("/a");
  Outcome* b = IssueGet("/b");
  Outcome* c = IssueGet("/c");
  AwaitAll();
  ASSERT_TRUE(a->result.ok()) << a->result.status();
  EXPECT_EQ(a->result->body, "answer0");
  EXPECT_EQ(b->result->body, "answer1");
  EXPECT_EQ(c->result->body, "answer2");
  EXPECT_EQ(script_.accepted, 1);
  EXPECT_EQ(client_->stats().connections_opened, 1u);
  ASSERT_EQ(script_.requests.size(), 3u);
  EXPECT_NE(script_.requests[0].head.find("Host: 127.0.0.1:8080\r\n"),
            std::string::npos);
}

TEST_F(HttpClientTest, ReadsChunkedResponsesWithTrailers) {
  // Goal: a chunked response is decoded, trailers kept.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                            "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n"
                            "X-Check: 1\r\n\r\n")
                    .ok());
  });
  Client();
  Outcome* a = IssueGet("/");
  AwaitAll();
  ASSERT_TRUE(a->result.ok()) << a->result.status();
  EXPECT_EQ(a->result->body, "hello world");
  EXPECT_EQ(a->result->trailers.Get("X-Check"), "1");
}

TEST_F(HttpClientTest, ReadsCloseDelimitedResponsesAndReconnects) {
  // Goal: a response without length ends with the connection; the next
  // request opens a new connection.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(absl::StrCat("HTTP/1.1 200 OK\r\n\r\nuntil close ",
                                         r.connection))
                    .ok());
    c->CloseAfterWriting();
  });
  Client();
  Outcome* a = IssueGet("/a");
  Outcome* b = IssueGet("/b");
  AwaitAll();
  ASSERT_TRUE(a->result.ok()) << a->result.status();
  ASSERT_TRUE(b->result.ok()) << b->result.status();
  EXPECT_EQ(a->result->body, "until close 0");
  EXPECT_EQ(b->result->body, "until close 1");
  EXPECT_EQ(script_.accepted, 2);
}

TEST_F(HttpClientTest, HeadResponsesHaveNoBodyAndInterimOnesAreSkipped) {
  // Goal: a HEAD answer's Content-Length is not read as a body, a 100
  // Continue before a response is skipped, and the stream stays in step.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.index == 0) {
      ASSERT_TRUE(
          c->SendData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n").ok());
    } else {
      ASSERT_TRUE(
          c->SendData("HTTP/1.1 100 Continue\r\n\r\n" + Ok("after")).ok());
    }
  });
  Client();
  HttpRequest head;
  head.method = "HEAD";
  Outcome* a = Issue(head);
  Outcome* b = IssueGet("/b");
  AwaitAll();
  ASSERT_TRUE(a->result.ok()) << a->result.status();
  EXPECT_EQ(a->result->headers.Get("Content-Length"), "10");
  EXPECT_EQ(a->result->body, "");
  ASSERT_TRUE(b->result.ok()) << b->result.status();
  EXPECT_EQ(b->result->status_code, 200);
  EXPECT_EQ(b->result->body, "after");
  EXPECT_EQ(script_.accepted, 1);
}

TEST_F(HttpClientTest, SendsBodiesWithContentLength) {
  // Goal: a POST body arrives whole with its Content-Length.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(Ok(r.body)).ok());
  });
  Client();
  outcomes_.push_back(std::make_unique<Outcome>());
  Outcome* a = outcomes_.back().get();
  ASSERT_TRUE(client_
                  ->Request("POST", "/p", HttpHeaders{{"X-A", "1"}}, "payload",
                            [a](absl::StatusOr<HttpResponse> r) {
                              a->called = true;
                              a->calls++;
                              a->result = std::move(r);
                            })
                  .ok());
  AwaitAll();
  ASSERT_TRUE(a->result.ok());
  EXPECT_EQ(a->result->body, "payload");
  EXPECT_NE(script_.requests[0].head.find("Content-Length: 7\r\n"),
            std::string::npos);
}

TEST_F(HttpClientTest, ResponseTimeoutFailsOnlyThatRequest) {
  // Goal: a request unanswered for response_timeout fails with
  // kDeadlineExceeded at that moment; a request queued behind it goes on a
  // new connection and succeeds.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.connection == 0) return;  // The first connection never answers.
    ASSERT_TRUE(c->SendData(Ok("late")).ok());
  });
  HttpClientOptions options;
  options.response_timeout = absl::Seconds(30);
  Client(options);
  const absl::Time start = reactor_.Now();
  Outcome* a = IssueGet("/a");
  RunFor(reactor_, absl::Seconds(10));
  Outcome* b = IssueGet("/b");
  ASSERT_TRUE(RunUntil(reactor_, [&] { return a->called; }));
  EXPECT_EQ(reactor_.Now() - start, absl::Seconds(30));
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kDeadlineExceeded);
  AwaitAll();
  ASSERT_TRUE(b->result.ok()) << b->result.status();
  EXPECT_EQ(b->result->body, "late");
  EXPECT_EQ(script_.accepted, 2);
}

TEST_F(HttpClientTest, RefusedConnectFailsEveryWaitingRequest) {
  // Goal: with nobody listening, every waiting request fails with
  // kUnavailable, each once, from the loop.
  Client();
  Outcome* a = IssueGet("/a");
  Outcome* b = IssueGet("/b");
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b->result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_->stats().failures, 2u);
}

TEST_F(HttpClientTest, ConnectsByNameOverWhicheverFamilyWorks) {
  // Goal: a client for a dual-stack name whose IPv6 route is dead gets its
  // answer over IPv4 (Happy Eyeballs in the reactor), with Host naming the
  // host as given.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(Ok("over ipv4")).ok());
  });
  net_.AddName("web.example", {*io::Address::ParseIp("::1", 0),
                               io::Address::Loopback4(0)});
  net_.SetFamilyFault(io::Address::Family::kIpv6,
                      sim::AddressFault::BlackHole());
  client_ = std::make_unique<HttpClient>(reactor_, "web.example", kPort,
                                         HttpClientOptions{});
  Outcome* a = IssueGet("/");
  AwaitAll();
  ASSERT_TRUE(a->result.ok()) << a->result.status();
  EXPECT_EQ(a->result->body, "over ipv4");
  ASSERT_EQ(script_.requests.size(), 1u);
  EXPECT_NE(script_.requests[0].head.find("Host: web.example:8080\r\n"),
            std::string::npos);
}

TEST_F(HttpClientTest, ConnectTimeoutIsDeadlineExceeded) {
  // Goal: a connect to an address nobody answers fails after
  // connect_timeout with kDeadlineExceeded.
  HttpClientOptions options;
  options.connect_timeout = absl::Seconds(5);
  client_ = std::make_unique<HttpClient>(reactor_, "10.9.9.9", 80, options);
  const absl::Time start = reactor_.Now();
  Outcome* a = IssueGet("/");
  ASSERT_TRUE(RunUntil(reactor_, [&] { return a->called; }));
  EXPECT_EQ(reactor_.Now() - start, absl::Seconds(5));
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kDeadlineExceeded)
      << a->result.status();
}

TEST_F(HttpClientTest, ServerClosingMidResponseFailsItAndTheNextReconnects) {
  // Goal: a response cut short by the close fails with kUnavailable; the
  // next request gets a new connection and its answer.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.connection == 0) {
      ASSERT_TRUE(
          c->SendData("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
              .ok());
      c->CloseAfterWriting();
      return;
    }
    ASSERT_TRUE(c->SendData(Ok("whole")).ok());
  });
  Client();
  Outcome* a = IssueGet("/a");
  Outcome* b = IssueGet("/b");
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kUnavailable)
      << a->result.status();
  ASSERT_TRUE(b->result.ok()) << b->result.status();
  EXPECT_EQ(b->result->body, "whole");
}

TEST_F(HttpClientTest, MalformedAndOversizedResponsesFailWithTheirCodes) {
  // Goal: a malformed response is kInvalidArgument, one over the body limit
  // kResourceExhausted.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.connection == 0) {
      ASSERT_TRUE(c->SendData("HTTP/1.1 2OO OK\r\n\r\n").ok());
    } else {
      ASSERT_TRUE(c->SendData(Ok(std::string(200, 'x'))).ok());
    }
  });
  HttpClientOptions options;
  options.parser.body_bytes_max = 100;
  Client(options);
  Outcome* a = IssueGet("/a");
  AwaitAll();
  Outcome* b = IssueGet("/b");
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kInvalidArgument)
      << a->result.status();
  EXPECT_EQ(b->result.status().code(), absl::StatusCode::kResourceExhausted)
      << b->result.status();
}

TEST_F(HttpClientTest, PipelinesAgainstTheServerInOrder) {
  // Goal: with pipeline_depth 4, ten requests to an HttpServer that answers
  // out of order arrive answered in order over one connection.
  server_ = std::make_unique<HttpServer>(
      reactor_, HttpServerOptions(),
      [&](HttpRequest request, HttpResponder responder) {
        const int n = std::stoi(request.target.substr(1));
        ASSERT_TRUE(reactor_
                        .AddTimer(absl::Milliseconds(10 * (10 - n)),
                                  [r = std::move(responder), n]() mutable {
                                    HttpResponse response;
                                    response.body = absl::StrCat(n);
                                    ASSERT_TRUE(
                                        r.Send(std::move(response)).ok());
                                  })
                        .ok());
      });
  ASSERT_TRUE(server_->Listen("127.0.0.1", kPort).ok());
  HttpClientOptions options;
  options.pipeline_depth = 4;
  Client(options);
  std::vector<Outcome*> outcomes;
  for (int n = 0; n < 10; ++n)
    outcomes.push_back(IssueGet(absl::StrCat("/", n)));
  AwaitAll();
  for (int n = 0; n < 10; ++n) {
    ASSERT_TRUE(outcomes[n]->result.ok()) << outcomes[n]->result.status();
    EXPECT_EQ(outcomes[n]->result->body, absl::StrCat(n));
  }
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
}

TEST_F(HttpClientTest, ConnectionCloseFailsOnlyRequestsWrittenBehindIt) {
  // Goal: when a response says "Connection: close", the requests already
  // written behind it fail with kUnavailable and those not yet written go to
  // a new connection.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.connection == 0 && r.index == 0) {
      ASSERT_TRUE(c->SendData(Ok("first", "Connection: close\r\n")).ok());
      c->CloseAfterWriting();
      return;
    }
    if (r.connection == 0) return;
    ASSERT_TRUE(c->SendData(Ok(absl::StrCat("again", r.index))).ok());
  });
  HttpClientOptions options;
  options.pipeline_depth = 3;
  Client(options);
  std::vector<Outcome*> outcomes;
  for (int n = 0; n < 5; ++n)
    outcomes.push_back(IssueGet(absl::StrCat("/", n)));
  AwaitAll();
  ASSERT_TRUE(outcomes[0]->result.ok());
  EXPECT_EQ(outcomes[0]->result->body, "first");
  EXPECT_EQ(outcomes[1]->result.status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcomes[2]->result.status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(outcomes[3]->result.ok()) << outcomes[3]->result.status();
  EXPECT_EQ(outcomes[3]->result->body, "again0");
  ASSERT_TRUE(outcomes[4]->result.ok());
  EXPECT_EQ(outcomes[4]->result->body, "again1");
}

TEST_F(HttpClientTest, CloseCancelsPendingRequestsFromTheLoop) {
  // Goal: Close fails every pending request with kCancelled, on the next
  // turn rather than inside Close, and the client works afterwards.
  Listen([](Connection* c, const Script::Request& r) {
    if (r.connection == 0) return;
    ASSERT_TRUE(c->SendData(Ok("fine")).ok());
  });
  Client();
  Outcome* a = IssueGet("/a");
  Outcome* b = IssueGet("/b");
  RunFor(reactor_, absl::Seconds(1));
  client_->Close();
  EXPECT_FALSE(a->called);
  EXPECT_EQ(client_->pending(), 0u);
  Outcome* c = IssueGet("/c");
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(b->result.status().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(c->result.ok()) << c->result.status();
}

TEST_F(HttpClientTest, CallbackMayDestroyTheClient) {
  // Goal: a callback that destroys the client is safe; the requests still
  // pending get kCancelled, each once.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(Ok("x")).ok());
  });
  HttpClientOptions options;
  options.pipeline_depth = 3;
  Client(options);
  outcomes_.push_back(std::make_unique<Outcome>());
  Outcome* first = outcomes_.back().get();
  ASSERT_TRUE(client_
                  ->Get("/1",
                        [&, first](absl::StatusOr<HttpResponse> r) {
                          first->called = true;
                          first->calls++;
                          first->result = std::move(r);
                          client_.reset();
                        })
                  .ok());
  Outcome* second = IssueGet("/2");
  Outcome* third = IssueGet("/3");
  AwaitAll();
  EXPECT_TRUE(first->result.ok());
  EXPECT_EQ(second->result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(third->result.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(HttpClientTest, RefusesBadRequestsAtOnceWithoutACallback) {
  // Goal: a request the serialiser refuses, or one past
  // pending_requests_max, is refused by Request and never called back.
  HttpClientOptions options;
  options.pending_requests_max = 1;
  Client(options);
  bool called = false;
  auto callback = [&](absl::StatusOr<HttpResponse>) { called = true; };
  HttpRequest bad;
  bad.method = "BAD METHOD";
  EXPECT_EQ(client_->Request(bad, callback).code(),
            absl::StatusCode::kInvalidArgument);
  HttpRequest split;
  split.headers.Set("X", "a\r\nInjected: 1");
  EXPECT_EQ(client_->Request(split, callback).code(),
            absl::StatusCode::kInvalidArgument);
  Outcome* a = IssueGet("/a");
  EXPECT_EQ(client_->Get("/b", callback).code(),
            absl::StatusCode::kResourceExhausted);
  AwaitAll();
  EXPECT_EQ(a->result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, IdleConnectionIsClosedAfterItsTimeout) {
  // Goal: a kept-alive connection with nothing in flight is closed after
  // idle_timeout, and the next request opens another.
  Listen([](Connection* c, const Script::Request& r) {
    ASSERT_TRUE(c->SendData(Ok("x")).ok());
  });
  HttpClientOptions options;
  options.idle_timeout = absl::Seconds(5);
  Client(options);
  IssueGet("/a");
  AwaitAll();
  EXPECT_TRUE(client_->connected());
  RunFor(reactor_, absl::Seconds(6));
  EXPECT_FALSE(client_->connected());
  IssueGet("/b");
  AwaitAll();
  EXPECT_EQ(script_.accepted, 2);
  EXPECT_EQ(client_->stats().failures, 0u);
}

}  // namespace
}  // namespace ember::protocols
