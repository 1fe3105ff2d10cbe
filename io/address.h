// Network addresses as plain values: IPv4 or IPv6 with a port, or a Unix
// domain socket path.
//
// `Address` is what crosses the `io/` interface in place of `sockaddr`: both
// backends understand it, it compares and orders by value (so it can key an
// ordered map in the simulator), and it prints the way a person writes it:
// `127.0.0.1:8081`, `[::1]:8081`, `unix:/tmp/chat.sock`.

#ifndef EMBER_IO_ADDRESS_H_
#define EMBER_IO_ADDRESS_H_

#include <array>
#include <cstdint>
#include <compare>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ember::io {

class Address {
 public:
  enum class Family : uint8_t { kUnspecified, kIpv4, kIpv6, kUnix };

  // The longest Unix socket path Linux accepts (sun_path less the NUL).
  static constexpr size_t kUnixPathBytesMax = 107;

  // An unspecified address (Family::kUnspecified); prints as "unspecified".
  Address() = default;

  // Parses a numeric IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]").
  // Host names are not resolved here: see `Network::Resolve`. Fails with
  // kInvalidArgument for anything that is not a literal.
  static absl::StatusOr<Address> ParseIp(std::string_view literal,
                                         uint16_t port);

  // Parses "host:port", "[v6]:port" or "unix:/path".
  static absl::StatusOr<Address> Parse(std::string_view text);

  // A Unix domain socket path. Fails with kInvalidArgument when the path is
  // empty or longer than kUnixPathBytesMax.
  static absl::StatusOr<Address> Unix(std::string_view path);

  static Address Ipv4(std::array<uint8_t, 4> bytes, uint16_t port);
  static Address Ipv6(const std::array<uint8_t, 16>& bytes, uint16_t port);
  static Address Loopback4(uint16_t port) { return Ipv4({127, 0, 0, 1}, port); }
  static Address Loopback6(uint16_t port);
  static Address Any4(uint16_t port) { return Ipv4({0, 0, 0, 0}, port); }

  Family family() const { return family_; }
  bool is_ip() const {
    return family_ == Family::kIpv4 || family_ == Family::kIpv6;
  }
  bool is_unix() const { return family_ == Family::kUnix; }
  uint16_t port() const { return port_; }
  // 4 meaningful bytes for IPv4, 16 for IPv6, in network order.
  const std::array<uint8_t, 16>& ip_bytes() const { return ip_; }
  const std::string& path() const { return path_; }
  bool is_loopback() const;

  // The same address with another port (IP families only).
  Address WithPort(uint16_t port) const;

  // "127.0.0.1", "::1", or the Unix path: the host part only.
  std::string HostString() const;
  // "127.0.0.1:80", "[::1]:80", "unix:/path", "unspecified".
  std::string ToString() const;

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;

  friend std::ostream& operator<<(std::ostream& os, const Address& a) {
    return os << a.ToString();
  }

  template <typename H>
  friend H AbslHashValue(H h, const Address& a) {
    return H::combine(std::move(h), a.family_, a.ip_, a.port_, a.path_);
  }

 private:
  Family family_ = Family::kUnspecified;
  std::array<uint8_t, 16> ip_{};
  uint16_t port_ = 0;
  std::string path_;
};

}  // namespace ember::io

#endif  // EMBER_IO_ADDRESS_H_
