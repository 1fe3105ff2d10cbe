// Name resolution rules that every backend shares.
//
// Both backends answer `Network::Resolve` through these functions, so a host
// name means the same thing on epoll and under the simulator:
//  - `AnswerWithoutLookup`: what needs no resolver at all. Numeric literals,
//    the special names of RFC 6761 (`localhost` and names under
//    `.localhost` are the loopback addresses; names under `.invalid` never
//    exist), and names that cannot be valid. No query leaves the machine for
//    them, whatever `/etc/hosts` says or lacks.
//  - `SortDestinations`: RFC 6724 destination address ordering, with the
//    rules that need no routing table (the simulator's resolver uses it; the
//    epoll backend keeps `getaddrinfo`'s order, which applies all of RFC 6724
//    with the machine's real source addresses).
//  - `InterleaveFamilies`: RFC 8305 section 4 (Happy Eyeballs v2): alternate
//    the address families, starting with the family of the most preferred
//    address, so a connect race tries IPv6 and IPv4 turn about.

#ifndef EMBER_IO_RESOLVE_H_
#define EMBER_IO_RESOLVE_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "io/address.h"

namespace ember::io {

// The longest host name DNS can carry, in text form (RFC 1035).
inline constexpr size_t kHostNameBytesMax = 253;

// The answer for `host` when it needs no lookup, or nullopt when it does.
// - An IPv4 or IPv6 literal ("10.0.0.1", "::1", "[::1]"): itself, port 0.
// - "localhost", "*.localhost" (any case, with or without a final dot):
//   ::1 then 127.0.0.1 (RFC 6761 section 6.3; RFC 6724 puts ::1 first).
// - "invalid", "*.invalid": kind kNameNotFound (RFC 6761 section 6.4).
// - An empty name, one longer than kHostNameBytesMax, or one holding a NUL:
//   kind kNameNotFound.
std::optional<absl::StatusOr<std::vector<Address>>> AnswerWithoutLookup(
    std::string_view host);

// Which address families the local side can reach at all (RFC 6724 rule 1:
// a destination of a family the source has no address of is unusable).
struct UsableFamilies {
  bool ipv4 = true;
  bool ipv6 = true;
};

// Orders `addresses` (IP addresses; others go last, in their order) by RFC
// 6724's rules that need no routing table: rule 1 (unusable destinations
// last), rule 6 (higher precedence in the default policy table first: ::1,
// then IPv6 in general, then IPv4, then 6to4, Teredo, ULA and deprecated
// ranges), rule 8 (smaller scope first) and rule 10 (otherwise keep the
// given order). Stable.
void SortDestinations(std::vector<Address>& addresses,
                      UsableFamilies usable = {});

// RFC 8305 section 4: the first address, then the first address of the
// other family, then the second of the first family, and so on; whatever
// one family has left over comes last, in order. Non-IP addresses go last,
// in their order.
std::vector<Address> InterleaveFamilies(const std::vector<Address>& sorted);

}  // namespace ember::io

#endif  // EMBER_IO_RESOLVE_H_
