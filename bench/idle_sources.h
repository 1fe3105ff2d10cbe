// What bench/idle_conns needs to hold more connections to one server port
// than one source address can make, and to tell that they all stayed open.
//
// Towards one server address and port, each connection from one source
// address takes its own port from the ephemeral range (28,232 ports by
// default), so one address makes at most that many. Over loopback every
// address of 127.0.0.0/8 is local: connection i is made from
// 127.0.0.1 + i / per_source, which spreads 100,000 connections over a few
// addresses.

#ifndef EMBER_BENCH_IDLE_SOURCES_H_
#define EMBER_BENCH_IDLE_SOURCES_H_

#include <netinet/in.h>

#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace ember::bench {

// The number of ports in the ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), or nullopt when it cannot be
// read.
std::optional<int> EphemeralPorts();

// The connections made from each source address. `requested` is the
// --per_source flag: 0 asks for three quarters of the ephemeral range
// (20,000 when the range is unknown), leaving room for other sockets of the
// same address. kInvalidArgument, saying why, when `requested` is negative
// or more than the range, or when `connections` need more than one source
// address and the server is not on loopback (only loopback is reached from
// 127.0.0.2 and on).
absl::StatusOr<int> ConnectionsPerSource(int requested, int connections,
                                         bool loopback_server,
                                         std::optional<int> ephemeral_ports);

// True for an address of 127.0.0.0/8.
bool IsLoopback(in_addr address);

// The source address of connection `index`: 127.0.0.1 + index / per_source.
in_addr SourceAddress(int index, int per_source);

// The index in `fds` of the first connected socket the peer has closed or
// reset, or sent bytes on unasked; -1 when none has. Looks without waiting.
// kInternal if poll fails.
absl::StatusOr<int> FirstDisturbed(const std::vector<int>& fds);

}  // namespace ember::bench

#endif  // EMBER_BENCH_IDLE_SOURCES_H_
