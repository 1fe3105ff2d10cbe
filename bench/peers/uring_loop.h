// A single-threaded io_uring server loop (liburing), written as an io_uring
// user writes one, to see whether an io_uring backend would beat the
// hand-written epoll loop (epoll_loop.h) on the comparison workloads.
//
// - One multishot accept on the listening socket.
// - One multishot recv per connection, its data landing in buffers the loop
//   provides to the kernel through a registered buffer ring; each buffer
//   goes back to the ring as soon as its bytes are handed to the callback.
// - The answer is queued in the connection's `out`; one send per connection
//   is in flight at a time, a short send is sent on from where it stopped,
//   and what queued meanwhile goes in the next send.
// - Submissions are batched: the loop queues every request it makes while
//   handling a batch of completions and submits them all with the wait for
//   the next batch (io_uring_submit_and_wait).
// - A connection with more than 1 MiB queued stops receiving (its recv is
//   cancelled) until the queue has drained.
//
// The ring is set up with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN where
// the kernel has them (6.1 on), so completions are only run when the loop
// asks for them. Needs Linux 6.0 or later for multishot recv.

#ifndef EMBER_BENCH_PEERS_URING_LOOP_H_
#define EMBER_BENCH_PEERS_URING_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::bench {

struct UringConnection {
  int fd = -1;
  std::string in;   // the start of a request not yet whole (HTTP only)
  std::string out;  // accepted for sending, not yet handed to the kernel

  // Owned by the loop.
  std::string sending;     // the bytes of the send in flight
  size_t sent = 0;         // how many of them the kernel has taken
  bool send_in_flight = false;
  bool recv_armed = false;         // the multishot recv is active
  bool recv_cancel_pending = false;  // paused: its cancel is on its way
  bool closing = false;            // waiting for requests in flight to end
};

// Called with the bytes of each completed recv; appends what to send back
// to `connection.out`, or returns false to close the connection.
using UringOnRead = bool (*)(UringConnection& connection,
                             std::string_view data);

// Listens on host:port, prints the "listening on" line as `what` and runs
// forever. `no_delay` sets TCP_NODELAY on accepted connections. Returns 1
// when listening or setting up io_uring fails (with the reason on stderr).
int RunUringServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, UringOnRead on_read);

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_URING_LOOP_H_
