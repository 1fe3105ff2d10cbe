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
// more than one handshake waits in the server's backlog). One source address
// makes at most as many connections to one server port as the ephemeral
// port range has ports (28,232 by default), so towards a loopback server
// connection i comes from 127.0.0.1 + i / --per_source (by default three
// quarters of the range: 100,000 connections come from five addresses).
// Once all are open it checks that the server has closed none of them (an
// HTTP server's keep-alive timeout could close the first before the last
// opens), then prints
//
//   idle: 10000 connections open from 1 source addresses in 3.1 s
//
// and holds them for --hold, or until killed. It raises its own
// RLIMIT_NOFILE to the hard limit. Exit status: 1 when a connection or an
// exchange fails, or the server closed a connection (the first failure is
// printed), 2 for invalid flags or too low a descriptor limit.

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
#include "bench/idle_sources.h"

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
ABSL_FLAG(int, per_source, 0,
          "connections from each source address towards a loopback server "
          "(127.0.0.1, then 127.0.0.2, ...); 0: three quarters of the "
          "ephemeral port range");

namespace {

// Says what failed and why: `why`, or else errno's text, or else that the
// server's answer was not the one expected.
[[noreturn]] void Fail(int index, const char* what,
                       const char* why = nullptr) {
  if (why == nullptr) {
    why = errno != 0 ? std::strerror(errno) : "unexpected reply";
  }
  std::fprintf(stderr, "idle_conns: connection %d: %s: %s\n", index, what,
               why);
  std::exit(1);
}

[[noreturn]] void Invalid(const std::string& why) {
  std::fprintf(stderr, "idle_conns: %s\n", why.c_str());
  std::exit(2);
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
    Invalid("invalid flags (see --help)");
  }
  const bool loopback = ember::bench::IsLoopback(address.sin_addr);
  const absl::StatusOr<int> per_source = ember::bench::ConnectionsPerSource(
      absl::GetFlag(FLAGS_per_source), connections, loopback,
      ember::bench::EphemeralPorts());
  if (!per_source.ok()) Invalid(std::string(per_source.status().message()));

  rlimit files;
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < static_cast<rlim_t>(connections) + 16) {
    Invalid("RLIMIT_NOFILE " + std::to_string(files.rlim_cur) +
            " is too low for " + std::to_string(connections));
  }

  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  const timeval timeout_tv = absl::ToTimeval(timeout);
  const std::string message(static_cast<size_t>(message_bytes), 'i');
  const std::string request =
      "GET / HTTP/1.1\r\nHost: " + absl::GetFlag(FLAGS_host) + "\r\n\r\n";
  const absl::Time start = absl::Now();
  int sources = 0;  // Source addresses, taken in turn.
  in_addr_t last_source = 0;
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    errno = 0;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Fail(i, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout_tv, sizeof timeout_tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout_tv, sizeof timeout_tv);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr = ember::bench::SourceAddress(i, *per_source);
    if (loopback) {
      // The port is chosen at connect, for this server's address and port,
      // not at bind for every destination.
      const int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
        Fail(i, "bind");
      }
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
        0) {
      Fail(i, "connect");
    }
    // The addresses counted are the ones the connections came from.
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
      Fail(i, "getsockname");
    }
    if (loopback && local.sin_addr.s_addr != source.sin_addr.s_addr) {
      Fail(i, "source address", "not the one bound");
    }
    if (i == 0 || local.sin_addr.s_addr != last_source) ++sources;
    last_source = local.sin_addr.s_addr;
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
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const absl::StatusOr<int> disturbed = ember::bench::FirstDisturbed(fds);
  if (!disturbed.ok()) {
    Fail(0, "idle check", std::string(disturbed.status().message()).c_str());
  }
  if (*disturbed >= 0) {
    Fail(*disturbed, "idle check",
         "closed by the server, or sent bytes unasked, before the last "
         "connection opened");
  }
  std::printf("idle: %d connections open from %d source addresses in %.1f s\n",
              connections, sources, seconds);
  std::fflush(stdout);
  absl::SleepFor(absl::GetFlag(FLAGS_hold));
  for (int fd : fds) close(fd);
  return 0;
}
