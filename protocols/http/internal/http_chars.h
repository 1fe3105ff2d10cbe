// Character classes of RFC 9110/9112 as lookup tables, shared by the HTTP
// parsers and serialisers. Internal to protocols/http.

#ifndef EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_CHARS_H_
#define EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_CHARS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ember::protocols::http_internal {

inline constexpr uint8_t kTokenChar = 1;   // tchar (RFC 9110 5.6.2).
inline constexpr uint8_t kValueChar = 2;   // field-vchar, SP, HTAB, obs-text.
inline constexpr uint8_t kTargetChar = 4;  // VCHAR: visible ASCII, no SP.

constexpr std::array<uint8_t, 256> MakeCharTable() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    uint8_t bits = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z');
    constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
    if (alnum ||
        kTokenPunct.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kTokenChar;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) bits |= kValueChar;
    if (c > 0x20 && c < 0x7f) bits |= kTargetChar;
    table[c] = bits;
  }
  return table;
}

inline constexpr std::array<uint8_t, 256> kCharTable = MakeCharTable();

inline bool IsTokenChar(char c) {
  return kCharTable[static_cast<uint8_t>(c)] & kTokenChar;
}
inline bool IsValueChar(char c) {
  return kCharTable[static_cast<uint8_t>(c)] & kValueChar;
}
inline bool IsTargetChar(char c) {
  return kCharTable[static_cast<uint8_t>(c)] & kTargetChar;
}
inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

#if defined(__SSE2__)
// Sixteen bytes at a time (SSE2 is part of x86-64, so no run-time check).
// Each *Mask16 below sets bit i when byte i of the 16 at p is of the class
// it names; bytes from 0x80 up are negative to the signed compares, so they
// fall below every range of visible ASCII.
inline __m128i Load16(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline unsigned Mask16(__m128i m) {
  return static_cast<unsigned>(_mm_movemask_epi8(m));
}
// The index of the lowest set bit of `mask`, which is not 0, ready to add
// to a pointer. GCC sign-extends the int __builtin_ctz gives (one
// instruction more) even through a cast to unsigned; written to a 32-bit
// register, the index is already zero-extended. TZCNT is BSF with a REP
// prefix, so any x86-64 runs it, and the two agree when `mask` is not 0.
inline size_t LowestSetBit(unsigned mask) {
  size_t index;
  asm("rep bsf %k1, %k0" : "=r"(index) : "r"(mask));
  return index;
}
inline __m128i Equal16(__m128i x, char c) {
  return _mm_cmpeq_epi8(x, _mm_set1_epi8(c));
}
// Bytes above `c`, as signed bytes. GCC turns a compare with a constant it
// can see into the opposite compare with the next constant, then inverts
// that with a compare against zero: one instruction more per test. Hidden
// from it, the constant stays as written, and in a register across a loop.
inline __m128i GreaterThan16(__m128i x, char c) {
  __m128i limit = _mm_set1_epi8(c);
  asm("" : "+x"(limit));
  return _mm_cmpgt_epi8(x, limit);
}
// Bytes outside [lo, hi]: adding 0x80 - lo moves the range to the bottom
// of the signed bytes, where one compare tells it from the rest.
inline __m128i OutsideRange16(__m128i x, char lo, char hi) {
  const char bottom = static_cast<char>(0x80);
  return GreaterThan16(
      _mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(bottom - lo))),
      static_cast<char>(bottom + (hi - lo)));
}
// Not a letter, digit or '-'. Those are the bytes of almost every method
// and field name; the whole tchar class is no range (RFC 9110 section
// 5.6.2), and testing it all costs more than a short name's table lookups.
// ORing 0x20 lower-cases a letter and makes no other byte a letter (digits
// are tested on the bytes as they are: ORing 0x20 makes digits of some
// controls).
inline unsigned NotAlnumDashMask16(const char* p) {
  const __m128i x = Load16(p);
  const __m128i not_alnum = _mm_and_si128(
      OutsideRange16(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z'),
      OutsideRange16(x, '0', '9'));
  return Mask16(_mm_andnot_si128(Equal16(x, '-'), not_alnum));
}
// Not allowed in a field value: a control other than HTAB, or DEL.
inline unsigned BadValueMask16(const char* p) {
  const __m128i x = Load16(p);
  const __m128i control =
      _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
  const __m128i bad = _mm_andnot_si128(Equal16(x, '\t'), control);
  return Mask16(_mm_or_si128(bad, Equal16(x, 0x7f)));
}
// VCHAR: 0x21 to 0x7e. Adding one moves exactly those bytes to the signed
// bytes above 0x21: DEL wraps to the most negative byte, and the bytes from
// 0x80 up become negative or zero.
inline unsigned TargetMask16(const char* p) {
  return Mask16(GreaterThan16(_mm_add_epi8(Load16(p), _mm_set1_epi8(1)), 0x21));
}
inline unsigned NotTargetMask16(const char* p) {
  return ~TargetMask16(p) & 0xffffu;
}
// VCHAR or SP, the bytes the usual field value is made of; the first other
// byte is the CR that ends its line. Every byte BadValueMask16 flags is
// another, and so are HTAB and obs-text, which a value may hold: a fast
// path that stops at those leaves the value to the exact scan. The same
// add as TargetMask16, with SP (moved to 0x21) let in.
inline unsigned VisibleOrSpaceMask16(const char* p) {
  return Mask16(GreaterThan16(_mm_add_epi8(Load16(p), _mm_set1_epi8(1)), 0x20));
}

// Index of the first byte of [p, p + n) that `mask16` flags, or n, when n
// is at least 16 (otherwise *done is false and nothing was read). The last
// 16 bytes are read at once even when they overlap bytes already seen:
// those are unflagged, so the first flagged byte is still the first.
template <unsigned (*mask16)(const char*)>
[[gnu::always_inline]] inline size_t Find16(const char* p, size_t n,
                                            bool* done) {
  *done = n >= 16;
  if (!*done) return 0;
  // The first block is known to fit: tested before the loop's own test.
  size_t i = 0;
  do {
    const unsigned m = mask16(p + i);
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
    i += 16;
  } while (i + 16 <= n);
  if (i == n) return n;
  const unsigned m = mask16(p + n - 16);
  return m != 0 ? n - 16 + static_cast<size_t>(__builtin_ctz(m)) : n;
}
#endif  // __SSE2__

// Length of the run of tchar at the start of [p, p + n). With SSE2, 16
// bytes at a time while they are letters, digits and '-', which usually
// reaches the end; from the first other byte (or below 16 bytes, or
// without SSE2), four table lookups and one branch per four bytes, then
// byte by byte. Forced inline: its callers are the parser's scanners, and
// out of line the call and the spills around it cost about 18 instructions
// per request (FindBadValueChar, tried the same way, cost more inline).
[[gnu::always_inline]] inline size_t SpanTokenChars(const char* p, size_t n) {
  const auto bits = [p](size_t i) {
    return kCharTable[static_cast<uint8_t>(p[i])];
  };
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const unsigned m = NotAlnumDashMask16(p + i);
    if (m != 0) {
      i += static_cast<size_t>(__builtin_ctz(m));
      // Usually the byte after the token (':' or SP): done. Other tchar
      // punctuation goes on below.
      if (!IsTokenChar(p[i])) return i;
      break;
    }
  }
#endif
  while (i + 4 <= n &&
         (bits(i) & bits(i + 1) & bits(i + 2) & bits(i + 3) & kTokenChar)) {
    i += 4;
  }
  while (i < n && IsTokenChar(p[i])) ++i;
  return i;
}

// Index of the first byte of [p, p + n) that is not allowed in a field value
// (a control other than HTAB, or DEL), or n. Sixteen bytes at a time with
// SSE2 from 16 bytes on; otherwise eight bytes at a time: a word
// with no byte below 0x20 and none equal to 0x7f is all allowed (bytes from
// 0x80 up, obs-text, are allowed and never trip the tests).
inline bool ValueWordClean(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t below_space = (x - 0x20 * kOnes) & ~x & kHighs;
  const uint64_t del = x ^ (0x7f * kOnes);
  const uint64_t is_del = (del - kOnes) & ~del & kHighs;
  return (below_space | is_del) == 0;
}

// The word-at-a-time scan of FindBadValueChar, kept out of line: inlined
// with the rest, it made the parser's field scan spill registers.
[[gnu::noinline]] inline size_t FindBadValueCharByWords(const char* p,
                                                        size_t n) {
  size_t i = 0;
  while (i + 8 <= n && ValueWordClean(p + i)) i += 8;
  // Every whole word was clean: the eight bytes ending at n (overlapping
  // ones already seen) test the rest at once instead of a byte loop.
  if (i + 8 > n && i < n && n >= 8 && ValueWordClean(p + n - 8)) return n;
  for (; i < n; ++i) {  // Look closer, byte by byte.
    if (!IsValueChar(p[i])) return i;
  }
  return n;
}

// The 16-byte scan is inlined into the parser's field scan (out of line,
// the call cost about 8 instructions per field).
[[gnu::always_inline]] inline size_t FindBadValueChar(const char* p, size_t n) {
#if defined(__SSE2__)
  bool done;
  const size_t found = Find16<BadValueMask16>(p, n, &done);
  if (done) return found;
#endif
  return FindBadValueCharByWords(p, n);
}

// Index of the first byte of [p, p + n) that is not a VCHAR, or n, with the
// same fast paths (SP and obs-text also stop it here).
inline size_t FindBadTargetChar(const char* p, size_t n) {
#if defined(__SSE2__)
  bool done;
  const size_t found = Find16<NotTargetMask16>(p, n, &done);
  if (done) return found;
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  size_t i = 0;
  while (i + 8 <= n) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    const uint64_t low = (x - 0x21 * kOnes) & ~x & kHighs;  // < 0x21
    const uint64_t del = x ^ (0x7f * kOnes);
    const uint64_t is_del = (del - kOnes) & ~del & kHighs;
    if (((low | is_del) | (x & kHighs)) != 0) break;
    i += 8;
  }
  for (; i < n; ++i) {
    if (!IsTargetChar(p[i])) return i;
  }
  return n;
}

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// `token` (tchar only, e.g. a parsed field name) equals `lower` (lower-case
// letters and '-') ignoring ASCII case. ORing 0x20 lower-cases a letter and,
// among tchar, turns nothing else into a letter or '-', so one OR per byte
// is an exact test, done eight bytes at a time (or four, for 4 to 7 bytes),
// the last word overlapping the one before when the size is no multiple.
// Forced inline: callers pass a literal whose size they have just matched,
// so the loops fold away into one or two word compares (out of line, about
// 20 instructions per call).
[[gnu::always_inline]] inline bool TokenEqualsLower(std::string_view token,
                                                    std::string_view lower) {
  const size_t n = token.size();
  if (n != lower.size()) return false;
  const char* const a = token.data();
  const char* const b = lower.data();
  const auto same8 = [a, b](size_t i) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    return (x | 0x2020202020202020ull) == y;
  };
  const auto same4 = [a, b](size_t i) {
    uint32_t x;
    uint32_t y;
    std::memcpy(&x, a + i, 4);
    std::memcpy(&y, b + i, 4);
    return (x | 0x20202020u) == y;
  };
  if (n >= 8) {
    // Most names compared differ from `lower` in their first four bytes:
    // those go first, with a 32-bit constant the compare holds, where the
    // 64-bit one is loaded apart.
    if (!same4(0)) return false;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      if (!same8(i)) return false;
    }
    return i == n || same8(n - 8);
  }
  if (n >= 4) return same4(0) && same4(n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<char>(a[i] | 0x20) != b[i]) return false;
  }
  return true;
}

// `name` equals the lower-case `lower` ignoring ASCII case.
inline bool EqualsLower(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (AsciiLower(name[i]) != lower[i]) return false;
  }
  return true;
}

// Copies `from` into `*to`, reusing its capacity. clear + append is a
// plain copy there; assign goes through the general replace, about twice
// the cost (callgrind: 61 instructions per short string).
inline void CopyInto(std::string_view from, std::string* to) {
  to->clear();
  to->append(from.data(), from.size());
}

inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Lengths saturate here instead of overflowing; it is above any limit.
inline constexpr uint64_t kLengthSaturated = uint64_t{1} << 60;

// Content-Length = 1*DIGIT, or a list of equal ones ("5, 5"), which RFC 9110
// section 8.6 lets a recipient accept. Anything else is invalid. Values
// saturate at kLengthSaturated.
inline bool ParseContentLength(std::string_view value, uint64_t* length) {
  bool seen = false;
  uint64_t first = 0;
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view element = TrimBlanks(value.substr(0, comma));
    if (element.empty()) return false;
    uint64_t n = 0;
    for (char c : element) {
      if (c < '0' || c > '9') return false;
      n = n >= kLengthSaturated ? kLengthSaturated : n * 10 + (c - '0');
    }
    if (seen && n != first) return false;
    seen = true;
    first = n;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  *length = first;
  return true;
}

}  // namespace ember::protocols::http_internal

#endif  // EMBER_PROTOCOLS_HTTP_INTERNAL_HTTP_CHARS_H_
