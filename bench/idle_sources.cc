#include "bench/idle_sources.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ember::bench {

std::optional<int> EphemeralPorts() {
  std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f == nullptr) return std::nullopt;
  int low = 0;
  int high = 0;
  const int read = std::fscanf(f, "%d %d", &low, &high);
  std::fclose(f);
  if (read != 2 || low < 1 || high < low) return std::nullopt;
  return high - low + 1;
}

absl::StatusOr<int> ConnectionsPerSource(int requested, int connections,
                                         bool loopback_server,
                                         std::optional<int> ephemeral_ports) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--per_source=", requested, " is negative"));
  }
  int per_source = requested;
  if (per_source == 0) {
    per_source = ephemeral_ports ? *ephemeral_ports / 4 * 3 : 20000;
    if (per_source < 1) per_source = 1;
  } else if (ephemeral_ports && per_source > *ephemeral_ports) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--per_source=", per_source, " is more than the ", *ephemeral_ports,
        " ephemeral ports one source address has towards one server port"));
  }
  // Sources from 127.0.0.1 up to 127.255.255.254.
  constexpr int64_t kSourcesMax = (int64_t{1} << 24) - 2;
  if ((int64_t{connections} + per_source - 1) / per_source > kSourcesMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        connections, " connections at ", per_source,
        " per source address need more than the ", kSourcesMax,
        " addresses of 127.0.0.0/8"));
  }
  if (connections > per_source && !loopback_server) {
    return absl::InvalidArgumentError(absl::StrCat(
        connections, " connections at ", per_source,
        " per source address need more than one source address, which only a "
        "loopback server (--host in 127.0.0.0/8) can be reached from"));
  }
  return per_source;
}

bool IsLoopback(in_addr address) {
  return (ntohl(address.s_addr) >> 24) == 127;
}

in_addr SourceAddress(int index, int per_source) {
  constexpr uint32_t kFirst = 0x7f000001;  // 127.0.0.1
  in_addr address{};
  address.s_addr = htonl(kFirst + static_cast<uint32_t>(index / per_source));
  return address;
}

absl::StatusOr<int> FirstDisturbed(const std::vector<int>& fds) {
  std::vector<pollfd> polls(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    polls[i] = pollfd{fds[i], POLLIN | POLLRDHUP, 0};
  }
  int ready = 0;
  do {
    ready = poll(polls.data(), polls.size(), 0);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) {
    return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
  if (ready == 0) return -1;
  for (size_t i = 0; i < polls.size(); ++i) {
    if (polls[i].revents != 0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace ember::bench
