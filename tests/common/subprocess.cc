#include "tests/common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "io/absl_compat.h"

extern char** environ;

namespace ember::testing_support {
namespace {

absl::Status Errno(std::string_view what) {
  return absl::InternalError(
      absl::StrCat(AbslView(what), ": ", std::strerror(errno)));
}

int PollMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// Starts argv with stdin from /dev/null, stdout to `out_fd`, stderr to
// `err_fd` (or the test's own when -1).
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd,
                            int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return Errno(absl::StrCat("spawn ", argv[0]));
  }
  return pid;
}

// Waits for `pid` to exit until `deadline`. Returns its wait status, or -1
// if it is still running.
int WaitUntil(pid_t pid, absl::Time deadline) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return 0;
    if (absl::Now() >= deadline) {
      if (pidfd >= 0) close(pidfd);
      return -1;
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, PollMs(deadline));
    } else {
      poll(nullptr, 0, 10);  // No pidfd (old kernel): check again shortly.
    }
  }
  if (pidfd >= 0) close(pidfd);
  return status;
}

}  // namespace

absl::StatusOr<std::string> FindProgram(std::string_view name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    for (absl::string_view dir : absl::StrSplit(path, ':')) {
      if (!dir.empty()) dirs.emplace_back(dir);
    }
  }
  dirs.push_back("/usr/bin");
  dirs.push_back("/bin");
  for (const std::string& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", AbslView(name));
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat(AbslView(name),
                   " is not installed; ./bazelw installs it (Debian package ",
                   AbslView(name), ")"));
}

absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                         absl::Duration timeout) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe");
  absl::StatusOr<pid_t> pid = Spawn(argv, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (!pid.ok()) {
    close(out[0]);
    close(err[0]);
    return pid.status();
  }
  ProgramResult result;
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (absl::Now() >= deadline) {
      result.timed_out = true;
      break;
    }
    if (poll(fds, 2, PollMs(deadline)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (pollfd& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (result.timed_out) kill(*pid, SIGKILL);
  const int status = WaitUntil(*pid, absl::Now() + absl::Seconds(5));
  if (status == -1) {
    kill(*pid, SIGKILL);
    WaitUntil(*pid, absl::Now() + absl::Seconds(5));
  } else if (WIFEXITED(status) && !result.timed_out) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  absl::StatusOr<pid_t> pid = Spawn(argv, out[1], -1);
  close(out[1]);
  if (!pid.ok()) {
    close(out[0]);
    return pid.status();
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid, out[0]));
}

ChildProcess::~ChildProcess() {
  close(out_fd_);
  kill(pid_, SIGTERM);
  if (WaitUntil(pid_, absl::Now() + absl::Seconds(5)) == -1) {
    kill(pid_, SIGKILL);
    WaitUntil(pid_, absl::Now() + absl::Seconds(5));
  }
}

absl::StatusOr<std::string> ChildProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no line from pid ", pid_, " within ",
                       absl::FormatDuration(timeout), "; got: ", buffer_));
    }
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, PollMs(deadline)) <= 0) continue;
    const ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("pid ", pid_, " closed its output; got: ", buffer_));
    }
    if (n > 0) buffer_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace ember::testing_support
