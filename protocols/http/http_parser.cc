#include "protocols/http/http_parser.h"

#include "io/check.h"

namespace ember::protocols {

using http_internal::CoreHead;
using http_internal::MessageKind;
using http_internal::RequestKind;

HttpRequestParser::HttpRequestParser(Listener* listener,
                                     const HttpParserOptions& options)
    : sink_(listener), core_(MessageKind::kRequest, options, &sink_) {
  EMBER_CHECK(listener != nullptr);
}

void HttpRequestParser::Sink::OnCoreHead(const CoreHead& core) {
  HttpRequestHead head;
  head.method = core.method;
  head.target = core.target;
  head.version = core.version;
  head.headers = core.headers;
  head.framing = core.framing;
  head.content_length = core.content_length;
  head.keep_alive = core.keep_alive;
  head.expect_continue = core.expect_continue;
  head.upgrade = core.upgrade;
  listener_->OnRequestHead(head);
}

HttpResponseParser::HttpResponseParser(Listener* listener,
                                       const HttpParserOptions& options)
    : sink_(listener), core_(MessageKind::kResponse, options, &sink_) {
  EMBER_CHECK(listener != nullptr);
}

absl::Status HttpResponseParser::ExpectResponseTo(std::string_view method) {
  const RequestKind kind = method == "HEAD"      ? RequestKind::kHead
                           : method == "CONNECT" ? RequestKind::kConnect
                                                 : RequestKind::kOther;
  return core_.ExpectResponseTo(kind);
}

void HttpResponseParser::Sink::OnCoreHead(const CoreHead& core) {
  HttpResponseHead head;
  head.version = core.version;
  head.status_code = core.status_code;
  head.reason = core.reason;
  head.headers = core.headers;
  head.framing = core.framing;
  head.content_length = core.content_length;
  head.keep_alive = core.keep_alive;
  head.upgrade = core.upgrade;
  listener_->OnResponseHead(head);
}

}  // namespace ember::protocols
