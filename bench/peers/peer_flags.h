// Command line and start-up line shared by the peer servers, so that every
// peer takes the flags Ember's example servers take and prints the line
// scripts read the port from:
//
//   <what> listening on 127.0.0.1:PORT (Ctrl-C to stop)
//
// Flags: --host (an IPv4 literal, default 127.0.0.1) and --port (default
// 7000 for echo servers and 8080 for HTTP servers as in examples/; 0 picks a
// free port). The peers listen with a backlog of 4096, as Ember does.

#ifndef EMBER_BENCH_PEERS_PEER_FLAGS_H_
#define EMBER_BENCH_PEERS_PEER_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ember::bench {

inline constexpr int kListenBacklog = 4096;

struct PeerFlags {
  std::string host;
  uint16_t port = 0;
};

// Parses --host and --port; prints the usage and exits with status 2 on an
// invalid or unknown flag, and with 0 after --help.
PeerFlags ParsePeerFlags(int argc, char** argv, std::string_view usage,
                         uint16_t default_port);

// Prints the "listening on" line to stdout and flushes it.
void PrintListening(std::string_view what, const std::string& host,
                    uint16_t port);

// The port a listening socket is bound to (the port it asked for, or the one
// the kernel picked for port 0). Exits on failure.
uint16_t BoundPort(int listen_fd);

// Sets TCP_NODELAY on a connected socket, as Ember's echo server does.
void SetNoDelay(int fd);

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_PEER_FLAGS_H_
