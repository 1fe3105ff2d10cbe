// Conversions between `io::Address` and the kernel's `sockaddr` family of
// structures, for the epoll backend only.
//
// `Address` is the value that crosses the `io/` interface; the system calls
// want a `sockaddr` and a length. `SocketAddress` holds one in a
// `sockaddr_storage` so it lives on the stack and needs no allocation.

#ifndef EMBER_IO_EPOLL_INTERNAL_SOCKADDR_H_
#define EMBER_IO_EPOLL_INTERNAL_SOCKADDR_H_

#include <sys/socket.h>

#include "absl/status/statusor.h"
#include "io/address.h"

namespace ember::io::epoll_internal {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

// The kernel form of `address`. Fails with kind kAddressInvalid for an
// unspecified address.
absl::StatusOr<SocketAddress> ToSocketAddress(const Address& address);

// The `Address` for what the kernel returned (accept, getsockname,
// getpeername, recvmsg). An unnamed Unix socket (the usual client end) and an
// abstract Unix name have no `Address` form and give an unspecified
// `Address()`, as does an unknown family.
Address FromSocketAddress(const sockaddr* address, socklen_t length);

// The socket domain (AF_INET, AF_INET6, AF_UNIX) for `family`, or -1.
int DomainOf(Address::Family family);

}  // namespace ember::io::epoll_internal

#endif  // EMBER_IO_EPOLL_INTERNAL_SOCKADDR_H_
