#include "protocols/tls/tls_stream.h"

#include <utility>

namespace ember::tls {

absl::Status StartTls(Stream& stream, std::shared_ptr<const TlsContext> context,
                      const TlsSessionOptions& options) {
  Connection* connection = stream.connection();
  if (connection == nullptr) {
    return absl::FailedPreconditionError(
        "StartTls on a stream whose connection has ended (or an empty one)");
  }
  return StartTls(*connection, std::move(context), options);
}

}  // namespace ember::tls
