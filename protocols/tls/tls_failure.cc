#include "protocols/tls/tls_failure.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"

namespace ember::tls {
namespace {

constexpr std::string_view kPayloadUrl = "type.ember/tls.failure";

constexpr TlsFailure kAll[] = {
    TlsFailure::kUntrustedCertificate,   TlsFailure::kNameMismatch,
    TlsFailure::kExpiredCertificate,     TlsFailure::kCertificateNotYetValid,
    TlsFailure::kBadCertificate,         TlsFailure::kRejectedByVerifyHook,
    TlsFailure::kPeerCertificateMissing, TlsFailure::kRejectedByPeer,
    TlsFailure::kVersionMismatch,        TlsFailure::kNoCommonParameters,
    TlsFailure::kMalformedInput,         TlsFailure::kProtocolError,
    TlsFailure::kHandshakeTimeout,       TlsFailure::kTruncated,
    TlsFailure::kNoCloseNotify,          TlsFailure::kClosedDuringHandshake,
};

}  // namespace

std::string_view TlsFailureName(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::kNone:
      return "none";
    case TlsFailure::kUntrustedCertificate:
      return "untrusted certificate";
    case TlsFailure::kNameMismatch:
      return "name mismatch";
    case TlsFailure::kExpiredCertificate:
      return "expired certificate";
    case TlsFailure::kCertificateNotYetValid:
      return "certificate not yet valid";
    case TlsFailure::kBadCertificate:
      return "bad certificate";
    case TlsFailure::kRejectedByVerifyHook:
      return "rejected by verify hook";
    case TlsFailure::kPeerCertificateMissing:
      return "peer certificate missing";
    case TlsFailure::kRejectedByPeer:
      return "rejected by peer";
    case TlsFailure::kVersionMismatch:
      return "version mismatch";
    case TlsFailure::kNoCommonParameters:
      return "no common parameters";
    case TlsFailure::kMalformedInput:
      return "malformed input";
    case TlsFailure::kProtocolError:
      return "protocol error";
    case TlsFailure::kHandshakeTimeout:
      return "handshake timeout";
    case TlsFailure::kTruncated:
      return "truncated";
    case TlsFailure::kNoCloseNotify:
      return "no close_notify";
    case TlsFailure::kClosedDuringHandshake:
      return "closed during handshake";
  }
  return "unknown";
}

absl::StatusCode TlsFailureCode(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::kNone:
      return absl::StatusCode::kOk;
    case TlsFailure::kUntrustedCertificate:
    case TlsFailure::kNameMismatch:
    case TlsFailure::kExpiredCertificate:
    case TlsFailure::kCertificateNotYetValid:
    case TlsFailure::kBadCertificate:
    case TlsFailure::kRejectedByVerifyHook:
    case TlsFailure::kPeerCertificateMissing:
    case TlsFailure::kRejectedByPeer:
      return absl::StatusCode::kUnauthenticated;
    case TlsFailure::kVersionMismatch:
    case TlsFailure::kNoCommonParameters:
      return absl::StatusCode::kFailedPrecondition;
    case TlsFailure::kMalformedInput:
    case TlsFailure::kProtocolError:
      return absl::StatusCode::kInvalidArgument;
    case TlsFailure::kHandshakeTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case TlsFailure::kTruncated:
    case TlsFailure::kNoCloseNotify:
      return absl::StatusCode::kDataLoss;
    case TlsFailure::kClosedDuringHandshake:
      return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status MakeTlsError(TlsFailure failure, std::string_view message) {
  absl::Status status(TlsFailureCode(failure),
                      absl::StrCat("TLS ", AbslView(TlsFailureName(failure)),
                                   ": ", AbslView(message)));
  status.SetPayload(AbslView(kPayloadUrl),
                    absl::Cord(std::string(TlsFailureName(failure))));
  return status;
}

TlsFailure TlsFailureOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(AbslView(kPayloadUrl));
  if (!payload.has_value()) return TlsFailure::kNone;
  const std::string name(*payload);
  for (TlsFailure failure : kAll) {
    if (TlsFailureName(failure) == name) return failure;
  }
  return TlsFailure::kNone;
}

}  // namespace ember::tls
