// RapidCheck properties of the HTTP parsers and serialisers: a sequence of
// generated requests (or responses) serialised back to back parses into the
// same sequence however the bytes are cut; and on HTTP-flavoured noise the
// events are the same whole, byte by byte and at random cuts.

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "protocols/http/http_collector.h"
#include "protocols/http/http_parser.h"
#include "protocols/http/http_serializer.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/protocols/http/http_test_util.h"

namespace ember::protocols {
namespace {

using ::ember::protocols::testing::RequestRecorder;
using ::ember::protocols::testing::ResponseRecorder;
using ::ember::protocols::testing::WholeRequestRecorder;

std::vector<std::string_view> CutBy(std::string_view data,
                                    const std::vector<int>& sizes) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; !data.empty(); ++i) {
    const size_t n = std::min<size_t>(sizes[i % sizes.size()], data.size());
    pieces.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return pieces;
}

template <typename Parser>
void FeedResuming(Parser& parser, std::string_view piece) {
  while (true) {
    piece.remove_prefix(parser.Feed(piece));
    if (piece.empty() || parser.failed()) return;
    parser.Resume();
  }
}

rc::Gen<std::string> StringOf(std::string alphabet, int min, int max) {
  return rc::gen::mapcat(rc::gen::inRange(min, max + 1), [alphabet](int n) {
    return rc::gen::container<std::string>(n, rc::gen::elementOf(alphabet));
  });
}

rc::Gen<std::vector<int>> CutSizes() {
  return rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 64)));
}

// Field names that can never spell a framing field (no h, o, s, t, ...).
rc::Gen<std::string> FieldName() {
  return StringOf("abcdefxyzABCDEFXYZ-_0123456789!#$%&'*+.^`|~", 1, 12);
}

// Field values as a parser delivers them: no controls but HTAB, no
// whitespace at either end, obs-text allowed.
rc::Gen<std::string> FieldValue() {
  return rc::gen::map(
      StringOf("abcXYZ019 \t\"(),/:;<=>?@[\\]{}\x80\xfe\xff", 0, 24),
      [](std::string v) {
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
          v.pop_back();
        }
        size_t start = 0;
        while (start < v.size() && (v[start] == ' ' || v[start] == '\t')) {
          ++start;
        }
        return v.substr(start);
      });
}

rc::Gen<HttpHeaders> Fields(int max) {
  return rc::gen::map(
      rc::gen::mapcat(rc::gen::inRange(0, max + 1),
                      [](int n) {
                        return rc::gen::container<
                            std::vector<std::pair<std::string, std::string>>>(
                            n, rc::gen::pair(FieldName(), FieldValue()));
                      }),
      [](const std::vector<std::pair<std::string, std::string>>& fields) {
        HttpHeaders headers;
        for (const auto& [name, value] : fields) headers.Add(name, value);
        return headers;
      });
}

rc::Gen<std::string> Body() {
  return rc::gen::container<std::string>(rc::gen::arbitrary<char>());
}

enum class Framing { kLength, kChunked, kNone };

HttpRequest GenRequest() {
  HttpRequest r;
  r.method = *rc::gen::oneOf(
      rc::gen::element<std::string>("GET", "POST", "PUT", "DELETE", "HEAD",
                                    "OPTIONS", "PATCH"),
      StringOf("ABDEFGIKLMPQRSUVWXYZ_-", 1, 10));
  r.target = "/" + *StringOf("abcxyz019/?=&%-._~!$'()*+,;:@", 0, 30);
  r.version = *rc::gen::element(HttpVersion{1, 1}, HttpVersion{1, 0});
  if (r.version.AtLeast11()) r.headers.Add("Host", "example.com");
  for (const auto& f : *Fields(6)) r.headers.Add(f.name, f.value);
  const Framing framing =
      r.version.AtLeast11()
          ? *rc::gen::element(Framing::kLength, Framing::kChunked,
                              Framing::kNone)
          : *rc::gen::element(Framing::kLength, Framing::kNone);
  if (framing == Framing::kLength) {
    r.body = *Body();
    r.headers.Add("Content-Length", std::to_string(r.body.size()));
  } else if (framing == Framing::kChunked) {
    r.body = *Body();
    r.headers.Add("Transfer-Encoding", "chunked");
    r.trailers = *Fields(3);
  }
  return r;
}

RC_GTEST_PROP(HttpProperties, RequestsRoundTripHoweverCut, ()) {
  const int count = *rc::gen::inRange(0, 8);
  std::vector<HttpRequest> requests;
  std::string wire;
  for (int i = 0; i < count; ++i) {
    requests.push_back(GenRequest());
    RC_ASSERT(AppendRequest(requests.back(), &wire).ok());
  }
  std::vector<HttpRequest> parsed;
  HttpRequestCollector collector(
      HttpParserOptions(),
      [](const HttpParseError& e) { RC_FAIL(e.status.ToString()); },
      [&parsed](HttpRequest&& r, const HttpMessageInfo&) {
        parsed.push_back(std::move(r));
      });
  for (std::string_view piece : CutBy(wire, *CutSizes())) {
    FeedResuming(collector.parser(), piece);
  }
  collector.Finish();
  RC_ASSERT(parsed == requests);
}

// A listener that takes the usual request in one call hears what a plain
// listener hears, for any sequence of requests cut anywhere (with a few
// bytes replaced, at times, so that some fail).
RC_GTEST_PROP(HttpProperties, WholeRequestsHeardAsHeadAndCompletion, ()) {
  const int count = *rc::gen::inRange(0, 8);
  std::string wire;
  for (int i = 0; i < count; ++i) {
    if (*rc::gen::inRange(0, 3) == 0) {
      wire += "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\n\r\n";
    } else {
      RC_ASSERT(AppendRequest(GenRequest(), &wire).ok());
    }
  }
  if (!wire.empty() && *rc::gen::inRange(0, 4) == 0) {
    const size_t at = *rc::gen::inRange<size_t>(0, wire.size());
    wire[at] = *rc::gen::arbitrary<char>();
  }
  const auto sizes = *CutSizes();
  RequestRecorder plain;
  HttpRequestParser plain_parser(&plain);
  WholeRequestRecorder one_call;
  const HttpParserOptions options;
  http_internal::HttpParserCore core(options, &one_call);
  one_call.parser = &core;
  for (std::string_view piece : CutBy(wire, sizes)) {
    FeedResuming(plain_parser, piece);
    FeedResuming(core, piece);
  }
  plain_parser.Finish();
  core.Finish();
  RC_CLASSIFY(one_call.whole_requests > 0, "a request in one call");
  RC_ASSERT(one_call.inner.events == plain.events);
}

RC_GTEST_PROP(HttpProperties, ResponsesRoundTripHoweverCut, ()) {
  const int count = *rc::gen::inRange(0, 8);
  std::vector<HttpResponse> responses;
  std::string wire;
  for (int i = 0; i < count; ++i) {
    HttpResponse r;
    r.version = *rc::gen::element(HttpVersion{1, 1}, HttpVersion{1, 0});
    r.status_code = *rc::gen::inRange(100, 600);
    r.reason = *StringOf("abcXYZ ", 0, 12);
    r.headers = *Fields(6);
    const bool bodiless =
        r.status_code < 200 || r.status_code == 204 || r.status_code == 304;
    const bool last = i + 1 == count;
    // Only the last response may run until the connection closes.
    const Framing framing =
        bodiless ? Framing::kNone
                 : *rc::gen::element(Framing::kLength, Framing::kChunked,
                                     last ? Framing::kNone : Framing::kLength);
    if (framing == Framing::kLength) {
      r.body = *Body();
      r.headers.Add("Content-Length", std::to_string(r.body.size()));
    } else if (framing == Framing::kChunked) {
      r.body = *Body();
      r.headers.Add("Transfer-Encoding", "chunked");
      r.trailers = *Fields(3);
    } else if (!bodiless) {
      r.body = *Body();
    }
    RC_ASSERT(AppendResponse(r, &wire).ok());
    responses.push_back(std::move(r));
  }
  std::vector<HttpResponse> parsed;
  HttpResponseCollector collector(
      HttpParserOptions(),
      [](const HttpParseError& e) { RC_FAIL(e.status.ToString()); },
      [&parsed](HttpResponse&& r, const HttpMessageInfo&) {
        parsed.push_back(std::move(r));
      });
  for (std::string_view piece : CutBy(wire, *CutSizes())) {
    FeedResuming(collector.parser(), piece);
  }
  collector.Finish();
  RC_ASSERT(parsed == responses);
}

// HTTP-flavoured noise: fragments of real messages in random order.
rc::Gen<std::string> Noise() {
  static const std::vector<std::string> kFragments = {
      "GET ",
      "POST ",
      "/ ",
      "/x?y ",
      "HTTP/1.1",
      "HTTP/1.0",
      "HTTP/1.1 200 OK",
      "HTTP/1.1 101 X",
      "HTTP/1.1 204 ",
      "\r\n",
      "\r\n\r\n",
      "\n",
      "\r",
      "Host: h",
      "Content-Length: ",
      "Transfer-Encoding: chunked",
      "Connection: close",
      "Connection: upgrade",
      "Upgrade: x",
      "Expect: 100-continue",
      ": ",
      " ",
      "\t",
      "0",
      "3",
      "5",
      "a",
      "abc",
      "hello",
      "0\r\n\r\n",
      ";ext=1",
      "ff",
      "\x80",
      "X-A: b"};
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                          rc::gen::elementOf(kFragments)),
                      [](const std::vector<std::string>& parts) {
                        std::string s;
                        for (const std::string& p : parts) s += p;
                        return s;
                      });
}

RC_GTEST_PROP(HttpProperties, RequestEventsSameHoweverCut, ()) {
  const std::string input = *Noise();
  const auto sizes = *CutSizes();
  auto run = [&input](const std::vector<int>& cut) {
    RequestRecorder recorder;
    HttpRequestParser parser(&recorder);
    for (std::string_view piece : CutBy(input, cut)) {
      FeedResuming(parser, piece);
    }
    parser.Finish();
    return recorder.events;
  };
  const auto whole = run({static_cast<int>(input.size()) + 1});
  RC_ASSERT(run(sizes) == whole);
  RC_ASSERT(run({1}) == whole);
}

RC_GTEST_PROP(HttpProperties, ResponseEventsSameHoweverCut, ()) {
  const std::string input = *Noise();
  const auto sizes = *CutSizes();
  auto run = [&input](const std::vector<int>& cut) {
    ResponseRecorder recorder;
    HttpResponseParser parser(&recorder);
    for (std::string_view piece : CutBy(input, cut)) {
      FeedResuming(parser, piece);
    }
    parser.Finish();
    return recorder.events;
  };
  const auto whole = run({static_cast<int>(input.size()) + 1});
  RC_ASSERT(run(sizes) == whole);
  RC_ASSERT(run({1}) == whole);
}

}  // namespace
}  // namespace ember::protocols
