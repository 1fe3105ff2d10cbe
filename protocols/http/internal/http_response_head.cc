#include "protocols/http/internal/http_response_head.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace ember::protocols::http_internal {

// Writes `now` as an IMF-fixdate (RFC 9110 section 5.6.7), e.g. "Sun, 06
// Nov 1994 08:49:37 GMT", into `out`: always 29 characters, so once `out`
// has held one date it never allocates again.
void FormatHttpDate(absl::Time now, std::string* out) {
  static constexpr char kDays[7][4] = {"Mon", "Tue", "Wed", "Thu",
                                       "Fri", "Sat", "Sun"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};
  const absl::CivilSecond t = absl::ToCivilSecond(now, absl::UTCTimeZone());
  const int year = static_cast<int>(std::clamp<int64_t>(t.year(), 0, 9999));
  char buffer[32];
  char* p = buffer;
  auto two = [&p](int v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  std::memcpy(p, kDays[static_cast<int>(absl::GetWeekday(t))], 3);
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  two(t.day());
  *p++ = ' ';
  std::memcpy(p, kMonths[t.month() - 1], 3);
  p += 3;
  *p++ = ' ';
  two(year / 100);
  two(year % 100);
  *p++ = ' ';
  two(t.hour());
  *p++ = ':';
  two(t.minute());
  *p++ = ':';
  two(t.second());
  std::memcpy(p, " GMT", 4);
  p += 4;
  out->assign(buffer, static_cast<size_t>(p - buffer));
}

// What Send refuses in a response, whether sent or prepared.
absl::Status CheckSendable(const HttpResponse& response,
                           const FieldFacts& facts) {
  const int code = response.status_code;
  if (code < 200 || code > 999) {
    return absl::InvalidArgumentError(
        absl::StrCat("Send needs a final status (200..999), not ", code,
                     "; interim responses are the server's"));
  }
  if (facts.transfer_encoding) {
    return absl::InvalidArgumentError(
        "Send frames by Content-Length; use StartChunked to stream");
  }
  if (!response.trailers.empty()) {
    return absl::InvalidArgumentError("trailers need StartChunked");
  }
  if ((code == 204 || code == 304) && !response.body.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", code, " response has no body"));
  }
  return absl::OkStatus();
}

}  // namespace ember::protocols::http_internal
