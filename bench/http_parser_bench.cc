// Ember's HttpRequestParser against Node's http-parser (2.9, Debian's
// libhttp-parser), on the same requests in one run: a small GET, a
// browser-like GET with a dozen fields, a POST with a 1 KiB body, and a
// pipelined batch of 16 mixed requests in one buffer.
//
// Both parsers are kept alive across iterations (a keep-alive connection)
// and given the whole buffer per call. Both do comparable work: Ember's
// parser validates every byte, records each field as a pair of views and
// derives the framing; http-parser's callbacks record each URL, field name
// and value as a pointer and length, which is what a consumer of it needs
// at least. Each benchmark checks that every request was seen.
//
//   bazel run --config=opt //bench:http_parser_bench

#include <http_parser.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "protocols/http/http_parser.h"

namespace {

const std::string& SmallGet() {
  static const auto* s =
      new std::string("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  return *s;
}

const std::string& BrowserGet() {
  static const auto* s = new std::string(
      "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg "
      "HTTP/1.1\r\n"
      "Host: www.kittyhell.com\r\n"
      "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; "
      "ja-JP-mac; "
      "rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
      "Accept: "
      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
      "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
      "Accept-Encoding: gzip,deflate\r\n"
      "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
      "Keep-Alive: 115\r\n"
      "Connection: keep-alive\r\n"
      "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
      "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
      "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader."
      "livedoor."
      "com|utmcct=/reader/|utmcmd=referral\r\n"
      "Referer: http://www.kittyhell.com/\r\n"
      "Cache-Control: max-age=0\r\n"
      "\r\n");
  return *s;
}

const std::string& PostWithBody() {
  static const auto* s = new std::string(
      "POST /api/v1/items?verbose=1 HTTP/1.1\r\n"
      "Host: api.example.com\r\n"
      "User-Agent: curl/7.88.1\r\n"
      "Accept: application/json\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 1024\r\n"
      "\r\n" +
      std::string(1024, 'x'));
  return *s;
}

const std::string& Pipelined() {
  static const auto* s = [] {
    auto* batch = new std::string;
    for (int i = 0; i < 4; ++i) {
      *batch += SmallGet() + BrowserGet() + PostWithBody() + BrowserGet();
    }
    return batch;
  }();
  return *s;
}

constexpr int kPipelinedRequests = 16;

// --- Ember ---------------------------------------------------------------

class EmberCounter : public ember::protocols::HttpRequestParser::Listener {
 public:
  void OnRequestHead(const ember::protocols::HttpRequestHead& head) override {
    fields += head.headers.size();
    benchmark::DoNotOptimize(head.target.data());
  }
  void OnBody(std::string_view data) override { body_bytes += data.size(); }
  void OnMessageComplete(ember::protocols::HttpFieldsView) override {
    ++messages;
  }
  void OnError(const ember::protocols::HttpParseError& error) override {
    std::fprintf(stderr, "ember: %s\n", error.status.ToString().c_str());
    std::abort();
  }

  size_t messages = 0;
  size_t fields = 0;
  size_t body_bytes = 0;
};

void RunEmber(benchmark::State& state, const std::string& input, int requests) {
  EmberCounter counter;
  ember::protocols::HttpRequestParser parser(&counter);
  for (auto _ : state) {
    const size_t used = parser.Feed(input);
    benchmark::DoNotOptimize(used);
  }
  if (counter.messages != static_cast<size_t>(state.iterations()) * requests) {
    state.SkipWithError("ember parser missed requests");
  }
  state.SetBytesProcessed(state.iterations() * input.size());
  state.SetItemsProcessed(state.iterations() * requests);
}

// --- Node's http-parser ----------------------------------------------------

struct NodeCounter {
  struct Span {
    const char* at;
    size_t size;
  };
  Span url{};
  Span names[64];
  Span values[64];
  int field = -1;
  bool in_value = false;
  size_t fields = 0;
  size_t messages = 0;
  size_t body_bytes = 0;
};

int OnMessageBegin(http_parser* p) {
  auto* c = static_cast<NodeCounter*>(p->data);
  c->field = -1;
  c->in_value = false;
  return 0;
}
int OnUrl(http_parser* p, const char* at, size_t n) {
  static_cast<NodeCounter*>(p->data)->url = {at, n};
  return 0;
}
int OnHeaderField(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<NodeCounter*>(p->data);
  if (c->field < 0 || c->in_value) {
    ++c->field;
    c->in_value = false;
    c->names[c->field & 63] = {at, n};
  }
  return 0;
}
int OnHeaderValue(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<NodeCounter*>(p->data);
  c->in_value = true;
  c->values[c->field & 63] = {at, n};
  return 0;
}
int OnHeadersComplete(http_parser* p) {
  auto* c = static_cast<NodeCounter*>(p->data);
  c->fields += c->field + 1;
  benchmark::DoNotOptimize(c->url.at);
  return 0;
}
int OnBody(http_parser* p, const char* at, size_t n) {
  static_cast<NodeCounter*>(p->data)->body_bytes += n;
  return 0;
}
int OnMessageComplete(http_parser* p) {
  ++static_cast<NodeCounter*>(p->data)->messages;
  return 0;
}

void RunNode(benchmark::State& state, const std::string& input, int requests) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = OnMessageBegin;
  settings.on_url = OnUrl;
  settings.on_header_field = OnHeaderField;
  settings.on_header_value = OnHeaderValue;
  settings.on_headers_complete = OnHeadersComplete;
  settings.on_body = OnBody;
  settings.on_message_complete = OnMessageComplete;
  NodeCounter counter;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &counter;
  for (auto _ : state) {
    const size_t used =
        http_parser_execute(&parser, &settings, input.data(), input.size());
    if (used != input.size()) {
      state.SkipWithError(http_errno_name(HTTP_PARSER_ERRNO(&parser)));
      break;
    }
  }
  if (counter.messages != static_cast<size_t>(state.iterations()) * requests) {
    state.SkipWithError("http-parser missed requests");
  }
  state.SetBytesProcessed(state.iterations() * input.size());
  state.SetItemsProcessed(state.iterations() * requests);
}

void BM_Ember_SmallGet(benchmark::State& s) { RunEmber(s, SmallGet(), 1); }
void BM_Node_SmallGet(benchmark::State& s) { RunNode(s, SmallGet(), 1); }
void BM_Ember_BrowserGet(benchmark::State& s) { RunEmber(s, BrowserGet(), 1); }
void BM_Node_BrowserGet(benchmark::State& s) { RunNode(s, BrowserGet(), 1); }
void BM_Ember_PostWithBody(benchmark::State& s) {
  RunEmber(s, PostWithBody(), 1);
}
void BM_Node_PostWithBody(benchmark::State& s) {
  RunNode(s, PostWithBody(), 1);
}
void BM_Ember_Pipelined16(benchmark::State& s) {
  RunEmber(s, Pipelined(), kPipelinedRequests);
}
void BM_Node_Pipelined16(benchmark::State& s) {
  RunNode(s, Pipelined(), kPipelinedRequests);
}

BENCHMARK(BM_Ember_SmallGet);
BENCHMARK(BM_Node_SmallGet);
BENCHMARK(BM_Ember_BrowserGet);
BENCHMARK(BM_Node_BrowserGet);
BENCHMARK(BM_Ember_PostWithBody);
BENCHMARK(BM_Node_PostWithBody);
BENCHMARK(BM_Ember_Pipelined16);
BENCHMARK(BM_Node_Pipelined16);

}  // namespace

BENCHMARK_MAIN();
