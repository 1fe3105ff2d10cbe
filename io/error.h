// Error classification for the I/O interface.
//
// Every failure crossing `io/` is an `absl::Status`. The status code says what
// the caller should do (Abseil's guidance): a reset or refusal is
// `kUnavailable` (try again elsewhere or later), a timeout is
// `kDeadlineExceeded`, a limit is `kResourceExhausted`, a local close is
// `kCancelled`, bad input is `kInvalidArgument`. Callers that need to tell a
// refusal from a reset (the reactor's unbind reasons do) read the `ErrorKind`
// that backends attach as a status payload. The OS error, where there is one,
// stays in the message ("connect 127.0.0.1:1: Connection refused (ECONNREFUSED)").

#ifndef EMBER_IO_ERROR_H_
#define EMBER_IO_ERROR_H_

#include <string_view>

#include "absl/status/status.h"

namespace ember::io {

enum class ErrorKind : int {
  kNone = 0,          // Not an I/O error (OK, or a status made elsewhere).
  kRefused,           // Nobody listens at the address (ECONNREFUSED).
  kReset,             // The peer or the network reset the connection.
  kTimedOut,          // A connect or other operation ran out of time.
  kUnreachable,       // No route, network down, host unreachable.
  kAddressInUse,      // Bind or listen on an address already taken.
  kAddressInvalid,    // The address cannot be used (bad family, bad path).
  kNoResources,       // Out of descriptors, buffers or memory (EMFILE, ...).
  kNameNotFound,      // The name does not exist, or has no address.
  kNameLookupFailed,  // Resolution failed for now (EAI_AGAIN, a server
                      // failure): the name may exist; try again later.
  kClosed,            // The object was closed locally.
  kPermissionDenied,  // EACCES, EPERM.
  kOther,             // Anything else; the message says what.
};

std::string_view ErrorKindName(ErrorKind kind);

// Builds a status of the code that fits `kind`, with `kind` attached, and
// message "<what>: <detail>".
absl::Status MakeError(ErrorKind kind, std::string_view what,
                       std::string_view detail);

// Builds the status for an OS error number, classifying it, with message
// "<what>: <strerror> (<ERRNAME>)".
absl::Status ErrnoError(int os_errno, std::string_view what);

// The kind attached by MakeError/ErrnoError; kNone for OK and for statuses
// made without one.
ErrorKind KindOf(const absl::Status& status);

}  // namespace ember::io

#endif  // EMBER_IO_ERROR_H_
