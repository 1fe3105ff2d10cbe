#include "protocols/http/http_collector.h"

#include <utility>

namespace ember::protocols {

HttpRequestCollector::HttpRequestCollector(const HttpParserOptions& options,
                                           ErrorCallback on_error,
                                           RequestCallback on_request)
    : on_error_(std::move(on_error)),
      on_request_(std::move(on_request)),
      parser_(this, options) {}

void HttpRequestCollector::OnRequestHead(const HttpRequestHead& head) {
  request_.method.assign(head.method);
  request_.target.assign(head.target);
  request_.version = head.version;
  request_.headers = HttpHeaders::From(head.headers);
  request_.body.clear();
  request_.trailers.clear();
  info_ = HttpMessageInfo{head.framing, head.keep_alive, head.expect_continue,
                          head.upgrade};
}

void HttpRequestCollector::OnBody(std::string_view data) {
  request_.body.append(data.data(), data.size());
}

void HttpRequestCollector::OnMessageComplete(HttpFieldsView trailers) {
  request_.trailers = HttpHeaders::From(trailers);
  on_request_(std::exchange(request_, HttpRequest()), info_);
}

void HttpRequestCollector::OnError(const HttpParseError& error) {
  on_error_(error);
}

HttpResponseCollector::HttpResponseCollector(const HttpParserOptions& options,
                                             ErrorCallback on_error,
                                             ResponseCallback on_response)
    : on_error_(std::move(on_error)),
      on_response_(std::move(on_response)),
      parser_(this, options) {}

void HttpResponseCollector::OnResponseHead(const HttpResponseHead& head) {
  response_.version = head.version;
  response_.status_code = head.status_code;
  response_.reason.assign(head.reason);
  response_.headers = HttpHeaders::From(head.headers);
  response_.body.clear();
  response_.trailers.clear();
  info_ = HttpMessageInfo{head.framing, head.keep_alive, false, head.upgrade};
}

void HttpResponseCollector::OnBody(std::string_view data) {
  response_.body.append(data.data(), data.size());
}

void HttpResponseCollector::OnMessageComplete(HttpFieldsView trailers) {
  response_.trailers = HttpHeaders::From(trailers);
  on_response_(std::exchange(response_, HttpResponse()), info_);
}

void HttpResponseCollector::OnError(const HttpParseError& error) {
  on_error_(error);
}

}  // namespace ember::protocols
