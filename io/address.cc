#include "io/address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"

namespace ember::io {

absl::StatusOr<Address> Address::ParseIp(std::string_view literal,
                                         uint16_t port) {
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  if (literal.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IP address literal: ", AbslView(literal.substr(0, 64)),
                     "..."));
  }
  std::string text(literal);  // inet_pton needs a NUL-terminated string.
  Address a;
  a.port_ = port;
  if (inet_pton(AF_INET, text.c_str(), a.ip_.data()) == 1) {
    a.family_ = Family::kIpv4;
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), a.ip_.data()) == 1) {
    a.family_ = Family::kIpv6;
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("not an IP address literal: \"", AbslView(literal), "\""));
}

absl::StatusOr<Address> Address::Parse(std::string_view text) {
  if (text.substr(0, 5) == "unix:") return Unix(text.substr(5));
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", AbslView(text), "\" has no port"));
  }
  std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos &&
      !(host.size() >= 2 && host.front() == '[' && host.back() == ']')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IPv6 address \"", AbslView(text), "\" needs brackets: [addr]:port"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(AbslView(text.substr(colon + 1)), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", AbslView(text), "\" has a bad port"));
  }
  return ParseIp(host, static_cast<uint16_t>(port));
}

absl::StatusOr<Address> Address::Unix(std::string_view path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("empty Unix socket path");
  }
  if (path.size() > kUnixPathBytesMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Unix socket path is ", path.size(), " bytes, longer than the ",
        kUnixPathBytesMax, " bytes Linux allows"));
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("Unix socket path contains a NUL byte");
  }
  Address a;
  a.family_ = Family::kUnix;
  a.path_ = std::string(path);
  return a;
}

Address Address::Ipv4(std::array<uint8_t, 4> bytes, uint16_t port) {
  Address a;
  a.family_ = Family::kIpv4;
  std::memcpy(a.ip_.data(), bytes.data(), 4);
  a.port_ = port;
  return a;
}

Address Address::Ipv6(const std::array<uint8_t, 16>& bytes, uint16_t port) {
  Address a;
  a.family_ = Family::kIpv6;
  a.ip_ = bytes;
  a.port_ = port;
  return a;
}

Address Address::Loopback6(uint16_t port) {
  std::array<uint8_t, 16> b{};
  b[15] = 1;
  return Ipv6(b, port);
}

bool Address::is_loopback() const {
  switch (family_) {
    case Family::kIpv4:
      return ip_[0] == 127;
    case Family::kIpv6: {
      for (int i = 0; i < 15; ++i) {
        if (ip_[i] != 0) return false;
      }
      return ip_[15] == 1;
    }
    case Family::kUnix:
      return true;
    case Family::kUnspecified:
      return false;
  }
  return false;
}

Address Address::WithPort(uint16_t port) const {
  Address a = *this;
  if (is_ip()) a.port_ = port;
  return a;
}

std::string Address::HostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family_) {
    case Family::kIpv4:
      inet_ntop(AF_INET, ip_.data(), buf, sizeof(buf));
      return buf;
    case Family::kIpv6:
      inet_ntop(AF_INET6, ip_.data(), buf, sizeof(buf));
      return buf;
    case Family::kUnix:
      return path_;
    case Family::kUnspecified:
      return "unspecified";
  }
  return "unspecified";
}

std::string Address::ToString() const {
  switch (family_) {
    case Family::kIpv4:
      return absl::StrCat(HostString(), ":", port_);
    case Family::kIpv6:
      return absl::StrCat("[", HostString(), "]:", port_);
    case Family::kUnix:
      return absl::StrCat("unix:", path_);
    case Family::kUnspecified:
      return "unspecified";
  }
  return "unspecified";
}

}  // namespace ember::io
