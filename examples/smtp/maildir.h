// Delivering a message into a Maildir folder (tmp/, new/, cur/), so that a
// reader never sees a partial message and a message once delivered survives
// a crash: the file is written in tmp/, fsync'd, renamed into new/, and
// new/ itself is fsync'd so the rename is on disk. Blocking file I/O: the
// sink runs it through io::Network::Offload, off the reactor's thread.

#ifndef EMBER_EXAMPLES_SMTP_MAILDIR_H_
#define EMBER_EXAMPLES_SMTP_MAILDIR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ember::examples {

// Creates `root` and its tmp/, new/ and cur/ (those that are missing).
absl::Status PrepareMaildir(const std::string& root);

// Writes `message` as new/<unique_name> through tmp/<unique_name>; returns
// the final path once it is durable. On failure nothing is left in new/
// (a file may remain in tmp/, which Maildir readers ignore).
absl::StatusOr<std::string> DeliverToMaildir(const std::string& root,
                                             const std::string& unique_name,
                                             std::string_view message);

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_SMTP_MAILDIR_H_
