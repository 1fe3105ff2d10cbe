#include "bench/idle_sources.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ember::bench {
namespace {

using ::testing::HasSubstr;

std::string Text(in_addr address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

in_addr Parse(const char* text) {
  in_addr address{};
  EXPECT_EQ(inet_pton(AF_INET, text, &address), 1) << text;
  return address;
}

TEST(ConnectionsPerSourceTest, DefaultsToThreeQuartersOfTheRange) {
  // Linux's default range, 32768 to 60999.
  EXPECT_EQ(*ConnectionsPerSource(0, 100000, true, 28232), 21174);
  EXPECT_EQ(*ConnectionsPerSource(0, 100000, true, std::nullopt), 20000);
  EXPECT_EQ(*ConnectionsPerSource(0, 10, true, 1), 1);
}

TEST(ConnectionsPerSourceTest, TakesWhatIsAskedWithinTheRange) {
  EXPECT_EQ(*ConnectionsPerSource(25, 60, true, 28232), 25);
  EXPECT_EQ(*ConnectionsPerSource(28232, 60, true, 28232), 28232);
  EXPECT_EQ(*ConnectionsPerSource(50000, 60, true, std::nullopt), 50000);
}

TEST(ConnectionsPerSourceTest, RefusesWhatCannotWork) {
  absl::StatusOr<int> over = ConnectionsPerSource(28233, 60, true, 28232);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(), HasSubstr("28232 ephemeral ports"));

  EXPECT_EQ(ConnectionsPerSource(-1, 60, true, 28232).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Beyond one address, only a loopback server can be reached.
  absl::StatusOr<int> remote = ConnectionsPerSource(25, 60, false, 28232);
  EXPECT_EQ(remote.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(remote.status().message(), HasSubstr("loopback"));
  EXPECT_EQ(*ConnectionsPerSource(25, 25, false, 28232), 25);

  // 127.0.0.1 to 127.255.255.254: 2^24 - 2 sources at most.
  EXPECT_EQ(*ConnectionsPerSource(1, (1 << 24) - 2, true, 28232), 1);
  EXPECT_EQ(ConnectionsPerSource(1, (1 << 24) - 1, true, 28232).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SourceAddressTest, MovesToTheNextAddressEveryPerSource) {
  EXPECT_EQ(Text(SourceAddress(0, 25)), "127.0.0.1");
  EXPECT_EQ(Text(SourceAddress(24, 25)), "127.0.0.1");
  EXPECT_EQ(Text(SourceAddress(25, 25)), "127.0.0.2");
  EXPECT_EQ(Text(SourceAddress(74, 25)), "127.0.0.3");
  EXPECT_EQ(Text(SourceAddress(255, 1)), "127.0.1.0");
  EXPECT_EQ(Text(SourceAddress((1 << 24) - 3, 1)), "127.255.255.254");
}

TEST(IsLoopbackTest, AllOf127Slash8) {
  EXPECT_TRUE(IsLoopback(Parse("127.0.0.1")));
  EXPECT_TRUE(IsLoopback(Parse("127.255.255.254")));
  EXPECT_FALSE(IsLoopback(Parse("10.0.0.1")));
  EXPECT_FALSE(IsLoopback(Parse("128.0.0.1")));
  EXPECT_FALSE(IsLoopback(Parse("126.255.255.255")));
}

TEST(EphemeralPortsTest, ReadsTheRange) {
  // Linux always has the file; its range holds at least one port.
  std::optional<int> ports = EphemeralPorts();
  ASSERT_TRUE(ports.has_value());
  EXPECT_GE(*ports, 1);
  EXPECT_LE(*ports, 65535);
}

// Connected pairs: `ours` held by the client, `theirs` by the server.
struct Pairs {
  explicit Pairs(int n) {
    for (int i = 0; i < n; ++i) {
      int fds[2];
      EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
      ours.push_back(fds[0]);
      theirs.push_back(fds[1]);
    }
  }
  ~Pairs() {
    for (int fd : ours) close(fd);
    for (int fd : theirs) {
      if (fd >= 0) close(fd);
    }
  }
  std::vector<int> ours;
  std::vector<int> theirs;
};

TEST(FirstDisturbedTest, NoneWhileAllAreQuiet) {
  Pairs pairs(5);
  EXPECT_EQ(*FirstDisturbed(pairs.ours), -1);
  EXPECT_EQ(*FirstDisturbed({}), -1);
}

TEST(FirstDisturbedTest, FindsTheFirstClosedByThePeer) {
  Pairs pairs(5);
  close(pairs.theirs[3]);
  pairs.theirs[3] = -1;
  EXPECT_EQ(*FirstDisturbed(pairs.ours), 3);
  close(pairs.theirs[1]);
  pairs.theirs[1] = -1;
  EXPECT_EQ(*FirstDisturbed(pairs.ours), 1);
}

TEST(FirstDisturbedTest, FindsBytesSentUnasked) {
  Pairs pairs(3);
  ASSERT_EQ(write(pairs.theirs[2], "x", 1), 1);
  EXPECT_EQ(*FirstDisturbed(pairs.ours), 2);
}

TEST(FirstDisturbedTest, SeesATcpPeerClose) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address),
                 sizeof address),
            0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address),
                        &length),
            0);
  ASSERT_EQ(listen(listener, 8), 0);
  std::vector<int> clients;
  std::vector<int> accepted;
  for (int i = 0; i < 3; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address),
                      sizeof address),
              0);
    clients.push_back(fd);
    accepted.push_back(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(accepted.back(), 0);
  }
  EXPECT_EQ(*FirstDisturbed(clients), -1);
  close(accepted[1]);
  // Waits for the FIN to arrive (the kernel may deliver it after close
  // returns), then looks.
  pollfd wait{clients[1], POLLRDHUP, 0};
  ASSERT_EQ(poll(&wait, 1, 10000), 1);
  EXPECT_EQ(*FirstDisturbed(clients), 1);
  for (int fd : clients) close(fd);
  close(accepted[0]);
  close(accepted[2]);
  close(listener);
}

}  // namespace
}  // namespace ember::bench
