// HTTP/1.1 message types shared by the parsers, the serialisers and the
// (later) server and client: versions, header lists, requests, responses,
// and the heads the parsers deliver.
//
// Two header list types exist on purpose. `HttpHeaders` owns its strings and
// is what applications build and keep. `HttpFieldsView` is a non-owning,
// ordered view the parsers hand out without copying a byte; it is valid only
// during the callback that receives it (copy with `HttpHeaders::From`). Both
// keep fields in arrival order, allow repeats, and look names up ignoring
// ASCII case, as RFC 9110 section 5.1 requires.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_MESSAGE_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace ember::protocols {

struct HttpVersion {
  int major = 1;
  int minor = 1;
  bool operator==(const HttpVersion&) const = default;
  // HTTP/1.1 and later 1.x: persistent connections by default.
  bool AtLeast11() const { return major > 1 || (major == 1 && minor >= 1); }
};

// ASCII case-insensitive equality, for field names and tokens.
bool HttpEqualsIgnoreCase(std::string_view a, std::string_view b);

// Whether the comma-separated list `value` (RFC 9110 section 5.6.1) holds
// `token`, ignoring case, optional whitespace and empty elements. Used for
// Connection, Transfer-Encoding and Expect.
bool HttpListHasToken(std::string_view value, std::string_view token);

// One field line as received: name exactly as sent, value without leading
// or trailing whitespace.
struct HttpFieldView {
  std::string_view name;
  std::string_view value;
};

// A non-owning, ordered list of fields. Valid as long as the memory it views.
class HttpFieldsView {
 public:
  HttpFieldsView() = default;
  explicit HttpFieldsView(std::span<const HttpFieldView> fields)
      : fields_(fields) {}

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const HttpFieldView& operator[](size_t i) const { return fields_[i]; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

  // The value of the first field named `name` (any case), if any.
  std::optional<std::string_view> Get(std::string_view name) const;
  // How many fields are named `name`.
  size_t Count(std::string_view name) const;
  // Whether any field named `name` lists `token` (see HttpListHasToken).
  bool HasToken(std::string_view name, std::string_view token) const;

 private:
  std::span<const HttpFieldView> fields_;
};

// An owning, ordered list of fields with case-insensitive lookup.
class HttpHeaders {
 public:
  struct Field {
    std::string name;
    std::string value;
    bool operator==(const Field&) const = default;
  };

  HttpHeaders() = default;
  HttpHeaders(
      std::initializer_list<std::pair<std::string_view, std::string_view>>
          fields);
  // Copies a parser's view.
  static HttpHeaders From(HttpFieldsView fields);
  // Replaces the fields with a copy of `fields`, reusing the storage of the
  // fields already here (no allocation when the new ones fit it).
  void Assign(HttpFieldsView fields);

  // Appends a field, keeping any others of the same name.
  void Add(std::string_view name, std::string_view value);
  // Replaces the first field named `name` and removes the others, or
  // appends one if there is none.
  void Set(std::string_view name, std::string_view value);
  // Removes every field named `name`; returns how many.
  size_t Remove(std::string_view name);

  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Contains(std::string_view name) const { return Get(name).has_value(); }
  bool HasToken(std::string_view name, std::string_view token) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const Field& operator[](size_t i) const { return fields_[i]; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  void clear() { fields_.clear(); }

  // Exact equality: same names (same case), values and order.
  bool operator==(const HttpHeaders&) const = default;

 private:
  std::vector<Field> fields_;
};

// How the body of a parsed message is delimited (RFC 9112 section 6.3).
enum class HttpBodyFraming {
  kNone,           // No body (requests without framing, HEAD/1xx/204/304).
  kContentLength,  // Exactly `content_length` bytes.
  kChunked,        // Chunked transfer coding, possibly with trailers.
  kUntilClose,     // Responses only: everything until the stream ends.
};

// A request's line and header section as parsed, with the framing and
// connection facts the parser derived from them. Views are valid only during
// the OnRequestHead callback.
struct HttpRequestHead {
  std::string_view method;  // Case-sensitive token, e.g. "GET".
  std::string_view target;  // As sent, e.g. "/a?b" or "example.com:443".
  HttpVersion version;
  HttpFieldsView headers;
  HttpBodyFraming framing = HttpBodyFraming::kNone;
  uint64_t content_length = 0;  // With kContentLength.
  // The connection may carry another request after this one: HTTP/1.1
  // without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive = true;
  // "Expect: 100-continue" on HTTP/1.1: the client waits for a 100
  // (Continue) or a final status before sending the body.
  bool expect_continue = false;
  // CONNECT, or an HTTP/1.1 request with "Connection: upgrade" and an
  // Upgrade field. The parser pauses after such a request (see
  // HttpRequestParser).
  bool upgrade = false;
};

// A response's status line and header section as parsed. Views are valid
// only during the OnResponseHead callback.
struct HttpResponseHead {
  HttpVersion version;
  int status_code = 0;
  std::string_view reason;
  HttpFieldsView headers;
  HttpBodyFraming framing = HttpBodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;
  // 101 (Switching Protocols), or a 2xx answer to CONNECT: the bytes after
  // this head belong to another protocol. The parser pauses.
  bool upgrade = false;
};

// An owned request, for applications and the serialiser. `trailers` are
// sent only with chunked framing.
struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  HttpVersion version;
  HttpHeaders headers;
  std::string body;
  HttpHeaders trailers;
  bool operator==(const HttpRequest&) const = default;
};

// A request lent for the length of one call (HttpServer::ViewHandler):
// every view points into the server's buffers and is valid only until the
// call returns. Copy what must outlive it (`ToOwned`).
struct HttpRequestView {
  std::string_view method;
  std::string_view target;
  HttpVersion version;
  HttpFieldsView headers;
  std::string_view body;
  HttpFieldsView trailers;

  // A copy that owns its bytes.
  HttpRequest ToOwned() const;
};

// An owned response.
struct HttpResponse {
  HttpVersion version;
  int status_code = 200;
  std::string reason = "OK";
  HttpHeaders headers;
  std::string body;
  HttpHeaders trailers;
  bool operator==(const HttpResponse&) const = default;
};

// Why a parser gave up. `http_status` is the status a server should answer
// with before closing (400, 413, 414, 431, 501, 505); a client parser uses
// the same classification for the fault it saw. `status` carries the code
// (kInvalidArgument for malformed input, kResourceExhausted for a limit,
// kUnimplemented for an unsupported coding or version, kUnavailable for a
// stream that ended inside a message) and a message saying what was wrong.
struct HttpParseError {
  int http_status = 400;
  absl::Status status;
};

// The standard reason phrase for `status_code`, or "" if it has none.
std::string_view HttpReasonPhrase(int status_code);

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_MESSAGE_H_
