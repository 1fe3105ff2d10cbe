// Goal: I/O errors map to the unbind kinds users switch on, by the error
// kind the backend attached, not by parsing messages.

#include <cerrno>

#include "gtest/gtest.h"
#include "io/error.h"
#include "reactor/connection.h"

namespace ember {
namespace {

TEST(UnbindReasonTest, ErrnoErrorsMapToKinds) {
  EXPECT_EQ(UnbindKindFor(io::ErrnoError(ECONNREFUSED, "connect")),
            UnbindKind::kRefused);
  EXPECT_EQ(UnbindKindFor(io::ErrnoError(ECONNRESET, "read")),
            UnbindKind::kReset);
  EXPECT_EQ(UnbindKindFor(io::ErrnoError(ETIMEDOUT, "connect")),
            UnbindKind::kTimedOut);
  EXPECT_EQ(UnbindKindFor(io::ErrnoError(EHOSTUNREACH, "connect")),
            UnbindKind::kUnreachable);
  EXPECT_EQ(UnbindKindFor(io::MakeError(io::ErrorKind::kNameNotFound, "resolve",
                                        "no such host")),
            UnbindKind::kNameNotFound);
  EXPECT_EQ(UnbindKindFor(absl::InternalError("other")), UnbindKind::kError);
}

TEST(UnbindReasonTest, ToStringNamesKindAndStatus) {
  UnbindReason reason{UnbindKind::kRefused,
                      io::ErrnoError(ECONNREFUSED, "connect 127.0.0.1:1")};
  EXPECT_EQ(reason.ToString().substr(0, 9), "refused (");
  EXPECT_NE(reason.ToString().find("ECONNREFUSED"), std::string::npos);
  EXPECT_EQ(UnbindReason{}.ToString(), "closed locally");
}

}  // namespace
}  // namespace ember
