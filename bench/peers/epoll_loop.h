// A plain level-triggered epoll loop, the reference the other servers are
// compared with: what a C programmer writes by hand for one thread. Reads
// go to one 64 KiB buffer shared by the loop; the answer is queued in the
// connection's `out` and sent at once, and only what the socket did not
// take stays there (with, for HTTP, the start of a request not yet
// whole). While a connection has unwritten bytes it waits for EPOLLOUT and
// reads nothing more, so a slow reader cannot grow its queue.

#ifndef EMBER_BENCH_PEERS_EPOLL_LOOP_H_
#define EMBER_BENCH_PEERS_EPOLL_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::bench {

struct EpollConnection {
  int fd = -1;
  std::string in;   // the start of a request not yet whole (HTTP only)
  std::string out;  // accepted for sending, not yet written
};

// Called with the bytes of each read; appends what to send back to
// `connection.out`, or returns false to close the connection.
using EpollOnRead = bool (*)(EpollConnection& connection,
                             std::string_view data);

// Listens on host:port, prints the "listening on" line as `what` and runs
// forever. `no_delay` sets TCP_NODELAY on accepted connections. Returns 1
// when listening fails.
int RunEpollServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, EpollOnRead on_read);

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_EPOLL_LOOP_H_
