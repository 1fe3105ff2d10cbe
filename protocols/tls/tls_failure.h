// What went wrong with a TLS connection, in a form a program can test.
//
// Every TLS failure Ember reports is an `absl::Status` whose code says what
// the caller should do (see the table below) and whose payload names the
// precise failure as a `TlsFailure`. `TlsFailureOf(status)` reads it back, so
// a handler's `Unbind` can tell an expired certificate from a name mismatch
// without parsing messages:
//
//   void Unbind(const UnbindReason& reason) override {
//     if (TlsFailureOf(reason.status) == TlsFailure::kExpiredCertificate) ...
//   }
//
// Codes:
//   kUnauthenticated    the peer's certificate failed verification (untrusted
//                       chain, wrong name, expired, rejected by the verify
//                       hook, missing) or the peer rejected ours.
//   kFailedPrecondition the two sides share no version, cipher, group,
//                       signature algorithm or ALPN protocol: retrying with
//                       the same configuration cannot succeed.
//   kInvalidArgument    the peer sent bytes that are not TLS, or broke the
//                       protocol.
//   kDeadlineExceeded   the handshake did not finish in time.
//   kDataLoss           the stream ended inside a record, or without
//                       close_notify: the data may have been cut short.
//   kUnavailable        the peer closed the stream during the handshake.

#ifndef EMBER_PROTOCOLS_TLS_TLS_FAILURE_H_
#define EMBER_PROTOCOLS_TLS_TLS_FAILURE_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace ember::tls {

enum class TlsFailure : uint8_t {
  kNone = 0,                // Not a TLS failure (or OK).
  kUntrustedCertificate,    // The chain does not lead to a trusted root.
  kNameMismatch,            // The certificate is for another name or IP.
  kExpiredCertificate,      // notAfter lies in the past (backend clock).
  kCertificateNotYetValid,  // notBefore lies in the future.
  kBadCertificate,          // Any other verification error.
  kRejectedByVerifyHook,    // The chain passed; the application's hook did not.
  kPeerCertificateMissing,  // A certificate was required and none came.
  kRejectedByPeer,          // The peer refused our certificate (an alert).
  kVersionMismatch,         // No TLS version both sides allow.
  kNoCommonParameters,      // No shared cipher, group, signature or ALPN.
  kMalformedInput,          // Bytes that are not TLS records.
  kProtocolError,           // Well-formed records breaking the protocol.
  kHandshakeTimeout,        // The handshake did not finish in time.
  kTruncated,               // The stream ended inside a record.
  kNoCloseNotify,           // The stream ended between records, unannounced.
  kClosedDuringHandshake,   // The stream ended before the handshake finished.
};

std::string_view TlsFailureName(TlsFailure failure);

// The status code Ember uses for `failure` (see the file comment).
absl::StatusCode TlsFailureCode(TlsFailure failure);

// A status with TlsFailureCode(failure), `message`, and `failure` attached.
absl::Status MakeTlsError(TlsFailure failure, std::string_view message);

// The failure attached to `status`, or kNone when there is none.
TlsFailure TlsFailureOf(const absl::Status& status);

}  // namespace ember::tls

#endif  // EMBER_PROTOCOLS_TLS_TLS_FAILURE_H_
