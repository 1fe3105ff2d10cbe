// Test helpers for the HTTP parsers: listeners that record events as
// strings (adjacent body chunks joined), and drivers that feed an input
// whole, byte by byte and at irregular cuts, checking that every cut gives
// the same events.

#ifndef EMBER_TESTS_PROTOCOLS_HTTP_HTTP_TEST_UTIL_H_
#define EMBER_TESTS_PROTOCOLS_HTTP_HTTP_TEST_UTIL_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/http/http_parser.h"
#include "protocols/http/internal/http_parser_core.h"

namespace ember::protocols::testing {

// "head:GET / 1.1 len=5 ka up ec|Host=a|..." ; "body:..." ; "done|t=v" ;
// "error:400:INVALID_ARGUMENT:message".
std::string DescribeFields(HttpFieldsView fields);
std::string DescribeError(const HttpParseError& error);

class RequestRecorder : public HttpRequestParser::Listener {
 public:
  void OnRequestHead(const HttpRequestHead& head) override;
  void OnBody(std::string_view data) override;
  void OnMessageComplete(HttpFieldsView trailers) override;
  void OnError(const HttpParseError& error) override;

  std::vector<std::string> events;
  std::vector<HttpParseError> errors;
  // Optional hooks, run after recording.
  std::function<void(const HttpRequestHead&)> on_head;
  std::function<void()> on_complete;
};

// Takes the usual request in one call (OnBodilessRequest) and records it
// as RequestRecorder records a head and its completion, so that the events
// of the two listeners compare. `whole_requests` counts those calls; each
// checks that the parser (when set) is not idle during it.
class WholeRequestRecorder : public http_internal::WholeRequestListener {
 public:
  void OnRequestHead(const HttpRequestHead& head) override {
    inner.OnRequestHead(head);
  }
  void OnBody(std::string_view data) override { inner.OnBody(data); }
  void OnMessageComplete(HttpFieldsView trailers) override {
    inner.OnMessageComplete(trailers);
  }
  void OnError(const HttpParseError& error) override { inner.OnError(error); }
  void OnBodilessRequest(const HttpRequestHead& head) override;

  RequestRecorder inner;
  int whole_requests = 0;
  const http_internal::HttpParserCore* parser = nullptr;
  // Optional hook, run after recording.
  std::function<void()> on_whole;
};

class ResponseRecorder : public HttpResponseParser::Listener {
 public:
  void OnResponseHead(const HttpResponseHead& head) override;
  void OnBody(std::string_view data) override;
  void OnMessageComplete(HttpFieldsView trailers) override;
  void OnError(const HttpParseError& error) override;

  std::vector<std::string> events;
  std::vector<HttpParseError> errors;
};

// Feeds `input` to a fresh request parser in pieces of `piece` bytes (0 =
// whole); a paused parser is resumed and fed the rest, so pausing does not
// change the events. Finishes if `finish`.
RequestRecorder ParseRequests(std::string_view input, size_t piece,
                              const HttpParserOptions& options = {},
                              bool finish = true);
// The same through a parser whose listener takes the usual request in one
// call; `*whole_requests` (when set) gets the count of such calls.
std::vector<std::string> ParseWholeRequests(std::string_view input,
                                            size_t piece,
                                            const HttpParserOptions& options,
                                            bool finish,
                                            int* whole_requests = nullptr);
// The events for the whole input, after checking (EXPECT) that pieces of
// 1, 2, 3, 7 and 100 bytes give the same, and that a listener taking the
// usual request in one call records the same, whole and in pieces.
std::vector<std::string> RequestEvents(std::string_view input,
                                       const HttpParserOptions& options = {},
                                       bool finish = true);

// The same for responses; `expect` lists the request methods to queue.
ResponseRecorder ParseResponses(std::string_view input, size_t piece,
                                const std::vector<std::string>& expect = {},
                                const HttpParserOptions& options = {},
                                bool finish = true);
std::vector<std::string> ResponseEvents(
    std::string_view input, const std::vector<std::string>& expect = {},
    const HttpParserOptions& options = {}, bool finish = true);

}  // namespace ember::protocols::testing

#endif  // EMBER_TESTS_PROTOCOLS_HTTP_HTTP_TEST_UTIL_H_
