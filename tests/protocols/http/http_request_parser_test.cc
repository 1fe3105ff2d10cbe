// Unit tests for HttpRequestParser. Every input is fed whole and cut in
// several ways, and must give the same events each time. Covered: request
// lines and fields, Content-Length and chunked bodies with trailers,
// keep-alive rules, pipelining, Expect: 100-continue with pausing, HEAD,
// upgrades and CONNECT; then each request-smuggling defence of RFC 9112 and
// each limit with the status a server answers. Last, the edges of the
// whole-head pass (a head that arrives within one Feed call is read in one
// pass, and left to the line-by-line parse when anything is unusual): its
// events must be those of a byte-by-byte feed, which never takes it.

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocols/http/http_parser.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/protocols/http/http_test_util.h"

namespace ember::protocols {
namespace {

using ::ember::protocols::testing::ParseRequests;
using ::ember::protocols::testing::ParseWholeRequests;
using ::ember::protocols::testing::WholeRequestRecorder;
using ::ember::protocols::testing::RequestEvents;
using ::ember::protocols::testing::RequestRecorder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

// A simple GET: method, target, version, fields in order with their case,
// values trimmed of surrounding whitespace.
TEST(HttpRequestParserTest, SimpleGet) {
  EXPECT_THAT(
      RequestEvents("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "User-Agent:  test/1.0 \t\r\nX-Empty:\r\n\r\n"),
      ElementsAre("head:GET /index.html?q=1 1.1 none ka|Host=example.com|"
                  "User-Agent=test/1.0|X-Empty=",
                  "done"));
}

// Three pipelined requests in one read, with and without bodies.
TEST(HttpRequestParserTest, Pipelined) {
  EXPECT_THAT(
      RequestEvents("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
                    "hello"
                    "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"),
      ElementsAre("head:GET /a 1.1 none ka|Host=h", "done",
                  "head:POST /b 1.1 len=5 ka|Host=h|Content-Length=5",
                  "body:hello", "done", "head:GET /c 1.1 none ka|Host=h",
                  "done"));
}

// Chunked body with extensions, upper-case hex and trailers.
TEST(HttpRequestParserTest, ChunkedWithTrailers) {
  EXPECT_THAT(RequestEvents("POST /up HTTP/1.1\r\nHost: h\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "5;name=value\r\nhello\r\n"
                            "A ; ext=\"quoted\"\r\n, world!!!\r\n"
                            "0\r\nChecksum: abc\r\nX-T: 1\r\n\r\n"),
              ElementsAre("head:POST /up 1.1 chunked ka|Host=h|"
                          "Transfer-Encoding=chunked",
                          "body:hello, world!!!", "done|Checksum=abc|X-T=1"));
}

// Content-Length: 0 and a zero-size chunked body give no body event.
TEST(HttpRequestParserTest, EmptyBodies) {
  EXPECT_THAT(
      RequestEvents("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
                    "POST / HTTP/1.1\r\nHost: h\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
      ElementsAre("head:POST / 1.1 len=0 ka|Host=h|Content-Length=0", "done",
                  "head:POST / 1.1 chunked ka|Host=h|"
                  "Transfer-Encoding=chunked",
                  "done"));
}

// Keep-alive: HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive";
// Connection is a token list in any case.
TEST(HttpRequestParserTest, KeepAlive) {
  EXPECT_THAT(
      RequestEvents("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n"
                    "\r\n"
                    "GET / HTTP/1.0\r\n\r\n"
                    "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
      ElementsAre("head:GET / 1.1 none|Host=h|Connection=foo, Close", "done",
                  "head:GET / 1.0 none", "done",
                  "head:GET / 1.0 none ka|Connection=Keep-Alive", "done"));
}

// Empty lines before a request line are ignored (RFC 9112 section 2.2).
TEST(HttpRequestParserTest, LeadingEmptyLines) {
  EXPECT_THAT(RequestEvents("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n"),
              ElementsAre("head:GET / 1.1 none ka|Host=h", "done"));
}

// HEAD is an ordinary request to the parser; its framing rules only matter
// for the response.
TEST(HttpRequestParserTest, Head) {
  EXPECT_THAT(RequestEvents("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"),
              ElementsAre("head:HEAD /x 1.1 none ka|Host=h", "done"));
}

// Expect: 100-continue is reported; a server pauses in OnRequestHead, sends
// 100 (Continue), then resumes and the body follows. Feed reports how far it
// got, and the rest is fed again after Resume.
TEST(HttpRequestParserTest, ExpectContinueWithPause) {
  const std::string input =
      "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
      "Content-Length: 3\r\n\r\nabc";
  EXPECT_THAT(RequestEvents(input),
              ElementsAre("head:PUT /f 1.1 len=3 ka ec|Host=h|"
                          "Expect=100-Continue|Content-Length=3",
                          "body:abc", "done"));

  RequestRecorder recorder;
  HttpRequestParser parser(&recorder);
  recorder.on_head = [&parser](const HttpRequestHead& head) {
    EXPECT_TRUE(head.expect_continue);
    parser.Pause();
  };
  const size_t used = parser.Feed(input);
  EXPECT_EQ(used, input.size() - 3);
  EXPECT_TRUE(parser.paused());
  EXPECT_THAT(recorder.events, SizeIs(1));
  EXPECT_EQ(parser.Feed("abc"), 0u);  // Still paused.
  parser.Resume();
  EXPECT_EQ(parser.Feed(std::string_view(input).substr(used)), 3u);
  EXPECT_THAT(recorder.events, SizeIs(3));
  EXPECT_TRUE(parser.idle());
}

// HTTP/1.0 clients cannot expect 100-continue (RFC 9110 section 10.1.1).
TEST(HttpRequestParserTest, ExpectContinueIgnoredInHttp10) {
  EXPECT_THAT(RequestEvents("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"),
              ElementsAre("head:GET / 1.0 none|Expect=100-continue", "done"));
}

// An upgrade request pauses the parser after it completes; the bytes after
// it belong to the new protocol.
TEST(HttpRequestParserTest, UpgradePauses) {
  const std::string head =
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
      "Upgrade: websocket\r\n\r\n";
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder);
  const std::string input = head + "\x81\x05hello";
  EXPECT_EQ(parser.Feed(input), head.size());
  EXPECT_TRUE(parser.paused());
  EXPECT_THAT(recorder.events,
              ElementsAre("head:GET /chat 1.1 none ka up|Host=h|"
                          "Connection=Upgrade|Upgrade=websocket",
                          "done"));
}

// CONNECT opens a tunnel: no body, whatever the fields say, and a pause.
TEST(HttpRequestParserTest, Connect) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder);
  const std::string head =
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
  EXPECT_EQ(parser.Feed(head + "tunnel bytes"), head.size());
  EXPECT_THAT(recorder.events,
              ElementsAre("head:CONNECT example.com:443 1.1 none ka up|"
                          "Host=example.com:443",
                          "done"));
}

// A pause in OnBody stops right after that chunk.
TEST(HttpRequestParserTest, PauseInBody) {
  class Pauser : public RequestRecorder {
   public:
    HttpRequestParser* parser = nullptr;
    void OnBody(std::string_view data) override {
      RequestRecorder::OnBody(data);
      parser->Pause();
    }
  } recorder;
  HttpRequestParser parser(&recorder);
  recorder.parser = &parser;
  const std::string input =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcdGET";
  EXPECT_EQ(parser.Feed(input), input.size() - 3);
  EXPECT_THAT(recorder.events, SizeIs(2));  // Head and body, not done yet.
  parser.Resume();
  EXPECT_EQ(parser.Feed("GET"), 3u);
  EXPECT_THAT(recorder.events, SizeIs(3));
}

// Equal Content-Length values, repeated or as a list, are accepted (RFC 9110
// section 8.6); leading zeros are numbers like any other.
TEST(HttpRequestParserTest, EqualContentLengthsAccepted) {
  EXPECT_THAT(RequestEvents("POST / HTTP/1.1\r\nHost: h\r\n"
                            "Content-Length: 2\r\ncontent-length: 02\r\n"
                            "Content-Length: 2 , 2\r\n\r\nok"),
              ElementsAre(HasSubstr("len=2"), "body:ok", "done"));
}

struct Refusal {
  const char* name;
  std::string input;
  int http_status;
  absl::StatusCode code;
};

// Each defence of RFC 9112 against request smuggling and each malformed
// input: the exact status, the error code, and nothing delivered after it.
TEST(HttpRequestParserTest, RefusesSmugglingAndMalformedInput) {
  const std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string post = "POST / HTTP/1.1\r\nHost: h\r\n";
  const auto bad = absl::StatusCode::kInvalidArgument;
  const std::vector<Refusal> cases = {
      {"both framings",
       post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       bad},
      {"both framings, other order",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400,
       bad},
      {"differing lengths",
       post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, bad},
      {"differing list", post + "Content-Length: 3, 4\r\n\r\n", 400, bad},
      {"signed length", post + "Content-Length: +3\r\n\r\n", 400, bad},
      {"hex length", post + "Content-Length: 0x3\r\n\r\n", 400, bad},
      {"spaced digits", post + "Content-Length: 1 2\r\n\r\n", 400, bad},
      {"empty length", post + "Content-Length:\r\n\r\n", 400, bad},
      {"chunked not last", post + "Transfer-Encoding: chunked, gzip\r\n\r\n",
       400, bad},
      {"chunked twice",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
              "\r\n",
       400, bad},
      {"chunked look-alike", post + "Transfer-Encoding: xchunked\r\n\r\n", 400,
       bad},
      {"chunked with parameter",
       post + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400, bad},
      {"empty coding list", post + "Transfer-Encoding: ,\r\n\r\n", 400, bad},
      {"unknown coding", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
       absl::StatusCode::kUnimplemented},
      {"TE in HTTP/1.0",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       bad},
      {"space before colon",
       post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, bad},
      {"tab before colon", post + "Content-Length\t: 3\r\n\r\nabc", 400, bad},
      {"space in name", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400,
       bad},
      {"invalid name char", "GET / HTTP/1.1\r\nHost: h\r\nA@b: x\r\n\r\n", 400,
       bad},
      {"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400, bad},
      {"no colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, bad},
      {"obsolete folding",
       "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", 400, bad},
      {"bare LF in head", "GET / HTTP/1.1\nHost: h\n\n", 400, bad},
      {"bare LF ending head", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400, bad},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, bad},
      {"NUL in value",
       std::string("GET / HTTP/1.1\r\nHost: h") + '\0' + "\r\n\r\n", 400, bad},
      {"DEL in value", "GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n", 400, bad},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, bad},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, bad},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, bad},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, bad},
      {"control in target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400, bad},
      {"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400, bad},
      {"no version", "GET /\r\nHost: h\r\n\r\n", 400, bad},
      {"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, bad},
      {"HTTP/2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505,
       absl::StatusCode::kUnimplemented},
      {"HTTP/0.9 style", "GET / HTTP/0.9\r\n\r\n", 505,
       absl::StatusCode::kUnimplemented},
      {"chunk size junk",
       post + "Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 400,
       bad},
      {"chunk size missing",
       post + "Transfer-Encoding: chunked\r\n\r\n;ext\r\n", 400, bad},
      {"negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-1\r\n",
       400, bad},
      {"blank after chunk size",
       post + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n", 400, bad},
      {"bare LF after chunk size",
       post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400,
       bad},
      {"bare LF in extension",
       post + "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n", 400,
       bad},
      {"chunk overrun",
       post + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400,
       bad},
      {"chunk data LF only",
       post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400,
       bad},
      {"bad trailer",
       post + "Transfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n",
       400, bad},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.name);
    // A good request first, to see that it is delivered, and one after
    // that must not be.
    const std::vector<std::string> events = RequestEvents(ok + c.input + ok);
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[0].rfind("head:GET / 1.1", 0), 0u);
    EXPECT_EQ(events[1], "done");
    RequestRecorder r = ParseRequests(ok + c.input + ok, 0);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].http_status, c.http_status);
    EXPECT_EQ(r.errors[0].status.code(), c.code) << r.errors[0].status;
    EXPECT_EQ(r.events.back().rfind("error:", 0), 0u)
        << "events after the error";
  }
}

// Each limit gives its status: exactly at the limit passes, one more fails.
TEST(HttpRequestParserTest, Limits) {
  HttpParserOptions options;
  options.header_bytes_max = 200;
  options.header_count_max = 4;
  options.line_bytes_max = 64;
  options.body_bytes_max = 10;
  options.chunk_line_bytes_max = 8;
  const auto exhausted = absl::StatusCode::kResourceExhausted;

  auto error_of = [&options](const std::string& input) {
    RequestRecorder r = ParseRequests(input, 0, options);
    RequestEvents(input, options);  // Same under every cut.
    return r.errors.empty() ? HttpParseError{0, absl::OkStatus()} : r.errors[0];
  };
  auto expect_error = [&](const std::string& input, int http_status) {
    const HttpParseError error = error_of(input);
    EXPECT_EQ(error.http_status, http_status) << input;
    EXPECT_EQ(error.status.code(), exhausted) << input;
  };

  // Request line: 64 bytes with its CRLF pass, 65 are 414.
  const std::string target = "/" + std::string(64 - 4 - 11 - 1, 'a');
  const std::string line64 = "GET " + target + " HTTP/1.1\r\n";
  ASSERT_EQ(line64.size(), 64u);
  EXPECT_EQ(error_of(line64 + "Host: h\r\n\r\n").http_status, 0);
  expect_error("GET " + target + "b HTTP/1.1\r\nHost: h\r\n\r\n", 414);

  // A field line: 64 bytes pass, 65 are 431.
  const std::string field64 = "X: " + std::string(64 - 5, 'v') + "\r\n";
  ASSERT_EQ(field64.size(), 64u);
  EXPECT_EQ(
      error_of("GET / HTTP/1.1\r\nHost: h\r\n" + field64 + "\r\n").http_status,
      0);
  expect_error(
      "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(60, 'v') + "\r\n\r\n",
      431);

  // Field count: 4 pass, 5 are 431.
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
                     "\r\n")
                .http_status,
            0);
  expect_error(
      "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431);

  // Whole header section: 200 bytes pass, 201 are 431.
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";  // 25 bytes.
  const std::string filler = "F: " + std::string(56, 'f') + "\r\n";  // 61
  std::string head200 = head + filler + filler +
                        "G: " + std::string(200 - 25 - 122 - 2 - 5, 'g') +
                        "\r\n" + "\r\n";
  ASSERT_EQ(head200.size(), 200u);
  EXPECT_EQ(error_of(head200).http_status, 0);
  expect_error(head + filler + filler + "G: " +
                   std::string(200 - 25 - 122 - 2 - 4, 'g') + "\r\n\r\n",
               431);

  // Content-Length: 10 passes, 11 is 413 before any body byte.
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"
                     "0123456789")
                .http_status,
            0);
  expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413);
  expect_error(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "
      "99999999999999999999999999\r\n\r\n",
      413);

  // Chunked: 10 decoded bytes pass, 11 are 413, also across chunks.
  const std::string chunked =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(
      error_of(chunked + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n").http_status,
      0);
  expect_error(chunked + "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n", 413);
  expect_error(chunked + "fffffffffffffffffffffff\r\n", 400);

  // Chunk-size line: 8 bytes with CRLF pass, 9 are 400.
  EXPECT_EQ(error_of(chunked + "1;abcd\r\nx\r\n0\r\n\r\n").http_status, 0);
  expect_error(chunked + "1;abcde\r\nx\r\n0\r\n\r\n", 400);

  // A chunk size too large for any limit is 413, not an overflow.
  RequestRecorder r =
      ParseRequests(chunked + "10000000000000000000000000000000\r\n", 0);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].http_status, 413);
}

// The end of the stream inside a request is kUnavailable; between requests
// (even after empty lines) it is silent.
TEST(HttpRequestParserTest, FinishInsideRequest) {
  for (const std::string input :
       {"GET / HTTP/1.1\r\nHost", "GET / HTTP/1.1\r\nHost: h\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nab"}) {
    std::vector<std::string> events = RequestEvents(input);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(),
              "error:400:UNAVAILABLE:stream ended inside a message");
  }
  EXPECT_THAT(RequestEvents("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n"),
              ElementsAre("head:GET / 1.1 none ka|Host=h", "done"));
}

// A long head arriving in many reads is parsed the same, and a parser is
// reusable after it: views stay correct across the internal buffer.
TEST(HttpRequestParserTest, HeadAcrossManyReads) {
  std::string input = "GET /long HTTP/1.1\r\nHost: h\r\n";
  std::vector<std::string> expected_fields = {"|Host=h"};
  for (int i = 0; i < 50; ++i) {
    input += "X-Field-" + std::to_string(i) + ": value " + std::string(i, 'v') +
             "\r\n";
    // Trailing whitespace is not part of a value.
    expected_fields.push_back("|X-Field-" + std::to_string(i) + "=value" +
                              (i > 0 ? " " + std::string(i, 'v') : ""));
  }
  input += "\r\n";
  std::string head_event = "head:GET /long 1.1 none ka";
  for (const std::string& f : expected_fields) head_event += f;
  EXPECT_THAT(RequestEvents(input + input),
              ElementsAre(head_event, "done", head_event, "done"));
}

// A request without a body completes in the Feed that brought the end of
// its head, and the head's views (its bytes and its field list) are still
// intact then, however the head was cut and whatever the caller does with
// its bytes after Feed returns. HttpServer relies on this to lend such
// requests to a ViewHandler uncopied.
TEST(HttpRequestParserTest, BodilessHeadStaysValidUntilItsCompletion) {
  class Keeper : public HttpRequestParser::Listener {
   public:
    void OnRequestHead(const HttpRequestHead& head) override { head_ = head; }
    void OnBody(std::string_view) override { seen.push_back("body"); }
    void OnMessageComplete(HttpFieldsView) override {
      std::string s = std::string(head_.method) + " " +
                      std::string(head_.target);
      for (const HttpFieldView& field : head_.headers) {
        s += "|" + std::string(field.name) + "=" + std::string(field.value);
      }
      seen.push_back(s);
    }
    void OnError(const HttpParseError&) override { seen.push_back("error"); }
    std::vector<std::string> seen;

   private:
    HttpRequestHead head_;
  };
  const std::string input = "GET /a HTTP/1.1\r\nHost: h\r\nX-Long: " +
                            std::string(200, 'x') +
                            "\r\n\r\nHEAD /b HTTP/1.1\r\nHost: i\r\n\r\n";
  for (size_t cut = 1; cut <= input.size(); ++cut) {
    SCOPED_TRACE(cut);
    Keeper keeper;
    HttpRequestParser parser(&keeper);
    for (size_t i = 0; i < input.size(); i += cut) {
      std::string piece = input.substr(i, cut);
      ASSERT_EQ(parser.Feed(piece), piece.size());
      piece.assign(piece.size(), '#');  // The caller reuses its buffer.
    }
    EXPECT_THAT(keeper.seen,
                ElementsAre("GET /a|Host=h|X-Long=" + std::string(200, 'x'),
                            "HEAD /b|Host=i"));
  }
}

// Feeding from inside a callback is a caller bug and aborts.
TEST(HttpRequestParserDeathTest, FeedFromCallbackAborts) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder);
  recorder.on_head = [&parser](const HttpRequestHead&) { parser.Feed("x"); };
  EXPECT_DEATH(parser.Feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
               "inside its own callback");
}

// ---- The whole-head pass ----

// What one run saw: its events, the bytes Feed consumed and how it ended.
struct Run {
  std::vector<std::string> events;
  size_t used = 0;
  bool failed = false;
  bool paused = false;
  // FeedLineByLine: the first byte alone was refused (a limit below 2
  // bytes). A line over its limit consumes the rest of the Feed call, so
  // the bytes consumed then depend on the cut and are not compared.
  bool first_byte_failed = false;
};

// Feeds `input` whole in one Feed call (no resuming, no Finish): a head at
// its start is read by the whole-head pass when that pass takes it. The
// bytes are a copy on the heap of exactly their size, so that a read past
// them is one the address sanitizer sees (a std::string has its NUL there).
Run FeedWhole(std::string_view input, const HttpParserOptions& options) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder, options);
  Run run;
  const std::unique_ptr<char[]> bytes(new char[input.size()]);
  std::copy(input.begin(), input.end(), bytes.get());
  run.used = parser.Feed(std::string_view(bytes.get(), input.size()));
  run.failed = parser.failed();
  run.paused = parser.paused();
  run.events = std::move(recorder.events);
  return run;
}

// The same with the first byte fed alone: the head is then buffered and
// parsed line by line, so this is the reference for everything, the bytes
// consumed included.
Run FeedLineByLine(std::string_view input, const HttpParserOptions& options) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder, options);
  Run run;
  run.used = input.empty() ? 0 : parser.Feed(input.substr(0, 1));
  run.first_byte_failed = parser.failed();
  if (run.used == 1 && !parser.failed() && !parser.paused()) {
    run.used += parser.Feed(input.substr(1));
  }
  run.failed = parser.failed();
  run.paused = parser.paused();
  run.events = std::move(recorder.events);
  return run;
}

// `input` with its unprintable bytes escaped, for failure messages.
std::string Shown(std::string_view input) {
  return absl::CHexEscape(absl::string_view(input.data(), input.size()));
}

// Checks that the whole feed gives the events of a byte-by-byte one and the
// events, consumed bytes and end state of the line-by-line reference.
// Returns the events.
std::vector<std::string> ExpectSameAsLineByLine(
    std::string_view input, const HttpParserOptions& options = {}) {
  const Run whole = FeedWhole(input, options);
  const Run reference = FeedLineByLine(input, options);
  // Both resume after pauses (an upgrade pauses).
  EXPECT_EQ(ParseRequests(input, 0, options, /*finish=*/false).events,
            ParseRequests(input, 1, options, /*finish=*/false).events)
      << "byte by byte: " << Shown(input);
  EXPECT_EQ(whole.events, reference.events) << Shown(input);
  if (!reference.first_byte_failed) {
    EXPECT_EQ(whole.used, reference.used) << Shown(input);
  }
  EXPECT_EQ(whole.failed, reference.failed) << Shown(input);
  EXPECT_EQ(whole.paused, reference.paused) << Shown(input);
  return whole.events;
}

std::string FirstEvent(const std::vector<std::string>& events) {
  return events.empty() ? "" : events.front();
}

// Every limit exactly at its boundary and one past, for the request line,
// a field line, the empty line that ends the head, the section (with and
// without empty lines before the request line) and the field count.
TEST(HttpRequestParserTest, WholeHeadPassAtEveryLimit) {
  HttpParserOptions options;
  options.header_bytes_max = 200;
  options.header_count_max = 4;
  options.line_bytes_max = 64;
  const std::string host = "Host: h\r\n";  // 9 bytes.

  // A request line of `size` bytes, CRLF included.
  auto request_line = [](size_t size) {
    return "GET /" + std::string(size - 16, 'a') + " HTTP/1.1\r\n";
  };
  // A field line of `size` bytes, CRLF included.
  auto field_line = [](size_t size) {
    return "X: " + std::string(size - 5, 'v') + "\r\n";
  };
  ASSERT_EQ(request_line(64).size(), 64u);
  ASSERT_EQ(field_line(64).size(), 64u);

  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(
                  request_line(64) + host + "\r\n", options)),
              HasSubstr("head:GET"));
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(
                  request_line(65) + host + "\r\n", options)),
              HasSubstr("error:414"));
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(
                  request_line(20) + host + field_line(64) + "\r\n", options)),
              HasSubstr("head:GET"));
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(
                  request_line(20) + host + field_line(65) + "\r\n", options)),
              HasSubstr("error:431"));

  // The section: 200 bytes in all pass, 201 do not, whichever line takes
  // the last bytes (a field line, or the empty line that ends the head).
  for (size_t blank_lines : {0, 1, 3}) {
    std::string before;
    for (size_t i = 0; i < blank_lines; ++i) before += "\r\n";
    for (size_t extra : {0, 1}) {
      // request(40) + host(9) + 3 fields + "\r\n" = 200 + extra.
      const size_t rest = 200 - before.size() - 40 - 9 - 2 + extra;
      const std::string head = before + request_line(40) + host +
                               field_line(rest / 3) + field_line(rest / 3) +
                               field_line(rest - 2 * (rest / 3)) + "\r\n";
      ASSERT_EQ(head.size(), 200 + extra);
      EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(head, options)),
                  HasSubstr(extra == 0 ? "head:GET" : "error:431"))
          << blank_lines;
    }
    // The limit falls inside the final CRLF.
    for (size_t short_by : {0, 1, 2}) {
      const size_t rest = 200 - before.size() - 40 - 9;
      const std::string head = before + request_line(40) + host +
                               field_line(rest / 3) + field_line(rest / 3) +
                               field_line(rest - 2 * (rest / 3) - short_by) +
                               "\r\n";
      ExpectSameAsLineByLine(head, options);
    }
  }

  // The field count: 4 fields pass, 5 are 431.
  std::string four = request_line(20) + host;
  for (int i = 0; i < 3; ++i) four += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(four + "\r\n", options)),
              HasSubstr("head:GET"));
  EXPECT_THAT(
      FirstEvent(ExpectSameAsLineByLine(four + "X-4: v\r\n\r\n", options)),
      HasSubstr("error:431"));

  // Limits as small as a line: the pass must not read past them either.
  for (size_t line_max : {1, 2, 15, 16, 17, 18}) {
    HttpParserOptions tiny = options;
    tiny.line_bytes_max = line_max;
    ExpectSameAsLineByLine("GET / HTTP/1.1\r\n\r\n", tiny);
    tiny.line_bytes_max = 64;
    tiny.header_bytes_max = line_max;
    ExpectSameAsLineByLine("GET / HTTP/1.1\r\n\r\n", tiny);
  }
  for (size_t count_max : {1, 2}) {
    HttpParserOptions few = options;
    few.header_count_max = count_max;
    ExpectSameAsLineByLine("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n", few);
  }
}

// Bytes the pass must handle exactly as the line-by-line parse: HTAB,
// obs-text, controls, bare LF and CR in every place; malformed names.
TEST(HttpRequestParserTest, WholeHeadPassOnUnusualBytes) {
  const std::string start = "GET /p HTTP/1.1\r\nHost: h\r\n";
  const std::vector<std::string> fields = {
      "A: b\tc\r\n",                  // HTAB inside a value.
      "A:\tb\t\r\n",                  // HTAB as OWS on both sides.
      "A: \t \r\n",                   // A value of whitespace only.
      "A: \x80\xff\r\n",              // obs-text.
      "A: b\x7f\r\n",                 // DEL.
      std::string("A: b\0c\r\n", 8),  // NUL.
      "A: b\x01\r\n",                 // Another control.
      "A: b\n",                       // Bare LF ending a field line.
      "A: b\rc\r\n",                  // Bare CR inside a value.
      "A: b\r\r\n",                   // CR CR LF.
      "A: b\r",                       // CR at the very end of the data.
      ": b\r\n",                      // Empty field name.
      "A : b\r\n",                    // Space before the colon.
      "A\t: b\r\n",                   // HTAB before the colon.
      " A: b\r\n",                    // obs-fold.
      "\tA: b\r\n",                   // obs-fold with HTAB.
      "A\r\n",                        // No colon.
      "A(: b\r\n",                    // Not a tchar in the name.
      "A\x80: b\r\n",                 // obs-text in the name.
      "A: " + std::string(40, 'v') + "\t" + std::string(40, 'w') + "\r\n",
      "A: " + std::string(40, 'v') + "\x7f\r\n",
  };
  for (const std::string& field : fields) {
    for (const std::string& end :
         {std::string("\r\n"), std::string("\n"), std::string("\r"),
          std::string(""), std::string("\r\nGET / HTTP/1.1\r\n")}) {
      ExpectSameAsLineByLine(start + field + end);
      ExpectSameAsLineByLine(start + field + "B: c\r\n" + end);
    }
  }
  // The request line.
  for (const std::string line :
       {"GET / HTTP/1.1\n", "GET / HTTP/1.1\r\r\n", "GET / HTTP/1.1 \r\n",
        "GET  / HTTP/1.1\r\n", "GET /\t HTTP/1.1\r\n", "GET /\x80 HTTP/1.1\r\n",
        "G(T / HTTP/1.1\r\n", " GET / HTTP/1.1\r\n", "GET / HTTP/2.0\r\n",
        "GET / HTTP/1.10\r\n", "GET / HTTP/1.\r\n", "GET / http/1.1\r\n",
        "GET /\r\n", "GET\r\n", "GET / HTTP/1.1", "GET / HTTP/1.1\r"}) {
    ExpectSameAsLineByLine(line + std::string("Host: h\r\n\r\n"));
    ExpectSameAsLineByLine(line);
  }
  // The empty line that ends the head: bare LF, a lone CR, CR then junk.
  for (const std::string end : {"\n", "\r", "\rX", "\r\r\n", " \r\n"}) {
    ExpectSameAsLineByLine(start + end);
  }
}

// A head cut anywhere (the blank line missing, a line half there) is left
// to the line-by-line parse, which buffers it; fed the rest, it gives the
// same request as a whole feed.
TEST(HttpRequestParserTest, WholeHeadPassOnHeadsCutShort) {
  const std::string head =
      "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
      "User-Agent: a longer value, past one 16-byte block\r\n\r\nabc";
  for (size_t cut = 0; cut <= head.size(); ++cut) {
    ExpectSameAsLineByLine(head.substr(0, cut));
    RequestRecorder recorder;
    HttpRequestParser parser(&recorder);
    EXPECT_EQ(parser.Feed(head.substr(0, cut)), cut);
    EXPECT_EQ(parser.Feed(head.substr(cut)), head.size() - cut);
    EXPECT_EQ(recorder.events, ParseRequests(head, 1, {}, false).events) << cut;
  }
}

// Fields the pass reads but framing refuses fail at the same line, having
// consumed the same bytes; checks after the head (Host, Transfer-Encoding,
// Content-Length against the limit) are shared with the line-by-line parse.
TEST(HttpRequestParserTest, WholeHeadPassFramingErrors) {
  HttpParserOptions options;
  options.body_bytes_max = 10;
  const std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  for (const std::string fields : {
           "Host: h\r\nContent-Length: x\r\nA: b\r\n",
           "Host: h\r\nContent-Length: 1\r\ncontent-length: 2\r\nA: b\r\n",
           "Host: h\r\nContent-Length: 1, 1\r\n",
           "Host: h\r\nContent-Length: 11\r\n",
           "Host: h\r\nHost: i\r\n",
           "A: b\r\n",
           "Host: h\r\nTransfer-Encoding: gzip\r\n",
           "Host: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n",
           "Host: h\r\nTransfer-Encoding: chunked, chunked\r\n",
           "Host: h\r\nTransfer-Encoding: ,\r\n",
           "Host: h\r\nConnection: upgrade\r\nUpgrade: x\r\n",
           "Host: h\r\nExpect: 100-continue\r\n",
       }) {
    const std::string head = "POST / HTTP/1.1\r\n" + fields + "\r\n";
    ExpectSameAsLineByLine(head, options);
    ExpectSameAsLineByLine(head + "0\r\n\r\n" + ok, options);
    ExpectSameAsLineByLine(ok + head + "0\r\n\r\n" + ok, options);
  }
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine(
                  "GET / HTTP/2.0\r\nHost: h\r\n\r\n", options)),
              HasSubstr("error:505"));
  EXPECT_THAT(
      FirstEvent(ExpectSameAsLineByLine(
          "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", options)),
      HasSubstr("error:400"));
}

// Heads the whole-head pass accepts, each with a field that decides framing
// or the connection's fate, in any case and anywhere among other fields: the
// pass notes them as it reads (skipping names of other lengths) and must
// decide exactly as the line-by-line parse does. Each head is fed alone,
// then after a plain request on the same parser (views_ reused), then
// before one (nothing noted may leak into the next head).
TEST(HttpRequestParserTest, WholeHeadPassNotesFramingFields) {
  const std::string plain =
      "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n";
  struct Case {
    std::string head;
    // The head's event without its fields, or how its error event starts.
    std::string expected;
  };
  const std::string many_fields = [] {
    std::string fields;
    for (int i = 0; i < 40; ++i) absl::StrAppend(&fields, "X-", i, ": v\r\n");
    return fields;
  }();
  for (const Case& c : std::vector<Case>{
           {"GET / HTTP/1.1\r\nHOST: h\r\n\r\n", "head:GET / 1.1 none ka"},
           {"GET / HTTP/1.1\r\nA: b\r\nhOsT: h\r\nC: d\r\n\r\n",
            "head:GET / 1.1 none ka"},
           {"POST / HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: 3\r\n\r\nabc",
            "head:POST / 1.1 len=3 ka"},
           {"POST / HTTP/1.1\r\nContent-Length: 3\r\nHost: h\r\n"
            "CONTENT-LENGTH: 3\r\n\r\nabc",
            "head:POST / 1.1 len=3 ka"},
           {"POST / HTTP/1.1\r\nHost: h\r\nTRANSFER-encoding: Chunked\r\n"
            "\r\n3\r\nabc\r\n0\r\n\r\n",
            "head:POST / 1.1 chunked ka"},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nHost: h\r\n"
            "transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            "error:501"},
           {"GET / HTTP/1.1\r\nHost: h\r\nCONNECTION: Close\r\n\r\n",
            "head:GET / 1.1 none"},
           {"GET / HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n",
            "head:GET / 1.0 none ka"},
           {"GET / HTTP/1.0\r\nConnection: x, keep-alive, close\r\n\r\n",
            "head:GET / 1.0 none"},
           {"GET / HTTP/1.1\r\nHost: h\r\nhost: h\r\n\r\n", "error:400"},
           {"GET / HTTP/1.1\r\nUser-Agent: u\r\n\r\n", "error:400"},
           {"GET / HTTP/1.0\r\n\r\n", "head:GET / 1.0 none"},
           {"POST / HTTP/1.1\r\nHost: h\r\neXpEcT: 100-Continue\r\n"
            "Content-Length: 1\r\n\r\nx",
            "head:POST / 1.1 len=1 ka ec"},
           {"GET / HTTP/1.1\r\nHost: h\r\nConnection: UPGRADE\r\n"
            "upgrade: websocket\r\n\r\n",
            "head:GET / 1.1 none ka up"},
           {"GET / HTTP/1.1\r\nHost: h\r\nUPGRADE: websocket\r\n\r\n",
            "head:GET / 1.1 none ka"},
           {"GET / HTTP/1.1\r\nHost: h\r\nExpect: other\r\n\r\n",
            "head:GET / 1.1 none ka"},
           {"CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r\n",
            "head:CONNECT h:1 1.1 none ka up"},
           {"CONNECT h:1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n",
            "head:CONNECT h:1 1.1 none ka up"},
           {"CONNECt h:1 HTTP/1.1\r\nHost: h\r\n\r\n",
            "head:CONNECt h:1 1.1 none ka"},
           {"GET / HTTP/1.1\r\nHost: h\r\n" + many_fields +
                "Content-Length: 0\r\n\r\n",
            "head:GET / 1.1 len=0 ka"},
           // Names one byte off the framing ones, and of their lengths.
           {"GET / HTTP/1.1\r\nHost: h\r\nContent-Lengths: 5\r\n"
            "Content-Lengt: 5\r\nTransfer-Encodinh: chunked\r\n"
            "Connectiom: close\r\nHosu: h\r\nExpecu: 100-continue\r\n"
            "Upgradf: x\r\n\r\n",
            "head:GET / 1.1 none ka"},
       }) {
    // A head's event up to its fields, or an error's whole event.
    const auto decided = [](const std::string& event) {
      return event.substr(0, event.find('|'));
    };
    const auto matches = [&c](const std::string& decided) {
      return c.expected.starts_with("error:") ? decided.starts_with(c.expected)
                                              : decided == c.expected;
    };
    const std::string alone =
        decided(FirstEvent(ExpectSameAsLineByLine(c.head)));
    EXPECT_TRUE(matches(alone)) << Shown(c.head) << " gave " << alone;
    const std::vector<std::string> after =
        ExpectSameAsLineByLine(plain + c.head);
    ASSERT_GE(after.size(), 3u) << Shown(c.head);
    EXPECT_TRUE(matches(decided(after[2])))
        << Shown(c.head) << " gave " << after[2];
    ExpectSameAsLineByLine(c.head + plain);
  }
}

// Request lines that start like a GET, or nearly, whole and cut anywhere:
// the one-compare test for "GET " must agree with the method scan.
TEST(HttpRequestParserTest, MethodsLikeGet) {
  const std::string rest = "/ HTTP/1.1\r\nHost: h\r\n\r\n";
  for (const std::string start :
       {"GET ", "GETS ", "GE ", "gET ", "GET\t", "GET  ", "GET", "G ", "XGET ",
        "GET-X ", "GET\r\n", " GET "}) {
    const std::string input = start + rest;
    ExpectSameAsLineByLine(input);
    for (size_t cut = 1; cut < input.size(); ++cut) {
      EXPECT_EQ(ParseRequests(input, cut, {}, /*finish=*/true).events,
                ParseRequests(input, 0, {}, /*finish=*/true).events)
          << Shown(input) << " cut at " << cut;
    }
  }
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine("GET " + rest)),
              StartsWith("head:GET / 1.1 none ka|"));
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine("GETS " + rest)),
              StartsWith("head:GETS / 1.1 none ka|"));
  EXPECT_THAT(FirstEvent(ExpectSameAsLineByLine("GET  " + rest)),
              StartsWith("error:400"));
}

// Versions one byte away from "HTTP/1.1", and a few shorter ones: the
// one-compare test for HTTP/1.1 must agree with the version grammar
// (HTTP-version = "HTTP/" DIGIT "." DIGIT, RFC 9112 section 2.3).
TEST(HttpRequestParserTest, VersionsLikeHttp11) {
  const std::string http11 = "HTTP/1.1";
  std::vector<std::string> versions = {http11, "HTTP/1.", "HTTP/", "H", ""};
  for (size_t at = 0; at < http11.size(); ++at) {
    for (const char c :
         {'0', '1', '2', '9', 'h', 'H', 'p', 'P', 'T', 't', '.', '/', 'x', ':',
          ' ', '\t', '\0', '\x80', static_cast<char>(http11[at] ^ 0x20)}) {
      std::string v = http11;
      v[at] = c;
      versions.push_back(v);
    }
  }
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (const std::string& v : versions) {
    const std::string input = "GET / " + v + "\r\nHost: h\r\n\r\n";
    const std::string first = FirstEvent(ExpectSameAsLineByLine(input));
    const bool shaped = v.size() == 8 && v.starts_with("HTTP/") &&
                        digit(v[5]) && v[6] == '.' && digit(v[7]);
    if (!shaped) {
      EXPECT_EQ(first,
                "error:400:INVALID_ARGUMENT:malformed request line: bad HTTP "
                "version")
          << Shown(v);
    } else if (v[5] != '1') {
      EXPECT_EQ(first, absl::StrCat("error:505:UNIMPLEMENTED:HTTP version ",
                                    v.substr(5, 3), " not supported"))
          << Shown(v);
    } else {
      EXPECT_THAT(first, StartsWith("head:GET / " + v.substr(5, 3) + " "))
          << Shown(v);
    }
  }
}

// What the parser must say about a field line, from RFC 9112's grammar byte
// by byte: the error, or "" when the line is accepted.
std::string FieldLineVerdict(std::string_view line) {
  const auto tchar = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) !=
                             std::string_view::npos);
  };
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  if (blank(line[0])) return "obsolete line folding in field line";
  size_t i = 0;
  while (i < line.size() && tchar(line[i])) ++i;
  if (i == line.size()) return "field line without a colon";
  if (blank(line[i])) return "whitespace before colon";
  if (line[i] != ':') return "invalid field name";
  if (i == 0) return "empty field name";
  return "";
}

// Field names of every length around the 16-byte block the scanner tests at
// once, made of the usual bytes or not, each before every kind of
// separator: the verdict must be the grammar's, first field or second,
// whole or byte by byte.
TEST(HttpRequestParserTest, FieldNamesAgreeWithTheGrammar) {
  std::vector<std::string> names = {
      "",     "A",   "Name", "X!a",   "a~b-C.d",
      "Ab_c", "A b", "A@b",  "\x80n", "n\x80",
      "a(b",  " A",  "\tA",  "\x01",  std::string(1, '\0')};
  for (size_t size = 12; size <= 20; ++size) {
    const std::string plain(size, 'n');
    names.push_back(plain);
    names.push_back("x-" + plain);
    names.push_back(plain + "!");
    names.push_back(plain + "@");
    names.push_back(plain + " ");
    names.push_back("!" + plain);
  }
  for (const std::string& name : names) {
    for (const std::string sep : {":", ": ", " :", "\t: ", "", "@:", "::"}) {
      const std::string line = name + sep + "v";
      const std::string verdict = FieldLineVerdict(line);
      for (const std::string& head :
           {"GET / HTTP/1.1\r\n" + line + "\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n" + line + "\r\n\r\n"}) {
        const std::string input = head + head;
        const std::string first = FirstEvent(ExpectSameAsLineByLine(input));
        if (verdict.empty()) {
          EXPECT_THAT(first, StartsWith("head:GET / 1.1 none ka|"))
              << Shown(line);
        } else {
          EXPECT_EQ(first, "error:400:INVALID_ARGUMENT:" + verdict)
              << Shown(line);
        }
      }
    }
  }
}

// Every kind of message after every other on one parser, whole and byte by
// byte: what a message changes must be reset before the next, whichever
// road read its head (a head read whole with no framing field but Host
// resets less).
TEST(HttpRequestParserTest, EachMessageKindAfterEachOther) {
  const std::vector<std::string> messages = {
      "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n",
      "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nxy\r\n0\r\nT: v\r\n\r\n",
      "GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET /e HTTP/1.0\r\n\r\n",
      "GET /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
      "CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /g HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\n"
      "\r\n",
      "GET /h HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(40, 'v') +
          "\r\n\r\n",
  };
  for (const std::string& a : messages) {
    for (const std::string& b : messages) {
      const std::string input = a + b + a;
      const std::vector<std::string> whole =
          ParseRequests(input, 0, {}, /*finish=*/true).events;
      EXPECT_EQ(whole, ParseRequests(input, 1, {}, /*finish=*/true).events)
          << Shown(input);
      EXPECT_EQ(whole, ParseRequests(input, 7, {}, /*finish=*/true).events)
          << Shown(input);
      // Each message reaches its completion, none fails.
      EXPECT_EQ(std::count_if(
                    whole.begin(), whole.end(),
                    [](const std::string& e) { return e.starts_with("done"); }),
                3)
          << Shown(input);
    }
  }
}

// The whole-head pass reads the usual lines (a GET with a target of up to
// 16 bytes; a field of a letter, digit and '-' name within 17 bytes, ": "
// and a value of visible bytes and SP) with block tests of their own, and
// leaves every other line to the scanners the line-by-line parse uses.
// Each such line and lines one change away from it: whole and byte by
// byte, far from the end of the bytes (a request follows) and at it, with
// the line and section limits at and just below its size.
void ExpectUsualLineAsLineByLine(const std::string& start,
                                 const std::string& fields, size_t line_size) {
  const std::string head = start + fields + "\r\n";
  const std::string next =
      "GET /next HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(40, 'p') +
      "\r\n\r\n";
  std::vector<HttpParserOptions> limits(5);
  limits[1].line_bytes_max = line_size;
  limits[2].line_bytes_max = line_size - 1;
  limits[3].header_bytes_max = head.size();
  limits[4].header_bytes_max = head.size() - 1;
  for (const HttpParserOptions& options : limits) {
    ExpectSameAsLineByLine(head + next, options);
    // The head alone, and cut short inside its last line.
    ExpectSameAsLineByLine(head, options);
    ExpectSameAsLineByLine(head.substr(0, head.size() - 3), options);
  }
}

TEST(HttpRequestParserTest, WholeHeadPassUsualFieldLinesAndTheirNeighbours) {
  const std::string start = "GET / HTTP/1.1\r\nHost: h\r\n";
  std::vector<std::string> names = {"A", "Ab-9", "a.b", "A\x80", ""};
  for (size_t size : {14, 15, 16, 17, 18}) {
    names.push_back(std::string(size, 'n'));
    names.push_back("X-" + std::string(size - 2, '9'));
  }
  const std::vector<std::string> values = {
      "",     "v",    "v v",   " v",    "\tv",  "v ",     "v\t",
      "v  ",  "v \t", "\x80v", "v\x80", "v\tv", "v\x7fv", "v\rv",
      "v\nv", "v\r",  "v\x01", "\x7f",  " ",    "\t"};
  for (const std::string& name : names) {
    for (const std::string sep : {": ", ":", ":  ", ":\t", ": \t", " : "}) {
      for (const std::string& value : values) {
        const std::string line = name + sep + value + "\r\n";
        ExpectUsualLineAsLineByLine(start, line + "B: c\r\n", line.size());
        ExpectUsualLineAsLineByLine(start, line, line.size());
      }
    }
  }
  // Values whose end, and so the CR, falls at every place of a first,
  // second and third block, with or without a byte the block test stops at
  // before it.
  for (const std::string name : {"A", "nnnnnnnnnnnnnnnn"}) {
    for (size_t size = 1; size <= 50; ++size) {
      for (const std::string last : {"v", "\t", " ", "\x7f", "\x80"}) {
        const std::string line =
            name + ": " + std::string(size - 1, 'v') + last + "\r\n";
        ExpectUsualLineAsLineByLine(start, line + "B: c\r\n", line.size());
        ExpectUsualLineAsLineByLine(start, line, line.size());
      }
    }
  }
  // Every byte in a value, a name and a target the block tests read.
  for (int c = 0; c < 256; ++c) {
    const std::string byte(1, static_cast<char>(c));
    for (const std::string& line :
         {"A: ab" + byte + "cd\r\n", "A: " + byte + "bcd\r\n",
          "A: abc" + byte + "\r\n", "Ab" + byte + "c: d\r\n",
          byte + "bc: d\r\n"}) {
      ExpectUsualLineAsLineByLine(start, line + "B: c\r\n", line.size());
    }
    const std::string request_line = "GET /a" + byte + "b HTTP/1.1\r\n";
    ExpectUsualLineAsLineByLine(request_line, "Host: h\r\nB: c\r\n",
                                request_line.size());
  }
  // The empty line at each distance from the end of the bytes.
  for (size_t pad = 0; pad <= 40; ++pad) {
    ExpectSameAsLineByLine(start + "\r\n" + std::string(pad, 'x'));
    ExpectSameAsLineByLine(start + "\rX" + std::string(pad, 'x'));
    ExpectSameAsLineByLine(start + "\r\r\n" + std::string(pad, 'x'));
    ExpectSameAsLineByLine(start + "\n" + std::string(pad, 'x'));
  }
}

TEST(HttpRequestParserTest, WholeHeadPassUsualRequestLinesAndTheirNeighbours) {
  const std::string fields =
      "Host: h\r\nUser-Agent: " + std::string(20, 'u') + "\r\n";
  std::vector<std::string> lines;
  for (size_t size = 0; size <= 20; ++size) {
    const std::string target =
        size == 0 ? "" : "/" + std::string(size - 1, 'a');
    for (const std::string end :
         {" HTTP/1.1\r\n", " HTTP/1.0\r\n", " HTTP/1.2\r\n",
          "\x80 HTTP/1.1\r\n", "\t HTTP/1.1\r\n", "\x7f HTTP/1.1\r\n",
          "  HTTP/1.1\r\n", " HTTP/1.1\n", " HTTP/1.1\r\r\n",
          " HTTP/1.1 \r\n"}) {
      lines.push_back("GET " + target + end);
    }
  }
  for (const std::string method : {"POST", "GETX", "get", "G"}) {
    lines.push_back(method + " /a HTTP/1.1\r\n");
  }
  for (const std::string& line : lines) {
    ExpectUsualLineAsLineByLine(line, fields, line.size());
    ExpectUsualLineAsLineByLine(line, "", line.size());
  }
}

// A head from a grammar of ordinary and unusual pieces, with a few bytes
// then replaced at random positions, under default or tight limits: the
// whole feed must agree with the byte-by-byte feed and the line-by-line
// reference.
rc::Gen<std::string> HeadLike() {
  using rc::gen::elementOf;
  static const std::vector<std::string> kStarts = {
      "GET / HTTP/1.1\r\n",
      "POST /a?b=c HTTP/1.1\r\n",
      "GET / HTTP/1.0\r\n",
      "PUT /x HTTP/2.0\r\n",
      "CONNECT h:1 HTTP/1.1\r\n",
      "\r\n",
      "GET /" + std::string(30, 'p') + " HTTP/1.1\r\n"};
  static const std::vector<std::string> kNames = {"Host",
                                                  "Content-Length",
                                                  "Transfer-Encoding",
                                                  "Connection",
                                                  "Upgrade",
                                                  "Expect",
                                                  "User-Agent",
                                                  "X-A",
                                                  "",
                                                  "A B",
                                                  "A\t",
                                                  " A",
                                                  "\x80",
                                                  "a(b",
                                                  "x-" + std::string(20, 'n')};
  static const std::vector<std::string> kValueParts = {"h",
                                                       "0",
                                                       "5",
                                                       "chunked",
                                                       "close",
                                                       "upgrade",
                                                       "100-continue",
                                                       " ",
                                                       "\t",
                                                       ",",
                                                       "\x80",
                                                       "\xff",
                                                       "\x7f",
                                                       std::string(1, '\0'),
                                                       "\r",
                                                       "\n",
                                                       std::string(17, 'v'),
                                                       "a b"};
  static const std::vector<std::string> kEnds = {
      "\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n", ""};
  return rc::gen::exec([]() {
    std::string head = *elementOf(kStarts);
    const int fields = *rc::gen::inRange(0, 8);
    for (int i = 0; i < fields; ++i) {
      head += *elementOf(kNames) +
              *elementOf(std::vector<std::string>{":", ": ", ":\t", " :", ""});
      const int parts = *rc::gen::inRange(0, 4);
      for (int j = 0; j < parts; ++j) head += *elementOf(kValueParts);
      head += *elementOf(kEnds);
    }
    head += *elementOf(kEnds);
    if (*rc::gen::arbitrary<bool>())
      head += "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    // Replace a few bytes anywhere with any byte.
    const int mutations = head.empty() ? 0 : *rc::gen::inRange(0, 3);
    for (int i = 0; i < mutations; ++i) {
      const size_t at = *rc::gen::inRange<size_t>(0, head.size());
      head[at] = static_cast<char>(*rc::gen::arbitrary<uint8_t>());
    }
    return head;
  });
}

// A listener that takes whole requests gets the usual request (HTTP/1.1,
// one Host, no other framing field, read whole) in one call; anything
// else, a CONNECT included, comes as a head and a completion.
TEST(HttpRequestParserTest, UsualRequestsInOneCall) {
  const std::string get = "GET /a HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n";
  const std::string input =
      get + "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok" +
      get + "GET / HTTP/1.0\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  int whole_requests = 0;
  EXPECT_EQ(ParseWholeRequests(input, 0, {}, true, &whole_requests),
            RequestEvents(input));
  EXPECT_EQ(whole_requests, 2);

  WholeRequestRecorder recorder;
  HttpParserOptions options;
  http_internal::HttpParserCore parser(options, &recorder);
  recorder.parser = &parser;
  const std::string connect = "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n";
  EXPECT_EQ(parser.Feed(connect + "tunnel"), connect.size());
  EXPECT_EQ(recorder.whole_requests, 0);
  EXPECT_TRUE(parser.paused());
  EXPECT_THAT(recorder.inner.events,
              ElementsAre(HasSubstr("head:CONNECT h:1 1.1 none ka up"), "done"));
}

// A Pause inside the one call holds back the next request, whose bytes
// stay unread; the parser is idle between the two.
TEST(HttpRequestParserTest, PauseInAWholeRequestHoldsTheNext) {
  WholeRequestRecorder recorder;
  HttpParserOptions options;
  http_internal::HttpParserCore parser(options, &recorder);
  recorder.parser = &parser;
  recorder.on_whole = [&parser] { parser.Pause(); };
  const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(parser.Feed(get + get), get.size());
  EXPECT_EQ(recorder.whole_requests, 1);
  EXPECT_TRUE(parser.idle());
  parser.Resume();
  EXPECT_EQ(parser.Feed(get), get.size());
  EXPECT_EQ(recorder.whole_requests, 2);
  EXPECT_THAT(recorder.inner.events, SizeIs(4));
}

RC_GTEST_PROP(HttpRequestParserTest, WholeHeadPassAgreesWithByteByByte, ()) {
  const std::string input = *HeadLike();
  HttpParserOptions options;
  if (*rc::gen::arbitrary<bool>()) {
    // Limits around the size of the generated heads, so that the pass
    // meets them at and near every boundary.
    options.line_bytes_max = *rc::gen::inRange<size_t>(1, 80);
    options.header_bytes_max = *rc::gen::inRange<size_t>(1, 200);
    options.header_count_max = *rc::gen::inRange<size_t>(1, 9);
  }
  const Run whole = FeedWhole(input, options);
  const Run reference = FeedLineByLine(input, options);
  RC_ASSERT(ParseRequests(input, 0, options, /*finish=*/true).events ==
            ParseRequests(input, 1, options, /*finish=*/true).events);
  RC_ASSERT(whole.events == reference.events);
  // A listener taking the usual request in one call hears the same, and
  // the parser stops at the same byte in the same state.
  WholeRequestRecorder one_call;
  http_internal::HttpParserCore core(options, &one_call);
  one_call.parser = &core;
  RC_ASSERT(core.Feed(input) == whole.used);
  RC_ASSERT(one_call.inner.events == whole.events);
  RC_ASSERT(core.failed() == whole.failed);
  RC_ASSERT(core.paused() == whole.paused);
  RC_CLASSIFY(one_call.whole_requests > 0, "a request in one call");
  RC_ASSERT(ParseWholeRequests(input, 0, options, /*finish=*/true) ==
            ParseRequests(input, 0, options, /*finish=*/true).events);
  RC_ASSERT(reference.first_byte_failed || whole.used == reference.used);
  RC_ASSERT(whole.failed == reference.failed);
  RC_ASSERT(whole.paused == reference.paused);
}


// ---- Bursts of pipelined requests ----
//
// For a WholeRequestListener, usual requests that follow each other in one
// Feed are read in one call of the whole-head pass, one after another. A
// burst must end where Feed's loop would stop, request by request: at a
// Pause() inside a callback, at a failure, after an upgrade, at the end of
// the bytes (a partial head is kept), and a request it does not take must
// go on the road it always did.

// A pipelined burst as h2load sends it: the request the benchmarks time.
std::string UsualRequest(int port) {
  return absl::StrCat("GET / HTTP/1.1\r\nHost: 127.0.0.1:", port,
                      "\r\nuser-agent: h2load nghttp2/1.52.0\r\n\r\n");
}

std::string UsualBurst(int requests) {
  std::string burst;
  for (int i = 0; i < requests; ++i) burst += UsualRequest(8000 + i);
  return burst;
}

// How one parser went through `input`: the events, and the bytes each Feed
// call consumed. The input is fed whole (a heap copy of exactly its size,
// as FeedWhole's, so that a read past it is seen), then what a pause left
// is fed again after Resume, until all is read or the parser fails.
struct BurstRun {
  std::vector<std::string> events;
  std::vector<size_t> used;
  bool failed = false;
  int whole_requests = 0;
};

template <typename Parser>
void FeedBurstInto(Parser& parser, std::string_view input, BurstRun* run) {
  const std::unique_ptr<char[]> bytes(new char[input.size()]);
  std::copy(input.begin(), input.end(), bytes.get());
  std::string_view rest(bytes.get(), input.size());
  while (!rest.empty()) {
    const size_t used = parser.Feed(rest);
    run->used.push_back(used);
    rest.remove_prefix(used);
    if (parser.failed() || rest.empty()) break;
    // Feed reads everything it is given unless paused (or failed).
    EXPECT_TRUE(parser.paused());
    parser.Resume();
  }
  run->failed = parser.failed();
}

// Through a WholeRequestListener, pausing in the completion of request
// `pause_at` (counting from 0, whichever way it completes; -1: never).
BurstRun FeedBurst(std::string_view input, const HttpParserOptions& options,
                   int pause_at = -1) {
  WholeRequestRecorder recorder;
  http_internal::HttpParserCore parser(options, &recorder);
  recorder.parser = &parser;
  int completed = 0;
  recorder.inner.on_complete = [&] {
    if (completed++ == pause_at) parser.Pause();
  };
  BurstRun run;
  FeedBurstInto(parser, input, &run);
  run.events = std::move(recorder.inner.events);
  run.whole_requests = recorder.whole_requests;
  return run;
}

// The same through HttpRequestParser, whose listener hears every request
// as a head and a completion: each request's head is then a call of its
// own from Feed's loop, which is what a burst must match.
BurstRun FeedRequestByRequest(std::string_view input,
                              const HttpParserOptions& options,
                              int pause_at = -1) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder, options);
  int completed = 0;
  recorder.on_complete = [&] {
    if (completed++ == pause_at) parser.Pause();
  };
  BurstRun run;
  FeedBurstInto(parser, input, &run);
  run.events = std::move(recorder.events);
  return run;
}

// Checks that a burst agrees with the request-by-request reference (events,
// bytes per Feed call, failure) and with a byte-by-byte feed (events), and
// returns the burst's run.
BurstRun ExpectBurstAgrees(std::string_view input,
                           const HttpParserOptions& options = {},
                           int pause_at = -1) {
  const BurstRun burst = FeedBurst(input, options, pause_at);
  const BurstRun reference = FeedRequestByRequest(input, options, pause_at);
  EXPECT_EQ(burst.events, reference.events) << Shown(input);
  EXPECT_EQ(burst.used, reference.used) << Shown(input);
  EXPECT_EQ(burst.failed, reference.failed) << Shown(input);
  EXPECT_EQ(burst.events,
            ParseRequests(input, 1, options, /*finish=*/false).events)
      << "byte by byte: " << Shown(input);
  return burst;
}

// Sixteen usual requests in one Feed: every one in one call, all read.
TEST(HttpRequestParserTest, BurstOfUsualRequests) {
  const std::string burst = UsualBurst(16);
  const BurstRun run = ExpectBurstAgrees(burst);
  EXPECT_EQ(run.whole_requests, 16);
  EXPECT_THAT(run.used, ElementsAre(burst.size()));
  EXPECT_THAT(run.events, SizeIs(32));
  EXPECT_EQ(run.events[30],
            "head:GET / 1.1 none ka|Host=127.0.0.1:8015|"
            "user-agent=h2load nghttp2/1.52.0");
}

// A Pause() in any request's callback stops the burst right after that
// request, the parser idle; the rest is read after Resume.
TEST(HttpRequestParserTest, BurstPausedAtEachRequest) {
  const std::string burst = UsualBurst(5);
  const size_t each = UsualRequest(8000).size();
  for (int pause_at = 0; pause_at < 5; ++pause_at) {
    const BurstRun run = ExpectBurstAgrees(burst, {}, pause_at);
    EXPECT_EQ(run.whole_requests, 5);
    if (pause_at < 4) {
      EXPECT_THAT(run.used, ElementsAre((pause_at + 1) * each,
                                        (4 - pause_at) * each))
          << pause_at;
    }
  }
  // Idle, not paused by anything else, between the two Feed calls.
  WholeRequestRecorder recorder;
  const HttpParserOptions options;
  http_internal::HttpParserCore parser(options, &recorder);
  recorder.on_whole = [&] {
    if (recorder.whole_requests == 2) parser.Pause();
  };
  EXPECT_EQ(parser.Feed(burst), 2 * each);
  EXPECT_TRUE(parser.paused());
  EXPECT_TRUE(parser.idle());
  EXPECT_FALSE(parser.failed());
  // Paused again in the last one: Feed stops there though no bytes follow.
  recorder.on_whole = [&] {
    if (recorder.whole_requests == 5) parser.Pause();
  };
  parser.Resume();
  EXPECT_EQ(parser.Feed(std::string_view(burst).substr(2 * each)), 3 * each);
  EXPECT_TRUE(parser.paused());
  EXPECT_TRUE(parser.idle());
}

// Requests the burst does not take, between usual ones: each goes the way
// it always did (a head, then its body and completion; an error where the
// line-by-line parse finds it), and the burst goes on after it or stops.
TEST(HttpRequestParserTest, BurstAroundOtherRequests) {
  const std::string usual = UsualRequest(8080);
  const std::vector<std::string> others = {
      // Other requests that complete.
      "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
      "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
      "HEAD /" + std::string(40, 't') + " HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: h\r\nA-Very-Long-Field-Name: v\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: h\r\nA:\tb \r\n\r\n",
      // Empty lines before a request.
      "\r\n",
      "\r\n\r\n",
      "\n",
      // Upgrades: the parser stops after them.
      "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
      "Upgrade: websocket\r\n\r\n",
      // Errors: the parser stops at them.
      "GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n",
      "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
      "\x01GET / HTTP/1.1\r\nHost: h\r\n\r\n",
  };
  for (const std::string& other : others) {
    for (const std::string& input :
         {other + usual + usual, usual + other + usual,
          usual + usual + other, usual + other + other + usual}) {
      for (int pause_at : {-1, 0, 1, 2}) {
        ExpectBurstAgrees(input, {}, pause_at);
      }
    }
  }
}

// A burst whose last head is cut short anywhere: the requests before it
// are read, the partial head is kept, and the next Feed completes it.
TEST(HttpRequestParserTest, BurstEndingInAPartialHead) {
  const std::string burst = UsualBurst(3);
  const size_t each = UsualRequest(8000).size();
  for (size_t cut = 2 * each; cut <= burst.size(); ++cut) {
    WholeRequestRecorder recorder;
    const HttpParserOptions options;
    http_internal::HttpParserCore parser(options, &recorder);
    recorder.parser = &parser;
    const std::unique_ptr<char[]> first(new char[cut]);
    std::copy(burst.begin(), burst.begin() + cut, first.get());
    EXPECT_EQ(parser.Feed(std::string_view(first.get(), cut)), cut);
    EXPECT_EQ(recorder.whole_requests, cut == burst.size() ? 3 : 2) << cut;
    EXPECT_EQ(parser.idle(), cut == 2 * each || cut == burst.size()) << cut;
    EXPECT_EQ(parser.Feed(std::string_view(burst).substr(cut)),
              burst.size() - cut);
    EXPECT_EQ(recorder.inner.events,
              ParseRequests(burst, 1, HttpParserOptions(), false).events)
        << cut;
    ExpectBurstAgrees(burst.substr(0, cut));
  }
}

// The last field of the last request ends near the end of the bytes,
// with values of every length: the value's last block then overlaps the
// one before it, and must still find the CR, and nothing past the bytes.
TEST(HttpRequestParserTest, BurstEndingInValuesOfEveryLength) {
  for (size_t size = 1; size <= 70; ++size) {
    for (const std::string& tail : {std::string(), std::string("\r\n")}) {
      const std::string last =
          "GET /l HTTP/1.1\r\nHost: h\r\nX-Value: " + std::string(size, 'v') +
          "\r\n\r\n" + tail;
      const BurstRun run = ExpectBurstAgrees(UsualBurst(2) + last);
      EXPECT_EQ(run.whole_requests, 3) << size;
      // A value ending in SP, or holding a CR short of its end.
      ExpectBurstAgrees(UsualBurst(1) + "GET /l HTTP/1.1\r\nHost: h\r\nX: " +
                        std::string(size, 'v') + " \r\n\r\n" + tail);
      ExpectBurstAgrees(UsualBurst(1) + "GET /l HTTP/1.1\r\nHost: h\r\nX: " +
                        std::string(size, 'v') + "\rv\r\n\r\n" + tail);
    }
  }
}

// Limits reached in the middle of a burst: the section (with more bytes in
// one Feed than a section may hold, and after empty lines), the field
// count, and line limits about as long as the usual lines' reach.
TEST(HttpRequestParserTest, BurstMeetsLimits) {
  const std::string burst = UsualBurst(16);
  const size_t each = UsualRequest(8000).size();
  for (size_t header_max : {each - 1, each, each + 1, 2 * each, 3 * each + 5,
                            burst.size() - 1, burst.size()}) {
    HttpParserOptions options;
    options.header_bytes_max = header_max;
    const BurstRun run = ExpectBurstAgrees(burst, options);
    if (header_max >= each) {
      EXPECT_EQ(run.whole_requests, 16) << header_max;
    }
    ExpectBurstAgrees("\r\n" + burst, options);
    ExpectBurstAgrees("\r\n\r\n\r\n" + burst, options);
    ExpectBurstAgrees(UsualBurst(2) + "\r\n\r\n" + burst, options);
  }
  // Empty lines before a burst count towards its first head's section
  // only: a later, longer head may take the whole section.
  const std::string longer = "GET / HTTP/1.1\r\nHost: h\r\nX: " +
                             std::string(60, 'v') + "\r\n\r\n";
  ASSERT_GT(longer.size(), each + 3);
  for (const std::string blank : {"\r\n", "\n", "\r\n\r\n"}) {
    for (size_t header_max :
         {longer.size() - 1, longer.size(), longer.size() + 1}) {
      HttpParserOptions options;
      options.header_bytes_max = header_max;
      ExpectBurstAgrees(blank + UsualRequest(8000) + longer + longer,
                        options);
      ExpectBurstAgrees(blank + UsualRequest(8000) + longer + longer, options,
                        /*pause_at=*/0);
    }
  }
  for (size_t count_max : {1, 2, 3}) {
    HttpParserOptions options;
    options.header_count_max = count_max;
    const std::string three =
        "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\nC: d\r\n\r\n";
    ExpectBurstAgrees(burst + three + burst, options);
    ExpectBurstAgrees(three + burst, options);
  }
  for (size_t line_max = 28; line_max <= 40; ++line_max) {
    HttpParserOptions options;
    options.line_bytes_max = line_max;
    ExpectBurstAgrees(burst, options);
    ExpectBurstAgrees(
        "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(30, 'v') + "\r\n\r\n" +
            "GET / HTTP/1.1\r\nHost: h\r\nXY: " + std::string(30, 'v') +
            "\r\n\r\n" + burst,
        options);
  }
}

// Bursts of heads like the usual request, with values of any length,
// now and then a field that bears on framing, a byte changed anywhere or
// the last head cut short.
rc::Gen<std::string> BurstLike() {
  return rc::gen::exec([]() {
    static const std::vector<std::string> kTargets = {
        "/", "/index.html", "/" + std::string(15, 'a'),
        "/" + std::string(16, 'a'), "/?" + std::string(30, 'q')};
    // Names the usual request may have, with values of any length, and
    // (less often) fields that bear on framing, with valid values.
    static const std::vector<std::string> kNames = {
        "user-agent", "Accept", "X-" + std::string(14, 'n'),
        "X-" + std::string(15, 'n')};
    static const std::vector<std::string> kFramingFields = {
        "Connection: keep-alive", "Content-Length: 0", "Host: h",
        "Expect: 100-continue", "Connection: close"};
    std::string burst;
    const int requests = *rc::gen::inRange(1, 12);
    for (int r = 0; r < requests; ++r) {
      // Now and then empty lines before a request.
      if (*rc::gen::inRange(0, 6) == 0) {
        burst += *rc::gen::elementOf(
            std::vector<std::string>{"\r\n", "\n", "\r\n\r\n"});
      }
      burst += "GET " + *rc::gen::elementOf(kTargets) +
               " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
      const int fields = *rc::gen::inRange(0, 4);
      for (int f = 0; f < fields; ++f) {
        if (*rc::gen::inRange(0, 10) == 0) {
          burst += *rc::gen::elementOf(kFramingFields) + "\r\n";
        } else {
          burst += *rc::gen::elementOf(kNames) + ": " +
                   std::string(*rc::gen::inRange<size_t>(1, 50), 'v') + "\r\n";
        }
      }
      burst += "\r\n";
    }
    if (*rc::gen::inRange(0, 3) == 0) {
      const size_t at = *rc::gen::inRange<size_t>(0, burst.size());
      burst[at] = *rc::gen::elementOf(std::string("\r\n :\t\x80\x01Ga0"));
    }
    if (*rc::gen::arbitrary<bool>()) {
      burst.resize(*rc::gen::inRange<size_t>(0, burst.size() + 1));
    }
    return burst;
  });
}

RC_GTEST_PROP(HttpRequestParserTest, BurstAgreesRequestByRequest, ()) {
  const std::string input = *BurstLike();
  HttpParserOptions options;
  if (*rc::gen::inRange(0, 3) == 0) {
    // About as large as the heads and their lines, so that bursts meet
    // them part way.
    options.line_bytes_max = *rc::gen::inRange<size_t>(20, 100);
    options.header_bytes_max = *rc::gen::inRange<size_t>(50, 600);
    options.header_count_max = *rc::gen::inRange<size_t>(1, 6);
  }
  const int pause_at = *rc::gen::inRange(-1, 12);
  const BurstRun burst = FeedBurst(input, options, pause_at);
  const BurstRun reference = FeedRequestByRequest(input, options, pause_at);
  RC_CLASSIFY(burst.whole_requests > 1, "several usual requests");
  RC_ASSERT(burst.events == reference.events);
  RC_ASSERT(burst.used == reference.used);
  RC_ASSERT(burst.failed == reference.failed);
  RC_ASSERT(burst.events ==
            ParseRequests(input, 1, options, /*finish=*/false).events);
}

}  // namespace
}  // namespace ember::protocols
