#include "bench/peers/peer_flags.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember::bench {
namespace {

[[noreturn]] void Usage(std::string_view usage, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "%.*s\n  --host=IPV4   address to listen on (127.0.0.1)\n"
               "  --port=N      port to listen on (0 picks a free one)\n",
               static_cast<int>(usage.size()), usage.data());
  std::exit(status);
}

}  // namespace

PeerFlags ParsePeerFlags(int argc, char** argv, std::string_view usage,
                         uint16_t default_port) {
  PeerFlags flags{"127.0.0.1", default_port};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") Usage(usage, 0);
    if (arg.substr(0, 7) == "--host=") {
      flags.host = std::string(arg.substr(7));
      in_addr unused;
      if (inet_pton(AF_INET, flags.host.c_str(), &unused) != 1) {
        std::fprintf(stderr, "--host must be an IPv4 literal, not %s\n",
                     flags.host.c_str());
        Usage(usage, 2);
      }
    } else if (arg.substr(0, 7) == "--port=") {
      std::string_view value = arg.substr(7);
      unsigned port = 0;
      auto [end, error] =
          std::from_chars(value.data(), value.data() + value.size(), port);
      if (error != std::errc() || end != value.data() + value.size() ||
          value.empty() || port > 65535) {
        std::fprintf(stderr, "--port takes 0 to 65535, not %s\n",
                     std::string(value).c_str());
        Usage(usage, 2);
      }
      flags.port = static_cast<uint16_t>(port);
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", argv[i]);
      Usage(usage, 2);
    }
  }
  return flags;
}

void PrintListening(std::string_view what, const std::string& host,
                    uint16_t port) {
  std::printf("%.*s listening on %s:%u (Ctrl-C to stop)\n",
              static_cast<int>(what.size()), what.data(), host.c_str(),
              static_cast<unsigned>(port));
  std::fflush(stdout);
}

uint16_t BoundPort(int listen_fd) {
  sockaddr_in address;
  socklen_t length = sizeof address;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address),
                  &length) != 0) {
    std::perror("getsockname");
    std::exit(1);
  }
  return ntohs(address.sin_port);
}

void SetNoDelay(int fd) {
  const int on = 1;
  // Best effort, as in Ember's echo server.
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

}  // namespace ember::bench
