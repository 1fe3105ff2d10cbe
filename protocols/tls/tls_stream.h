// TLS on a coroutine stream (reactor/coro/stream.h).
//
//   absl::StatusOr<ember::Stream> stream = co_await ember::Connect(host, 443);
//   ...
//   EMBER_CO_RETURN_IF_ERROR(ember::tls::StartTls(*stream, client_context));
//   EMBER_CO_RETURN_IF_ERROR(co_await stream->Handshake());
//   // Reads and writes are plaintext from here on.
//
// The same works mid-stream, after a plaintext exchange (STARTTLS), and on
// an accepted stream with a server context.

#ifndef EMBER_PROTOCOLS_TLS_TLS_STREAM_H_
#define EMBER_PROTOCOLS_TLS_TLS_STREAM_H_

#include <memory>

#include "absl/status/status.h"
#include "protocols/tls/tls_connection.h"
#include "reactor/coro/stream.h"

namespace ember::tls {

// Starts TLS on `stream`'s connection (StartTls on Connection: a client
// context verifies options.server_name). kFailedPrecondition when the
// stream is empty or its connection has ended; StartTls's errors otherwise.
// Await `stream.Handshake()` for the outcome.
absl::Status StartTls(Stream& stream, std::shared_ptr<const TlsContext> context,
                      const TlsSessionOptions& options = {});

}  // namespace ember::tls

#endif  // EMBER_PROTOCOLS_TLS_TLS_STREAM_H_
