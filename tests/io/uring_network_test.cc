// Goal: the io_uring backend passes the io::Network conformance suite, and
// keeps the promises its header makes at its limits: Write takes no more
// than the send queue holds, receiving stops at the receive queue's limit
// and starts again once the reader has taken half, ShutdownWrite waits for
// the queue, and a destroyed stream still sends what Write took.

#include "io/uring/uring_network.h"

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "io/epoll/epoll_network.h"
#include "io/network.h"
#include "tests/io/network_conformance.h"

namespace ember::io {
namespace {

using conformance::MakePair;
using conformance::NetworkConformanceTest;
using conformance::NetworkFactory;
using conformance::Pattern;
using conformance::PollNow;
using conformance::ReadOutcome;
using conformance::ReadUntil;
using conformance::StreamPair;

std::unique_ptr<UringNetwork> MakeUring(
    const UringNetwork::Options& options = UringNetwork::Options()) {
  absl::StatusOr<std::unique_ptr<UringNetwork>> network =
      UringNetwork::Create(options);
  EXPECT_TRUE(network.ok()) << network.status();
  return network.ok() ? std::move(*network) : nullptr;
}

UringNetwork::Options Undeferred() {
  UringNetwork::Options options;
  options.defer_completions = false;
  return options;
}

// Both ways of running completions: deferred to Poll where the kernel has
// it (6.1 on), and run on entering the kernel, as older kernels do.
INSTANTIATE_TEST_SUITE_P(
    Uring, NetworkConformanceTest,
    ::testing::Values(
        NetworkFactory{"uring",
                       []() -> std::unique_ptr<Network> { return MakeUring(); }},
        NetworkFactory{"uring_undeferred", []() -> std::unique_ptr<Network> {
                         return MakeUring(Undeferred());
                       }}),
    conformance::NetworkFactoryName);

constexpr size_t kQueueMax = 64 * 1024;

UringNetwork::Options SmallQueues() {
  UringNetwork::Options options;
  options.send_queue_bytes_max = kQueueMax;
  options.receive_queue_bytes_max = kQueueMax;
  return options;
}

// A network with `options` and a connected pair of streams on it.
struct Connected {
  std::unique_ptr<UringNetwork> net;
  StreamPair pair;
};

Connected ConnectedPair(const UringNetwork::Options& options) {
  Connected c;
  c.net = MakeUring(options);
  if (c.net != nullptr) MakePair(*c.net, Address::Loopback4(0), &c.pair);
  return c;
}

// A listener on `listening` and a connection to it from `connecting`,
// another network, established on both ends (the two Polled in turn).
struct CrossPair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<StreamSocket> client;    // On `connecting`.
  std::unique_ptr<StreamSocket> accepted;  // On `listening`.
};

void MakeCrossPair(Network& listening, Network& connecting, CrossPair* pair) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      listening.Listen(Address::Loopback4(0), ListenOptions());
  ASSERT_TRUE(listener.ok()) << listener.status();
  pair->listener = std::move(*listener);
  absl::StatusOr<std::unique_ptr<StreamSocket>> client =
      connecting.Connect(pair->listener->LocalAddress(), ConnectOptions());
  ASSERT_TRUE(client.ok()) << client.status();
  pair->client = std::move(*client);
  bool connected = false;
  for (int polls = 0; polls < 10000 && !(connected && pair->accepted);
       ++polls) {
    if (!pair->accepted) {
      absl::StatusOr<std::unique_ptr<StreamSocket>> accepted =
          pair->listener->Accept();
      ASSERT_TRUE(accepted.ok()) << accepted.status();
      pair->accepted = std::move(*accepted);
    }
    if (!connected) connected = pair->client->FinishConnect().ok();
    PollNow(listening, 1);
    PollNow(connecting, 1);
  }
  ASSERT_TRUE(connected && pair->accepted != nullptr);
}

// `reader` reads `data`, all of it and nothing else, then end of stream.
void ExpectAllThenEnd(Network& net, StreamSocket& reader,
                      const std::string& data) {
  const ReadOutcome got = ReadUntil(net, reader, 0, true);
  ASSERT_TRUE(got.error.ok()) << got.error;
  EXPECT_TRUE(got.end_of_stream);
  EXPECT_TRUE(got.data == data);
}

// Offers `data` from `offset` on in one Write; returns the bytes taken.
size_t Offer(StreamSocket& socket, const std::string& data, size_t offset) {
  const ConstBuffer buffer{data.data() + offset, data.size() - offset};
  const IoResult result = socket.Write(&buffer, 1);
  if (result.code == IoResult::Code::kWouldBlock) return 0;
  EXPECT_TRUE(result.ok()) << result.error;
  return result.bytes;
}

// Small queues, and a connected pair.
class UringQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = ConnectedPair(SmallQueues());
    ASSERT_NE(c_.pair.server, nullptr);
  }

  Connected c_;
};

TEST_F(UringQueueTest, WriteTakesNoMoreThanTheSendQueueHolds) {
  UringNetwork* net = c_.net.get();
  StreamPair& pair = c_.pair;
  const std::string data = Pattern(4 * kQueueMax);
  // Nothing is handed to the kernel before the next Poll: the first Write
  // fills the queue exactly, the second finds no room.
  EXPECT_EQ(Offer(*pair.client, data, 0), kQueueMax);
  const ConstBuffer rest{data.data() + kQueueMax, data.size() - kQueueMax};
  EXPECT_EQ(pair.client->Write(&rest, 1).code, IoResult::Code::kWouldBlock);
  // Once sent, the queue takes the rest, and every byte arrives in order.
  size_t taken = kQueueMax;
  for (int polls = 0; taken < data.size() && polls < 10000; ++polls) {
    PollNow(*net, 1);
    taken += Offer(*pair.client, data, taken);
  }
  ASSERT_EQ(taken, data.size());
  const ReadOutcome got = ReadUntil(*net, *pair.server, data.size(), false);
  ASSERT_TRUE(got.error.ok()) << got.error;
  EXPECT_TRUE(got.data == data);
}

class UringCompletionModeTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(DeferredOrNot, UringCompletionModeTest,
                         ::testing::Bool());

TEST_P(UringCompletionModeTest, AReaderThatStopsReadingPushesBackOnTheWriter) {
  UringNetwork::Options options = SmallQueues();
  options.defer_completions = GetParam();
  Connected c = ConnectedPair(options);
  ASSERT_NE(c.pair.server, nullptr);
  UringNetwork* net = c.net.get();
  StreamPair& pair = c.pair;
  // Far more than the kernel's socket buffers on loopback hold (a few MiB
  // each way): if the receiving side kept receiving into memory without
  // reading, the writer would get all of it out.
  const std::string data = Pattern(64 * 1024 * 1024);
  size_t taken = 0;
  int idle_polls = 0;
  for (int polls = 0; polls < 200000 && idle_polls < 1000; ++polls) {
    const size_t n = Offer(*pair.client, data, taken);
    taken += n;
    idle_polls = n == 0 ? idle_polls + 1 : 0;
    PollNow(*net, 1);
  }
  EXPECT_EQ(idle_polls, 1000) << "the writer never stopped";
  EXPECT_LT(taken, data.size() / 4);
  // The reader catches up and receiving starts again: every byte taken
  // arrives, in order, and the writer gets the rest out.
  pair.client->ShutdownWrite().IgnoreError();
  const ReadOutcome got = ReadUntil(*net, *pair.server, taken, false);
  ASSERT_TRUE(got.error.ok()) << got.error;
  ASSERT_EQ(got.data.size(), taken);
  EXPECT_TRUE(got.data == data.substr(0, taken));
}

TEST_F(UringQueueTest, ShutdownWriteWaitsForTheQueuedBytes) {
  UringNetwork* net = c_.net.get();
  StreamPair& pair = c_.pair;
  const std::string data = Pattern(kQueueMax);
  ASSERT_EQ(Offer(*pair.client, data, 0), data.size());
  ASSERT_TRUE(pair.client->ShutdownWrite().ok());
  ExpectAllThenEnd(*net, *pair.server, data);
  // A write after the shutdown fails; it does not reach the peer.
  const ConstBuffer more{"x", 1};
  EXPECT_EQ(pair.client->Write(&more, 1).code, IoResult::Code::kError);
}

TEST_F(UringQueueTest, ADestroyedStreamStillSendsWhatWriteTook) {
  UringNetwork* net = c_.net.get();
  StreamPair& pair = c_.pair;
  const std::string data = Pattern(kQueueMax);
  ASSERT_EQ(Offer(*pair.client, data, 0), data.size());
  pair.client.reset();
  EXPECT_EQ(net->closing_stream_count(), 1u);
  ExpectAllThenEnd(*net, *pair.server, data);
  EXPECT_EQ(net->closing_stream_count(), 0u);
}

TEST_P(UringCompletionModeTest, AStreamThatStaysReadyKeepsNoOtherOut) {
  // Stream A is at end of stream, watched for reading and never read: it is
  // ready at every Poll, so no Poll waits and none has anything to submit.
  // B's data, sent from another network on another thread, must still be
  // seen.
  UringNetwork::Options options;
  options.defer_completions = GetParam();
  std::unique_ptr<UringNetwork> net = MakeUring(options);
  ASSERT_NE(net, nullptr);
  StreamPair a;
  MakePair(*net, Address::Loopback4(0), &a);
  ASSERT_NE(a.server, nullptr);
  ASSERT_TRUE(a.client->ShutdownWrite().ok());
  int a_calls = 0;
  conformance::FunctionWatcher a_watcher([&](uint32_t) { ++a_calls; });
  a.server->SetWatcher(&a_watcher);
  a.server->SetInterest(kReadable);
  ASSERT_TRUE(conformance::PollUntil(*net, [&] { return a_calls > 0; }));

  absl::StatusOr<std::unique_ptr<EpollNetwork>> peer_net =
      EpollNetwork::Create();
  ASSERT_TRUE(peer_net.ok()) << peer_net.status();
  CrossPair cross;
  MakeCrossPair(*net, **peer_net, &cross);
  ASSERT_NE(cross.accepted, nullptr);
  std::unique_ptr<StreamSocket>& b = cross.accepted;
  bool b_ready = false;
  conformance::FunctionWatcher b_watcher([&](uint32_t) { b_ready = true; });
  b->SetWatcher(&b_watcher);
  b->SetInterest(kReadable);
  PollNow(*net, 3);
  ASSERT_FALSE(b_ready);
  // The byte is written from another thread while this one polls without
  // waiting: its completion is queued to this thread's ring, to be run
  // when this thread next enters the kernel. The real clock only bounds
  // the loop.
  std::atomic<bool> written{false};
  std::thread writer([&] {
    const ConstBuffer byte{"x", 1};
    EXPECT_EQ(cross.client->Write(&byte, 1).bytes, 1u);
    written.store(true);
  });
  const int a_before = a_calls;
  const absl::Time give_up = net->Now() + absl::Seconds(30);
  while (!b_ready && net->Now() < give_up) PollNow(*net, 1);
  writer.join();
  EXPECT_TRUE(written.load());
  EXPECT_TRUE(b_ready);
  EXPECT_GT(a_calls, a_before);
  a.server->SetWatcher(nullptr);
  b->SetWatcher(nullptr);
  cross = CrossPair();
}

TEST(UringNetworkTest, DestroyingTheNetworkStopsStreamsStillSending) {
  // The peer is on another network and never reads, so the destroyed
  // stream's last sends stay in flight: destroying its network must cancel
  // them and wait for the kernel, not hang or free what the kernel uses.
  absl::StatusOr<std::unique_ptr<EpollNetwork>> peer_net =
      EpollNetwork::Create();
  ASSERT_TRUE(peer_net.ok()) << peer_net.status();
  std::unique_ptr<UringNetwork> net = MakeUring(SmallQueues());
  ASSERT_NE(net, nullptr);
  CrossPair cross;
  MakeCrossPair(**peer_net, *net, &cross);
  ASSERT_NE(cross.accepted, nullptr);
  const std::string data = Pattern(kQueueMax);
  size_t taken = 0;
  int idle_polls = 0;
  for (int polls = 0; polls < 100000 && idle_polls < 1000; ++polls) {
    const size_t n = Offer(*cross.client, data, 0);
    taken += n;
    idle_polls = n == 0 ? idle_polls + 1 : 0;
    PollNow(*net, 1);
  }
  ASSERT_EQ(idle_polls, 1000) << "the kernel took " << taken << " bytes";
  cross.client.reset();
  EXPECT_EQ(net->closing_stream_count(), 1u);
  net.reset();  // Returns: the test would time out otherwise.
  cross = CrossPair();
}

}  // namespace
}  // namespace ember::io
