// Tests that each stream fault, and each scripted fault, has its documented
// effect as seen through io::Network: connect latency, refusal, timeouts,
// backlog, split delivery, latency, bandwidth, windows and short writes,
// resets, half-close, clogs, partitions, host crashes and restarts, and
// descriptor exhaustion. Each test drives sockets directly and pumps Poll.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/error.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"

namespace ember::sim {
namespace {

using io::Address;
using io::ErrorKind;
using io::IoResult;
using io::KindOf;
using testing::AwaitConnect;
using testing::FnWatcher;
using testing::MakePair;
using testing::Options;
using testing::Pair;
using testing::Pattern;
using testing::PumpUntil;
using testing::ReadFor;
using testing::ReadNow;
using testing::WriteNow;

Address Ip(const char* literal, uint16_t port = 0) {
  return *Address::ParseIp(literal, port);
}

// Two hosts: a server at 10.0.0.1 and a client at 10.0.0.2, the client
// host being the default so that connects without a bind start there.
struct TwoHosts {
  explicit TwoHosts(SimNetwork& net)
      : server(net.AddHost("server", {Ip("10.0.0.1")})),
        client(net.AddHost("client", {Ip("10.0.0.2")})) {
    net.SetDefaultHost(client);
  }
  HostId server;
  HostId client;
};

std::unique_ptr<io::Listener> ListenOrDie(SimNetwork& net, const Address& at,
                                          int backlog = 128) {
  io::ListenOptions options;
  options.backlog = backlog;
  absl::StatusOr<std::unique_ptr<io::Listener>> l = net.Listen(at, options);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? std::move(*l) : nullptr;
}

std::unique_ptr<io::StreamSocket> ConnectOrDie(
    SimNetwork& net, const Address& to,
    const io::ConnectOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> s =
      net.Connect(to, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// ---------------------------------------------------------------------------
// Establishment

TEST(StreamTest, ConnectLatencyIsTheHandshakeRoundTrip) {
  // Goal: with a fixed 10 ms handshake, the listener sees the connection
  // after 5 ms and the client is connected after 10 ms.
  FaultPlan plan;
  plan.connect_latency_min = plan.connect_latency_max = absl::Milliseconds(10);
  SimNetwork net(Options(1, plan));
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, listener->LocalAddress());
  absl::Time queued_at, connected_at;
  FnWatcher lw([&](uint32_t) {
    queued_at = net.Now();
    listener->SetInterest(0);
  });
  FnWatcher cw([&](uint32_t) {
    connected_at = net.Now();
    client->SetInterest(0);
  });
  listener->SetWatcher(&lw);
  listener->SetInterest(io::kReadable);
  client->SetWatcher(&cw);
  client->SetInterest(io::kWritable);
  EXPECT_TRUE(PumpUntil(net, [&] { return cw.calls() > 0; }));
  EXPECT_EQ(queued_at - start, absl::Milliseconds(5));
  EXPECT_EQ(connected_at - start, absl::Milliseconds(10));
  EXPECT_TRUE(client->FinishConnect().ok());
  listener->SetWatcher(nullptr);
  client->SetWatcher(nullptr);
}

TEST(StreamTest, FinishConnectBeforeTheAnswerIsFailedPrecondition) {
  // Goal: asking too early is a caller error, not a connect failure.
  FaultPlan plan;
  plan.connect_latency_min = plan.connect_latency_max = absl::Milliseconds(10);
  SimNetwork net(Options(1, plan));
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  auto client = ConnectOrDie(net, listener->LocalAddress());
  EXPECT_EQ(client->FinishConnect().code(),
            absl::StatusCode::kFailedPrecondition);
  char buf[4];
  EXPECT_EQ(client->Read(buf, 4).code, IoResult::Code::kWouldBlock);
  EXPECT_EQ(WriteNow(*client, "x"), 0u);
}

TEST(StreamTest, NoListenerIsRefused) {
  // Goal: a reachable host with nobody on the port refuses: kRefused, code
  // kUnavailable, after one handshake round trip.
  FaultPlan plan;
  plan.connect_latency_min = plan.connect_latency_max = absl::Milliseconds(4);
  SimNetwork net(Options(1, plan));
  TwoHosts hosts(net);
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, Ip("10.0.0.1", 80));
  absl::Status s = AwaitConnect(net, *client);
  EXPECT_EQ(KindOf(s), ErrorKind::kRefused) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(net.Now() - start, absl::Milliseconds(4));
  EXPECT_EQ(net.stats().connections_refused, 1u);
  // The failure is sticky and reported on reads and writes too.
  char buf[4];
  IoResult r = client->Read(buf, 4);
  ASSERT_EQ(r.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(r.error), ErrorKind::kRefused);
}

TEST(StreamTest, UnreachableAddressTimesOutAfterTheKernelTimeout) {
  // Goal: a connect to an address no host owns gets no answer: SYNs are
  // retransmitted, and after 75 s of virtual time it fails with kTimedOut.
  SimNetwork net;
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, Ip("192.0.2.1", 80));
  absl::Status s = AwaitConnect(net, *client, absl::Minutes(5));
  EXPECT_EQ(KindOf(s), ErrorKind::kTimedOut) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(net.Now() - start, absl::Seconds(75));
  EXPECT_EQ(net.stats().connections_timed_out, 1u);
}

TEST(StreamTest, ConnectTimeoutIsConfigurable) {
  // Goal: SimOptions::connect_timeout sets when an unanswered connect fails.
  SimOptions options;
  options.connect_timeout = absl::Seconds(5);
  SimNetwork net(options);
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, Ip("192.0.2.1", 80));
  absl::Status s = AwaitConnect(net, *client);
  EXPECT_EQ(KindOf(s), ErrorKind::kTimedOut) << s;
  EXPECT_EQ(net.Now() - start, absl::Seconds(5));
}

TEST(StreamTest, PartitionHealsAndTheRetransmittedSynGetsThrough) {
  // Goal: during a 5 s partition the SYN is lost; the retransmission at
  // 7 s (after 1 s and 3 s were lost too) connects.
  SimNetwork net;
  TwoHosts hosts(net);
  auto listener = ListenOrDie(net, Ip("10.0.0.1", 80));
  net.Partition(hosts.client, hosts.server, absl::Seconds(5));
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, Ip("10.0.0.1", 80));
  absl::Status s = AwaitConnect(net, *client);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(net.Now() - start, absl::Seconds(7));
  EXPECT_EQ(net.stats().faults.at("partition"), 1u);
}

TEST(StreamTest, FullBacklogDropsSynsUntilThereIsRoom) {
  // Goal: with backlog 1, a second connect is not answered while the first
  // waits to be accepted; once accepted, the second gets in on a SYN
  // retransmission, as with Linux dropping SYNs.
  SimNetwork net;
  auto listener = ListenOrDie(net, Address::Loopback4(0), /*backlog=*/1);
  auto first = ConnectOrDie(net, listener->LocalAddress());
  auto second = ConnectOrDie(net, listener->LocalAddress());
  ASSERT_TRUE(AwaitConnect(net, *first).ok());
  // The second connect hears nothing for half a second.
  bool second_done = false;
  FnWatcher w([&](uint32_t) { second_done = true; });
  second->SetWatcher(&w);
  second->SetInterest(io::kWritable);
  testing::PumpFor(net, absl::Milliseconds(500));
  EXPECT_FALSE(second_done);
  EXPECT_GE(net.stats().faults.at("backlog_full"), 1u);
  second->SetWatcher(nullptr);
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = listener->Accept();
  ASSERT_TRUE(a.ok() && *a != nullptr);
  EXPECT_TRUE(AwaitConnect(net, *second).ok());
  EXPECT_EQ(net.Now() - absl::FromUnixSeconds(1'000'000), absl::Seconds(1));
}

TEST(StreamTest, ClosingTheListenerResetsQueuedConnections) {
  // Goal: connections nobody accepted are reset when the listener goes.
  SimNetwork net;
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  auto client = ConnectOrDie(net, listener->LocalAddress());
  ASSERT_TRUE(AwaitConnect(net, *client).ok());
  listener.reset();
  IoResult last;
  ReadFor(net, *client, 1, &last);
  ASSERT_EQ(last.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(last.error), ErrorKind::kReset) << last.error;
}

TEST(StreamTest, ClientClosingWhileConnectingLeavesNothingBehind) {
  // Goal: a client destroyed before its connect finishes resets what the
  // server queued, and the listener's accepted socket reports it.
  FaultPlan plan;
  plan.connect_latency_min = plan.connect_latency_max = absl::Milliseconds(10);
  SimNetwork net(Options(1, plan));
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  auto client = ConnectOrDie(net, listener->LocalAddress());
  testing::PumpFor(net, absl::Milliseconds(6));  // queued at the server
  client.reset();
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = listener->Accept();
  ASSERT_TRUE(a.ok() && *a != nullptr);
  char buf[4];
  IoResult r = (*a)->Read(buf, 4);
  ASSERT_EQ(r.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(r.error), ErrorKind::kReset);
  a->reset();
  net.CheckInvariants();
}

// ---------------------------------------------------------------------------
// Delivery

TEST(StreamTest, SplitDeliveryCutsWritesAtArbitraryBoundaries) {
  // Goal: with every write split, a 4000-byte write arrives in several
  // pieces at different times, still complete and in order.
  FaultPlan plan;
  plan.split_probability = 1.0;
  plan.latency_min = absl::Milliseconds(1);
  plan.latency_max = absl::Milliseconds(20);
  SimNetwork net(Options(5, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const std::string data = Pattern(4000);
  ASSERT_EQ(WriteNow(*pair.client, data), data.size());
  std::string got;
  std::vector<size_t> pieces;
  FnWatcher w([&](uint32_t) {
    const std::string now = ReadNow(*pair.server);
    if (!now.empty()) pieces.push_back(now.size());
    got += now;
  });
  pair.server->SetWatcher(&w);
  pair.server->SetInterest(io::kReadable);
  EXPECT_TRUE(PumpUntil(net, [&] { return got.size() == data.size(); }));
  pair.server->SetWatcher(nullptr);
  EXPECT_TRUE(got == data);
  EXPECT_GT(pieces.size(), 1u);
  EXPECT_GE(net.stats().faults.at("split"), 1u);
}

TEST(StreamTest, LatencyAndJitterNeverReorderAStream) {
  // Goal: 200 one-byte writes with latency drawn in [1 ms, 100 ms] arrive
  // in the order written, none before its minimum latency.
  FaultPlan plan;
  plan.latency_min = absl::Milliseconds(1);
  plan.latency_max = absl::Milliseconds(100);
  SimNetwork net(Options(6, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  std::string sent;
  const absl::Time start = net.Now();
  for (int i = 0; i < 200; ++i) {
    const char c = static_cast<char>(i);
    ASSERT_EQ(WriteNow(*pair.client, std::string(1, c)), 1u);
    sent.push_back(c);
  }
  absl::Time first_arrival;
  std::string got;
  FnWatcher w([&](uint32_t) {
    if (got.empty()) first_arrival = net.Now();
    got += ReadNow(*pair.server);
  });
  pair.server->SetWatcher(&w);
  pair.server->SetInterest(io::kReadable);
  EXPECT_TRUE(PumpUntil(net, [&] { return got.size() == sent.size(); }));
  pair.server->SetWatcher(nullptr);
  EXPECT_EQ(got, sent);
  EXPECT_GE(first_arrival - start, absl::Milliseconds(1));
  EXPECT_LE(net.Now() - start, absl::Milliseconds(100));
}

TEST(StreamTest, BandwidthPacesDelivery) {
  // Goal: at 1000 bytes/s, 500 bytes take half a second to arrive.
  FaultPlan plan;
  plan.bandwidth_bytes_per_second = 1000;
  SimNetwork net(Options(1, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const absl::Time start = net.Now();
  ASSERT_EQ(WriteNow(*pair.client, Pattern(500)), 500u);
  const std::string got = ReadFor(net, *pair.server, 500);
  EXPECT_EQ(got.size(), 500u);
  EXPECT_EQ(net.Now() - start, absl::Milliseconds(500));
}

TEST(StreamTest, ReceiveWindowPushesBackOnTheWriter) {
  // Goal: with a 100-byte window and a reader that does not read, a writer
  // gets a short write of 100, then kWouldBlock and no kWritable; after the
  // reader drains, kWritable comes back and the rest goes through.
  FaultPlan plan;
  plan.window_bytes = 100;
  SimNetwork net(Options(1, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const std::string data = Pattern(250);
  io::ConstBuffer b{data.data(), data.size()};
  IoResult r = pair.client->Write(&b, 1);
  ASSERT_EQ(r.code, IoResult::Code::kOk);
  EXPECT_EQ(r.bytes, 100u);
  EXPECT_EQ(pair.client->Write(&b, 1).code, IoResult::Code::kWouldBlock);

  FnWatcher writable;
  pair.client->SetWatcher(&writable);
  pair.client->SetInterest(io::kWritable);
  testing::PumpFor(net, absl::Seconds(1));
  EXPECT_EQ(writable.calls(), 0);

  EXPECT_EQ(ReadFor(net, *pair.server, 100), data.substr(0, 100));
  EXPECT_TRUE(PumpUntil(net, [&] { return writable.calls() > 0; }));
  pair.client->SetWatcher(nullptr);
  pair.client->SetInterest(0);
  EXPECT_EQ(WriteNow(*pair.client, data.substr(100, 100)), 100u);
  EXPECT_EQ(ReadFor(net, *pair.server, 100), data.substr(100, 100));
}

TEST(StreamTest, ShortWritesWithoutAFullWindow) {
  // Goal: short_write_probability makes writes accept a strict prefix
  // even with room; the bytes still arrive in order.
  FaultPlan plan;
  plan.short_write_probability = 1.0;
  SimNetwork net(Options(2, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const std::string data = Pattern(1000);
  io::ConstBuffer b{data.data(), data.size()};
  IoResult r = pair.client->Write(&b, 1);
  ASSERT_EQ(r.code, IoResult::Code::kOk);
  EXPECT_LT(r.bytes, data.size());
  EXPECT_GE(r.bytes, 1u);
  const size_t rest = WriteNow(*pair.client, data.substr(r.bytes));
  EXPECT_EQ(r.bytes + rest, data.size());
  EXPECT_EQ(ReadFor(net, *pair.server, data.size()), data);
}

TEST(StreamTest, GatheredWritesKeepBufferOrder) {
  // Goal: a write from several buffers sends them in order.
  SimNetwork net;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  io::ConstBuffer buffers[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
  IoResult r = pair.client->Write(buffers, 3);
  ASSERT_EQ(r.code, IoResult::Code::kOk);
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(ReadFor(net, *pair.server, 5), "abcde");
}

// ---------------------------------------------------------------------------
// Resets, half-close, closes

TEST(StreamTest, ScriptedResetMidStreamDiscardsBufferedBytes) {
  // Goal: ResetConnection makes both ends see kReset on their next read and
  // write; bytes in flight or unread are discarded and counted.
  FaultPlan plan;
  plan.latency_min = plan.latency_max = absl::Milliseconds(50);
  SimNetwork net(Options(1, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  ASSERT_EQ(WriteNow(*pair.client, "hello"), 5u);
  absl::StatusOr<Address> a = pair.client->LocalAddress();
  absl::StatusOr<Address> b = pair.server->LocalAddress();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(net.ResetConnection(*b, *a), 1);
  for (io::StreamSocket* s : {pair.client.get(), pair.server.get()}) {
    char buf[8];
    IoResult r = s->Read(buf, sizeof(buf));
    ASSERT_EQ(r.code, IoResult::Code::kError);
    EXPECT_EQ(KindOf(r.error), ErrorKind::kReset) << r.error;
    EXPECT_EQ(r.error.code(), absl::StatusCode::kUnavailable);
    io::ConstBuffer w{"x", 1};
    IoResult wr = s->Write(&w, 1);
    ASSERT_EQ(wr.code, IoResult::Code::kError);
    EXPECT_EQ(KindOf(wr.error), ErrorKind::kReset);
  }
  const SimStats stats = net.stats();
  EXPECT_EQ(stats.bytes_discarded, 5u);
  EXPECT_EQ(stats.connections_reset, 1u);
  // Errors are readiness, so the owners notice.
  FnWatcher w;
  pair.server->SetWatcher(&w);
  pair.server->SetInterest(io::kReadable);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(w.calls(), 1);
  pair.server->SetWatcher(nullptr);
}

TEST(StreamTest, PlannedResetsHappenMidStream) {
  // Goal: with reset_probability 1 the first segment delivered resets the
  // connection instead; the reader sees kReset, not the bytes.
  FaultPlan plan;
  plan.reset_probability = 1.0;
  SimNetwork net(Options(1, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  ASSERT_EQ(WriteNow(*pair.client, "doomed"), 6u);
  IoResult last;
  const std::string got = ReadFor(net, *pair.server, 6, &last);
  EXPECT_EQ(got, "");
  ASSERT_EQ(last.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(last.error), ErrorKind::kReset);
  EXPECT_EQ(net.stats().faults.at("reset"), 1u);
}

TEST(StreamTest, HalfCloseDeliversEndOfStreamAfterTheBytes) {
  // Goal: after ShutdownWrite the peer reads every byte, then end of stream;
  // the half-closed end can still read; its own writes fail with kReset.
  FaultPlan plan;
  plan.split_probability = 1.0;
  plan.latency_max = absl::Milliseconds(30);
  SimNetwork net(Options(3, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const std::string data = Pattern(3000);
  ASSERT_EQ(WriteNow(*pair.client, data), data.size());
  ASSERT_TRUE(pair.client->ShutdownWrite().ok());
  ASSERT_TRUE(pair.client->ShutdownWrite().ok());  // twice is fine
  io::ConstBuffer b{"x", 1};
  IoResult after = pair.client->Write(&b, 1);
  ASSERT_EQ(after.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(after.error), ErrorKind::kReset);

  IoResult last;
  EXPECT_TRUE(ReadFor(net, *pair.server, SIZE_MAX, &last) == data);
  EXPECT_EQ(last.code, IoResult::Code::kEndOfStream);
  ASSERT_EQ(WriteNow(*pair.server, "answer"), 6u);
  EXPECT_EQ(ReadFor(net, *pair.client, 6), "answer");
}

TEST(StreamTest, ClosingWithUnreadBytesResetsThePeer) {
  // Goal: destroying a socket that has unread bytes resets the connection,
  // as Linux sends a RST.
  SimNetwork net;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  ASSERT_EQ(WriteNow(*pair.client, "unread"), 6u);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());  // delivered
  pair.server.reset();
  IoResult last;
  ReadFor(net, *pair.client, 1, &last);
  ASSERT_EQ(last.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(last.error), ErrorKind::kReset);
  EXPECT_EQ(net.stats().bytes_discarded, 6u);
}

TEST(StreamTest, WritingToAClosedPeerEventuallyFails) {
  // Goal: after the peer closed cleanly, the first write is accepted, the
  // bytes reach the closed socket, and the connection resets: later writes
  // fail with kReset.
  SimNetwork net;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  pair.server.reset();
  IoResult last;
  ReadFor(net, *pair.client, 1, &last);
  EXPECT_EQ(last.code, IoResult::Code::kEndOfStream);
  EXPECT_EQ(WriteNow(*pair.client, "late"), 4u);
  testing::PumpFor(net, absl::Milliseconds(1));
  io::ConstBuffer b{"x", 1};
  IoResult r = pair.client->Write(&b, 1);
  ASSERT_EQ(r.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(r.error), ErrorKind::kReset);
}

// ---------------------------------------------------------------------------
// Links

TEST(StreamTest, ClogStallsTheLinkThenResumes) {
  // Goal: bytes written into a link clogged for 2 s arrive when it clears,
  // in order; a heal ends a clog early.
  SimNetwork net;
  TwoHosts hosts(net);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair));
  net.Clog(hosts.client, hosts.server, absl::Seconds(2));
  const absl::Time start = net.Now();
  ASSERT_EQ(WriteNow(*pair.client, "stalled"), 7u);
  EXPECT_EQ(ReadFor(net, *pair.server, 7), "stalled");
  EXPECT_EQ(net.Now() - start, absl::Seconds(2));

  net.Clog(hosts.client, hosts.server, absl::Seconds(60));
  ASSERT_EQ(WriteNow(*pair.server, "back"), 4u);
  testing::PumpFor(net, absl::Seconds(1));
  net.Heal(hosts.server, hosts.client);
  EXPECT_EQ(ReadFor(net, *pair.client, 4), "back");
  EXPECT_EQ(net.Now() - start, absl::Seconds(3));
}

TEST(StreamTest, AWriteBehindBytesHeldByAClogQueuesBehindThem) {
  // Goal: writing into a clogged link whose earlier bytes are past their
  // due time (held only by the clog) queues the new bytes behind them, and
  // both arrive in order when the clog clears. This write once scheduled a
  // delivery in the past and aborted the simulator.
  SimNetwork net;
  TwoHosts hosts(net);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair));
  net.Clog(hosts.client, hosts.server, absl::Seconds(10));
  const absl::Time start = net.Now();
  ASSERT_EQ(WriteNow(*pair.client, "first "), 6u);
  testing::PumpFor(net, absl::Seconds(1));
  ASSERT_EQ(WriteNow(*pair.client, "second"), 6u);
  EXPECT_EQ(ReadFor(net, *pair.server, 12), "first second");
  EXPECT_EQ(net.Now() - start, absl::Seconds(10));
}

TEST(StreamTest, PartitionHoldsStreamBytesUntilItHeals) {
  // Goal: an established stream survives a partition: its bytes wait and
  // arrive, in order, once the partition heals.
  SimNetwork net;
  TwoHosts hosts(net);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair));
  net.Partition(hosts.server, hosts.client, absl::Seconds(10));
  const absl::Time start = net.Now();
  ASSERT_EQ(WriteNow(*pair.client, "patience"), 8u);
  EXPECT_EQ(ReadFor(net, *pair.server, 8), "patience");
  EXPECT_EQ(net.Now() - start, absl::Seconds(10));
}

TEST(StreamTest, PlannedClogsAndPartitionsAreDrawnPerBlockSent) {
  // Goal: clogs and partitions are drawn per connect attempt and per
  // 512-byte block of a stream sent (so the same bytes meet the same draws
  // however they are cut); a lost SYN is retransmitted, and stream bytes
  // held by a partition still arrive, in order.
  FaultPlan plan;
  plan.clog_probability = 0.5;
  plan.clog_duration_max = absl::Milliseconds(100);
  plan.partition_probability = 0.5;
  plan.partition_duration_max = absl::Milliseconds(100);
  SimNetwork net(Options(4, plan));
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Address::Loopback4(0), &pair));
  const std::string data = Pattern(20 * 512);
  for (size_t i = 0; i < data.size(); i += 512) {
    ASSERT_EQ(WriteNow(*pair.client, data.substr(i, 512)), 512u);
  }
  EXPECT_EQ(ReadFor(net, *pair.server, data.size()), data);
  const SimStats stats = net.stats();
  EXPECT_GE(stats.faults.at("clog"), 5u);
  EXPECT_GE(stats.faults.at("partition"), 5u);
}

TEST(StreamTest, ALinkPartitionedAtEveryAttemptTimesOut) {
  // Goal: a plan that partitions the link on every connect attempt keeps
  // every SYN from arriving, so the connect times out.
  FaultPlan plan;
  plan.partition_probability = 1.0;
  plan.partition_duration_max = absl::Milliseconds(100);
  SimNetwork net(Options(4, plan));
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  auto client = ConnectOrDie(net, listener->LocalAddress());
  EXPECT_EQ(KindOf(AwaitConnect(net, *client)), ErrorKind::kTimedOut);
}

// ---------------------------------------------------------------------------
// Hosts

TEST(StreamTest, CrashResetsConnectionsAndKillsListenersUntilRestart) {
  // Goal: CrashHost resets every connection with an end on the host
  // (kReset on both sides), kills its listener (Accept fails with kClosed,
  // and it reports readiness), refuses new listeners (kUnreachable);
  // RestartHost runs the hook, which listens again, and connects succeed.
  SimNetwork net;
  TwoHosts hosts(net);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair));
  std::unique_ptr<io::Listener> relisten;
  int hook_runs = 0;
  net.SetRestartHook(hosts.server, [&] {
    ++hook_runs;
    relisten = ListenOrDie(net, Ip("10.0.0.1", 80));
  });
  net.CrashHost(hosts.server);
  EXPECT_FALSE(net.HostIsUp(hosts.server));
  for (io::StreamSocket* s : {pair.client.get(), pair.server.get()}) {
    char buf[4];
    IoResult r = s->Read(buf, 4);
    ASSERT_EQ(r.code, IoResult::Code::kError);
    EXPECT_EQ(KindOf(r.error), ErrorKind::kReset) << r.error;
  }
  FnWatcher lw;
  pair.listener->SetWatcher(&lw);
  pair.listener->SetInterest(io::kReadable);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(lw.calls(), 1);
  pair.listener->SetWatcher(nullptr);
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> accepted =
      pair.listener->Accept();
  ASSERT_FALSE(accepted.ok());
  EXPECT_EQ(KindOf(accepted.status()), ErrorKind::kClosed);

  absl::StatusOr<std::unique_ptr<io::Listener>> down =
      net.Listen(Ip("10.0.0.1", 81), io::ListenOptions{});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(KindOf(down.status()), ErrorKind::kUnreachable);

  net.RestartHost(hosts.server);
  EXPECT_EQ(hook_runs, 1);
  ASSERT_NE(relisten, nullptr);
  auto client = ConnectOrDie(net, Ip("10.0.0.1", 80));
  EXPECT_TRUE(AwaitConnect(net, *client).ok());
}

TEST(StreamTest, ConnectingToACrashedHostWaitsForItsRestart) {
  // Goal: SYNs to a crashed host are lost; when it restarts and listens
  // again within the connect timeout, a retransmission connects.
  SimNetwork net;
  TwoHosts hosts(net);
  std::unique_ptr<io::Listener> listener = ListenOrDie(net, Ip("10.0.0.1", 80));
  net.SetRestartHook(hosts.server,
                     [&] { listener = ListenOrDie(net, Ip("10.0.0.1", 80)); });
  net.CrashHost(hosts.server);
  listener.reset();
  const absl::Time start = net.Now();
  auto client = ConnectOrDie(net, Ip("10.0.0.1", 80));
  testing::PumpFor(net, absl::Seconds(2));
  net.RestartHost(hosts.server);
  EXPECT_TRUE(AwaitConnect(net, *client).ok());
  EXPECT_EQ(net.Now() - start, absl::Seconds(3));
}

TEST(StreamTest, PlannedCrashesHitHostsWithARestartHook) {
  // Goal: with crash_probability 1, a segment delivered to a host with a
  // restart hook crashes it; it restarts after at most the downtime and
  // the hook runs. A host without a hook is never crashed by the plan.
  FaultPlan plan;
  plan.crash_probability = 1.0;
  plan.crash_downtime_max = absl::Seconds(3);
  SimNetwork net(Options(9, plan));
  TwoHosts hosts(net);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair));
  // The client host has no hook: bytes to it do not crash it.
  ASSERT_EQ(WriteNow(*pair.server, "safe"), 4u);
  EXPECT_EQ(ReadFor(net, *pair.client, 4), "safe");
  EXPECT_TRUE(net.HostIsUp(hosts.client));

  int restarts = 0;
  net.SetRestartHook(hosts.server, [&] { ++restarts; });
  ASSERT_EQ(WriteNow(*pair.client, "boom"), 4u);
  IoResult last;
  ReadFor(net, *pair.client, 1, &last);
  ASSERT_EQ(last.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(last.error), ErrorKind::kReset);
  EXPECT_FALSE(net.HostIsUp(hosts.server));
  EXPECT_TRUE(PumpUntil(
      net, [&] { return restarts == 1; }, absl::Seconds(4)));
  EXPECT_TRUE(net.HostIsUp(hosts.server));
  EXPECT_EQ(net.stats().faults.at("crash"), 1u);
}

TEST(StreamTest, AcceptOutOfDescriptorsLeavesTheConnectionQueued) {
  // Goal: with the host at its descriptor limit, Accept fails with
  // kNoResources and the listener stays readable; once a descriptor is
  // freed, Accept returns the same connection.
  SimOptions options;
  options.descriptors_per_host_max = 3;
  SimNetwork net(options);
  auto listener = ListenOrDie(net, Address::Loopback4(0));    // 1
  auto client = ConnectOrDie(net, listener->LocalAddress());  // 2
  auto spare = ConnectOrDie(net, Address::Loopback6(9));      // 3
  ASSERT_TRUE(AwaitConnect(net, *client).ok());
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = listener->Accept();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(KindOf(a.status()), ErrorKind::kNoResources);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  FnWatcher lw;
  listener->SetWatcher(&lw);
  listener->SetInterest(io::kReadable);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(lw.calls(), 1);  // still pending
  listener->SetWatcher(nullptr);
  // Other calls hit the limit too.
  absl::StatusOr<std::unique_ptr<io::DatagramSocket>> d =
      net.OpenDatagram(Address::Loopback4(0));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(KindOf(d.status()), ErrorKind::kNoResources);

  spare.reset();
  a = listener->Accept();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_NE(*a, nullptr);
  ASSERT_EQ(WriteNow(*client, "hi"), 2u);
  EXPECT_EQ(ReadFor(net, **a, 2), "hi");
}

TEST(StreamTest, PlannedAcceptFailures) {
  // Goal: accept_no_resources_probability 1 fails every Accept with a
  // connection pending, counted as a fault; an empty queue still gives
  // null without drawing.
  FaultPlan plan;
  plan.accept_no_resources_probability = 1.0;
  SimNetwork net(Options(1, plan));
  auto listener = ListenOrDie(net, Address::Loopback4(0));
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> none = listener->Accept();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  auto client = ConnectOrDie(net, listener->LocalAddress());
  ASSERT_TRUE(AwaitConnect(net, *client).ok());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = listener->Accept();
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(KindOf(a.status()), ErrorKind::kNoResources);
  }
  EXPECT_EQ(net.stats().faults.at("accept_no_resources"), 3u);
}

// ---------------------------------------------------------------------------
// Topology and addresses

TEST(StreamTest, SocketsBelongToTheHostOwningTheirAddress) {
  // Goal: a connect bound to a host's IP starts there; without a bind it
  // starts at the default host; addresses seen by both ends agree.
  SimNetwork net;
  TwoHosts hosts(net);
  const HostId third = net.AddHost("third", {Ip("10.0.0.3"), Ip("fd00::3")});
  EXPECT_EQ(*net.HostOf(Ip("fd00::3", 5)), third);
  EXPECT_EQ(*net.HostOf(Address::Any4(1)), hosts.client);  // the default
  EXPECT_EQ(*net.HostOf(Address::Loopback6(1)), kLocalHost);
  EXPECT_EQ(net.HostOf(Ip("10.9.9.9")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net.HostName(third), "third");

  const Address bind = Ip("10.0.0.3", 4444);
  io::ConnectOptions options;
  options.bind = &bind;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(MakePair(net, Ip("10.0.0.1", 80), &pair, options));
  EXPECT_EQ(*pair.client->LocalAddress(), bind);
  EXPECT_EQ(*pair.server->PeerAddress(), bind);
  EXPECT_EQ(*pair.server->LocalAddress(), Ip("10.0.0.1", 80));

  auto plain = ConnectOrDie(net, Ip("10.0.0.1", 80));
  ASSERT_TRUE(AwaitConnect(net, *plain).ok());
  EXPECT_EQ(plain->LocalAddress()->WithPort(0), Ip("10.0.0.2"));

  // Binding an address no host owns fails at once.
  const Address nowhere = Ip("10.9.9.9", 0);
  options.bind = &nowhere;
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> bad =
      net.Connect(Ip("10.0.0.1", 80), options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(KindOf(bad.status()), ErrorKind::kAddressInvalid);
}

TEST(StreamTest, WildcardListenerTakesEveryAddressOfTheDefaultHost) {
  // Goal: 0.0.0.0 listens on every IPv4 address of the default host; ::
  // takes IPv4 too; a specific listener beside a wildcard one on the same
  // port is kAddressInUse.
  SimNetwork net;
  const HostId multi = net.AddHost("multi", {Ip("10.1.0.1"), Ip("10.1.0.2")});
  net.SetDefaultHost(multi);
  auto any = ListenOrDie(net, Address::Any4(8080));
  for (const char* ip : {"10.1.0.1", "10.1.0.2"}) {
    auto c = ConnectOrDie(net, Ip(ip, 8080));
    EXPECT_TRUE(AwaitConnect(net, *c).ok()) << ip;
    absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = any->Accept();
    ASSERT_TRUE(a.ok() && *a != nullptr);
    EXPECT_EQ(*(*a)->LocalAddress(), Ip(ip, 8080));
  }
  absl::StatusOr<std::unique_ptr<io::Listener>> clash =
      net.Listen(Ip("10.1.0.1", 8080), io::ListenOptions{});
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(KindOf(clash.status()), ErrorKind::kAddressInUse);

  auto v6any = ListenOrDie(net, Ip("::", 9090));
  auto c = ConnectOrDie(net, Ip("10.1.0.2", 9090));
  EXPECT_TRUE(AwaitConnect(net, *c).ok());
}

TEST(StreamTest, ReusePortSpreadsConnectionsInTurn) {
  // Goal: listeners sharing a port with reuse_port get connections in turn.
  SimNetwork net;
  io::ListenOptions shared;
  shared.reuse_port = true;
  auto a = std::move(*net.Listen(Address::Loopback4(7000), shared));
  auto b = std::move(*net.Listen(Address::Loopback4(7000), shared));
  std::vector<std::unique_ptr<io::StreamSocket>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(ConnectOrDie(net, Address::Loopback4(7000)));
    ASSERT_TRUE(AwaitConnect(net, *clients.back()).ok());
  }
  int at_a = 0, at_b = 0;
  while (true) {
    auto x = a->Accept();
    if (!x.ok() || *x == nullptr) break;
    ++at_a;
  }
  while (true) {
    auto x = b->Accept();
    if (!x.ok() || *x == nullptr) break;
    ++at_b;
  }
  EXPECT_EQ(at_a, 2);
  EXPECT_EQ(at_b, 2);
}

TEST(StreamTest, UnixSocketsLiveOnTheLocalHost) {
  // Goal: Unix stream sockets connect by path; a missing path is refused.
  SimNetwork net;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(
      MakePair(net, *Address::Unix("/sim/app.sock"), &pair));
  ASSERT_EQ(WriteNow(*pair.client, "unix"), 4u);
  EXPECT_EQ(ReadFor(net, *pair.server, 4), "unix");
  EXPECT_EQ(*pair.server->LocalAddress(), *Address::Unix("/sim/app.sock"));
  auto missing = ConnectOrDie(net, *Address::Unix("/sim/none.sock"));
  EXPECT_EQ(KindOf(AwaitConnect(net, *missing)), ErrorKind::kRefused);
}

// ---------------------------------------------------------------------------
// Resolution

TEST(StreamTest, ResolveUsesTheSimulatedNameTable) {
  // Goal: host names and added names (any case) resolve after the plan's
  // latency, from Poll; unknown names are kNameNotFound; a planned failure
  // turns a good name into kNameLookupFailed (temporary), but never touches
  // what needs no resolver (localhost, literals).
  FaultPlan plan;
  plan.resolve_latency_max = absl::Milliseconds(30);
  SimNetwork net(Options(1, plan));
  TwoHosts hosts(net);
  net.AddName("db.example", {Ip("10.0.0.1", 5432)});
  struct Out {
    bool done = false;
    absl::StatusOr<std::vector<Address>> result;
  };
  Out server, db, missing;
  auto start = [&](const char* name, Out* out) {
    net.Resolve(name, [out](absl::StatusOr<std::vector<Address>> r) {
      out->done = true;
      out->result = std::move(r);
    });
  };
  start("SERVER", &server);
  start("db.Example", &db);
  start("nope", &missing);
  EXPECT_FALSE(server.done);
  EXPECT_TRUE(
      PumpUntil(net, [&] { return server.done && db.done && missing.done; }));
  EXPECT_LE(net.Now() - absl::FromUnixSeconds(1'000'000),
            absl::Milliseconds(30));
  ASSERT_TRUE(server.result.ok());
  EXPECT_EQ(*server.result, std::vector<Address>{Ip("10.0.0.1")});
  ASSERT_TRUE(db.result.ok());
  EXPECT_EQ(*db.result, std::vector<Address>{Ip("10.0.0.1", 5432)});
  EXPECT_EQ(KindOf(missing.result.status()), ErrorKind::kNameNotFound);

  FaultPlan failing;
  failing.resolve_failure_probability = 1.0;
  SimNetwork net2(Options(1, failing));
  net2.AddName("db.example", {Ip("10.0.0.1", 5432)});
  Out named, local;
  net2.Resolve("db.example", [&](absl::StatusOr<std::vector<Address>> r) {
    named.done = true;
    named.result = std::move(r);
  });
  net2.Resolve("localhost", [&](absl::StatusOr<std::vector<Address>> r) {
    local.done = true;
    local.result = std::move(r);
  });
  EXPECT_TRUE(PumpUntil(net2, [&] { return named.done && local.done; }));
  EXPECT_EQ(KindOf(named.result.status()), ErrorKind::kNameLookupFailed);
  EXPECT_EQ(named.result.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(local.result.ok()) << local.result.status();
  EXPECT_EQ(*local.result,
            (std::vector<Address>{Address::Loopback6(0), Address::Loopback4(0)}));
  EXPECT_EQ(net2.stats().faults.at("resolve_failure"), 1u);
}

}  // namespace
}  // namespace ember::sim
