// Goal: fault decisions are stable (sim/fault_schedule.h): switching one
// fault kind off, lowering a rate, suppressing one fault or adding a
// connection elsewhere leaves every other decision of the run as it was;
// the filter and the byte source behave as documented; and the shrinker
// reduces a run to a 1-minimal set of faults.

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "sim/fault_schedule.h"
#include "sim/harness/scenario.h"
#include "sim/harness/shrink.h"
#include "sim/sim_network.h"
#include "tests/sim/sim_test_util.h"

namespace ember::sim {
namespace {

using testing::Pattern;
using testing::PumpUntil;

io::Address Ip(const char* text, uint16_t port = 0) {
  return *io::Address::ParseIp(text, port);
}

FaultPlan Busy() {
  FaultPlan p;
  p.latency_min = absl::Microseconds(100);
  p.latency_max = absl::Milliseconds(5);
  p.split_probability = 0.5;
  p.short_write_probability = 0.3;
  p.clog_probability = 0.05;
  p.clog_duration_max = absl::Milliseconds(50);
  return p;
}

// Sends `chunks` writes of 1000 bytes from each client host to a server on
// host "server" (10.0.0.1:80), reading everything there, and returns the
// fault log. Each client host in `clients` is "c<i>" at 10.0.1.<i>.
std::vector<FaultRecord> Transfer(const SimOptions& base,
                                  const std::vector<int>& clients,
                                  int chunks = 48) {
  SimOptions options = base;
  options.fault_log_max = 1 << 20;
  SimNetwork net(options);
  net.AddHost("server", {Ip("10.0.0.1")});
  for (int i : clients) {
    net.AddHost("c" + std::to_string(i),
                {Ip(("10.0.1." + std::to_string(i)).c_str())});
  }
  auto listener = net.Listen(Ip("10.0.0.1", 80), {});
  EXPECT_TRUE(listener.ok()) << listener.status();
  struct Side {
    std::unique_ptr<io::StreamSocket> client, server;
    std::string data;
    size_t sent = 0;
    std::string got;
  };
  std::vector<Side> sides(clients.size());
  for (size_t k = 0; k < clients.size(); ++k) {
    const io::Address bind =
        Ip(("10.0.1." + std::to_string(clients[k])).c_str());
    io::ConnectOptions co;
    co.bind = &bind;
    auto c = net.Connect(Ip("10.0.0.1", 80), co);
    EXPECT_TRUE(c.ok()) << c.status();
    sides[k].client = std::move(*c);
    EXPECT_TRUE(testing::AwaitConnect(net, *sides[k].client).ok());
    EXPECT_TRUE(PumpUntil(net, [&] {
      auto s = (*listener)->Accept();
      if (s.ok() && *s != nullptr) sides[k].server = std::move(*s);
      return sides[k].server != nullptr;
    }));
    sides[k].data = Pattern(1000 * static_cast<size_t>(chunks), clients[k]);
  }
  // Writes go out 1000 bytes at a time, each retried until it is taken
  // whole, so the bytes and the writes are the same in every run.
  EXPECT_TRUE(PumpUntil(net, [&] {
    bool done = true;
    for (Side& s : sides) {
      while (s.sent < s.data.size()) {
        const size_t end = std::min(s.data.size(), (s.sent / 1000 + 1) * 1000);
        const size_t n = testing::WriteNow(
            *s.client, std::string_view(s.data).substr(s.sent, end - s.sent));
        s.sent += n;
        if (n == 0) break;
      }
      s.got += testing::ReadNow(*s.server);
      done = done && s.got.size() == s.data.size();
    }
    return done;
  }));
  for (Side& s : sides) EXPECT_EQ(s.got, s.data);
  std::vector<FaultRecord> log = net.fault_log();
  sides.clear();
  listener->reset();
  return log;
}

// id -> detail, for faults of `kind` (all kinds when empty) on a flow
// whose label contains `where`.
std::map<uint64_t, std::string> Faults(const std::vector<FaultRecord>& log,
                                       const std::string& kind,
                                       const std::string& where = "") {
  std::map<uint64_t, std::string> out;
  for (const FaultRecord& r : log) {
    if (!kind.empty() && r.kind != kind) continue;
    if (r.where.find(where) == std::string::npos &&
        r.detail.find(where) == std::string::npos) {
      continue;
    }
    // Without the connection's number, which counts connections opened
    // before it anywhere.
    out[r.id] = r.detail.substr(0, r.detail.find(", drawn on"));
  }
  return out;
}

TEST(StableScheduleTest, SwitchingOneKindOffLeavesTheOtherKindsAlone) {
  SimOptions with;
  with.seed = 11;
  with.plan = Busy();
  SimOptions without = with;
  without.plan.split_probability = 0;
  const auto a = Transfer(with, {1});
  const auto b = Transfer(without, {1});
  ASSERT_FALSE(Faults(a, "split").empty());
  EXPECT_TRUE(Faults(b, "split").empty());
  ASSERT_FALSE(Faults(a, "short_write").empty());
  ASSERT_FALSE(Faults(a, "clog").empty());
  // The same short writes (same points, same lengths) and the same clogs
  // (same points, same durations), whether or not writes were split.
  EXPECT_EQ(Faults(a, "short_write"), Faults(b, "short_write"));
  EXPECT_EQ(Faults(a, "clog"), Faults(b, "clog"));
}

TEST(StableScheduleTest, LoweringARateOnlyRemovesFaults) {
  SimOptions high;
  high.seed = 5;
  high.plan = Busy();
  SimOptions low = high;
  low.plan.split_probability = 0.2;
  const auto a = Faults(Transfer(high, {1}), "split");
  const auto b = Faults(Transfer(low, {1}), "split");
  ASSERT_FALSE(b.empty());
  EXPECT_LT(b.size(), a.size());
  for (const auto& [id, detail] : b) {
    ASSERT_TRUE(a.count(id)) << detail;
    EXPECT_EQ(a.at(id), detail);  // cut the same way
  }
}

TEST(StableScheduleTest, AddingAConnectionElsewhereChangesNothingOnThisOne) {
  SimOptions options;
  options.seed = 3;
  options.plan = Busy();
  const auto alone = Transfer(options, {1});
  const auto crowded = Transfer(options, {2, 1, 3});
  ASSERT_FALSE(Faults(alone, "", "10.0.1.1:").empty());
  EXPECT_EQ(Faults(alone, "", "10.0.1.1:"), Faults(crowded, "", "10.0.1.1:"));
  EXPECT_FALSE(Faults(crowded, "", "10.0.1.2:").empty());
}

TEST(StableScheduleTest, SuppressingOneFaultKeepsEveryOther) {
  SimOptions options;
  options.seed = 9;
  options.plan = Busy();
  const auto all = Transfer(options, {1});
  const auto splits = Faults(all, "split");
  // Two splits of whole 1000-byte writes: those writes happen whatever
  // else is suppressed (a short write's remainder is written at another
  // offset, so its split exists only with the short write).
  std::vector<uint64_t> whole;
  for (const auto& [id, detail] : splits) {
    if (detail.rfind("a write of 1000 bytes", 0) == 0) whole.push_back(id);
  }
  ASSERT_GE(whole.size(), 2u);
  const uint64_t gone = whole[0];
  SimOptions except = options;
  except.fault_filter = FaultFilter::Except({gone});
  auto expected = Faults(all, "");
  expected.erase(gone);
  EXPECT_EQ(Faults(Transfer(except, {1}), ""), expected);
  // And keeping only two faults gives exactly those two.
  SimOptions only = options;
  const uint64_t second = whole[1];
  only.fault_filter = FaultFilter::Only({gone, second});
  const auto kept = Faults(Transfer(only, {1}), "");
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept.at(gone), splits.at(gone));
}

TEST(FaultFilterTest, KeepListsRoundTripAndRejectJunk) {
  FaultFilter f = FaultFilter::Only({0x1f, 0xabcdef0123456789ull});
  EXPECT_EQ(f.KeepList(), "000000000000001f,abcdef0123456789");
  EXPECT_EQ(*FaultFilter::ParseKeepList(f.KeepList()), f);
  EXPECT_EQ(*FaultFilter::ParseKeepList("split:1f,reset:abcdef0123456789"), f);
  EXPECT_EQ(FaultFilter::ParseKeepList("none")->ids.size(), 0u);
  EXPECT_FALSE(FaultFilter::ParseKeepList("none")->Allows(0x1f));
  EXPECT_EQ(FaultFilter::ParseKeepList("split:xyz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FaultFilter::ParseKeepList("split:").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FaultFilter::All().Allows(42));
  EXPECT_FALSE(FaultFilter::Except({42}).Allows(42));
}

TEST(ByteDecisionsTest, BytesDecideFrontChoicesComeFromTheBack) {
  const uint8_t bytes[] = {0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0x09, 0x03};
  ByteDecisions d(bytes, sizeof(bytes));
  uint64_t params = 0;
  // 0x00 is below every threshold: strikes, and takes 8 bytes of params.
  EXPECT_TRUE(d.Decide(1, 0.001, &params));
  EXPECT_EQ(params, 0x0102030405060708ull);
  // 0xff is above the threshold of any rate below 1.
  EXPECT_FALSE(d.Decide(2, 0.99, &params));
  // Choices come from the back, one byte each for small ranges.
  EXPECT_EQ(d.Choose(4), 3u);
  EXPECT_EQ(d.Choose(100), 9u);
  // The ends have met: no more faults, choices are 0.
  EXPECT_TRUE(d.exhausted());
  EXPECT_FALSE(d.Decide(3, 0.5, &params));
  EXPECT_EQ(d.Choose(7), 0u);
  d.Rewind();
  EXPECT_EQ(d.consumed(), 0u);
  EXPECT_TRUE(d.Decide(1, 0.001, &params));
}

TEST(ByteDecisionsTest, ThresholdFollowsTheRate) {
  // A byte strikes when below max(1, ceil(256 * rate)).
  const uint8_t low[] = {63, 64};
  ByteDecisions d(low, sizeof(low));
  uint64_t params;
  EXPECT_TRUE(d.Decide(1, 0.25, &params));  // 63 < 64
  ByteDecisions e(low + 1, 1);
  EXPECT_FALSE(e.Decide(1, 0.25, &params));  // 64 is not
}

TEST(ShrinkTest, ReducesToAOneMinimalSetAndReplays) {
  // A scenario that fails when at least three writes were split: the
  // shrinker must keep exactly three splits out of many, and the kept
  // set must replay the failure.
  SimOptions options;
  options.seed = 21;
  options.plan = Busy();
  const Scenario three_splits = [](Reactor&, SimNetwork& net) -> absl::Status {
    testing::Pair pair;
    testing::MakePair(net, Ip("127.0.0.1", 81), &pair);
    const std::string data = Pattern(24000);
    size_t sent = 0;
    std::string got;
    PumpUntil(net, [&] {
      while (sent < data.size()) {
        const size_t end = std::min(data.size(), (sent / 1000 + 1) * 1000);
        const size_t n = testing::WriteNow(
            *pair.client, std::string_view(data).substr(sent, end - sent));
        if (n == 0) break;
        sent += n;
      }
      got += testing::ReadNow(*pair.server);
      return got.size() == data.size();
    });
    const auto faults = net.stats().faults;
    auto it = faults.find("split");
    const uint64_t splits = it == faults.end() ? 0 : it->second;
    if (splits >= 3) {
      return absl::DataLossError(std::to_string(splits) + " splits");
    }
    return absl::OkStatus();
  };
  absl::StatusOr<ShrinkResult> r = ShrinkFaults(options, three_splits);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->original.size(), 6u);
  EXPECT_TRUE(r->minimal) << r->Report();
  ASSERT_EQ(r->kept.size(), 3u) << r->Report();
  for (const FaultRecord& f : r->kept) EXPECT_EQ(f.kind, "split");
  EXPECT_EQ(r->status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RunKeeping(options, three_splits, r->filter).status.code(),
            absl::StatusCode::kDataLoss);
  // Every fault is named for a person, with its token for the replay.
  EXPECT_NE(r->Report().find("split of c"), std::string::npos) << r->Report();
  EXPECT_NE(r->KeepList().find("split:"), std::string::npos);
  // A run that does not fail is refused.
  SimOptions calm = options;
  calm.plan = FaultPlan::Ideal();
  EXPECT_EQ(ShrinkFaults(calm, three_splits).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ember::sim
