// Goal: the echo and hello examples run with --threads=2 (and hello with
// --threads=1, the single-reactor path) as their own processes on
// loopback, on epoll and with --backend=uring: they say so, serve every
// connection (several connections, so both reactors take part in all
// likelihood, though the kernel's choice is not checked here:
// tests/reactor/group does that), and exit when SIGTERM asks every reactor
// to drain. --threads=0 and an unknown --backend are refused with a clear
// message. Started with a low soft descriptor limit, both raise it to the
// hard limit. Fails (never skips) when curl is missing.

#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "reactor/reactor.h"
#include "tests/common/subprocess.h"

namespace ember::examples {
namespace {

using testing_support::ChildProcess;
using testing_support::FindProgram;
using testing_support::RunProgram;

std::string Binary(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  EXPECT_NE(srcdir, nullptr);
  EXPECT_NE(workspace, nullptr);
  return absl::StrCat(srcdir, "/", workspace, "/", path);
}

// Starts `binary --host=127.0.0.1 --port=0 --threads=<threads>
// --backend=<backend>`; returns the port from its "listening on
// 127.0.0.1:<port> ..." line, which says "(2 threads, ..." for two.
int StartWithThreads(const std::string& binary, int threads,
                     std::unique_ptr<ChildProcess>* child,
                     const std::string& backend = "epoll") {
  auto started = ChildProcess::Start(
      {Binary(binary), "--host=127.0.0.1", "--port=0",
       absl::StrCat("--threads=", threads),
       absl::StrCat("--backend=", backend)});
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return 0;
  *child = std::move(*started);
  auto line = (*child)->ReadLine(absl::Seconds(20));
  EXPECT_TRUE(line.ok()) << line.status();
  if (!line.ok()) return 0;
  EXPECT_EQ(line->find(absl::StrCat("(", threads, " threads")) !=
                std::string::npos,
            threads > 1)
      << *line;
  const size_t at = line->find("127.0.0.1:");
  EXPECT_NE(at, std::string::npos) << *line;
  if (at == std::string::npos) return 0;
  const std::string rest = line->substr(at + 10);
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(AbslView(rest.substr(0, rest.find(' '))), &port))
      << *line;
  return port;
}

// SIGTERM drains every reactor; the process then exits, closing its stdout.
void ExpectExitOnSigterm(ChildProcess& child) {
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  auto line = child.ReadLine(absl::Seconds(20));
  ASSERT_FALSE(line.ok()) << "unexpected output: " << *line;
  EXPECT_EQ(line.status().code(), absl::StatusCode::kUnavailable)
      << line.status();
}

class EchoClient : public Connection {
 public:
  EchoClient(std::string message, std::string* got)
      : message_(std::move(message)), got_(got) {}
  void ConnectionCompleted() override { SendData(message_).IgnoreError(); }
  void ReceiveData(std::string_view data) override { got_->append(data); }

 private:
  std::string message_;
  std::string* got_;
};

class EchoBackendTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EchoBackendTest, EchoServerWithTwoThreadsEchoesEveryConnection) {
  std::unique_ptr<ChildProcess> server;
  const int port =
      StartWithThreads("examples/echo/server", 2, &server, GetParam());
  ASSERT_NE(port, 0);

  constexpr int kConnections = 32;
  std::vector<std::string> got(kConnections);
  auto net = io::EpollNetwork::Create();
  ASSERT_TRUE(net.ok());
  Reactor client(**net);
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(client
                    .Connect("127.0.0.1", static_cast<uint16_t>(port),
                             std::make_unique<EchoClient>(
                                 absl::StrCat("line ", i, "\n"), &got[i]))
                    .ok());
  }
  auto all_echoed = [&] {
    for (int i = 0; i < kConnections; ++i) {
      if (got[i] != absl::StrCat("line ", i, "\n")) return false;
    }
    return true;
  };
  const absl::Time limit = client.Now() + absl::Seconds(30);
  while (!all_echoed() && client.Now() < limit) {
    ASSERT_TRUE(client.RunOnce(client.Now() + absl::Milliseconds(10)).ok());
  }
  for (int i = 0; i < kConnections; ++i) {
    EXPECT_EQ(got[i], absl::StrCat("line ", i, "\n"));
  }
  ExpectExitOnSigterm(*server);
}

INSTANTIATE_TEST_SUITE_P(Backends, EchoBackendTest,
                         ::testing::Values("epoll", "uring"));

// With 1 thread, the single-reactor path, which must work as before; each
// on both backends.
class HelloThreadsTest
    : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(HelloThreadsTest, AnswersEveryRequestAndExitsOnSigterm) {
  auto curl = FindProgram("curl");
  ASSERT_TRUE(curl.ok()) << curl.status();
  std::unique_ptr<ChildProcess> server;
  const int port =
      StartWithThreads("examples/http/hello", std::get<0>(GetParam()),
                       &server, std::get<1>(GetParam()));
  ASSERT_NE(port, 0);

  // One connection per request (Connection: close), 16 of them.
  constexpr int kRequests = 16;
  std::vector<std::string> args = {*curl, "-sS", "-H", "Connection: close"};
  for (int i = 0; i < kRequests; ++i) {
    args.push_back(absl::StrCat("http://127.0.0.1:", port, "/"));
  }
  auto r = RunProgram(args, absl::Seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  std::string expected;
  for (int i = 0; i < kRequests; ++i) expected += "Hello, World!";
  EXPECT_EQ(r->out, expected);
  ExpectExitOnSigterm(*server);
}

INSTANTIATE_TEST_SUITE_P(
    OneAndTwo, HelloThreadsTest,
    ::testing::Combine(::testing::Values(1, 2),
                       ::testing::Values(std::string("epoll"),
                                         std::string("uring"))));

// The soft limit on open descriptors of process `pid` (/proc/PID/limits),
// or 0 when it cannot be read.
uint64_t SoftDescriptorLimit(pid_t pid) {
  std::ifstream limits(absl::StrCat("/proc/", pid, "/limits"));
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::vector<std::string> words =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t soft = 0;
    if (words.size() >= 4 && absl::SimpleAtoi(words[3], &soft)) return soft;
  }
  return 0;
}

// Sets this process's soft descriptor limit (which children inherit) for
// the scope, then puts it back.
class SoftDescriptorLimitFor {
 public:
  explicit SoftDescriptorLimitFor(rlim_t soft) {
    EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &original_), 0);
    rlimit lowered = original_;
    lowered.rlim_cur = soft;
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  ~SoftDescriptorLimitFor() { setrlimit(RLIMIT_NOFILE, &original_); }
  rlim_t hard() const { return original_.rlim_max; }

 private:
  rlimit original_{};
};

TEST(ThreadsExamplesTest, ServersRaiseASoftDescriptorLimitToTheHardOne) {
  for (const char* binary : {"examples/echo/server", "examples/http/hello"}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(absl::StrCat(binary, " --threads=", threads));
      std::unique_ptr<ChildProcess> server;
      rlim_t hard = 0;
      {
        SoftDescriptorLimitFor low(256);
        ASSERT_GT(low.hard(), rlim_t{256}) << "no room to test in";
        hard = low.hard();
        ASSERT_NE(StartWithThreads(binary, threads, &server), 0);
      }
      // Raised before it listens, so by its "listening on" line.
      const uint64_t wanted =
          hard == RLIM_INFINITY ? uint64_t{1} << 20
                                : std::min<uint64_t>(hard, uint64_t{1} << 20);
      EXPECT_EQ(SoftDescriptorLimit(server->pid()), wanted);
      ExpectExitOnSigterm(*server);
    }
  }
}

// Both examples, given `flag`, exit with `exit_code` and say `message`.
void ExpectBothRefuse(const std::string& flag, int exit_code,
                      const std::string& message) {
  for (const char* binary : {"examples/echo/server", "examples/http/hello"}) {
    SCOPED_TRACE(binary);
    auto r = RunProgram({Binary(binary), "--port=0", flag}, absl::Seconds(20));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, exit_code);
    EXPECT_NE(r->err.find(message), std::string::npos) << r->err;
  }
}

TEST(ThreadsExamplesTest, ZeroThreadsIsRefused) {
  ExpectBothRefuse("--threads=0", 2, "--threads must be at least 1");
}

// Refused while the flags are parsed, as Abseil refuses a bad value.
TEST(ThreadsExamplesTest, AnUnknownBackendIsRefused) {
  ExpectBothRefuse("--backend=kqueue", 1, "must be epoll or uring");
}

}  // namespace
}  // namespace ember::examples
