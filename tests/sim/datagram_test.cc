// Tests of simulated datagrams: the plan loses, duplicates, reorders and
// truncates them; partitions and crashes drop them; receive and send
// buffers are bounded with the documented behaviour at the limit.

#include <memory>
#include <set>
#include <string>
#include <vector>

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
using testing::Options;

std::unique_ptr<io::DatagramSocket> Open(SimNetwork& net, const Address& at) {
  absl::StatusOr<std::unique_ptr<io::DatagramSocket>> d = net.OpenDatagram(at);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? std::move(*d) : nullptr;
}

// Everything `socket` has received, after pumping for `duration`.
std::vector<std::string> Drain(SimNetwork& net, io::DatagramSocket& socket,
                               absl::Duration duration = absl::Seconds(10),
                               std::vector<bool>* truncated = nullptr) {
  testing::PumpFor(net, duration);
  std::vector<std::string> out;
  char buf[2048];
  while (true) {
    bool t = false;
    IoResult r = socket.ReceiveFrom(buf, sizeof(buf), nullptr, &t);
    if (r.code != IoResult::Code::kOk) break;
    out.emplace_back(buf, r.bytes);
    if (truncated != nullptr) truncated->push_back(t);
  }
  return out;
}

void SendNumbered(io::DatagramSocket& from, const Address& to, int count) {
  for (int i = 0; i < count; ++i) {
    const std::string d = "datagram-" + std::to_string(1000 + i);
    IoResult r = from.SendTo(to, d.data(), d.size());
    ASSERT_EQ(r.code, IoResult::Code::kOk) << r.error;
  }
}

TEST(DatagramTest, IdealDeliversEverythingInOrder) {
  // Goal: without faults every datagram arrives once, in order.
  SimNetwork net;
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  SendNumbered(*a, b->LocalAddress(), 50);
  const std::vector<std::string> got = Drain(net, *b);
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i], "datagram-" + std::to_string(1000 + i));
  }
  EXPECT_EQ(net.stats().datagrams_delivered, 50u);
}

TEST(DatagramTest, LossDropsDatagramsSilently) {
  // Goal: with loss 1 nothing arrives, yet SendTo reports success.
  FaultPlan plan;
  plan.datagram_loss_probability = 1.0;
  SimNetwork net(Options(1, plan));
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  SendNumbered(*a, b->LocalAddress(), 20);
  EXPECT_TRUE(Drain(net, *b).empty());
  EXPECT_EQ(net.stats().datagrams_lost, 20u);
  EXPECT_EQ(net.stats().faults.at("datagram_loss"), 20u);
}

TEST(DatagramTest, DuplicationDeliversTwice) {
  // Goal: with duplication 1 every datagram arrives twice.
  FaultPlan plan;
  plan.datagram_duplicate_probability = 1.0;
  SimNetwork net(Options(1, plan));
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  SendNumbered(*a, b->LocalAddress(), 10);
  const std::vector<std::string> got = Drain(net, *b);
  EXPECT_EQ(got.size(), 20u);
  EXPECT_EQ(net.stats().datagrams_duplicated, 10u);
}

TEST(DatagramTest, ReorderingLetsLaterDatagramsOvertake) {
  // Goal: with reordering on, 100 datagrams all arrive, not in send order.
  FaultPlan plan;
  plan.datagram_reorder_probability = 0.5;
  plan.latency_min = plan.latency_max = absl::Milliseconds(5);
  SimNetwork net(Options(3, plan));
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  for (int i = 0; i < 100; ++i) {
    const std::string d = "datagram-" + std::to_string(1000 + i);
    ASSERT_TRUE(a->SendTo(b->LocalAddress(), d.data(), d.size()).ok());
    testing::PumpFor(net, absl::Microseconds(100));
  }
  const std::vector<std::string> got = Drain(net, *b);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_FALSE(std::is_sorted(got.begin(), got.end()));
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 100u);
  EXPECT_GT(net.stats().datagrams_reordered, 0u);
}

TEST(DatagramTest, NetworkTruncationDeliversAPrefix) {
  // Goal: with truncation 1 each datagram arrives as a strict prefix of
  // what was sent.
  FaultPlan plan;
  plan.datagram_truncate_probability = 1.0;
  SimNetwork net(Options(4, plan));
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  const std::string d = testing::Pattern(300);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a->SendTo(b->LocalAddress(), d.data(), d.size()).ok());
  }
  const std::vector<std::string> got = Drain(net, *b);
  ASSERT_EQ(got.size(), 10u);
  for (const std::string& g : got) {
    EXPECT_LT(g.size(), d.size());
    EXPECT_EQ(g, d.substr(0, g.size()));
  }
  EXPECT_EQ(net.stats().datagrams_truncated, 10u);
}

TEST(DatagramTest, ReceiveTruncatesToTheCallersBuffer) {
  // Goal: ReceiveFrom with a short buffer returns the first bytes, sets
  // *truncated, fills *from, and drops the rest of that datagram.
  SimNetwork net;
  auto a = Open(net, Address::Loopback6(0));
  auto b = Open(net, Address::Loopback6(0));
  ASSERT_TRUE(a->SendTo(b->LocalAddress(), "0123456789", 10).ok());
  ASSERT_TRUE(a->SendTo(b->LocalAddress(), "ok", 2).ok());
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  char buf[4];
  Address from;
  bool truncated = false;
  IoResult r = b->ReceiveFrom(buf, sizeof(buf), &from, &truncated);
  ASSERT_EQ(r.code, IoResult::Code::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "0123");
  EXPECT_TRUE(truncated);
  EXPECT_EQ(from, a->LocalAddress());
  r = b->ReceiveFrom(buf, sizeof(buf), &from, &truncated);
  ASSERT_EQ(r.code, IoResult::Code::kOk);
  EXPECT_EQ(std::string(buf, r.bytes), "ok");
  EXPECT_FALSE(truncated);
}

TEST(DatagramTest, ReceiveBufferLimitDropsArrivals) {
  // Goal: a socket queues at most datagram_receive_buffer_bytes; further
  // arrivals are dropped and counted lost.
  SimOptions options;
  options.datagram_receive_buffer_bytes = 250;
  SimNetwork net(options);
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  const std::string d(100, 'x');
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a->SendTo(b->LocalAddress(), d.data(), d.size()).ok());
  }
  EXPECT_EQ(Drain(net, *b).size(), 2u);
  EXPECT_EQ(net.stats().datagrams_lost, 3u);
}

TEST(DatagramTest, SendBufferLimitGivesWouldBlockThenWritable) {
  // Goal: with datagrams in flight up to the send buffer, SendTo returns
  // kWouldBlock and kWritable is not reported; once they leave, it is.
  FaultPlan plan;
  plan.latency_min = plan.latency_max = absl::Milliseconds(10);
  SimOptions options = Options(1, plan);
  options.datagram_send_buffer_bytes = 250;
  SimNetwork net(options);
  auto a = Open(net, Address::Loopback4(0));
  auto b = Open(net, Address::Loopback4(0));
  const std::string d(100, 'x');
  ASSERT_TRUE(a->SendTo(b->LocalAddress(), d.data(), d.size()).ok());
  ASSERT_TRUE(a->SendTo(b->LocalAddress(), d.data(), d.size()).ok());
  EXPECT_EQ(a->SendTo(b->LocalAddress(), d.data(), d.size()).code,
            IoResult::Code::kWouldBlock);
  testing::FnWatcher w;
  a->SetWatcher(&w);
  a->SetInterest(io::kWritable);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(w.calls(), 1);  // 200 < 250: there is room for a smaller one
  a->SetInterest(0);
  const std::string big(200, 'y');
  EXPECT_EQ(a->SendTo(b->LocalAddress(), big.data(), big.size()).code,
            IoResult::Code::kWouldBlock);
  testing::PumpFor(net, absl::Milliseconds(10));
  EXPECT_TRUE(a->SendTo(b->LocalAddress(), big.data(), big.size()).ok());
  a->SetWatcher(nullptr);
}

TEST(DatagramTest, OversizedDatagramIsAnError) {
  // Goal: more than 65507 bytes cannot be sent.
  SimNetwork net;
  auto a = Open(net, Address::Loopback4(0));
  const std::string big(65508, 'z');
  IoResult r = a->SendTo(Address::Loopback4(9), big.data(), big.size());
  ASSERT_EQ(r.code, IoResult::Code::kError);
}

TEST(DatagramTest, PartitionAndCrashDropDatagrams) {
  // Goal: datagrams across a partition are lost; a crashed host's socket
  // fails with kClosed and reports readiness; after a restart the port can
  // be bound again.
  SimNetwork net;
  const HostId far = net.AddHost("far", {*Address::ParseIp("10.0.0.9", 0)});
  auto near = Open(net, Address::Loopback4(0));
  auto remote = Open(net, *Address::ParseIp("10.0.0.9", 53));
  net.Partition(kLocalHost, far, absl::Seconds(1));
  ASSERT_TRUE(near->SendTo(remote->LocalAddress(), "lost", 4).ok());
  EXPECT_TRUE(Drain(net, *remote, absl::Seconds(2)).empty());
  ASSERT_TRUE(near->SendTo(remote->LocalAddress(), "kept", 4).ok());
  EXPECT_EQ(Drain(net, *remote).size(), 1u);

  net.CrashHost(far);
  char buf[8];
  IoResult r = remote->ReceiveFrom(buf, sizeof(buf), nullptr, nullptr);
  ASSERT_EQ(r.code, IoResult::Code::kError);
  EXPECT_EQ(KindOf(r.error), ErrorKind::kClosed);
  testing::FnWatcher w;
  remote->SetWatcher(&w);
  remote->SetInterest(io::kReadable);
  ASSERT_TRUE(net.Poll(absl::InfinitePast()).ok());
  EXPECT_EQ(w.calls(), 1);
  remote->SetWatcher(nullptr);
  ASSERT_TRUE(near->SendTo(*Address::ParseIp("10.0.0.9", 53), "gone", 4).ok());
  net.RestartHost(far);
  auto again = Open(net, *Address::ParseIp("10.0.0.9", 53));
  EXPECT_TRUE(Drain(net, *again).empty());
}

TEST(DatagramTest, DatagramToAnUnboundPortIsDropped) {
  // Goal: nobody bound there: the datagram is dropped, SendTo succeeds.
  SimNetwork net;
  auto a = Open(net, Address::Loopback4(0));
  ASSERT_TRUE(a->SendTo(Address::Loopback4(9), "void", 4).ok());
  testing::PumpFor(net, absl::Seconds(1));
  EXPECT_EQ(net.stats().datagrams_lost, 1u);
}

TEST(DatagramTest, BindingTwiceIsAddressInUse) {
  // Goal: one datagram socket per address and port.
  SimNetwork net;
  auto a = Open(net, Address::Loopback4(0));
  absl::StatusOr<std::unique_ptr<io::DatagramSocket>> b =
      net.OpenDatagram(a->LocalAddress());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(KindOf(b.status()), ErrorKind::kAddressInUse);
}

}  // namespace
}  // namespace ember::sim
