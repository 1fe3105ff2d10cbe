// Running real programs (curl, python3) from tests that check Ember against
// peers it did not write. Every wait is bounded; nothing sleeps for a fixed
// time: output is awaited with poll(2) and exit with a pidfd.

#ifndef EMBER_TESTS_COMMON_SUBPROCESS_H_
#define EMBER_TESTS_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ember::testing_support {

// The full path of `name`, searched on PATH and then in /usr/bin and /bin;
// kNotFound with a message that says which package to install.
absl::StatusOr<std::string> FindProgram(std::string_view name);

struct ProgramResult {
  int exit_code = -1;  // -1 when killed by a signal or the timeout.
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a full path) to its end, with stdin from /dev/null,
// capturing stdout and stderr; kills it after `timeout`.
absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                         absl::Duration timeout);

// A program running in the background, its stdout piped to the test.
// Destroying it sends SIGTERM, then SIGKILL if it has not exited within 5 s.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv);
  ~ChildProcess();

  // The next line of stdout (without its newline), waiting at most
  // `timeout`; kDeadlineExceeded or kUnavailable (stdout closed) otherwise.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  pid_t pid_;
  int out_fd_;
  std::string buffer_;
};

}  // namespace ember::testing_support

#endif  // EMBER_TESTS_COMMON_SUBPROCESS_H_
