// Assertion and status-propagation macros used throughout Ember.
//
// Abseil 20220623 (the version Debian ships) has neither `ABSL_CHECK` nor a
// status-return macro, so Ember defines each once, here, at the lowest layer.
//
// EMBER_CHECK is for bugs only: a broken invariant inside Ember or a caller
// violating a documented precondition. It is never used for anything a peer,
// the operating system or the simulator's fault plan controls; those are
// reported as `absl::Status`.

#ifndef EMBER_IO_CHECK_H_
#define EMBER_IO_CHECK_H_

#include "absl/base/optimization.h"

namespace ember::internal {

// Prints "file:line: EMBER_CHECK failed: condition" (and the message, if any)
// to stderr and aborts. Never returns.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const char* message);

}  // namespace ember::internal

// Aborts with a diagnostic when `cond` is false. Always on, also in optimised
// builds: an invariant that is wrong in production is worth a crash report.
#define EMBER_CHECK(cond)                                                   \
  do {                                                                      \
    if (ABSL_PREDICT_FALSE(!(cond))) {                                      \
      ::ember::internal::CheckFailed(__FILE__, __LINE__, #cond, nullptr);   \
    }                                                                       \
  } while (false)

#define EMBER_CHECK_MSG(cond, msg)                                          \
  do {                                                                      \
    if (ABSL_PREDICT_FALSE(!(cond))) {                                      \
      ::ember::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg));     \
    }                                                                       \
  } while (false)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define EMBER_RETURN_IF_ERROR(expr)                                         \
  do {                                                                      \
    ::absl::Status ember_status_ = (expr);                                  \
    if (ABSL_PREDICT_FALSE(!ember_status_.ok())) return ember_status_;      \
  } while (false)

#define EMBER_INTERNAL_CONCAT_(a, b) a##b
#define EMBER_INTERNAL_CONCAT(a, b) EMBER_INTERNAL_CONCAT_(a, b)

// `EMBER_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());` declares or
// assigns `x` from the value, or returns the error status.
#define EMBER_ASSIGN_OR_RETURN(lhs, expr)                                   \
  EMBER_INTERNAL_ASSIGN_OR_RETURN_(                                         \
      EMBER_INTERNAL_CONCAT(ember_statusor_, __LINE__), lhs, expr)

#define EMBER_INTERNAL_ASSIGN_OR_RETURN_(tmp, lhs, expr)                    \
  auto tmp = (expr);                                                        \
  if (ABSL_PREDICT_FALSE(!tmp.ok())) return std::move(tmp).status();        \
  lhs = *std::move(tmp)

#endif  // EMBER_IO_CHECK_H_
