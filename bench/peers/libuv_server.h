// A TCP server on libuv, written as libuv's users write one: a uv_tcp_t per
// connection, uv_read_start, and uv_try_write with uv_write for what the
// socket does not take at once. Reads go to one 64 KiB buffer shared by the
// loop (libuv calls the read callback before the next allocation, so nothing
// is kept there); what a connection still has to write is copied into its
// write request. While a connection has writes queued it stops reading, so a
// slow reader cannot grow its queue.
//
// A server that keeps state of its own per connection (a parser, say) hangs
// it on `handle.data`, which starts null, and frees it in its UvOnClose.

#ifndef EMBER_BENCH_PEERS_LIBUV_SERVER_H_
#define EMBER_BENCH_PEERS_LIBUV_SERVER_H_

#include <uv.h>

#include <string>
#include <string_view>

namespace ember::bench {

struct UvConnection {
  uv_tcp_t handle;
  std::string in;  // the start of a request not yet whole (HTTP only)
};

// Called with the bytes of each read; appends what to send back to `out`
// (empty on entry). Returns false to close the connection: it then reads
// no more, and closes once what `out` holds (if anything) is written.
using UvOnRead = bool (*)(UvConnection& connection, std::string_view data,
                          std::string& out);

// Called when a connection has closed, just before it is freed.
using UvOnClose = void (*)(UvConnection& connection);

// Listens on host:port, prints the "listening on" line as `what` and runs
// the default loop. Returns 1 when listening fails.
int RunUvServer(const std::string& host, uint16_t port, std::string_view what,
                bool no_delay, UvOnRead on_read,
                UvOnClose on_close = nullptr);

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_LIBUV_SERVER_H_
