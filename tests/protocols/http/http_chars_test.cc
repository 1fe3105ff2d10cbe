// Goal: the SSE2 and word-at-a-time scanners of field values, request
// targets and tokens find exactly the first byte a byte-by-byte scan finds,
// whatever the length and wherever the offending byte sits (inside a whole
// 16-byte block or word, in the partial last one, in the bytes the
// overlapping last-block or last-word test sees twice).

#include "protocols/http/internal/http_chars.h"

#include <string>

#include "gtest/gtest.h"

namespace ember::protocols::http_internal {
namespace {

size_t NaiveBadValue(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsValueChar(s[i])) return i;
  }
  return s.size();
}

size_t NaiveTokenSpan(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsTokenChar(s[i])) return i;
  }
  return s.size();
}

size_t NaiveBadTarget(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsTargetChar(s[i])) return i;
  }
  return s.size();
}

TEST(HttpCharsTest, ScannersAgreeWithAByteByByteScan) {
  // Every byte value, alone or as a second offender, at every position of
  // clean strings of every length up to 40.
  for (size_t n = 0; n <= 40; ++n) {
    const std::string clean(n, 'a');
    EXPECT_EQ(FindBadValueChar(clean.data(), n), n);
    EXPECT_EQ(FindBadTargetChar(clean.data(), n), n);
    EXPECT_EQ(SpanTokenChars(clean.data(), n), n);
    for (size_t at = 0; at < n; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s = clean;
        s[at] = static_cast<char>(c);
        ASSERT_EQ(FindBadValueChar(s.data(), n), NaiveBadValue(s))
            << "n=" << n << " at=" << at << " byte=" << c;
        ASSERT_EQ(FindBadTargetChar(s.data(), n), NaiveBadTarget(s))
            << "n=" << n << " at=" << at << " byte=" << c;
        ASSERT_EQ(SpanTokenChars(s.data(), n), NaiveTokenSpan(s))
            << "n=" << n << " at=" << at << " byte=" << c;
        if (at + 3 < n) {
          s[at + 3] = '\x7f';
          ASSERT_EQ(FindBadValueChar(s.data(), n), NaiveBadValue(s))
              << "n=" << n << " at=" << at << " byte=" << c << " +DEL";
        }
      }
    }
  }
}

}  // namespace
}  // namespace ember::protocols::http_internal
