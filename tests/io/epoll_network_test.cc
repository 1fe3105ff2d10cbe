// Tests of the epoll backend: the conformance suite, plus what only the real
// backend has (descriptor limits, socket files, resets by a raw peer, a wake
// from another thread, the resolver thread, its own limits).

#include "io/epoll/epoll_network.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/check.h"
#include "io/epoll/internal/resolver.h"
#include "io/epoll/internal/sockaddr.h"
#include "io/error.h"
#include "io/network.h"
#include "tests/io/network_conformance.h"

namespace ember::io {
namespace {

// A name that goes to getaddrinfo (it is no literal io::Address accepts, nor
// a name RFC 6761 answers) and resolves on every machine without /etc/hosts
// or DNS: glibc reads it as the short IPv4 form of 127.0.0.1.
constexpr char kLookedUp[] = "127.1";

using conformance::FunctionWatcher;
using conformance::MakePair;
using conformance::NetworkConformanceTest;
using conformance::NetworkFactory;
using conformance::PollNow;
using conformance::PollUntil;
using conformance::ReadOutcome;
using conformance::ReadUntil;
using conformance::StreamPair;
using conformance::UnixSocketPath;
using conformance::WriteAll;

std::unique_ptr<EpollNetwork> MakeEpoll(
    const EpollNetwork::Options& options = {}) {
  absl::StatusOr<std::unique_ptr<EpollNetwork>> network =
      EpollNetwork::Create(options);
  EMBER_CHECK_MSG(network.ok(), "EpollNetwork::Create failed");
  return std::move(*network);
}

INSTANTIATE_TEST_SUITE_P(
    Epoll, NetworkConformanceTest,
    ::testing::Values(NetworkFactory{
        "epoll", []() -> std::unique_ptr<Network> { return MakeEpoll(); }}),
    conformance::NetworkFactoryName);

// The file at `path` is a socket, or (false) there is nothing there.
bool IsSocketFile(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

Address UnixAddress(const std::string& path) {
  absl::StatusOr<Address> a = Address::Unix(path);
  EMBER_CHECK(a.ok());
  return *a;
}

// A plain blocking socket connected to `address`, outside any network.
int RawConnect(const Address& address) {
  absl::StatusOr<epoll_internal::SocketAddress> sa =
      epoll_internal::ToSocketAddress(address);
  EMBER_CHECK(sa.ok());
  int fd = socket(sa->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  EMBER_CHECK(fd >= 0);
  EMBER_CHECK(connect(fd, sa->get(), sa->length) == 0);
  return fd;
}

// Closes `fd` so that the kernel sends a reset instead of a FIN.
void Abort(int fd) {
  linger abort_on_close{1, 0};
  EMBER_CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close,
                         sizeof(abort_on_close)) == 0);
  close(fd);
}

// Accepts one connection on `listener`, pumping until it arrives.
std::unique_ptr<StreamSocket> AcceptOne(Network& net, Listener& listener) {
  std::unique_ptr<StreamSocket> accepted;
  FunctionWatcher watcher([&](uint32_t) {
    absl::StatusOr<std::unique_ptr<StreamSocket>> a = listener.Accept();
    EXPECT_TRUE(a.ok()) << a.status();
    if (a.ok() && *a != nullptr) accepted = std::move(*a);
  });
  listener.SetWatcher(&watcher);
  listener.SetInterest(kReadable);
  PollUntil(net, [&] { return accepted != nullptr; });
  listener.SetWatcher(nullptr);
  return accepted;
}

// ---------------------------------------------------------------------------
// Descriptor limits and many connections

TEST(EpollNetworkTest, RaiseDescriptorLimitRaisesButNeverLowers) {
  // Goal: the soft limit rises to what is asked (within the hard limit),
  // a smaller request leaves it alone, and nonsense is kInvalidArgument.
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  const int wanted = 2400;
  absl::StatusOr<int> raised = EpollNetwork::RaiseDescriptorLimit(wanted);
  ASSERT_TRUE(raised.ok()) << raised.status();
  const rlim_t expected =
      before.rlim_max == RLIM_INFINITY
          ? std::max<rlim_t>(wanted, before.rlim_cur)
          : std::max(std::min<rlim_t>(wanted, before.rlim_max),
                     before.rlim_cur);
  EXPECT_EQ(static_cast<rlim_t>(*raised), expected);
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, static_cast<rlim_t>(*raised));

  absl::StatusOr<int> smaller = EpollNetwork::RaiseDescriptorLimit(16);
  ASSERT_TRUE(smaller.ok()) << smaller.status();
  EXPECT_EQ(*smaller, *raised);
  EXPECT_EQ(EpollNetwork::RaiseDescriptorLimit(0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EpollNetworkTest, ElevenHundredConcurrentConnections) {
  // Goal: 1,100 loopback connections (2,200 descriptors) are open at once,
  // each carries its own 4 bytes to the right accepted socket, and Poll
  // serves them all although one epoll_wait returns at most 256 events.
  constexpr int kConnections = 1100;
  absl::StatusOr<int> limit = EpollNetwork::RaiseDescriptorLimit(2400);
  ASSERT_TRUE(limit.ok()) << limit.status();
  if (*limit < 2300) GTEST_SKIP() << "descriptor limit " << *limit;

  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net->Listen(Address::Loopback4(0), ListenOptions{});
  ASSERT_TRUE(listener.ok()) << listener.status();

  struct Accepted final : IoWatcher {
    std::unique_ptr<StreamSocket> socket;
    std::string received;
    void OnIoReady(uint32_t) override {
      char buf[16];
      IoResult r = socket->Read(buf, sizeof(buf));
      if (r.ok()) received.append(buf, r.bytes);
    }
  };
  std::vector<std::unique_ptr<StreamSocket>> clients;
  std::vector<std::unique_ptr<Accepted>> accepted;
  absl::Status accept_error;
  FunctionWatcher accept_watcher([&](uint32_t) {
    while (true) {
      absl::StatusOr<std::unique_ptr<StreamSocket>> a = (*listener)->Accept();
      if (!a.ok()) {
        accept_error = a.status();
        return;
      }
      if (*a == nullptr) return;
      accepted.push_back(std::make_unique<Accepted>());
      accepted.back()->socket = std::move(*a);
    }
  });
  (*listener)->SetWatcher(&accept_watcher);
  (*listener)->SetInterest(kReadable);

  // Connect in steps smaller than the backlog, so that no SYN is dropped
  // (and retried a second later) for want of room in the accept queue.
  while (static_cast<int>(clients.size()) < kConnections) {
    for (int i = 0; i < 100 && static_cast<int>(clients.size()) < kConnections;
         ++i) {
      absl::StatusOr<std::unique_ptr<StreamSocket>> c =
          net->Connect((*listener)->LocalAddress(), ConnectOptions{});
      ASSERT_TRUE(c.ok()) << c.status();
      clients.push_back(std::move(*c));
    }
    ASSERT_TRUE(PollUntil(*net, [&] {
      return accepted.size() == clients.size() || !accept_error.ok();
    }));
    ASSERT_TRUE(accept_error.ok()) << accept_error;
  }
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(clients[i]->FinishConnect().ok()) << i;
    uint32_t tag = static_cast<uint32_t>(i);
    ConstBuffer b{reinterpret_cast<const char*>(&tag), sizeof(tag)};
    IoResult r = clients[i]->Write(&b, 1);
    ASSERT_TRUE(r.ok() && r.bytes == sizeof(tag)) << i;
  }
  for (auto& a : accepted) {
    a->socket->SetWatcher(a.get());
    a->socket->SetInterest(kReadable);
  }
  ASSERT_TRUE(PollUntil(*net, [&] {
    return std::all_of(accepted.begin(), accepted.end(), [](const auto& a) {
      return a->received.size() >= sizeof(uint32_t);
    });
  }));
  // Each accepted socket's peer is one client, and it got that client's tag.
  std::map<Address, int> client_by_address;
  for (int i = 0; i < kConnections; ++i) {
    absl::StatusOr<Address> local = clients[i]->LocalAddress();
    ASSERT_TRUE(local.ok());
    client_by_address[*local] = i;
  }
  std::set<int> tags;
  for (auto& a : accepted) {
    ASSERT_EQ(a->received.size(), sizeof(uint32_t));
    uint32_t tag;
    std::memcpy(&tag, a->received.data(), sizeof(tag));
    absl::StatusOr<Address> peer = a->socket->PeerAddress();
    ASSERT_TRUE(peer.ok());
    EXPECT_EQ(client_by_address[*peer], static_cast<int>(tag));
    tags.insert(static_cast<int>(tag));
  }
  EXPECT_EQ(tags.size(), static_cast<size_t>(kConnections));
  EXPECT_EQ(net->handle_count(), 2u * kConnections + 1);
  (*listener)->SetWatcher(nullptr);
}

TEST(EpollNetworkTest, AcceptOutOfDescriptorsIsNoResourcesAndKeepsTheQueue) {
  // Goal: when the process has no descriptor left, Accept fails with kind
  // kNoResources (code kResourceExhausted), the connection stays queued and
  // readiness keeps reporting it, and once descriptors are free again the
  // same connection is accepted.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net->Listen(Address::Loopback4(0), ListenOptions{});
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      net->Connect((*listener)->LocalAddress(), ConnectOptions{});
  ASSERT_TRUE(client.ok()) << client.status();
  FunctionWatcher watcher([](uint32_t) {});
  (*listener)->SetWatcher(&watcher);
  (*listener)->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(*net, [&] { return watcher.calls() > 0; }));

  // Lower the soft limit to the lowest free descriptor: every descriptor
  // below it is taken, so the next one cannot be made.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit lowered = saved;
  lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  absl::StatusOr<std::unique_ptr<StreamSocket>> starved = (*listener)->Accept();
  const int calls_before = watcher.calls();
  absl::StatusOr<int> polled = net->Poll(absl::InfinitePast());
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  ASSERT_FALSE(starved.ok());
  EXPECT_EQ(KindOf(starved.status()), ErrorKind::kNoResources)
      << starved.status();
  EXPECT_EQ(starved.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(watcher.calls(), calls_before + 1);  // Still reported.
  absl::StatusOr<std::unique_ptr<StreamSocket>> accepted =
      (*listener)->Accept();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_NE(*accepted, nullptr);
  absl::StatusOr<Address> peer = (*accepted)->PeerAddress();
  absl::StatusOr<Address> client_local = (*client)->LocalAddress();
  ASSERT_TRUE(peer.ok() && client_local.ok());
  EXPECT_EQ(*peer, *client_local);
  (*listener)->SetWatcher(nullptr);
}

// ---------------------------------------------------------------------------
// Unix socket files

TEST(EpollNetworkTest, UnixListenerRemovesItsSocketFile) {
  // Goal: the socket file exists while the listener lives and is removed
  // when it is destroyed.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const std::string path = UnixSocketPath("removed");
  {
    absl::StatusOr<std::unique_ptr<Listener>> listener =
        net->Listen(UnixAddress(path), ListenOptions{});
    ASSERT_TRUE(listener.ok()) << listener.status();
    EXPECT_TRUE(IsSocketFile(path));
  }
  EXPECT_FALSE(Exists(path));
}

TEST(EpollNetworkTest, UnixListenerReplacesAStaleSocketFile) {
  // Goal: a socket file left behind by a dead listener (connecting to it is
  // refused) is replaced, and the new listener accepts; connecting to the
  // stale file before that is kRefused.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const std::string path = UnixSocketPath("stale");
  const Address address = UnixAddress(path);
  unlink(path.c_str());
  {
    absl::StatusOr<epoll_internal::SocketAddress> sa =
        epoll_internal::ToSocketAddress(address);
    ASSERT_TRUE(sa.ok());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(bind(fd, sa->get(), sa->length), 0) << strerror(errno);
    close(fd);  // Never listened: the file stays, nobody accepts.
  }
  ASSERT_TRUE(IsSocketFile(path));

  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      net->Connect(address, ConnectOptions{});
  ASSERT_TRUE(client.ok()) << client.status();
  bool finished = false;
  FunctionWatcher watcher([&](uint32_t) { finished = true; });
  (*client)->SetWatcher(&watcher);
  (*client)->SetInterest(kWritable);
  ASSERT_TRUE(PollUntil(*net, [&] { return finished; }));
  EXPECT_EQ(KindOf((*client)->FinishConnect()), ErrorKind::kRefused);
  client->reset();

  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(*net, address, &pair));
  EXPECT_TRUE(IsSocketFile(path));
}

TEST(EpollNetworkTest, UnixListenerLeavesOtherFilesAlone) {
  // Goal: a path holding a regular file is kAddressInUse and the file is
  // neither replaced nor removed.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const std::string path = UnixSocketPath("regular-file");
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net->Listen(UnixAddress(path), ListenOptions{});
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(KindOf(listener.status()), ErrorKind::kAddressInUse)
      << listener.status();
  EXPECT_TRUE(Exists(path));
  EXPECT_FALSE(IsSocketFile(path));
  unlink(path.c_str());
}

TEST(EpollNetworkTest, UnixListenerKeepsAReplacementFile) {
  // Goal: when the socket file was replaced by another listener's, the
  // first listener's destruction leaves the new file in place.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const std::string path = UnixSocketPath("replaced");
  absl::StatusOr<std::unique_ptr<Listener>> first =
      net->Listen(UnixAddress(path), ListenOptions{});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(unlink(path.c_str()), 0);
  absl::StatusOr<std::unique_ptr<Listener>> second =
      net->Listen(UnixAddress(path), ListenOptions{});
  ASSERT_TRUE(second.ok()) << second.status();
  first->reset();
  EXPECT_TRUE(IsSocketFile(path));
  second->reset();
  EXPECT_FALSE(Exists(path));
}

TEST(EpollNetworkTest, UnixConnectToAFullBacklogIsNoResources) {
  // Goal: a Unix connect finds a full accept queue at once (the kernel does
  // not make it wait); that is reported through FinishConnect as kind
  // kNoResources, and the queued connections are still accepted.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  ListenOptions options;
  options.backlog = 1;
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net->Listen(UnixAddress(UnixSocketPath("full")), options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::vector<std::unique_ptr<StreamSocket>> clients;
  absl::Status refused;
  for (int i = 0; i < 16 && refused.ok(); ++i) {
    absl::StatusOr<std::unique_ptr<StreamSocket>> c =
        net->Connect((*listener)->LocalAddress(), ConnectOptions{});
    ASSERT_TRUE(c.ok()) << c.status();
    bool finished = false;
    FunctionWatcher watcher([&](uint32_t) { finished = true; });
    (*c)->SetWatcher(&watcher);
    (*c)->SetInterest(kWritable);
    ASSERT_TRUE(PollUntil(*net, [&] { return finished; }));
    (*c)->SetWatcher(nullptr);
    refused = (*c)->FinishConnect();
    clients.push_back(std::move(*c));
  }
  ASSERT_FALSE(refused.ok()) << "16 connects fit a backlog of 1";
  EXPECT_EQ(KindOf(refused), ErrorKind::kNoResources) << refused;
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  for (size_t i = 0; i + 1 < clients.size(); ++i) {
    absl::StatusOr<std::unique_ptr<StreamSocket>> a = (*listener)->Accept();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_NE(*a, nullptr) << i;
  }
}

TEST(EpollNetworkTest, UnnamedUnixEndsHaveTheUnspecifiedAddress) {
  // Goal: a Unix client is unnamed, so its local address and the accepted
  // socket's peer address are Address().
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(
      MakePair(*net, UnixAddress(UnixSocketPath("unnamed")), &pair));
  absl::StatusOr<Address> client_local = pair.client->LocalAddress();
  ASSERT_TRUE(client_local.ok()) << client_local.status();
  EXPECT_EQ(*client_local, Address());
  absl::StatusOr<Address> server_peer = pair.server->PeerAddress();
  ASSERT_TRUE(server_peer.ok()) << server_peer.status();
  EXPECT_EQ(*server_peer, Address());
}

// ---------------------------------------------------------------------------
// Resets

class EpollResetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The default action of SIGPIPE kills the process: a write to a reset
    // peer must not raise it.
    signal(SIGPIPE, SIG_DFL);
    net_ = MakeEpoll();
    absl::StatusOr<std::unique_ptr<Listener>> listener =
        net_->Listen(Address::Loopback4(0), ListenOptions{});
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    raw_ = RawConnect(listener_->LocalAddress());
    server_ = AcceptOne(*net_, *listener_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (raw_ >= 0) close(raw_);
    server_.reset();
    listener_.reset();
    net_.reset();
  }

  // Resets the connection from the raw end and waits until the accepted
  // socket sees it.
  void ResetFromPeer() {
    Abort(raw_);
    raw_ = -1;
    FunctionWatcher watcher([](uint32_t) {});
    server_->SetWatcher(&watcher);
    server_->SetInterest(kReadable);
    ASSERT_TRUE(PollUntil(*net_, [&] { return watcher.calls() > 0; }));
    server_->SetWatcher(nullptr);
    server_->SetInterest(0);
  }

  std::unique_ptr<EpollNetwork> net_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<StreamSocket> server_;
  int raw_ = -1;
};

TEST_F(EpollResetTest, ReadAfterResetIsResetAndThenWriteToo) {
  // Goal: after the peer resets, Read fails with kind kReset (code
  // kUnavailable), and a later Write fails the same way, with no SIGPIPE.
  ASSERT_NO_FATAL_FAILURE(ResetFromPeer());
  char buf[16];
  IoResult r = server_->Read(buf, sizeof(buf));
  ASSERT_EQ(r.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(r.error), ErrorKind::kReset) << r.error;
  EXPECT_EQ(r.error.code(), absl::StatusCode::kUnavailable);
  ConstBuffer b{"x", 1};
  IoResult w = server_->Write(&b, 1);
  ASSERT_EQ(w.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(w.error), ErrorKind::kReset) << w.error;
}

TEST_F(EpollResetTest, WriteAfterResetIsReset) {
  // Goal: a Write to a peer that reset fails with kind kReset, and so does
  // the one after it (EPIPE), without killing the process.
  ASSERT_NO_FATAL_FAILURE(ResetFromPeer());
  ConstBuffer b{"xy", 2};
  for (int i = 0; i < 2; ++i) {
    IoResult w = server_->Write(&b, 1);
    ASSERT_EQ(w.code, IoResult::Code::kError) << i;
    EXPECT_EQ(KindOf(w.error), ErrorKind::kReset) << w.error;
  }
}

TEST(EpollNetworkTest, WritingToAClosedPeerEndsInResetNotSigpipe) {
  // Goal: writing on after the peer closed gets kReset once the peer's
  // kernel answers with a reset, and never raises SIGPIPE.
  signal(SIGPIPE, SIG_DFL);
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(*net, Address::Loopback4(0), &pair));
  pair.server.reset();
  absl::Status error;
  FunctionWatcher watcher([&](uint32_t) {
    ConstBuffer b{"data", 4};
    IoResult w = pair.client->Write(&b, 1);
    if (w.code == IoResult::Code::kError) error = w.error;
  });
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(kWritable);
  ASSERT_TRUE(PollUntil(*net, [&] { return !error.ok(); }));
  EXPECT_EQ(KindOf(error), ErrorKind::kReset) << error;
  pair.client->SetWatcher(nullptr);
}

// ---------------------------------------------------------------------------
// Wake, clocks, seeds

TEST(EpollNetworkTest, WakeFromAnotherThreadEndsAPollWithNoDeadline) {
  // Goal: Wake called on another thread ends a Poll that has no deadline,
  // whether it comes before or during the Poll. TSan checks the handoff.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> returned{false};
    std::thread waker([&] {
      net->Wake();
      // Keep waking until the Poll is seen to return: a Wake that lands
      // between the Poll's drain and its return may be the one consumed.
      while (!returned.load()) {
        net->Wake();
        std::this_thread::yield();
      }
    });
    absl::StatusOr<int> polled = net->Poll(absl::InfiniteFuture());
    returned.store(true);
    waker.join();
    ASSERT_TRUE(polled.ok()) << polled.status();
    EXPECT_EQ(*polled, 0);
  }
}

TEST(EpollNetworkTest, ClocksAndSeed) {
  // Goal: Now never goes backwards, WallNow is the wall clock, and seeds
  // differ between calls.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  absl::Time previous = net->Now();
  for (int i = 0; i < 1000; ++i) {
    absl::Time now = net->Now();
    ASSERT_GE(now, previous);
    previous = now;
  }
  EXPECT_LT(absl::AbsDuration(net->WallNow() - absl::Now()), absl::Seconds(60));
  EXPECT_NE(net->RandomSeed(), net->RandomSeed());
}

TEST(EpollNetworkTest, HungUpSocketWithInterestZeroDoesNotSpin) {
  // Goal: a socket whose peer is gone keeps reporting a hang-up to epoll;
  // with interest 0 it must not make Poll return early.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(*net, Address::Loopback4(0), &pair));
  pair.server.reset();
  FunctionWatcher watcher([](uint32_t) {});
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(*net, [&] { return watcher.calls() > 0; }));
  pair.client->SetInterest(0);
  const absl::Time deadline = net->Now() + absl::Milliseconds(20);
  int polls = 0;
  while (net->Now() < deadline && polls < 1000) {
    ASSERT_TRUE(net->Poll(deadline).ok());
    ++polls;
  }
  EXPECT_LE(polls, 2);
  EXPECT_EQ(watcher.calls(), 1);
  pair.client->SetWatcher(nullptr);
}

// ---------------------------------------------------------------------------
// Limits

TEST(EpollNetworkTest, EventsBeyondOnePollsWorthWaitForTheNext) {
  // Goal: with room for one event per Poll, three ready sockets are each
  // served, one per Poll, none lost or starved.
  EpollNetwork::Options options;
  options.events_per_poll_max = 1;
  std::unique_ptr<EpollNetwork> net = MakeEpoll(options);
  StreamPair pairs[3];
  std::unique_ptr<FunctionWatcher> watchers[3];
  for (int i = 0; i < 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(MakePair(*net, Address::Loopback4(0), &pairs[i]));
    ASSERT_NO_FATAL_FAILURE(WriteAll(*net, *pairs[i].server, "z"));
  }
  for (int i = 0; i < 3; ++i) {
    watchers[i] = std::make_unique<FunctionWatcher>([](uint32_t) {});
    pairs[i].client->SetWatcher(watchers[i].get());
    pairs[i].client->SetInterest(kReadable);
  }
  int polls = 0;
  while (polls < 100 && !(watchers[0]->calls() && watchers[1]->calls() &&
                          watchers[2]->calls())) {
    absl::StatusOr<int> polled = net->Poll(net->Now() + absl::Seconds(5));
    ASSERT_TRUE(polled.ok());
    EXPECT_LE(*polled, 1);
    ++polls;
  }
  EXPECT_LE(polls, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(watchers[i]->calls(), 0) << i;
    pairs[i].client->SetWatcher(nullptr);
  }
}

class EpollHotBytesTest : public ::testing::TestWithParam<size_t> {};

INSTANTIATE_TEST_SUITE_P(PrefetchAlwaysOrNever, EpollHotBytesTest,
                         ::testing::Values(size_t{0}, SIZE_MAX));

TEST_P(EpollHotBytesTest, HotBytesAreAskedOnceAndChangeNoDispatch) {
  // Goal: the backend asks a watcher's HotBytes once, when the watcher is
  // set, not per event; and whatever the answer (nothing, or far more than
  // the object), every event still reaches its watcher, whether Poll
  // prefetches one watcher while serving another (prefetch_above_bytes 0)
  // or never does. (What the answer buys, fewer cache misses per event
  // with many connections, is a benchmark's to show: bench/user_share.sh.)
  struct Hinted final : IoWatcher {
    explicit Hinted(size_t hot) : hot(hot) {}
    size_t HotBytes() const override {
      ++asked;
      return hot;
    }
    void OnIoReady(uint32_t) override {
      char buf[64];
      IoResult r = socket->Read(buf, sizeof(buf));
      while (r.ok() && r.bytes > 0) {
        received.append(buf, r.bytes);
        r = socket->Read(buf, sizeof(buf));
      }
    }
    const size_t hot;
    mutable int asked = 0;
    StreamSocket* socket = nullptr;
    std::string received;
  };
  EpollNetwork::Options options;
  options.prefetch_above_bytes = GetParam();
  std::unique_ptr<EpollNetwork> net = MakeEpoll(options);
  Hinted watchers[] = {Hinted(0), Hinted(1), Hinted(SIZE_MAX), Hinted(4096)};
  constexpr int kWatchers = 4;
  StreamPair pairs[kWatchers];
  for (int i = 0; i < kWatchers; ++i) {
    ASSERT_NO_FATAL_FAILURE(MakePair(*net, Address::Loopback4(0), &pairs[i]));
    watchers[i].socket = pairs[i].server.get();
    pairs[i].server->SetWatcher(&watchers[i]);
    pairs[i].server->SetInterest(kReadable);
    EXPECT_EQ(watchers[i].asked, 1) << i;
  }
  std::string sent;
  for (int round = 0; round < 20; ++round) {
    const std::string piece = "round " + std::to_string(round) + ";";
    sent += piece;
    for (StreamPair& pair : pairs) {
      ASSERT_NO_FATAL_FAILURE(WriteAll(*net, *pair.client, piece));
    }
    ASSERT_TRUE(PollUntil(*net, [&] {
      for (const Hinted& w : watchers) {
        if (w.received.size() < sent.size()) return false;
      }
      return true;
    }));
  }
  for (int i = 0; i < kWatchers; ++i) {
    EXPECT_EQ(watchers[i].received, sent) << i;
    EXPECT_EQ(watchers[i].asked, 1) << i;
  }
  // Set again (after none), it is asked again.
  pairs[2].server->SetWatcher(nullptr);
  pairs[2].server->SetWatcher(&watchers[2]);
  EXPECT_EQ(watchers[2].asked, 2);
  for (StreamPair& pair : pairs) pair.server->SetWatcher(nullptr);
}

TEST(EpollNetworkTest, LookupsPastTheLimitFailWithNoResources) {
  // Goal: with one lookup allowed in flight, a second name fails with kind
  // kNoResources (delivered from Poll), literals are not limited, and once
  // the first is delivered a new lookup is accepted.
  EpollNetwork::Options options;
  options.lookups_pending_max = 1;
  std::unique_ptr<EpollNetwork> net = MakeEpoll(options);
  std::vector<absl::StatusOr<std::vector<Address>>> results(3);
  std::vector<bool> done(3, false);
  auto record = [&](int i) {
    return [&, i](absl::StatusOr<std::vector<Address>> r) {
      results[i] = std::move(r);
      done[i] = true;
    };
  };
  net->Resolve(kLookedUp, record(0));
  net->Resolve(kLookedUp, record(1));
  net->Resolve("127.0.0.1", record(2));
  ASSERT_TRUE(PollUntil(*net, [&] { return done[0] && done[1] && done[2]; }));
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(KindOf(results[1].status()), ErrorKind::kNoResources);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(results[2].ok()) << results[2].status();

  bool again = false;
  net->Resolve(kLookedUp, [&](absl::StatusOr<std::vector<Address>> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    again = true;
  });
  EXPECT_TRUE(PollUntil(*net, [&] { return again; }));
}

TEST(EpollNetworkTest, CreateRejectsZeroEventsPerPoll) {
  // Goal: an options value that cannot work is kInvalidArgument.
  EpollNetwork::Options options;
  options.events_per_poll_max = 0;
  EXPECT_EQ(EpollNetwork::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Resolution

TEST(EpollNetworkTest, PendingResolutionsAreDroppedWithTheNetwork) {
  // Goal: destroying the network with lookups in flight never runs their
  // callbacks and frees them, whether the worker is busy (and is left to
  // finish alone) or idle (and is joined); ASan and TSan check that the
  // worker touches nothing the network owned.
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    auto token = std::make_shared<int>(0);
    int calls = 0;
    {
      std::unique_ptr<EpollNetwork> net = MakeEpoll();
      auto resolve = [&] {
        net->Resolve(kLookedUp,
                     [token, &calls](absl::StatusOr<std::vector<Address>> r) {
                       EXPECT_TRUE(r.ok()) << r.status();
                       ++calls;
                     });
      };
      if (round % 2 == 1) {
        // Start the worker and let it go idle first.
        resolve();
        ASSERT_TRUE(PollUntil(*net, [&] { return calls == 1; }));
      }
      resolve();
      resolve();
    }
    EXPECT_EQ(calls, round % 2);
    EXPECT_EQ(token.use_count(), 1);
  }
}

TEST(EpollNetworkTest, ResolveBlockingUsesGetaddrinfo) {
  // Goal: the worker's lookup returns what getaddrinfo finds, without
  // duplicates, and a name that cannot exist is kNameNotFound.
  absl::StatusOr<std::vector<Address>> r =
      epoll_internal::ResolveBlocking(kLookedUp);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, std::vector<Address>{Address::Loopback4(0)});
  r = epoll_internal::ResolveBlocking("no-such-host.invalid");
  EXPECT_EQ(KindOf(r.status()), ErrorKind::kNameNotFound) << r.status();
}

TEST(EpollNetworkTest, GetaddrinfoErrorsKeepTheirKind) {
  // Goal: a name that does not exist is not a temporary failure: callers
  // retry kNameLookupFailed (kUnavailable), not kNameNotFound (kNotFound).
  EXPECT_EQ(epoll_internal::KindForGaiError(EAI_NONAME),
            ErrorKind::kNameNotFound);
  EXPECT_EQ(epoll_internal::KindForGaiError(EAI_NODATA),
            ErrorKind::kNameNotFound);
  EXPECT_EQ(epoll_internal::KindForGaiError(EAI_AGAIN),
            ErrorKind::kNameLookupFailed);
  EXPECT_EQ(epoll_internal::KindForGaiError(EAI_FAIL),
            ErrorKind::kNameLookupFailed);
  EXPECT_EQ(epoll_internal::KindForGaiError(EAI_MEMORY),
            ErrorKind::kNoResources);
  EXPECT_EQ(MakeError(ErrorKind::kNameLookupFailed, "resolve", "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(MakeError(ErrorKind::kNameNotFound, "resolve", "x").code(),
            absl::StatusCode::kNotFound);
}

TEST(EpollNetworkTest, LocalhostNeverReachesTheResolverThread) {
  // Goal: "localhost" is answered at once (RFC 6761), whatever /etc/hosts
  // says or lacks: with at most zero lookups allowed, it still resolves,
  // to ::1 and 127.0.0.1.
  EpollNetwork::Options options;
  options.lookups_pending_max = 0;
  std::unique_ptr<EpollNetwork> net = MakeEpoll(options);
  absl::StatusOr<std::vector<Address>> local, other;
  bool local_done = false, other_done = false;
  net->Resolve("LocalHost.", [&](absl::StatusOr<std::vector<Address>> r) {
    local = std::move(r);
    local_done = true;
  });
  net->Resolve(kLookedUp, [&](absl::StatusOr<std::vector<Address>> r) {
    other = std::move(r);
    other_done = true;
  });
  ASSERT_TRUE(PollUntil(*net, [&] { return local_done && other_done; }));
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(*local, (std::vector<Address>{Address::Loopback6(0),
                                          Address::Loopback4(0)}));
  EXPECT_EQ(KindOf(other.status()), ErrorKind::kNoResources);
}

// ---------------------------------------------------------------------------
// Addresses and options

TEST(EpollNetworkTest, SocketAddressesRoundTrip) {
  // Goal: every Address family survives conversion to sockaddr and back.
  absl::StatusOr<Address> v6 = Address::ParseIp("2001:db8::7", 443);
  ASSERT_TRUE(v6.ok());
  for (const Address& a :
       {Address::Loopback4(80), Address::Any4(0), *v6,
        UnixAddress("/run/ember.sock"), UnixAddress("relative.sock")}) {
    absl::StatusOr<epoll_internal::SocketAddress> sa =
        epoll_internal::ToSocketAddress(a);
    ASSERT_TRUE(sa.ok()) << a.ToString();
    EXPECT_EQ(epoll_internal::FromSocketAddress(sa->get(), sa->length), a);
  }
  EXPECT_EQ(KindOf(epoll_internal::ToSocketAddress(Address()).status()),
            ErrorKind::kAddressInvalid);
  sockaddr_un unnamed{};
  unnamed.sun_family = AF_UNIX;
  EXPECT_EQ(
      epoll_internal::FromSocketAddress(
          reinterpret_cast<const sockaddr*>(&unnamed), sizeof(sa_family_t)),
      Address());
}

TEST(EpollNetworkTest, ConnectBindsToAnotherLoopbackAddress) {
  // Goal: bind-before-connect picks the source address: a client bound to
  // 127.0.0.2 is seen by the server as 127.0.0.2.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const Address local = Address::Ipv4({127, 0, 0, 2}, 0);
  ConnectOptions options;
  options.bind = &local;
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(
      MakePair(*net, Address::Loopback4(0), &pair, options));
  absl::StatusOr<Address> peer = pair.server->PeerAddress();
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->WithPort(0), local);
}

TEST(EpollNetworkTest, ConnectBindToAnotherFamilyFails) {
  // Goal: binding an IPv6 client to an IPv4 address is kAddressInvalid.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  const Address local = Address::Loopback4(0);
  ConnectOptions options;
  options.bind = &local;
  absl::StatusOr<std::unique_ptr<StreamSocket>> c =
      net->Connect(Address::Loopback6(1), options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(KindOf(c.status()), ErrorKind::kAddressInvalid);
}

TEST(EpollNetworkTest, DatagramSocketsAreIpOnly) {
  // Goal: a datagram socket on a Unix path is refused as kAddressInvalid.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  absl::StatusOr<std::unique_ptr<DatagramSocket>> d =
      net->OpenDatagram(UnixAddress(UnixSocketPath("dgram")));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(KindOf(d.status()), ErrorKind::kAddressInvalid);
}

TEST(EpollNetworkTest, Ipv6ListenerTakesNoIpv4) {
  // Goal: IPv6 sockets are IPv6 only, so an IPv4 and an IPv6 listener can
  // share a port number.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  absl::StatusOr<std::unique_ptr<Listener>> v6 =
      net->Listen(Address::Ipv6({}, 0), ListenOptions{});
  ASSERT_TRUE(v6.ok()) << v6.status();
  absl::StatusOr<std::unique_ptr<Listener>> v4 =
      net->Listen(Address::Any4((*v6)->LocalAddress().port()), ListenOptions{});
  EXPECT_TRUE(v4.ok()) << v4.status();
}

TEST(EpollNetworkTest, GreatWriteWouldBlockThenDrainsIntact) {
  // Goal: writing without a reader ends in a short write or kWouldBlock, and
  // everything accepted before that arrives intact once the reader reads.
  std::unique_ptr<EpollNetwork> net = MakeEpoll();
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(*net, Address::Loopback4(0), &pair));
  // A period prime to every buffer size, so each offset has its own byte.
  constexpr size_t kPeriod = 65521;
  const std::string pattern = conformance::Pattern(2 * kPeriod);
  size_t written = 0;
  bool would_block = false;
  while (!would_block && written < (size_t{256} << 20)) {
    // Each buffer holds one period from the current offset; a period later
    // the pattern repeats, so consecutive buffers continue it.
    ConstBuffer buffers[StreamSocket::kWriteBuffersMax];
    for (auto& b : buffers) b = {pattern.data() + (written % kPeriod), kPeriod};
    IoResult r = pair.client->Write(buffers, StreamSocket::kWriteBuffersMax);
    if (r.code == IoResult::Code::kWouldBlock) {
      would_block = true;
      break;
    }
    ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
    written += r.bytes;
  }
  EXPECT_TRUE(would_block);
  ASSERT_TRUE(pair.client->ShutdownWrite().ok());

  size_t read = 0;
  bool mismatch = false;
  ReadOutcome outcome;
  char buf[65536];
  FunctionWatcher reader([&](uint32_t) {
    while (true) {
      IoResult r = pair.server->Read(buf, sizeof(buf));
      if (r.code == IoResult::Code::kOk) {
        for (size_t i = 0; i < r.bytes && !mismatch; ++i) {
          mismatch = buf[i] != pattern[(read + i) % kPeriod];
        }
        read += r.bytes;
        continue;
      }
      if (r.code == IoResult::Code::kEndOfStream) outcome.end_of_stream = true;
      if (r.code == IoResult::Code::kError) outcome.error = r.error;
      return;
    }
  });
  pair.server->SetWatcher(&reader);
  pair.server->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(
      *net, [&] { return outcome.end_of_stream || !outcome.error.ok(); }));
  pair.server->SetWatcher(nullptr);
  EXPECT_TRUE(outcome.error.ok()) << outcome.error;
  EXPECT_EQ(read, written);
  EXPECT_FALSE(mismatch);
}

}  // namespace
}  // namespace ember::io
