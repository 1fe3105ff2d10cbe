#include "io/epoll/internal/sockaddr.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "io/error.h"

namespace ember::io::epoll_internal {

absl::StatusOr<SocketAddress> ToSocketAddress(const Address& address) {
  SocketAddress out;
  switch (address.family()) {
    case Address::Family::kIpv4: {
      auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(address.port());
      std::memcpy(&sin->sin_addr, address.ip_bytes().data(), 4);
      out.length = sizeof(sockaddr_in);
      return out;
    }
    case Address::Family::kIpv6: {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(address.port());
      std::memcpy(&sin6->sin6_addr, address.ip_bytes().data(), 16);
      out.length = sizeof(sockaddr_in6);
      return out;
    }
    case Address::Family::kUnix: {
      auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
      const std::string& path = address.path();
      // Address::Unix already bounds the path; a path that does not fit
      // would be a bug there.
      if (path.empty() || path.size() >= sizeof(sun->sun_path)) {
        return MakeError(ErrorKind::kAddressInvalid, address.ToString(),
                         "Unix socket path does not fit sockaddr_un");
      }
      sun->sun_family = AF_UNIX;
      std::memcpy(sun->sun_path, path.data(), path.size());
      sun->sun_path[path.size()] = '\0';
      out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                          path.size() + 1);
      return out;
    }
    case Address::Family::kUnspecified:
      break;
  }
  return MakeError(ErrorKind::kAddressInvalid, address.ToString(),
                   "not a socket address");
}

Address FromSocketAddress(const sockaddr* address, socklen_t length) {
  if (length < static_cast<socklen_t>(sizeof(sa_family_t))) return Address();
  switch (address->sa_family) {
    case AF_INET: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) break;
      const auto* sin = reinterpret_cast<const sockaddr_in*>(address);
      std::array<uint8_t, 4> bytes;
      std::memcpy(bytes.data(), &sin->sin_addr, 4);
      return Address::Ipv4(bytes, ntohs(sin->sin_port));
    }
    case AF_INET6: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) break;
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(address);
      std::array<uint8_t, 16> bytes;
      std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
      return Address::Ipv6(bytes, ntohs(sin6->sin6_port));
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(address);
      size_t path_max = std::min(
          static_cast<size_t>(length) - offsetof(sockaddr_un, sun_path),
          sizeof(sun->sun_path));
      if (length <= static_cast<socklen_t>(offsetof(sockaddr_un, sun_path)) ||
          sun->sun_path[0] == '\0') {
        break;  // Unnamed or abstract.
      }
      std::string_view path(sun->sun_path, strnlen(sun->sun_path, path_max));
      auto unix_address = Address::Unix(path);
      if (unix_address.ok()) return *std::move(unix_address);
      break;
    }
    default:
      break;
  }
  return Address();
}

int DomainOf(Address::Family family) {
  switch (family) {
    case Address::Family::kIpv4:
      return AF_INET;
    case Address::Family::kIpv6:
      return AF_INET6;
    case Address::Family::kUnix:
      return AF_UNIX;
    case Address::Family::kUnspecified:
      break;
  }
  return -1;
}

}  // namespace ember::io::epoll_internal
