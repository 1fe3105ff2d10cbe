// A TCP server on libevent, written as libevent's users write one: an
// evconnlistener and a bufferevent per connection, its read callback moving
// bytes from the input evbuffer to the output evbuffer. A connection stops
// reading while 1 MiB or more waits in its output (a write low-water
// callback starts it again), so a slow reader cannot grow its queue.

#ifndef EMBER_BENCH_PEERS_LIBEVENT_SERVER_H_
#define EMBER_BENCH_PEERS_LIBEVENT_SERVER_H_

#include <event2/buffer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ember::bench {

// Called when bytes have arrived in `input`; moves or drains what it uses
// and appends the answer to `output`. Returns false to close the connection.
using EventOnRead = bool (*)(evbuffer* input, evbuffer* output);

// Listens on host:port, prints the "listening on" line as `what` and runs
// the event base. Returns 1 when listening fails.
int RunEventServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, EventOnRead on_read);

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_LIBEVENT_SERVER_H_
