// BoringSSL callbacks shared by TlsContext (which installs them on its
// SSL_CTX) and TlsEngine (whose state they read and write). Private to
// protocols/tls.

#ifndef EMBER_PROTOCOLS_TLS_INTERNAL_CALLBACKS_H_
#define EMBER_PROTOCOLS_TLS_INTERNAL_CALLBACKS_H_

#include "openssl/base.h"
#include "protocols/tls/tls_context.h"

namespace ember::tls::internal {

// Installs the context-wide callbacks (time, SNI certificate choice, ALPN
// selection, client session capture) on `ctx`.
void InstallContextCallbacks(SSL_CTX* ctx, TlsRole role);

}  // namespace ember::tls::internal

#endif  // EMBER_PROTOCOLS_TLS_INTERNAL_CALLBACKS_H_
