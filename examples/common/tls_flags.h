// The --tls_cert and --tls_key flags of the example servers that can speak
// TLS, and the server TlsContext they describe.

#ifndef EMBER_EXAMPLES_COMMON_TLS_FLAGS_H_
#define EMBER_EXAMPLES_COMMON_TLS_FLAGS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocols/tls/tls_context.h"

namespace ember::examples {

// The server TLS context the --tls_cert and --tls_key flags ask for:
// nullptr when neither is set; kInvalidArgument when only one is, or the
// files do not hold a matching PEM certificate and key.
absl::StatusOr<std::shared_ptr<const tls::TlsContext>> ServerTlsFromFlags(
    std::vector<std::string> alpn_protocols = {});

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_COMMON_FLAGS_H_
