// The response side of the parser, for HTTP clients: the status line, the
// rules that decide whether a response has a body (the request it answers,
// its status code, its framing fields) and the queue of requests awaiting
// responses that those rules read.

#include "protocols/http/internal/http_parser_core.h"

#include <string.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "protocols/http/internal/http_chars.h"

namespace ember::protocols::http_internal {

absl::Status HttpParserCore::ExpectResponseTo(RequestKind kind) {
  EMBER_CHECK(kind_ == MessageKind::kResponse);
  if (expected_count_ == expected_.size()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "more than ", expected_.size(), " requests awaiting responses"));
  }
  expected_[(expected_first_ + expected_count_) % expected_.size()] = kind;
  ++expected_count_;
  return absl::OkStatus();
}

bool HttpParserCore::ParseStatusLine(const char* line, size_t size,
                                     size_t offset) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]. A
  // missing SP after the code is accepted: some servers omit it.
  if (size < 12 || memcmp(line, "HTTP/", 5) != 0 || line[5] < '0' ||
      line[5] > '9' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ') {
    Fail(400, absl::StatusCode::kInvalidArgument,
         "malformed status line: bad HTTP version");
    return false;
  }
  version_ = HttpVersion{line[5] - '0', line[7] - '0'};
  if (version_.major != 1) {
    Fail(505, absl::StatusCode::kUnimplemented,
         absl::StrCat("HTTP version ", version_.major, ".", version_.minor,
                      " not supported"));
    return false;
  }
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      Fail(400, absl::StatusCode::kInvalidArgument,
           "malformed status line: bad status code");
      return false;
    }
    code = code * 10 + (line[i] - '0');
  }
  if (code < 100 || (size > 12 && line[12] != ' ')) {
    Fail(400, absl::StatusCode::kInvalidArgument,
         "malformed status line: bad status code");
    return false;
  }
  status_code_ = code;
  const size_t reason = size > 12 ? 13 : 12;
  if (FindBadValueChar(line + reason, size - reason) != size - reason) {
    Fail(400, absl::StatusCode::kInvalidArgument,
         "malformed status line: bad reason phrase");
    return false;
  }
  reason_offset_ = static_cast<uint32_t>(offset + reason);
  reason_size_ = static_cast<uint32_t>(size - reason);
  return true;
}

bool HttpParserCore::DecideResponseFraming() {
  if (status_code_ < 200 || status_code_ == 204 || status_code_ == 304) {
    return true;  // No body, whatever the fields say.
  }
  const RequestKind request =
      expected_count_ > 0 ? expected_[expected_first_] : RequestKind::kOther;
  if (request == RequestKind::kHead ||
      (request == RequestKind::kConnect && status_code_ / 100 == 2)) {
    return true;
  }
  if (!transfer_encoding_fields_.empty()) {
    if (has_content_length_) {
      // Allowed in a response, Transfer-Encoding winning, but it "ought to
      // be handled as an error" (RFC 9112 section 6.3): response splitting.
      Fail(400, absl::StatusCode::kInvalidArgument,
           "both Content-Length and Transfer-Encoding");
      return false;
    }
    bool chunked_last = false;
    bool other_codings = false;
    return ReadTransferCodings(&chunked_last, &other_codings);
  }
  if (has_content_length_ && content_length_ > options_.body_bytes_max) {
    Fail(413, absl::StatusCode::kResourceExhausted,
         absl::StrCat("Content-Length exceeds the limit of ",
                      options_.body_bytes_max, " bytes"));
    return false;
  }
  return true;
}

void HttpParserCore::EndResponseHead(const char* base, HttpFieldsView fields) {
  if (!DecideResponseFraming()) return;
  HttpResponseHead head;
  head.version = version_;
  head.status_code = status_code_;
  head.reason = std::string_view(base + reason_offset_, reason_size_);
  head.headers = fields;
  const RequestKind request =
      expected_count_ > 0 ? expected_[expected_first_] : RequestKind::kOther;
  const bool informational = status_code_ < 200;
  const bool no_body = informational || status_code_ == 204 ||
                       status_code_ == 304 || request == RequestKind::kHead;
  const bool tunnel =
      request == RequestKind::kConnect && status_code_ / 100 == 2;
  if (no_body || tunnel) {
    head.framing = HttpBodyFraming::kNone;
  } else if (!transfer_encoding_fields_.empty()) {
    // Chunked if it is the final coding; otherwise the body runs until the
    // server closes (RFC 9112 section 6.3, rule 4).
    bool chunked_last = false;
    bool other_codings = false;
    ReadTransferCodings(&chunked_last, &other_codings);
    head.framing =
        chunked_last ? HttpBodyFraming::kChunked : HttpBodyFraming::kUntilClose;
  } else if (has_content_length_) {
    head.framing = HttpBodyFraming::kContentLength;
    head.content_length = content_length_;
  } else {
    head.framing = HttpBodyFraming::kUntilClose;
  }
  head.upgrade = status_code_ == 101 || tunnel;
  head.keep_alive = KeepAlive(head.framing);
  // A 1xx other than 101 precedes the final answer to the same request.
  if ((!informational || status_code_ == 101) && expected_count_ > 0) {
    expected_first_ = (expected_first_ + 1) % expected_.size();
    --expected_count_;
  }
  StartBody(head.framing, head.upgrade);
  ++callback_depth_;
  response_listener_->OnResponseHead(head);
  --callback_depth_;
}

}  // namespace ember::protocols::http_internal
