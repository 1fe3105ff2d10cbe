// Collectors: the parsers with whole messages as output. Each owns a parser,
// accumulates a message's head, body and trailers into an owned HttpRequest
// or HttpResponse, and hands it over when it is complete. The body is bounded
// by HttpParserOptions::body_bytes_max, which the parser enforces (413).
//
// Use these where messages are small and simple; a server that streams
// uploads, or answers "Expect: 100-continue", listens to the parser itself.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_COLLECTOR_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_COLLECTOR_H_

#include <cstddef>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "protocols/http/http_message.h"
#include "protocols/http/http_parser.h"

namespace ember::protocols {

// What the parser derived from a message's head, kept beside the message.
struct HttpMessageInfo {
  HttpBodyFraming framing = HttpBodyFraming::kNone;
  bool keep_alive = true;
  bool expect_continue = false;  // Requests only.
  bool upgrade = false;
};

class HttpRequestCollector : private HttpRequestParser::Listener {
 public:
  using RequestCallback =
      absl::AnyInvocable<void(HttpRequest&& request, const HttpMessageInfo&)>;
  using ErrorCallback = absl::AnyInvocable<void(const HttpParseError&)>;

  // The callbacks run from inside Feed/Finish, like the parser's events.
  HttpRequestCollector(const HttpParserOptions& options, ErrorCallback on_error,
                       RequestCallback on_request);

  size_t Feed(std::string_view data) { return parser_.Feed(data); }
  void Finish() { parser_.Finish(); }
  // For Pause/Resume/idle(); do not replace its listener.
  HttpRequestParser& parser() { return parser_; }

 private:
  void OnRequestHead(const HttpRequestHead& head) override;
  void OnBody(std::string_view data) override;
  void OnMessageComplete(HttpFieldsView trailers) override;
  void OnError(const HttpParseError& error) override;

  ErrorCallback on_error_;
  RequestCallback on_request_;
  HttpRequest request_;
  HttpMessageInfo info_;
  HttpRequestParser parser_;
};

class HttpResponseCollector : private HttpResponseParser::Listener {
 public:
  using ResponseCallback =
      absl::AnyInvocable<void(HttpResponse&& response, const HttpMessageInfo&)>;
  using ErrorCallback = absl::AnyInvocable<void(const HttpParseError&)>;

  HttpResponseCollector(const HttpParserOptions& options,
                        ErrorCallback on_error, ResponseCallback on_response);

  size_t Feed(std::string_view data) { return parser_.Feed(data); }
  void Finish() { parser_.Finish(); }
  // For ExpectResponseTo, Pause/Resume/idle().
  HttpResponseParser& parser() { return parser_; }

 private:
  void OnResponseHead(const HttpResponseHead& head) override;
  void OnBody(std::string_view data) override;
  void OnMessageComplete(HttpFieldsView trailers) override;
  void OnError(const HttpParseError& error) override;

  ErrorCallback on_error_;
  ResponseCallback on_response_;
  HttpResponse response_;
  HttpMessageInfo info_;
  HttpResponseParser parser_;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_COLLECTOR_H_
