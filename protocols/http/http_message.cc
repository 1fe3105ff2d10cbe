#include "protocols/http/http_message.h"

#include "protocols/http/internal/http_chars.h"

namespace ember::protocols {

using http_internal::AsciiLower;
using http_internal::CopyInto;
using http_internal::IsBlank;

bool HttpEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool HttpListHasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    while (!element.empty() && IsBlank(element.front())) {
      element.remove_prefix(1);
    }
    while (!element.empty() && IsBlank(element.back())) {
      element.remove_suffix(1);
    }
    if (HttpEqualsIgnoreCase(element, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string_view> HttpFieldsView::Get(
    std::string_view name) const {
  for (const HttpFieldView& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name)) return field.value;
  }
  return std::nullopt;
}

size_t HttpFieldsView::Count(std::string_view name) const {
  size_t count = 0;
  for (const HttpFieldView& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name)) ++count;
  }
  return count;
}

bool HttpFieldsView::HasToken(std::string_view name,
                              std::string_view token) const {
  for (const HttpFieldView& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name) &&
        HttpListHasToken(field.value, token)) {
      return true;
    }
  }
  return false;
}

HttpHeaders::HttpHeaders(
    std::initializer_list<std::pair<std::string_view, std::string_view>>
        fields) {
  fields_.reserve(fields.size());
  for (const auto& [name, value] : fields) Add(name, value);
}

void HttpHeaders::Assign(HttpFieldsView fields) {
  fields_.resize(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    CopyInto(fields[i].name, &fields_[i].name);
    CopyInto(fields[i].value, &fields_[i].value);
  }
}

HttpHeaders HttpHeaders::From(HttpFieldsView fields) {
  HttpHeaders headers;
  headers.fields_.reserve(fields.size());
  for (const HttpFieldView& field : fields) {
    headers.Add(field.name, field.value);
  }
  return headers;
}

HttpRequest HttpRequestView::ToOwned() const {
  HttpRequest request;
  request.method = std::string(method);
  request.target = std::string(target);
  request.version = version;
  request.headers = HttpHeaders::From(headers);
  request.body = std::string(body);
  request.trailers = HttpHeaders::From(trailers);
  return request;
}

void HttpHeaders::Add(std::string_view name, std::string_view value) {
  fields_.push_back(Field{std::string(name), std::string(value)});
}

void HttpHeaders::Set(std::string_view name, std::string_view value) {
  bool found = false;
  size_t out = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (HttpEqualsIgnoreCase(fields_[i].name, name)) {
      if (found) continue;  // Drop later duplicates.
      found = true;
      fields_[i].value.assign(value.data(), value.size());
    }
    if (out != i) fields_[out] = std::move(fields_[i]);
    ++out;
  }
  fields_.resize(out);
  if (!found) Add(name, value);
}

size_t HttpHeaders::Remove(std::string_view name) {
  const size_t before = fields_.size();
  std::erase_if(fields_, [name](const Field& field) {
    return HttpEqualsIgnoreCase(field.name, name);
  });
  return before - fields_.size();
}

std::optional<std::string_view> HttpHeaders::Get(std::string_view name) const {
  for (const Field& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name)) return field.value;
  }
  return std::nullopt;
}

std::vector<std::string_view> HttpHeaders::GetAll(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Field& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name)) values.push_back(field.value);
  }
  return values;
}

bool HttpHeaders::HasToken(std::string_view name,
                           std::string_view token) const {
  for (const Field& field : fields_) {
    if (HttpEqualsIgnoreCase(field.name, name) &&
        HttpListHasToken(field.value, token)) {
      return true;
    }
  }
  return false;
}

std::string_view HttpReasonPhrase(int status_code) {
  switch (status_code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

}  // namespace ember::protocols
