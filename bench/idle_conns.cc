// Opens many connections to a server and keeps them idle, so that a script
// can read the server's memory before and after (bench/compare.sh prints
// KiB per idle connection).
//
//   idle_conns --port=7000 --connections=10000 --protocol=echo
//   idle_conns --port=8080 --connections=10000 --protocol=http
//
// Each connection first completes one exchange, so the server has accepted
// it and served it once, as a keep-alive connection between requests:
// --protocol=echo sends --message_bytes bytes and reads them back;
// --protocol=http sends one `GET /` request and reads the whole response
// (its head, then a Content-Length body); --protocol=none only connects.
// The connections are opened one after another with blocking sockets (no
// more than one handshake waits in the server's backlog). Then it prints
//
//   idle: 10000 connections open
//
// and holds them for --hold, or until killed. It raises its own
// RLIMIT_NOFILE to the hard limit. Exit status: 1 when a connection or an
// exchange fails (the first failure is printed), 2 for invalid flags.

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "server address (IPv4 literal)");
ABSL_FLAG(int, port, 7000, "server port");
ABSL_FLAG(int, connections, 10000, "connections to open and hold");
ABSL_FLAG(std::string, protocol, "echo",
          "the one exchange each connection makes first: echo, http or none");
ABSL_FLAG(int, message_bytes, 64, "bytes of the echo exchange");
ABSL_FLAG(absl::Duration, hold, absl::Minutes(10),
          "how long to hold the connections open");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "the longest any connect, send or receive may take");

namespace {

[[noreturn]] void Fail(int index, const char* what) {
  std::fprintf(stderr, "idle_conns: connection %d: %s: %s\n", index, what,
               errno != 0 ? std::strerror(errno) : "unexpected reply");
  std::exit(1);
}

void SendAll(int fd, int index, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent,
                     MSG_NOSIGNAL);
    if (n <= 0) Fail(index, "send");
    sent += static_cast<size_t>(n);
  }
}

// Reads until `done` says the bytes so far are complete.
template <typename Done>
std::string ReceiveUntil(int fd, int index, Done done) {
  std::string in;
  char buffer[4096];
  while (!done(in)) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) errno = 0;
    if (n <= 0) Fail(index, "receive");
    in.append(buffer, static_cast<size_t>(n));
  }
  return in;
}

// True once `in` holds a whole response: a head and a Content-Length body.
bool WholeResponse(const std::string& in) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  size_t body_bytes = 0;
  std::string head = in.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(c));
  const size_t field = head.find("\r\ncontent-length:");
  if (field != std::string::npos) {
    size_t start = field + 17;
    size_t end = head.find("\r\n", start);
    std::string value = head.substr(start, end - start);
    uint64_t parsed = 0;
    if (!absl::SimpleAtoi(value, &parsed)) return true;  // checked below
    body_bytes = parsed;
  }
  return in.size() >= head_end + 4 + body_bytes;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int connections = absl::GetFlag(FLAGS_connections);
  const std::string protocol = absl::GetFlag(FLAGS_protocol);
  const int message_bytes = absl::GetFlag(FLAGS_message_bytes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  if (connections < 1 || message_bytes < 1 ||
      (protocol != "echo" && protocol != "http" && protocol != "none") ||
      inet_pton(AF_INET, absl::GetFlag(FLAGS_host).c_str(),
                &address.sin_addr) != 1) {
    std::fprintf(stderr, "idle_conns: invalid flags (see --help)\n");
    return 2;
  }

  rlimit files;
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < static_cast<rlim_t>(connections) + 16) {
    std::fprintf(stderr, "idle_conns: RLIMIT_NOFILE %llu is too low for %d\n",
                 static_cast<unsigned long long>(files.rlim_cur),
                 connections);
    return 2;
  }

  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  const timeval timeout_tv = absl::ToTimeval(timeout);
  const std::string message(static_cast<size_t>(message_bytes), 'i');
  const std::string request =
      "GET / HTTP/1.1\r\nHost: " + absl::GetFlag(FLAGS_host) + "\r\n\r\n";
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    errno = 0;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Fail(i, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout_tv, sizeof timeout_tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout_tv, sizeof timeout_tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
        0) {
      Fail(i, "connect");
    }
    if (protocol == "echo") {
      SendAll(fd, i, message);
      std::string echoed = ReceiveUntil(fd, i, [&](const std::string& in) {
        return in.size() >= message.size();
      });
      errno = 0;
      if (echoed != message) Fail(i, "echo");
    } else if (protocol == "http") {
      SendAll(fd, i, request);
      std::string response = ReceiveUntil(fd, i, WholeResponse);
      errno = 0;
      if (response.rfind("HTTP/1.1 200 ", 0) != 0) Fail(i, "http");
    }
    fds.push_back(fd);
  }
  std::printf("idle: %d connections open\n", connections);
  std::fflush(stdout);
  absl::SleepFor(absl::GetFlag(FLAGS_hold));
  for (int fd : fds) close(fd);
  return 0;
}
