// Unit tests for the HTTP serialisers and the header list: exact bytes for
// each framing, the refusals that prevent header injection and ambiguous
// framing (leaving the output untouched), the chunk encoder, and round trips
// through the parsers for a few hand-written messages.

#include "protocols/http/http_serializer.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocols/http/http_collector.h"
#include "protocols/http/http_message.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

TEST(HttpHeadersTest, OrderCaseAndLookup) {
  HttpHeaders h{{"Host", "a"}, {"Set-Cookie", "x=1"}, {"set-cookie", "y=2"}};
  EXPECT_THAT(h.Get("HOST"), Optional(std::string_view("a")));
  EXPECT_THAT(h.GetAll("Set-Cookie"), ElementsAre("x=1", "y=2"));
  EXPECT_FALSE(h.Get("Missing").has_value());
  h.Set("SET-COOKIE", "z=3");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].name, "Set-Cookie");
  EXPECT_EQ(h[1].value, "z=3");
  h.Add("Connection", "keep-alive, Upgrade");
  EXPECT_TRUE(h.HasToken("connection", "upgrade"));
  EXPECT_FALSE(h.HasToken("connection", "close"));
  EXPECT_EQ(h.Remove("set-cookie"), 1u);
  EXPECT_EQ(h.size(), 2u);
}

TEST(HttpSerializerTest, RequestAddsContentLength) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/submit";
  request.headers.Add("Host", "example.com");
  request.body = "a=1";
  std::string out = "prefix:";
  ASSERT_TRUE(AppendRequest(request, &out).ok());
  EXPECT_EQ(out,
            "prefix:POST /submit HTTP/1.1\r\nHost: example.com\r\n"
            "Content-Length: 3\r\n\r\na=1");
}

TEST(HttpSerializerTest, RequestWithoutBody) {
  HttpRequest request;
  request.headers.Add("Host", "h");
  std::string out;
  ASSERT_TRUE(AppendRequest(request, &out).ok());
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(HttpSerializerTest, ChunkedRequestWithTrailers) {
  HttpRequest request;
  request.method = "PUT";
  request.headers = {{"Host", "h"}, {"Transfer-Encoding", "chunked"}};
  request.body = std::string(20, 'x');
  request.trailers.Add("Digest", "abc");
  std::string out;
  ASSERT_TRUE(AppendRequest(request, &out).ok());
  EXPECT_EQ(out,
            "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "\r\n14\r\n" +
                std::string(20, 'x') + "\r\n0\r\nDigest: abc\r\n\r\n");
}

TEST(HttpSerializerTest, Responses) {
  HttpResponse response;
  response.headers.Add("Content-Length", "2");
  response.body = "hi";
  std::string out;
  ASSERT_TRUE(AppendResponse(response, &out).ok());
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");

  // As given: no framing field means a close-delimited body.
  HttpResponse close;
  close.version = {1, 0};
  close.body = "until close";
  out.clear();
  ASSERT_TRUE(AppendResponse(close, &out).ok());
  EXPECT_EQ(out, "HTTP/1.0 200 OK\r\n\r\nuntil close");

  // A 304 keeps its Content-Length and sends no body.
  HttpResponse not_modified;
  not_modified.status_code = 304;
  not_modified.reason = "Not Modified";
  not_modified.headers.Add("Content-Length", "100");
  out.clear();
  ASSERT_TRUE(AppendResponse(not_modified, &out).ok());
  EXPECT_EQ(out, "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n");

  // A head alone, for HEAD or for a streamed body.
  HttpResponse head;
  head.headers.Add("Transfer-Encoding", "chunked");
  head.body = "ignored";
  out.clear();
  ASSERT_TRUE(AppendResponseHead(head, &out).ok());
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(HttpSerializerTest, ChunkEncoder) {
  std::string out;
  AppendChunk("", &out);
  EXPECT_EQ(out, "");
  AppendChunk("hello", &out);
  AppendChunk(std::string(255, 'z'), &out);
  ASSERT_TRUE(AppendLastChunk(HttpHeaders{{"T", "1"}}, &out).ok());
  EXPECT_EQ(out, "5\r\nhello\r\nff\r\n" + std::string(255, 'z') +
                     "\r\n0\r\nT: 1\r\n\r\n");
  std::string header;
  AppendChunkHeader(4096, &header);
  EXPECT_EQ(header, "1000\r\n");
}

// What could be read as another message is refused, and `out` is untouched.
TEST(HttpSerializerTest, Refusals) {
  auto request_error = [](HttpRequest request) {
    std::string out = "keep";
    absl::Status status = AppendRequest(request, &out);
    EXPECT_EQ(out, "keep");
    return status.code();
  };
  const auto bad = absl::StatusCode::kInvalidArgument;
  HttpRequest base;
  base.headers.Add("Host", "h");
  {
    HttpRequest r = base;
    r.headers.Add("X-Injected", "a\r\nEvil: 1");
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.headers.Add("Bad Name", "v");
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.target = "/a b";
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.method = "GE T";
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.headers.Add("Content-Length", "4");
    r.body = "abc";
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.headers.Add("Content-Length", "3");
    r.headers.Add("Transfer-Encoding", "chunked");
    r.body = "abc";
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.headers.Add("Transfer-Encoding", "chunked, gzip");
    EXPECT_EQ(request_error(r), bad);
  }
  {
    HttpRequest r = base;
    r.trailers.Add("T", "1");
    EXPECT_EQ(request_error(r), bad);
  }
  HttpResponse response;
  response.status_code = 204;
  response.body = "x";
  std::string out;
  EXPECT_EQ(AppendResponse(response, &out).code(), bad);
  response.body.clear();
  response.reason = "No\r\nContent";
  EXPECT_EQ(AppendResponse(response, &out).code(), bad);
  response.reason = "ok";
  response.status_code = 42;
  EXPECT_EQ(AppendResponse(response, &out).code(), bad);
  EXPECT_EQ(out, "");
}

// Serialised messages parse back to themselves.
TEST(HttpSerializerTest, RoundTripThroughParsers) {
  HttpRequest chunked;
  chunked.method = "POST";
  chunked.target = "/x?y=z";
  chunked.headers = {{"Host", "h"}, {"Transfer-Encoding", "chunked"}};
  chunked.body = "data";
  chunked.trailers = {{"Checksum", "1"}};
  HttpRequest sized;
  sized.version = {1, 0};
  sized.headers = {{"Content-Length", "3"}, {"X-Empty", ""}};
  sized.body = "abc";

  std::string wire;
  ASSERT_TRUE(AppendRequest(chunked, &wire).ok());
  ASSERT_TRUE(AppendRequest(sized, &wire).ok());
  std::vector<HttpRequest> parsed;
  HttpRequestCollector collector(
      HttpParserOptions(),
      [](const HttpParseError& e) { ADD_FAILURE() << e.status; },
      [&parsed](HttpRequest&& r, const HttpMessageInfo&) {
        parsed.push_back(std::move(r));
      });
  EXPECT_EQ(collector.Feed(wire), wire.size());
  collector.Finish();
  EXPECT_THAT(parsed, ElementsAre(chunked, sized));

  HttpResponse a;
  a.headers = {{"Transfer-Encoding", "chunked"}};
  a.body = "abc";
  HttpResponse b;
  b.status_code = 404;
  b.reason = "Not Found";
  b.body = "close-delimited";
  wire.clear();
  ASSERT_TRUE(AppendResponse(a, &wire).ok());
  ASSERT_TRUE(AppendResponse(b, &wire).ok());
  std::vector<HttpResponse> responses;
  HttpResponseCollector response_collector(
      HttpParserOptions(),
      [](const HttpParseError& e) { ADD_FAILURE() << e.status; },
      [&responses](HttpResponse&& r, const HttpMessageInfo&) {
        responses.push_back(std::move(r));
      });
  response_collector.Feed(wire);
  response_collector.Finish();
  EXPECT_THAT(responses, ElementsAre(a, b));
}

}  // namespace
}  // namespace ember::protocols
