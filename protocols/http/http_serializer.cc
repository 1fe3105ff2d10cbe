#include "protocols/http/http_serializer.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/http/internal/http_chars.h"

namespace ember::protocols {
namespace {

using http_internal::EqualsLower;
using http_internal::FindBadTargetChar;
using http_internal::FindBadValueChar;
using http_internal::IsTokenChar;
using http_internal::ParseContentLength;
using http_internal::TrimBlanks;

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                     [](char c) { return IsTokenChar(c); });
}

bool IsCleanValue(std::string_view s) {
  return FindBadValueChar(s.data(), s.size()) == s.size();
}

absl::Status CheckVersion(HttpVersion version) {
  if (version.major != 1 || version.minor < 0 || version.minor > 9) {
    return absl::InvalidArgumentError("HTTP version must be 1.0 to 1.9");
  }
  return absl::OkStatus();
}

absl::Status CheckFields(const HttpHeaders& fields) {
  for (const HttpHeaders::Field& field : fields) {
    if (!IsToken(field.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("field name \"", field.name, "\" is not a token"));
    }
    if (!IsCleanValue(field.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value of ", field.name, " holds a control character"));
    }
  }
  return absl::OkStatus();
}

void AppendFields(const HttpHeaders& fields, std::string* out) {
  for (const HttpHeaders::Field& field : fields) {
    absl::StrAppend(out, field.name, ": ", field.value, "\r\n");
  }
}

// How the headers say the body is framed.
struct Framing {
  bool transfer_encoding = false;  // Any Transfer-Encoding field.
  bool chunked = false;            // ...whose final coding is chunked.
  bool content_length = false;
  uint64_t length = 0;
};

absl::Status ReadFraming(const HttpHeaders& headers, Framing* framing) {
  for (const HttpHeaders::Field& field : headers) {
    if (EqualsLower(field.name, "content-length")) {
      uint64_t length = 0;
      if (!ParseContentLength(field.value, &length) ||
          (framing->content_length && length != framing->length)) {
        return absl::InvalidArgumentError("invalid Content-Length");
      }
      framing->content_length = true;
      framing->length = length;
    } else if (EqualsLower(field.name, "transfer-encoding")) {
      framing->transfer_encoding = true;
      // The final non-empty element of the final field decides.
      std::string_view value = field.value;
      while (!value.empty()) {
        const size_t comma = value.rfind(',');
        const std::string_view last = TrimBlanks(
            comma == std::string_view::npos ? value : value.substr(comma + 1));
        if (!last.empty()) {
          framing->chunked = EqualsLower(last, "chunked");
          break;
        }
        if (comma == std::string_view::npos) break;
        value = value.substr(0, comma);
      }
    }
  }
  if (framing->transfer_encoding && framing->content_length) {
    return absl::InvalidArgumentError(
        "both Content-Length and Transfer-Encoding");
  }
  return absl::OkStatus();
}

absl::Status CheckRequestHead(const HttpRequest& request) {
  if (!IsToken(request.method)) {
    return absl::InvalidArgumentError("method is not a token");
  }
  if (request.target.empty() ||
      FindBadTargetChar(request.target.data(), request.target.size()) !=
          request.target.size()) {
    return absl::InvalidArgumentError(
        "request target is empty or holds a space or control character");
  }
  EMBER_RETURN_IF_ERROR(CheckVersion(request.version));
  return CheckFields(request.headers);
}

void AppendRequestLine(const HttpRequest& request, std::string* out) {
  absl::StrAppend(out, request.method, " ", request.target, " HTTP/",
                  request.version.major, ".", request.version.minor, "\r\n");
}

absl::Status CheckResponseHead(const HttpResponse& response) {
  if (response.status_code < 100 || response.status_code > 999) {
    return absl::InvalidArgumentError("status code must have three digits");
  }
  if (!IsCleanValue(response.reason)) {
    return absl::InvalidArgumentError("reason holds a control character");
  }
  EMBER_RETURN_IF_ERROR(CheckVersion(response.version));
  return CheckFields(response.headers);
}

void AppendStatusLine(const HttpResponse& response, std::string* out) {
  absl::StrAppend(out, "HTTP/", response.version.major, ".",
                  response.version.minor, " ", response.status_code, " ",
                  response.reason, "\r\n");
}

void AppendChunkedBody(std::string_view body, const HttpHeaders& trailers,
                       std::string* out) {
  AppendChunk(body, out);
  out->append("0\r\n");
  AppendFields(trailers, out);
  out->append("\r\n");
}

}  // namespace

absl::Status AppendRequestHead(const HttpRequest& request, std::string* out) {
  EMBER_RETURN_IF_ERROR(CheckRequestHead(request));
  AppendRequestLine(request, out);
  AppendFields(request.headers, out);
  out->append("\r\n");
  return absl::OkStatus();
}

absl::Status AppendRequest(const HttpRequest& request, std::string* out) {
  EMBER_RETURN_IF_ERROR(CheckRequestHead(request));
  EMBER_RETURN_IF_ERROR(CheckFields(request.trailers));
  Framing framing;
  EMBER_RETURN_IF_ERROR(ReadFraming(request.headers, &framing));
  if (framing.transfer_encoding) {
    if (!framing.chunked) {
      return absl::InvalidArgumentError(
          "a request's final transfer coding must be chunked");
    }
    if (!request.version.AtLeast11()) {
      return absl::InvalidArgumentError("Transfer-Encoding needs HTTP/1.1");
    }
  } else {
    if (!request.trailers.empty()) {
      return absl::InvalidArgumentError("trailers need chunked framing");
    }
    if (framing.content_length && framing.length != request.body.size()) {
      return absl::InvalidArgumentError(
          "Content-Length disagrees with the body size");
    }
  }
  AppendRequestLine(request, out);
  AppendFields(request.headers, out);
  if (framing.chunked) {
    out->append("\r\n");
    AppendChunkedBody(request.body, request.trailers, out);
    return absl::OkStatus();
  }
  if (!framing.content_length && !request.body.empty()) {
    absl::StrAppend(out, "Content-Length: ", request.body.size(), "\r\n");
  }
  out->append("\r\n");
  out->append(request.body);
  return absl::OkStatus();
}

absl::Status AppendResponseHead(const HttpResponse& response,
                                std::string* out) {
  EMBER_RETURN_IF_ERROR(CheckResponseHead(response));
  AppendStatusLine(response, out);
  AppendFields(response.headers, out);
  out->append("\r\n");
  return absl::OkStatus();
}

absl::Status AppendResponseHeadWith(const HttpResponse& response,
                                    HttpVersion version,
                                    std::string_view reason,
                                    HttpFieldsView extra, std::string* out) {
  if (response.status_code < 100 || response.status_code > 999) {
    return absl::InvalidArgumentError("status code must have three digits");
  }
  if (!IsCleanValue(reason)) {
    return absl::InvalidArgumentError("reason holds a control character");
  }
  EMBER_RETURN_IF_ERROR(CheckVersion(version));
  EMBER_RETURN_IF_ERROR(CheckFields(response.headers));
#ifndef NDEBUG
  // `extra` is the caller's own (a server's Content-Length, Connection and
  // Date), trusted to be well formed; checked in debug builds only.
  for (const HttpFieldView& field : extra) {
    EMBER_CHECK(IsToken(field.name) && IsCleanValue(field.value));
  }
#endif
  // Sized first, then copied in: one growth of `out` at most.
  size_t size = 13 + reason.size() + 2 + 2;
  for (const HttpHeaders::Field& field : response.headers) {
    size += field.name.size() + field.value.size() + 4;
  }
  for (const HttpFieldView& field : extra) {
    size += field.name.size() + field.value.size() + 4;
  }
  const size_t start = out->size();
  out->resize(start + size);
  char* p = out->data() + start;
  auto put = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  put("HTTP/");
  *p++ = static_cast<char>('0' + version.major);
  *p++ = '.';
  *p++ = static_cast<char>('0' + version.minor);
  *p++ = ' ';
  *p++ = static_cast<char>('0' + response.status_code / 100);
  *p++ = static_cast<char>('0' + response.status_code / 10 % 10);
  *p++ = static_cast<char>('0' + response.status_code % 10);
  *p++ = ' ';
  put(reason);
  put("\r\n");
  auto put_field = [&put](std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  };
  for (const HttpHeaders::Field& field : response.headers) {
    put_field(field.name, field.value);
  }
  for (const HttpFieldView& field : extra) put_field(field.name, field.value);
  put("\r\n");
  EMBER_CHECK(p == out->data() + out->size());
  return absl::OkStatus();
}

absl::Status AppendResponse(const HttpResponse& response, std::string* out) {
  EMBER_RETURN_IF_ERROR(CheckResponseHead(response));
  EMBER_RETURN_IF_ERROR(CheckFields(response.trailers));
  const int code = response.status_code;
  const bool no_body = code < 200 || code == 204 || code == 304;
  Framing framing;
  if (no_body) {
    if (!response.body.empty() || !response.trailers.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", code, " response has no body"));
    }
  } else {
    EMBER_RETURN_IF_ERROR(ReadFraming(response.headers, &framing));
    if (!framing.chunked && !response.trailers.empty()) {
      return absl::InvalidArgumentError("trailers need chunked framing");
    }
    if (framing.content_length && framing.length != response.body.size()) {
      return absl::InvalidArgumentError(
          "Content-Length disagrees with the body size");
    }
  }
  AppendStatusLine(response, out);
  AppendFields(response.headers, out);
  out->append("\r\n");
  if (framing.chunked) {
    AppendChunkedBody(response.body, response.trailers, out);
  } else {
    out->append(response.body);
  }
  return absl::OkStatus();
}

void AppendChunkHeader(uint64_t size, std::string* out) {
  EMBER_CHECK(size > 0);
  absl::StrAppend(out, absl::Hex(size), "\r\n");
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  AppendChunkHeader(data.size(), out);
  out->append(data.data(), data.size());
  out->append("\r\n");
}

absl::Status AppendLastChunk(const HttpHeaders& trailers, std::string* out) {
  EMBER_RETURN_IF_ERROR(CheckFields(trailers));
  out->append("0\r\n");
  AppendFields(trailers, out);
  out->append("\r\n");
  return absl::OkStatus();
}

}  // namespace ember::protocols
