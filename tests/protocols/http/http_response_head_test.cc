// Goal: the pieces the server adds to a response head on their own: the
// Date value's exact format at ordinary dates and at the clamps, the facts
// read from a handler's fields, the Content-Length digits, the reason
// phrase chosen, and the responses Send refuses.

#include "protocols/http/internal/http_response_head.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocols/http/http_message.h"

namespace ember::protocols::http_internal {
namespace {

absl::Time Utc(int64_t y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

TEST(FormatHttpDateTest, WritesImfFixdate) {
  std::string out;
  // RFC 9110 section 5.6.7's own example.
  FormatHttpDate(Utc(1994, 11, 6, 8, 49, 37), &out);
  EXPECT_EQ(out, "Sun, 06 Nov 1994 08:49:37 GMT");
  FormatHttpDate(Utc(2026, 1, 1, 0, 0, 0), &out);
  EXPECT_EQ(out, "Thu, 01 Jan 2026 00:00:00 GMT");
  FormatHttpDate(Utc(2000, 2, 29, 23, 59, 59), &out);
  EXPECT_EQ(out, "Tue, 29 Feb 2000 23:59:59 GMT");
}

TEST(FormatHttpDateTest, AlwaysTwentyNineCharactersAndNoReallocation) {
  std::string out;
  FormatHttpDate(Utc(2026, 12, 1, 12, 0, 0), &out);
  const char* const buffer = out.data();
  for (int day = 1; day <= 31; ++day) {
    FormatHttpDate(Utc(2026, 12, day, day % 24, day, day), &out);
    EXPECT_EQ(out.size(), 29u) << out;
    EXPECT_EQ(out.data(), buffer);
  }
}

TEST(FormatHttpDateTest, YearsOutsideFourDigitsAreClamped) {
  std::string out;
  FormatHttpDate(Utc(12026, 6, 15, 1, 2, 3), &out);
  EXPECT_EQ(out.size(), 29u);
  EXPECT_EQ(out.substr(12, 4), "9999") << out;
  FormatHttpDate(Utc(-5, 6, 15, 1, 2, 3), &out);
  EXPECT_EQ(out.size(), 29u);
  EXPECT_EQ(out.substr(12, 4), "0000") << out;
}

TEST(FieldFactsTest, ReadsFramingDateAndConnectionFieldsInAnyCase) {
  HttpHeaders headers;
  headers.Add("content-length", "5");
  headers.Add("DATE", "Sun, 06 Nov 1994 08:49:37 GMT");
  headers.Add("Connection", "Keep-Alive, foo");
  const FieldFacts facts(headers);
  EXPECT_TRUE(facts.content_length);
  EXPECT_FALSE(facts.transfer_encoding);
  EXPECT_TRUE(facts.date);
  EXPECT_TRUE(facts.keep_alive);
  EXPECT_FALSE(facts.close);

  HttpHeaders closing;
  closing.Add("Transfer-Encoding", "chunked");
  closing.Add("connection", "upgrade");
  closing.Add("Connection", "CLOSE");
  const FieldFacts closes(closing);
  EXPECT_TRUE(closes.transfer_encoding);
  EXPECT_TRUE(closes.close);
  EXPECT_FALSE(closes.keep_alive);
  EXPECT_FALSE(closes.content_length);
}

TEST(HeadExtrasTest, AddsContentLengthDigits) {
  for (const uint64_t n : {uint64_t{0}, uint64_t{7}, uint64_t{1234567890},
                           ~uint64_t{0}}) {
    HeadExtras extras;
    extras.AddLength(n);
    ASSERT_EQ(extras.count, 1u);
    EXPECT_EQ(extras.fields[0].name, "Content-Length");
    EXPECT_EQ(extras.fields[0].value, std::to_string(n));
  }
}

TEST(ReasonForTest, KeepsAGivenPhraseAndReplacesTheDefaultOkElsewhere) {
  HttpResponse response;
  EXPECT_EQ(ReasonFor(response), "OK");  // 200, the default reason.
  response.status_code = 404;
  EXPECT_EQ(ReasonFor(response), "Not Found");  // "OK" kept by mistake.
  response.reason = "";
  EXPECT_EQ(ReasonFor(response), "Not Found");
  response.reason = "Nowhere";
  EXPECT_EQ(ReasonFor(response), "Nowhere");
}

TEST(CheckSendableTest, RefusesWhatSendCannotFrame) {
  HttpResponse ok;
  ok.body = "hello";
  EXPECT_TRUE(CheckSendable(ok, FieldFacts(ok.headers)).ok());

  HttpResponse interim;
  interim.status_code = 100;
  EXPECT_EQ(CheckSendable(interim, FieldFacts(interim.headers)).code(),
            absl::StatusCode::kInvalidArgument);

  HttpResponse chunked;
  chunked.headers.Add("Transfer-Encoding", "chunked");
  EXPECT_EQ(CheckSendable(chunked, FieldFacts(chunked.headers)).code(),
            absl::StatusCode::kInvalidArgument);

  HttpResponse trailers;
  trailers.trailers.Add("Digest", "x");
  EXPECT_EQ(CheckSendable(trailers, FieldFacts(trailers.headers)).code(),
            absl::StatusCode::kInvalidArgument);

  HttpResponse no_content;
  no_content.status_code = 204;
  EXPECT_TRUE(CheckSendable(no_content, FieldFacts(no_content.headers)).ok());
  no_content.body = "x";
  EXPECT_EQ(CheckSendable(no_content, FieldFacts(no_content.headers)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ember::protocols::http_internal
