#include "tests/io/network_conformance.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/error.h"

namespace ember::io::conformance {

std::string NetworkFactoryName(
    const ::testing::TestParamInfo<NetworkFactory>& info) {
  return info.param.name;
}

void PrintTo(const NetworkFactory& factory, std::ostream* os) {
  *os << factory.name;
}

bool PollUntil(Network& network, const std::function<bool()>& done,
               int polls_max, absl::Duration budget) {
  const absl::Time deadline = network.Now() + budget;
  for (int i = 0; i < polls_max; ++i) {
    if (done()) return true;
    if (network.Now() >= deadline) break;
    absl::StatusOr<int> polled = network.Poll(deadline);
    if (!polled.ok()) {
      ADD_FAILURE() << "Poll failed: " << polled.status();
      return false;
    }
  }
  return done();
}

int PollNow(Network& network, int polls) {
  int callbacks = 0;
  for (int i = 0; i < polls; ++i) {
    absl::StatusOr<int> polled = network.Poll(absl::InfinitePast());
    if (!polled.ok()) {
      ADD_FAILURE() << "Poll failed: " << polled.status();
      break;
    }
    callbacks += *polled;
  }
  return callbacks;
}

std::string UnixSocketPath(std::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = tmp != nullptr ? tmp : "/tmp";
  std::string path = dir + "/" + std::string(name);
  if (path.size() <= Address::kUnixPathBytesMax) return path;
  // Bazel's TEST_TMPDIR is often longer than a sockaddr_un allows.
  EXPECT_EQ(chdir(dir.c_str()), 0) << "chdir " << dir;
  return std::string(name);
}

void NetworkConformanceTest::SetUp() {
  network_ = GetParam().make();
  ASSERT_NE(network_, nullptr) << "factory of " << GetParam().name;
}

void NetworkConformanceTest::TearDown() { network_.reset(); }

#define ASSERT_OK_AND_MOVE(lhs, expr)              \
  auto lhs##_or = (expr);                          \
  ASSERT_TRUE(lhs##_or.ok()) << lhs##_or.status(); \
  auto lhs = std::move(*lhs##_or)

void MakePair(Network& net, const Address& address, StreamPair* pair,
              const ConnectOptions& connect_options) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net.Listen(address, ListenOptions{});
  ASSERT_TRUE(listener.ok()) << listener.status();
  pair->listener = std::move(*listener);
  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      net.Connect(pair->listener->LocalAddress(), connect_options);
  ASSERT_TRUE(client.ok()) << client.status();
  pair->client = std::move(*client);

  absl::Status accept_status;
  FunctionWatcher accept_watcher([&](uint32_t readiness) {
    EXPECT_EQ(readiness, kReadable);
    if (pair->server != nullptr) return;
    absl::StatusOr<std::unique_ptr<StreamSocket>> accepted =
        pair->listener->Accept();
    if (!accepted.ok()) {
      accept_status = accepted.status();
    } else if (*accepted != nullptr) {
      pair->server = std::move(*accepted);
    }
  });
  bool connected = false;
  absl::Status connect_status;
  FunctionWatcher connect_watcher([&](uint32_t readiness) {
    EXPECT_TRUE(readiness & kWritable);
    connect_status = pair->client->FinishConnect();
    connected = true;
    pair->client->SetInterest(0);
  });
  pair->listener->SetWatcher(&accept_watcher);
  pair->listener->SetInterest(kReadable);
  pair->client->SetWatcher(&connect_watcher);
  pair->client->SetInterest(kWritable);
  bool done =
      PollUntil(net, [&] { return connected && pair->server != nullptr; });
  pair->listener->SetWatcher(nullptr);
  pair->client->SetWatcher(nullptr);
  ASSERT_TRUE(done) << "connected " << connected << ", accepted "
                    << (pair->server != nullptr);
  ASSERT_TRUE(accept_status.ok()) << accept_status;
  ASSERT_TRUE(connect_status.ok()) << connect_status;
  ASSERT_TRUE(pair->server->FinishConnect().ok());
}

void WriteAll(Network& net, StreamSocket& socket, std::string_view data) {
  size_t written = 0;
  absl::Status error;
  auto write_some = [&] {
    while (written < data.size() && error.ok()) {
      ConstBuffer buffer{data.data() + written, data.size() - written};
      IoResult r = socket.Write(&buffer, 1);
      if (r.code == IoResult::Code::kWouldBlock) return;
      if (r.code == IoResult::Code::kError) {
        error = r.error;
        return;
      }
      ASSERT_EQ(r.code, IoResult::Code::kOk);
      written += r.bytes;
    }
  };
  write_some();
  FunctionWatcher watcher([&](uint32_t) { write_some(); });
  socket.SetWatcher(&watcher);
  socket.SetInterest(kWritable);
  bool done =
      PollUntil(net, [&] { return written == data.size() || !error.ok(); });
  socket.SetWatcher(nullptr);
  socket.SetInterest(0);
  ASSERT_TRUE(error.ok()) << error;
  ASSERT_TRUE(done) << "wrote " << written << " of " << data.size();
}

ReadOutcome ReadUntil(Network& net, StreamSocket& socket, size_t bytes,
                      bool until_end_of_stream) {
  ReadOutcome out;
  char buf[4093];  // Odd-sized, so reads rarely line up with writes.
  auto done = [&] {
    return !out.error.ok() || out.end_of_stream ||
           (!until_end_of_stream && out.data.size() >= bytes);
  };
  auto read_some = [&] {
    while (!done()) {
      IoResult r = socket.Read(buf, sizeof(buf));
      switch (r.code) {
        case IoResult::Code::kOk:
          EXPECT_GT(r.bytes, 0u);
          out.data.append(buf, r.bytes);
          break;
        case IoResult::Code::kEndOfStream:
          out.end_of_stream = true;
          break;
        case IoResult::Code::kError:
          out.error = r.error;
          break;
        case IoResult::Code::kWouldBlock:
          return;
      }
    }
  };
  FunctionWatcher watcher([&](uint32_t) { read_some(); });
  socket.SetWatcher(&watcher);
  socket.SetInterest(kReadable);
  PollUntil(net, done);
  socket.SetWatcher(nullptr);
  socket.SetInterest(0);
  return out;
}

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

namespace {

std::string EveryByteValue() {
  std::string s(256, '\0');
  for (int i = 0; i < 256; ++i) s[i] = static_cast<char>(i);
  return s;
}

void ExpectRoundTrip(Network& net, const Address& listen_address) {
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, listen_address, &pair));
  const std::string bytes = EveryByteValue();
  ASSERT_NO_FATAL_FAILURE(WriteAll(net, *pair.client, bytes));
  ReadOutcome at_server = ReadUntil(net, *pair.server, bytes.size(), false);
  ASSERT_TRUE(at_server.error.ok()) << at_server.error;
  EXPECT_EQ(at_server.data, bytes);

  std::string reversed(bytes.rbegin(), bytes.rend());
  ASSERT_NO_FATAL_FAILURE(WriteAll(net, *pair.server, reversed));
  ReadOutcome at_client = ReadUntil(net, *pair.client, bytes.size(), false);
  ASSERT_TRUE(at_client.error.ok()) << at_client.error;
  EXPECT_EQ(at_client.data, reversed);
}

void ExpectIpAddresses(const StreamPair& pair) {
  const Address listening = pair.listener->LocalAddress();
  absl::StatusOr<Address> client_local = pair.client->LocalAddress();
  absl::StatusOr<Address> client_peer = pair.client->PeerAddress();
  absl::StatusOr<Address> server_local = pair.server->LocalAddress();
  absl::StatusOr<Address> server_peer = pair.server->PeerAddress();
  ASSERT_TRUE(client_local.ok()) << client_local.status();
  ASSERT_TRUE(client_peer.ok()) << client_peer.status();
  ASSERT_TRUE(server_local.ok()) << server_local.status();
  ASSERT_TRUE(server_peer.ok()) << server_peer.status();
  EXPECT_EQ(*client_peer, listening);
  EXPECT_EQ(*server_local, listening);
  EXPECT_EQ(*server_peer, *client_local);
  EXPECT_EQ(client_local->family(), listening.family());
  EXPECT_NE(client_local->port(), 0);
}

// Waits for one datagram on `socket`.
IoResult ReceiveOne(Network& net, DatagramSocket& socket, char* buf, size_t len,
                    Address* from, bool* truncated) {
  IoResult result = socket.ReceiveFrom(buf, len, from, truncated);
  if (result.code != IoResult::Code::kWouldBlock) return result;
  FunctionWatcher watcher([&](uint32_t) {
    if (result.code == IoResult::Code::kWouldBlock) {
      result = socket.ReceiveFrom(buf, len, from, truncated);
    }
  });
  socket.SetWatcher(&watcher);
  socket.SetInterest(kReadable);
  PollUntil(net, [&] { return result.code != IoResult::Code::kWouldBlock; });
  socket.SetWatcher(nullptr);
  socket.SetInterest(0);
  return result;
}

// Connects to `remote` and returns what FinishConnect says once writable.
absl::Status ConnectOutcome(Network& net, const Address& remote) {
  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      net.Connect(remote, ConnectOptions{});
  if (!client.ok()) {
    ADD_FAILURE() << "Connect should report refusal through FinishConnect: "
                  << client.status();
    return client.status();
  }
  StreamSocket& socket = **client;
  bool finished = false;
  absl::Status status;
  FunctionWatcher watcher([&](uint32_t readiness) {
    EXPECT_TRUE(readiness & kWritable);
    status = socket.FinishConnect();
    finished = true;
    socket.SetInterest(0);
  });
  socket.SetWatcher(&watcher);
  socket.SetInterest(kWritable);
  EXPECT_TRUE(PollUntil(net, [&] { return finished; }));
  // Stable once finished.
  absl::Status again = socket.FinishConnect();
  EXPECT_EQ(again.code(), status.code());
  EXPECT_EQ(KindOf(again), KindOf(status));
  socket.SetWatcher(nullptr);
  return status;
}

// ---------------------------------------------------------------------------
// Streams

TEST_P(NetworkConformanceTest, StreamOverIpv4CarriesEveryByteValue) {
  // Goal: a loopback IPv4 connection is established on both ends and carries
  // all 256 byte values unchanged, both ways.
  ExpectRoundTrip(net(), Address::Loopback4(0));
}

TEST_P(NetworkConformanceTest, StreamOverIpv6CarriesEveryByteValue) {
  // Goal: the same over IPv6 loopback.
  ExpectRoundTrip(net(), Address::Loopback6(0));
}

TEST_P(NetworkConformanceTest, StreamOverUnixSocketCarriesEveryByteValue) {
  // Goal: the same over a Unix domain socket.
  ASSERT_OK_AND_MOVE(address, Address::Unix(UnixSocketPath("round-trip")));
  ExpectRoundTrip(net(), address);
}

TEST_P(NetworkConformanceTest, ListenerReportsTheRealPortAndEndsAgree) {
  // Goal: listening on port 0 reports the port chosen, and each end's local
  // address is the other end's peer address, for IPv4 and IPv6.
  for (const Address& address :
       {Address::Loopback4(0), Address::Loopback6(0)}) {
    SCOPED_TRACE(address.ToString());
    StreamPair pair;
    ASSERT_NO_FATAL_FAILURE(MakePair(net(), address, &pair));
    EXPECT_NE(pair.listener->LocalAddress().port(), 0);
    EXPECT_EQ(pair.listener->LocalAddress().WithPort(0), address);
    ExpectIpAddresses(pair);
  }
}

TEST_P(NetworkConformanceTest, UnixListenerAndPeerAddressesAreThePath) {
  // Goal: a Unix listener reports its path, and the client's peer and the
  // accepted socket's local address are that path.
  ASSERT_OK_AND_MOVE(address, Address::Unix(UnixSocketPath("addresses")));
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), address, &pair));
  EXPECT_EQ(pair.listener->LocalAddress(), address);
  absl::StatusOr<Address> client_peer = pair.client->PeerAddress();
  ASSERT_TRUE(client_peer.ok()) << client_peer.status();
  EXPECT_EQ(*client_peer, address);
  absl::StatusOr<Address> server_local = pair.server->LocalAddress();
  ASSERT_TRUE(server_local.ok()) << server_local.status();
  EXPECT_EQ(*server_local, address);
}

TEST_P(NetworkConformanceTest, LargeTransferSurvivesShortWritesAndWouldBlock) {
  // Goal: 1 MiB written with gathered writes arrives complete and in order,
  // while the writer takes short writes and kWouldBlock in its stride and
  // the reader reads in odd-sized pieces.
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  const std::string data = Pattern(1 << 20);
  constexpr size_t kChunkBytes = 3000;
  size_t written = 0;
  absl::Status write_error;
  bool reader_started = false;
  auto write_some = [&] {
    while (written < data.size()) {
      ConstBuffer buffers[StreamSocket::kWriteBuffersMax];
      size_t count = 0;
      for (size_t at = written;
           at < data.size() && count < StreamSocket::kWriteBuffersMax;
           at += kChunkBytes) {
        buffers[count++] = {data.data() + at,
                            std::min(kChunkBytes, data.size() - at)};
      }
      IoResult r = pair.client->Write(buffers, count);
      if (r.code == IoResult::Code::kWouldBlock) {
        reader_started = true;  // Full: let the reader drain it.
        return;
      }
      if (r.code != IoResult::Code::kOk) {
        write_error = r.error;
        return;
      }
      ASSERT_GT(r.bytes, 0u);
      written += r.bytes;
    }
    reader_started = true;
    EXPECT_TRUE(pair.client->ShutdownWrite().ok());
    pair.client->SetInterest(0);
  };
  std::string received;
  bool end_of_stream = false;
  absl::Status read_error;
  char buf[4093];
  FunctionWatcher writer([&](uint32_t) { write_some(); });
  FunctionWatcher reader([&](uint32_t) {
    while (true) {
      IoResult r = pair.server->Read(buf, sizeof(buf));
      if (r.code == IoResult::Code::kOk) {
        received.append(buf, r.bytes);
      } else {
        if (r.code == IoResult::Code::kEndOfStream) end_of_stream = true;
        if (r.code == IoResult::Code::kError) read_error = r.error;
        return;
      }
    }
  });
  pair.client->SetWatcher(&writer);
  pair.client->SetInterest(kWritable);
  pair.server->SetWatcher(&reader);
  // The reader starts only once the writer has filled the pipe.
  ASSERT_TRUE(PollUntil(net(), [&] { return reader_started; }));
  pair.server->SetInterest(kReadable);
  EXPECT_TRUE(PollUntil(net(), [&] {
    return end_of_stream || !read_error.ok() || !write_error.ok();
  }));
  pair.client->SetWatcher(nullptr);
  pair.server->SetWatcher(nullptr);
  ASSERT_TRUE(write_error.ok()) << write_error;
  ASSERT_TRUE(read_error.ok()) << read_error;
  EXPECT_EQ(written, data.size());
  ASSERT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "the bytes differ";
}

TEST_P(NetworkConformanceTest, HalfCloseLetsThePeerAnswer) {
  // Goal: after ShutdownWrite the peer reads the bytes then end of stream,
  // and can still write back to the half-closed end, which reads it.
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.client, "ping"));
  ASSERT_TRUE(pair.client->ShutdownWrite().ok());
  ReadOutcome at_server = ReadUntil(net(), *pair.server, 0, true);
  ASSERT_TRUE(at_server.error.ok()) << at_server.error;
  EXPECT_EQ(at_server.data, "ping");
  EXPECT_TRUE(at_server.end_of_stream);

  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.server, "pong"));
  ASSERT_TRUE(pair.server->ShutdownWrite().ok());
  ReadOutcome at_client = ReadUntil(net(), *pair.client, 0, true);
  ASSERT_TRUE(at_client.error.ok()) << at_client.error;
  EXPECT_EQ(at_client.data, "pong");
  EXPECT_TRUE(at_client.end_of_stream);
}

TEST_P(NetworkConformanceTest, PeerCloseGivesEndOfStreamAfterTheData) {
  // Goal: when the peer writes and then is destroyed, the reader gets the
  // bytes and then end of stream (not an error).
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.server, "bye"));
  pair.server.reset();
  ReadOutcome out = ReadUntil(net(), *pair.client, 0, true);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(out.data, "bye");
  EXPECT_TRUE(out.end_of_stream);
}

TEST_P(NetworkConformanceTest, ConnectWithNoListenerIsRefused) {
  // Goal: connecting where nobody listens is reported through kWritable and
  // FinishConnect as kind kRefused, code kUnavailable, over IPv4 and IPv6.
  for (const Address& address :
       {Address::Loopback4(0), Address::Loopback6(0)}) {
    SCOPED_TRACE(address.ToString());
    Address closed;
    {
      absl::StatusOr<std::unique_ptr<Listener>> listener =
          net().Listen(address, ListenOptions{});
      ASSERT_TRUE(listener.ok()) << listener.status();
      closed = (*listener)->LocalAddress();
    }
    absl::Status status = ConnectOutcome(net(), closed);
    EXPECT_EQ(KindOf(status), ErrorKind::kRefused) << status;
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
}

TEST_P(NetworkConformanceTest, ConnectToAMissingUnixSocketIsRefused) {
  // Goal: a Unix path with no socket behind it is a refusal too, reported
  // the same way.
  ASSERT_OK_AND_MOVE(address, Address::Unix(UnixSocketPath("nobody-here")));
  absl::Status status = ConnectOutcome(net(), address);
  EXPECT_EQ(KindOf(status), ErrorKind::kRefused) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST_P(NetworkConformanceTest, ConnectToAnUnspecifiedAddressFailsAtOnce) {
  // Goal: an address that names no endpoint is an immediate error, kind
  // kAddressInvalid.
  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      net().Connect(Address(), ConnectOptions{});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(KindOf(client.status()), ErrorKind::kAddressInvalid);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(NetworkConformanceTest, ListeningTwiceOnOnePortIsAddressInUse) {
  // Goal: a second listener on a taken port fails with kAddressInUse unless
  // both ask for reuse_port, in which case both listen.
  absl::StatusOr<std::unique_ptr<Listener>> first =
      net().Listen(Address::Loopback4(0), ListenOptions{});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<Listener>> second =
      net().Listen((*first)->LocalAddress(), ListenOptions{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(KindOf(second.status()), ErrorKind::kAddressInUse)
      << second.status();

  ListenOptions shared;
  shared.reuse_port = true;
  absl::StatusOr<std::unique_ptr<Listener>> a =
      net().Listen(Address::Loopback4(0), shared);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::unique_ptr<Listener>> b =
      net().Listen((*a)->LocalAddress(), shared);
  EXPECT_TRUE(b.ok()) << b.status();
}

TEST_P(NetworkConformanceTest, ListeningOnALiveUnixPathIsAddressInUse) {
  // Goal: a Unix path where a listener is live cannot be taken over.
  ASSERT_OK_AND_MOVE(address, Address::Unix(UnixSocketPath("taken")));
  absl::StatusOr<std::unique_ptr<Listener>> first =
      net().Listen(address, ListenOptions{});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<Listener>> second =
      net().Listen(address, ListenOptions{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(KindOf(second.status()), ErrorKind::kAddressInUse)
      << second.status();
}

TEST_P(NetworkConformanceTest, AcceptWithNothingPendingReturnsNull) {
  // Goal: Accept with no pending connection is OK and null, not an error.
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net().Listen(Address::Loopback4(0), ListenOptions{});
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<std::unique_ptr<StreamSocket>> accepted =
      (*listener)->Accept();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(*accepted, nullptr);
}

TEST_P(NetworkConformanceTest, ConnectBindsToTheRequestedLocalAddress) {
  // Goal: ConnectOptions::bind sets the client's local address, which the
  // server sees as its peer.
  const Address local = Address::Loopback4(0);
  ConnectOptions options;
  options.bind = &local;
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(
      MakePair(net(), Address::Loopback4(0), &pair, options));
  absl::StatusOr<Address> client_local = pair.client->LocalAddress();
  ASSERT_TRUE(client_local.ok()) << client_local.status();
  EXPECT_EQ(client_local->WithPort(0), local);
  EXPECT_NE(client_local->port(), 0);
  absl::StatusOr<Address> server_peer = pair.server->PeerAddress();
  ASSERT_TRUE(server_peer.ok()) << server_peer.status();
  EXPECT_EQ(*server_peer, *client_local);
}

TEST_P(NetworkConformanceTest, SocketOptionsApplyToTcpAndAreIgnoredOnUnix) {
  // Goal: NoDelay and KeepAlive succeed on TCP, are accepted and ignored on
  // Unix sockets, and keepalive settings out of range are kInvalidArgument.
  ASSERT_OK_AND_MOVE(unix_address, Address::Unix(UnixSocketPath("options")));
  for (const Address& address : {Address::Loopback4(0), unix_address}) {
    SCOPED_TRACE(address.ToString());
    StreamPair pair;
    ASSERT_NO_FATAL_FAILURE(MakePair(net(), address, &pair));
    EXPECT_TRUE(pair.client->SetNoDelay(true).ok());
    EXPECT_TRUE(pair.server->SetNoDelay(false).ok());
    KeepAliveOptions keepalive;
    keepalive.idle = absl::Seconds(30);
    keepalive.interval = absl::Seconds(5);
    keepalive.probes = 3;
    EXPECT_TRUE(pair.client->SetKeepAlive(keepalive).ok());
    keepalive.enabled = false;
    EXPECT_TRUE(pair.client->SetKeepAlive(keepalive).ok());
  }
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  KeepAliveOptions bad;
  bad.probes = 0;
  EXPECT_EQ(pair.client->SetKeepAlive(bad).code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Datagrams

TEST_P(NetworkConformanceTest, DatagramsKeepBoundariesAndSender) {
  // Goal: datagrams arrive one per receive, with their sizes (0 included)
  // and the sender's address, over IPv4 and IPv6.
  for (const Address& address :
       {Address::Loopback4(0), Address::Loopback6(0)}) {
    SCOPED_TRACE(address.ToString());
    absl::StatusOr<std::unique_ptr<DatagramSocket>> a =
        net().OpenDatagram(address);
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<std::unique_ptr<DatagramSocket>> b =
        net().OpenDatagram(address);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_NE((*a)->LocalAddress().port(), 0);
    EXPECT_EQ((*a)->LocalAddress().WithPort(0), address);

    const std::vector<std::string> sent = {"one", "", Pattern(1000), "four"};
    for (const std::string& d : sent) {
      IoResult r = (*a)->SendTo((*b)->LocalAddress(), d.data(), d.size());
      ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
      EXPECT_EQ(r.bytes, d.size());
    }
    for (const std::string& d : sent) {
      char buf[2048];
      Address from;
      bool truncated = true;
      IoResult r = ReceiveOne(net(), **b, buf, sizeof(buf), &from, &truncated);
      ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
      EXPECT_EQ(std::string(buf, r.bytes), d);
      EXPECT_EQ(from, (*a)->LocalAddress());
      EXPECT_FALSE(truncated);
    }
    char buf[16];
    EXPECT_EQ((*b)->ReceiveFrom(buf, sizeof(buf), nullptr, nullptr).code,
              IoResult::Code::kWouldBlock);
  }
}

TEST_P(NetworkConformanceTest, LongDatagramIsTruncatedAndFlagged) {
  // Goal: a datagram longer than the buffer gives the first bytes and sets
  // *truncated; the rest of it is gone, the next datagram is intact.
  absl::StatusOr<std::unique_ptr<DatagramSocket>> a =
      net().OpenDatagram(Address::Loopback4(0));
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::unique_ptr<DatagramSocket>> b =
      net().OpenDatagram(Address::Loopback4(0));
  ASSERT_TRUE(b.ok()) << b.status();
  const std::string longer = Pattern(100);
  ASSERT_TRUE((*a)->SendTo((*b)->LocalAddress(), longer.data(), 100).ok());
  ASSERT_TRUE((*a)->SendTo((*b)->LocalAddress(), "next", 4).ok());
  char buf[10];
  Address from;
  bool truncated = false;
  IoResult r = ReceiveOne(net(), **b, buf, sizeof(buf), &from, &truncated);
  ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
  EXPECT_EQ(r.bytes, sizeof(buf));
  EXPECT_EQ(std::string(buf, r.bytes), longer.substr(0, sizeof(buf)));
  EXPECT_TRUE(truncated);
  r = ReceiveOne(net(), **b, buf, sizeof(buf), &from, &truncated);
  ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
  EXPECT_EQ(std::string(buf, r.bytes), "next");
  EXPECT_FALSE(truncated);
}

// ---------------------------------------------------------------------------
// Readiness and handle lifetime

// Two connected pairs whose clients both have a byte to read.
void MakeTwoReadableClients(Network& net, StreamPair* p1, StreamPair* p2) {
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), p1));
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), p2));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net, *p1->server, "x"));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net, *p2->server, "y"));
}

TEST_P(NetworkConformanceTest, InterestZeroMeansNoCallbacks) {
  // Goal: a readable handle with interest 0, or with no watcher, gets no
  // callback; setting interest brings the readiness back (level-triggered).
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.server, "data"));
  pair.server.reset();  // Also a hang-up pending.
  FunctionWatcher watcher([](uint32_t) {});
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(0);
  EXPECT_EQ(PollNow(net()), 0);
  EXPECT_EQ(watcher.calls(), 0);

  pair.client->SetWatcher(nullptr);
  pair.client->SetInterest(kReadable | kWritable);
  EXPECT_EQ(PollNow(net()), 0);

  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(kReadable);
  EXPECT_TRUE(PollUntil(net(), [&] { return watcher.calls() >= 2; }));
  pair.client->SetWatcher(nullptr);
}

TEST_P(NetworkConformanceTest, ReadinessIsASubsetOfInterest) {
  // Goal: a watcher sees only the bits it asked for: a writable socket with
  // data pending reports kReadable alone when only that is asked for.
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.server, "data"));
  uint32_t seen = 0;
  FunctionWatcher watcher([&](uint32_t readiness) { seen |= readiness; });
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(net(), [&] { return watcher.calls() > 0; }));
  EXPECT_EQ(seen, kReadable);
  pair.client->SetInterest(kWritable);
  seen = 0;
  ASSERT_TRUE(PollUntil(net(), [&] { return seen != 0; }));
  EXPECT_EQ(seen, kWritable);
  pair.client->SetWatcher(nullptr);
}

TEST_P(NetworkConformanceTest, HandleDestroyedInItsOwnCallbackHearsNoMore) {
  // Goal: a watcher may destroy its own handle from OnIoReady; it is not
  // called again (a use after free here shows under ASan).
  StreamPair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net(), Address::Loopback4(0), &pair));
  ASSERT_NO_FATAL_FAILURE(WriteAll(net(), *pair.server, "data"));
  FunctionWatcher watcher([&](uint32_t) { pair.client.reset(); });
  pair.client->SetWatcher(&watcher);
  pair.client->SetInterest(kReadable | kWritable);
  ASSERT_TRUE(PollUntil(net(), [&] { return pair.client == nullptr; }));
  PollNow(net());
  EXPECT_EQ(watcher.calls(), 1);
}

TEST_P(NetworkConformanceTest, HandleDestroyedByAnotherCallbackHearsNoMore) {
  // Goal: two handles ready in the same Poll; whichever callback runs first
  // destroys the other and opens a new socket (which may reuse its slot);
  // the destroyed one is never called and the new one gets no stale event.
  StreamPair p1, p2;
  ASSERT_NO_FATAL_FAILURE(MakeTwoReadableClients(net(), &p1, &p2));
  std::unique_ptr<DatagramSocket> fresh;
  FunctionWatcher fresh_watcher([](uint32_t) {});
  auto destroy_and_reopen = [&](std::unique_ptr<StreamSocket>& other) {
    other.reset();
    absl::StatusOr<std::unique_ptr<DatagramSocket>> d =
        net().OpenDatagram(Address::Loopback4(0));
    ASSERT_TRUE(d.ok()) << d.status();
    fresh = std::move(*d);
    fresh->SetWatcher(&fresh_watcher);
    fresh->SetInterest(kReadable);
  };
  // The survivor also drops its own interest, so that it is not called
  // again for the byte it leaves unread.
  FunctionWatcher w1([&](uint32_t) {
    p1.client->SetInterest(0);
    if (p2.client != nullptr) destroy_and_reopen(p2.client);
  });
  FunctionWatcher w2([&](uint32_t) {
    p2.client->SetInterest(0);
    if (p1.client != nullptr) destroy_and_reopen(p1.client);
  });
  p1.client->SetWatcher(&w1);
  p2.client->SetWatcher(&w2);
  p1.client->SetInterest(kReadable);
  p2.client->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(net(), [&] { return fresh != nullptr; }));
  PollNow(net());
  EXPECT_EQ(w1.calls() + w2.calls(), 1);
  EXPECT_EQ(fresh_watcher.calls(), 0);
  if (p1.client) p1.client->SetWatcher(nullptr);
  if (p2.client) p2.client->SetWatcher(nullptr);
}

TEST_P(NetworkConformanceTest, InterestClearedByAnotherCallbackIsHonoured) {
  // Goal: when one callback clears another ready handle's interest in the
  // same Poll, that handle is not called.
  StreamPair p1, p2;
  ASSERT_NO_FATAL_FAILURE(MakeTwoReadableClients(net(), &p1, &p2));
  FunctionWatcher w1([&](uint32_t) {
    p1.client->SetInterest(0);
    p2.client->SetInterest(0);
  });
  FunctionWatcher w2([&](uint32_t) {
    p1.client->SetInterest(0);
    p2.client->SetInterest(0);
  });
  p1.client->SetWatcher(&w1);
  p2.client->SetWatcher(&w2);
  p1.client->SetInterest(kReadable);
  p2.client->SetInterest(kReadable);
  ASSERT_TRUE(PollUntil(net(), [&] { return w1.calls() + w2.calls() > 0; }));
  PollNow(net());
  EXPECT_EQ(w1.calls() + w2.calls(), 1);
  p1.client->SetWatcher(nullptr);
  p2.client->SetWatcher(nullptr);
}

TEST_P(NetworkConformanceTest, WakeEndsAPollWithNoDeadline) {
  // Goal: after Wake, a Poll with an infinite deadline returns promptly.
  net().Wake();
  net().Wake();  // Wakes may coalesce.
  absl::StatusOr<int> polled = net().Poll(absl::InfiniteFuture());
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 0);
}

TEST_P(NetworkConformanceTest, PollReturnsAtItsDeadline) {
  // Goal: with nothing to do, Poll returns no earlier than its deadline.
  const absl::Time deadline = net().Now() + absl::Milliseconds(3);
  absl::StatusOr<int> polled = net().Poll(deadline);
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 0);
  EXPECT_GE(net().Now(), deadline);
}

// ---------------------------------------------------------------------------
// Resolution

struct Resolution {
  bool done = false;
  absl::StatusOr<std::vector<Address>> result;
};

void StartResolve(Network& net, std::string_view host, Resolution* out) {
  net.Resolve(host, [out](absl::StatusOr<std::vector<Address>> result) {
    EXPECT_FALSE(out->done);
    out->done = true;
    out->result = std::move(result);
  });
  EXPECT_FALSE(out->done) << "Resolve ran its callback inside the call";
}

TEST_P(NetworkConformanceTest, ResolveAnswersLiteralsFromALaterPoll) {
  // Goal: numeric literals resolve to themselves (port 0), delivered from
  // Poll, never from inside Resolve.
  Resolution v4, v6, bracketed;
  StartResolve(net(), "127.0.0.1", &v4);
  StartResolve(net(), "::1", &v6);
  StartResolve(net(), "[::1]", &bracketed);
  ASSERT_TRUE(
      PollUntil(net(), [&] { return v4.done && v6.done && bracketed.done; }));
  ASSERT_TRUE(v4.result.ok()) << v4.result.status();
  EXPECT_EQ(*v4.result, std::vector<Address>{Address::Loopback4(0)});
  ASSERT_TRUE(v6.result.ok()) << v6.result.status();
  EXPECT_EQ(*v6.result, std::vector<Address>{Address::Loopback6(0)});
  ASSERT_TRUE(bracketed.result.ok()) << bracketed.result.status();
  EXPECT_EQ(*bracketed.result, std::vector<Address>{Address::Loopback6(0)});
}

TEST_P(NetworkConformanceTest, ResolveLocalhostGivesBothLoopbacks) {
  // Goal: RFC 6761: "localhost" and names under ".localhost" are ::1 then
  // 127.0.0.1 on every backend, whatever the machine's /etc/hosts says.
  Resolution plain, sub;
  StartResolve(net(), "localhost", &plain);
  StartResolve(net(), "api.LOCALHOST.", &sub);
  ASSERT_TRUE(PollUntil(net(), [&] { return plain.done && sub.done; }));
  for (Resolution* r : {&plain, &sub}) {
    ASSERT_TRUE(r->result.ok()) << r->result.status();
    EXPECT_EQ(*r->result, (std::vector<Address>{Address::Loopback6(0),
                                                 Address::Loopback4(0)}));
  }
}

TEST_P(NetworkConformanceTest, ResolveOfAMissingNameIsNameNotFound) {
  // Goal: a name that cannot exist fails with kind kNameNotFound; so does an
  // empty name.
  Resolution missing, empty;
  StartResolve(net(), "no-such-host.invalid", &missing);
  StartResolve(net(), "", &empty);
  ASSERT_TRUE(PollUntil(net(), [&] { return missing.done && empty.done; }));
  ASSERT_FALSE(missing.result.ok());
  EXPECT_EQ(KindOf(missing.result.status()), ErrorKind::kNameNotFound)
      << missing.result.status();
  ASSERT_FALSE(empty.result.ok());
  EXPECT_EQ(KindOf(empty.result.status()), ErrorKind::kNameNotFound)
      << empty.result.status();
}

TEST_P(NetworkConformanceTest, ResolveFromACallbackIsDeliveredLater) {
  // Goal: a resolve started from a resolve callback is not delivered inside
  // it, but from a later Poll.
  Resolution second;
  bool first_done = false;
  net().Resolve("127.0.0.1", [&](absl::StatusOr<std::vector<Address>>) {
    first_done = true;
    StartResolve(net(), "::1", &second);
  });
  ASSERT_TRUE(PollUntil(net(), [&] { return second.done; }));
  EXPECT_TRUE(first_done);
  EXPECT_TRUE(second.result.ok()) << second.result.status();
}

}  // namespace

TEST_P(NetworkConformanceTest, OffloadRunsWorkThenItsDoneFromALaterPoll) {
  // Goal: whatever the backend does with the work (a thread, or the loop
  // later), each job's `done` runs from a Poll, never inside Offload, after
  // its `work`, and sees what `work` produced.
  constexpr int kJobs = 10;
  std::vector<int> produced(kJobs, -1);
  std::vector<int> delivered;
  for (int i = 0; i < kJobs; ++i) {
    int* slot = &produced[i];
    ASSERT_TRUE(network_
                    ->Offload([slot, i] { *slot = i * i; },
                              [&delivered, slot] {
                                delivered.push_back(*slot);
                              })
                    .ok());
  }
  EXPECT_TRUE(delivered.empty());
  ASSERT_TRUE(PollUntil(*network_, [&] {
    return delivered.size() == static_cast<size_t>(kJobs);
  }));
  std::sort(delivered.begin(), delivered.end());
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(delivered[i], i * i);
}

// The suite is instantiated by each backend's test, not here.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NetworkConformanceTest);

}  // namespace ember::io::conformance
