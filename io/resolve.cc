#include "io/resolve.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/error.h"

namespace ember::io {
namespace {

std::string What(std::string_view host) {
  return absl::StrCat("resolve \"", AbslView(host), "\"");
}

// True for `name` itself and for names under it ("a.b.name"), in any case.
bool IsOrIsUnder(std::string_view host, std::string_view name) {
  if (absl::EqualsIgnoreCase(AbslView(host), AbslView(name))) return true;
  return host.size() > name.size() &&
         host[host.size() - name.size() - 1] == '.' &&
         absl::EndsWithIgnoreCase(AbslView(host), AbslView(name));
}

// An address as the 16 bytes RFC 6724 reasons about: IPv6 as it is, IPv4 as
// the IPv4-mapped IPv6 address ::ffff:a.b.c.d.
std::array<uint8_t, 16> AsIpv6(const Address& a) {
  if (a.family() == Address::Family::kIpv6) return a.ip_bytes();
  std::array<uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  for (int i = 0; i < 4; ++i) out[12 + i] = a.ip_bytes()[i];
  return out;
}

bool HasPrefix(const std::array<uint8_t, 16>& ip,
               const std::array<uint8_t, 16>& prefix, int bits) {
  for (int i = 0; i < bits / 8; ++i) {
    if (ip[i] != prefix[i]) return false;
  }
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip[bits / 8] & mask) == (prefix[bits / 8] & mask);
}

// RFC 6724 section 2.1, the default policy table's precedences, longest
// prefix first.
int Precedence(const Address& a) {
  struct Row {
    std::array<uint8_t, 16> prefix;
    int bits;
    int precedence;
  };
  static constexpr Row kTable[] = {
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 50},  // ::1
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 35},  // ::ffff:0:0/96
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 96, 1},          // ::/96
      {{0x20, 0x01, 0, 0}, 32, 5},                            // 2001::/32
      {{0x20, 0x02}, 16, 30},                                 // 2002::/16
      {{0x3f, 0xfe}, 16, 1},                                  // 3ffe::/16
      {{0xfe, 0xc0}, 10, 1},                                  // fec0::/10
      {{0xfc}, 7, 3},                                         // fc00::/7
  };
  const std::array<uint8_t, 16> ip = AsIpv6(a);
  for (const Row& row : kTable) {
    if (HasPrefix(ip, row.prefix, row.bits)) return row.precedence;
  }
  return 40;  // ::/0
}

// RFC 6724 section 3.1 and 3.2: the scope of a unicast or multicast
// address (smaller is narrower).
int Scope(const Address& a) {
  constexpr int kLinkLocal = 0x2, kSiteLocal = 0x5, kGlobal = 0xe;
  const std::array<uint8_t, 16>& b = a.ip_bytes();
  if (a.family() == Address::Family::kIpv4) {
    if (b[0] == 127) return kLinkLocal;                 // loopback
    if (b[0] == 169 && b[1] == 254) return kLinkLocal;  // autoconfiguration
    return kGlobal;
  }
  if (b[0] == 0xff) return b[1] & 0x0f;  // multicast: its own scope field
  if (a.is_loopback()) return kLinkLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return kLinkLocal;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return kSiteLocal;  // fec0::/10
  return kGlobal;
}

bool Usable(const Address& a, UsableFamilies usable) {
  switch (a.family()) {
    case Address::Family::kIpv4: return usable.ipv4;
    case Address::Family::kIpv6: return usable.ipv6;
    default: return false;
  }
}

}  // namespace

std::optional<absl::StatusOr<std::vector<Address>>> AnswerWithoutLookup(
    std::string_view host) {
  if (host.empty() || host.size() > kHostNameBytesMax ||
      host.find('\0') != std::string_view::npos) {
    return MakeError(ErrorKind::kNameNotFound, What(host),
                     "not a valid host name");
  }
  absl::StatusOr<Address> literal = Address::ParseIp(host, 0);
  if (literal.ok()) return std::vector<Address>{*std::move(literal)};
  std::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);
  if (IsOrIsUnder(name, "localhost")) {
    return std::vector<Address>{Address::Loopback6(0), Address::Loopback4(0)};
  }
  if (IsOrIsUnder(name, "invalid")) {
    return MakeError(ErrorKind::kNameNotFound, What(host),
                     "names under .invalid never exist (RFC 6761)");
  }
  return std::nullopt;
}

void SortDestinations(std::vector<Address>& addresses, UsableFamilies usable) {
  std::stable_sort(addresses.begin(), addresses.end(),
                   [usable](const Address& a, const Address& b) {
                     // Non-IP addresses (none should be here) go last.
                     if (a.is_ip() != b.is_ip()) return a.is_ip();
                     if (!a.is_ip()) return false;
                     const bool ua = Usable(a, usable), ub = Usable(b, usable);
                     if (ua != ub) return ua;                       // rule 1
                     const int pa = Precedence(a), pb = Precedence(b);
                     if (pa != pb) return pa > pb;                  // rule 6
                     return Scope(a) < Scope(b);                    // rule 8
                   });
}

std::vector<Address> InterleaveFamilies(const std::vector<Address>& sorted) {
  std::vector<const Address*> first, second, rest;
  const Address::Family lead =
      sorted.empty() ? Address::Family::kUnspecified : sorted.front().family();
  for (const Address& a : sorted) {
    if (!a.is_ip()) {
      rest.push_back(&a);
    } else if (a.family() == lead) {
      first.push_back(&a);
    } else {
      second.push_back(&a);
    }
  }
  std::vector<Address> out;
  out.reserve(sorted.size());
  for (size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
    if (i < first.size()) out.push_back(*first[i]);
    if (i < second.size()) out.push_back(*second[i]);
  }
  for (const Address* a : rest) out.push_back(*a);
  return out;
}

}  // namespace ember::io
