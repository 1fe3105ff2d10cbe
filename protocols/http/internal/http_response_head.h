// What the HTTP server puts into a response head beside the handler's
// fields: the facts it reads from those fields, the fields and reason
// phrase it adds, the Date value, and the checks a response must pass to
// be sent. Shared by the server's connections and HttpPreparedResponse.

#ifndef EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_RESPONSE_HEAD_H_
#define EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_RESPONSE_HEAD_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "io/check.h"
#include "protocols/http/http_message.h"
#include "protocols/http/internal/http_chars.h"

namespace ember::protocols::http_internal {

// Writes `now` as an IMF-fixdate (RFC 9110 section 5.6.7), e.g. "Sun, 06
// Nov 1994 08:49:37 GMT", into `out`: always 29 characters, so once `out`
// has held one date it never allocates again.
void FormatHttpDate(absl::Time now, std::string* out);

// What the server needs to know of a handler's fields, found in one pass.
struct FieldFacts {
  FieldFacts() = default;
  explicit FieldFacts(const HttpHeaders& headers) {
    for (const HttpHeaders::Field& field : headers) {
      const std::string_view name = field.name;
      if (HttpEqualsIgnoreCase(name, "Content-Length")) {
        content_length = true;
      } else if (HttpEqualsIgnoreCase(name, "Transfer-Encoding")) {
        transfer_encoding = true;
      } else if (HttpEqualsIgnoreCase(name, "Date")) {
        date = true;
      } else if (HttpEqualsIgnoreCase(name, "Connection")) {
        close = close || HttpListHasToken(field.value, "close");
        keep_alive = keep_alive || HttpListHasToken(field.value, "keep-alive");
      }
    }
  }
  bool content_length = false;
  bool transfer_encoding = false;
  bool date = false;
  bool close = false;       // A Connection field lists "close".
  bool keep_alive = false;  // A Connection field lists "keep-alive".
};

// What the server adds to a handler's response head: the reason phrase
// and up to four fields, with room for the Content-Length digits.
struct HeadExtras {
  std::string_view reason;
  HttpFieldView fields[4];
  size_t count = 0;
  char length[24];

  void Add(std::string_view name, std::string_view value) {
    EMBER_CHECK(count < std::size(fields));
    fields[count++] = HttpFieldView{name, value};
  }
  void AddLength(uint64_t n) {
    char* end = length + sizeof(length);
    char* p = end;
    do {
      *--p = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    Add("Content-Length", std::string_view(p, static_cast<size_t>(end - p)));
  }
  HttpFieldsView view() const {
    return HttpFieldsView(std::span<const HttpFieldView>(fields, count));
  }
};

// What Send refuses in a response, whether sent or prepared.
absl::Status CheckSendable(const HttpResponse& response,
                           const FieldFacts& facts);

// The reason phrase sent: the response's, or the standard one when it has
// none or kept the default "OK" with another status.
inline std::string_view ReasonFor(const HttpResponse& response) {
  if (response.reason.empty() ||
      (response.reason == "OK" && response.status_code != 200)) {
    return HttpReasonPhrase(response.status_code);
  }
  return response.reason;
}

}  // namespace ember::protocols::http_internal

#endif  // EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_RESPONSE_HEAD_H_
