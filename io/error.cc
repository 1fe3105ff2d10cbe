#include "io/error.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"

namespace ember::io {
namespace {

constexpr std::string_view kKindPayloadUrl = "type.ember.dev/io.ErrorKind";

absl::StatusCode CodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone:
      return absl::StatusCode::kOk;
    case ErrorKind::kRefused:
    case ErrorKind::kReset:
    case ErrorKind::kUnreachable:
      return absl::StatusCode::kUnavailable;
    case ErrorKind::kTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorKind::kAddressInUse:
      return absl::StatusCode::kAlreadyExists;
    case ErrorKind::kAddressInvalid:
      return absl::StatusCode::kInvalidArgument;
    case ErrorKind::kNoResources:
      return absl::StatusCode::kResourceExhausted;
    case ErrorKind::kNameNotFound:
      return absl::StatusCode::kNotFound;
    case ErrorKind::kNameLookupFailed:
      return absl::StatusCode::kUnavailable;
    case ErrorKind::kClosed:
      return absl::StatusCode::kCancelled;
    case ErrorKind::kPermissionDenied:
      return absl::StatusCode::kPermissionDenied;
    case ErrorKind::kOther:
      return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kUnknown;
}

ErrorKind KindForErrno(int e) {
  switch (e) {
    case ECONNREFUSED:
      return ErrorKind::kRefused;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return ErrorKind::kReset;
    case ETIMEDOUT:
      return ErrorKind::kTimedOut;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return ErrorKind::kUnreachable;
    case EADDRINUSE:
      return ErrorKind::kAddressInUse;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
    case EINVAL:
    case ENAMETOOLONG:
    case ENOENT:
      return ErrorKind::kAddressInvalid;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return ErrorKind::kNoResources;
    case EACCES:
    case EPERM:
      return ErrorKind::kPermissionDenied;
    default:
      return ErrorKind::kOther;
  }
}

std::string_view ErrnoName(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETDOWN: return "ENETDOWN";
    case EHOSTDOWN: return "EHOSTDOWN";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOENT: return "ENOENT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBADF: return "EBADF";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    default: return "";
  }
}

}  // namespace

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone: return "none";
    case ErrorKind::kRefused: return "refused";
    case ErrorKind::kReset: return "reset";
    case ErrorKind::kTimedOut: return "timed out";
    case ErrorKind::kUnreachable: return "unreachable";
    case ErrorKind::kAddressInUse: return "address in use";
    case ErrorKind::kAddressInvalid: return "address invalid";
    case ErrorKind::kNoResources: return "no resources";
    case ErrorKind::kNameNotFound: return "name not found";
    case ErrorKind::kNameLookupFailed: return "name lookup failed";
    case ErrorKind::kClosed: return "closed";
    case ErrorKind::kPermissionDenied: return "permission denied";
    case ErrorKind::kOther: return "other";
  }
  return "unknown";
}

absl::Status MakeError(ErrorKind kind, std::string_view what,
                       std::string_view detail) {
  if (kind == ErrorKind::kNone) return absl::OkStatus();
  absl::Status status(CodeFor(kind),
                      absl::StrCat(AbslView(what), ": ", AbslView(detail)));
  status.SetPayload(AbslView(kKindPayloadUrl),
                    absl::Cord(std::to_string(static_cast<int>(kind))));
  return status;
}

absl::Status ErrnoError(int os_errno, std::string_view what) {
  char buf[128];
  // GNU strerror_r returns the message pointer (possibly not `buf`).
  const char* text = strerror_r(os_errno, buf, sizeof(buf));
  std::string_view name = ErrnoName(os_errno);
  std::string detail =
      name.empty() ? absl::StrCat(text, " (errno ", os_errno, ")")
                   : absl::StrCat(text, " (", AbslView(name), ")");
  return MakeError(KindForErrno(os_errno), what, detail);
}

ErrorKind KindOf(const absl::Status& status) {
  if (status.ok()) return ErrorKind::kNone;
  auto payload = status.GetPayload(AbslView(kKindPayloadUrl));
  if (!payload.has_value()) return ErrorKind::kNone;
  int value = 0;
  for (char c : std::string(*payload)) {
    if (c < '0' || c > '9') return ErrorKind::kNone;
    value = value * 10 + (c - '0');
  }
  if (value <= 0 || value > static_cast<int>(ErrorKind::kOther)) {
    return ErrorKind::kNone;
  }
  return static_cast<ErrorKind>(value);
}

}  // namespace ember::io
