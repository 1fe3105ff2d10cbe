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

#if defined(__SSE2__)
// The block tests of the whole-head pass's fast paths, for every byte at
// every place of a block: VCHAR for targets; VCHAR or SP for values.
TEST(HttpCharsTest, BlockMasksAgreeWithTheirClasses) {
  for (size_t at = 0; at < 16; ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string block(16, 'a');
      block[at] = static_cast<char>(c);
      const bool vchar = c > 0x20 && c < 0x7f;
      ASSERT_EQ(TargetMask16(block.data()), vchar ? 0xffffu : 0xffffu ^ (1u << at))
          << "at=" << at << " byte=" << c;
      ASSERT_EQ(VisibleOrSpaceMask16(block.data()),
                vchar || c == ' ' ? 0xffffu : 0xffffu ^ (1u << at))
          << "at=" << at << " byte=" << c;
      const bool alnum_dash = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                              (c >= 'A' && c <= 'Z') || c == '-';
      ASSERT_EQ(NotAlnumDashMask16(block.data()), alnum_dash ? 0u : 1u << at)
          << "at=" << at << " byte=" << c;
    }
  }
}
#endif

// TokenEqualsLower against a byte-by-byte comparison: every length up to
// 24 (whole words, 4-to-7-byte pairs, overlapping last words), each
// position changed to every tchar in turn.
TEST(HttpCharsTest, TokenEqualsLowerAgreesWithAByteByByteCompare) {
  for (size_t n = 0; n <= 24; ++n) {
    std::string lower;
    for (size_t i = 0; i < n; ++i) lower += "content-length"[i % 14];
    std::string upper = lower;
    for (char& c : upper) c = static_cast<char>(c == '-' ? c : c - 32);
    EXPECT_TRUE(TokenEqualsLower(lower, lower)) << n;
    EXPECT_TRUE(TokenEqualsLower(upper, lower)) << n;
    EXPECT_FALSE(TokenEqualsLower(lower + "a", lower)) << n;
    for (size_t at = 0; at < n; ++at) {
      for (int c = 0; c < 256; ++c) {
        if (!IsTokenChar(static_cast<char>(c))) continue;
        std::string token = upper;
        token[at] = static_cast<char>(c);
        ASSERT_EQ(TokenEqualsLower(token, lower), EqualsLower(token, lower))
            << "n=" << n << " at=" << at << " byte=" << c;
      }
    }
  }
}

}  // namespace
}  // namespace ember::protocols::http_internal
