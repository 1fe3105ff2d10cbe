// Throughput of the simulated network: how many simulator events (deliveries,
// connect answers, datagram arrivals) it processes per wall-clock second on
// small scenarios, driven through io::Network with no reactor on top, so the
// numbers are the simulator's own cost.
//
//   bazel run --config=opt //bench:sim_bench
//
// "events/s" is the rate that matters: it bounds how much virtual traffic a
// soak or seed sweep gets through per CPU second.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "io/address.h"
#include "io/check.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"

namespace ember::sim {
namespace {

// Reads whatever arrives and writes it straight back: with one side primed,
// a pair of these plays ping-pong forever.
class Reflector final : public io::IoWatcher {
 public:
  explicit Reflector(std::unique_ptr<io::StreamSocket> socket)
      : socket_(std::move(socket)) {
    socket_->SetWatcher(this);
    socket_->SetInterest(io::kReadable);
  }
  ~Reflector() { socket_->SetWatcher(nullptr); }

  void Send(const char* data, size_t size) {
    io::ConstBuffer b{data, size};
    const io::IoResult r = socket_->Write(&b, 1);
    EMBER_CHECK(r.ok() && r.bytes == size);
  }

  void OnIoReady(uint32_t) override {
    while (true) {
      const io::IoResult r = socket_->Read(buf_, sizeof(buf_));
      if (!r.ok()) {
        EMBER_CHECK(r.code == io::IoResult::Code::kWouldBlock);
        return;
      }
      Send(buf_, r.bytes);
    }
  }

 private:
  std::unique_ptr<io::StreamSocket> socket_;
  char buf_[4096];
};

// `pairs` connected pairs on one SimNetwork, each bouncing `message_bytes`.
class PingPong {
 public:
  PingPong(const FaultPlan& plan, int pairs, size_t message_bytes)
      : net_(MakeOptions(plan)) {
    auto listener = net_.Listen(io::Address::Loopback4(0), {});
    EMBER_CHECK(listener.ok());
    std::vector<std::unique_ptr<io::StreamSocket>> clients;
    for (int i = 0; i < pairs; ++i) {
      auto client = net_.Connect((*listener)->LocalAddress(), {});
      EMBER_CHECK(client.ok());
      clients.push_back(std::move(*client));
    }
    // Connects finish and the listener fills within a few polls.
    for (int i = 0; i < 100 && accepted_.size() < clients.size(); ++i) {
      EMBER_CHECK(net_.Poll(net_.Now() + absl::Seconds(1)).ok());
      while (true) {
        auto a = (*listener)->Accept();
        if (!a.ok() || *a == nullptr) break;
        accepted_.push_back(std::make_unique<Reflector>(std::move(*a)));
      }
    }
    EMBER_CHECK(accepted_.size() == clients.size());
    const std::string message(message_bytes, 'm');
    for (auto& c : clients) {
      EMBER_CHECK(c->FinishConnect().ok());
      reflectors_.push_back(std::make_unique<Reflector>(std::move(c)));
      reflectors_.back()->Send(message.data(), message.size());
    }
  }

  SimNetwork& net() { return net_; }

  ~PingPong() {
    reflectors_.clear();
    accepted_.clear();
  }

 private:
  static SimOptions MakeOptions(const FaultPlan& plan) {
    SimOptions options;
    options.seed = 1;
    options.plan = plan;
    return options;
  }

  SimNetwork net_;
  std::vector<std::unique_ptr<Reflector>> accepted_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
};

void Report(benchmark::State& state, SimNetwork& net, uint64_t events_before,
            uint64_t callbacks_before, absl::Time virtual_before) {
  const SimStats stats = net.stats();
  const double events =
      static_cast<double>(stats.events_processed - events_before);
  state.counters["events/s"] =
      benchmark::Counter(events, benchmark::Counter::kIsRate);
  state.counters["callbacks/s"] = benchmark::Counter(
      static_cast<double>(stats.callbacks - callbacks_before),
      benchmark::Counter::kIsRate);
  state.counters["virtual_s/s"] =
      benchmark::Counter(absl::ToDoubleSeconds(net.Now() - virtual_before),
                         benchmark::Counter::kIsRate);
  state.SetItemsProcessed(static_cast<int64_t>(events));
}

FaultPlan PlanNamed(int index) {
  switch (index) {
    case 0:
      return FaultPlan::Ideal();
    case 1:
      return FaultPlan::Lan();
    default:
      return FaultPlan::Wan();
  }
}

// Ping-pong of 64-byte messages over range(1) pairs under plan range(0)
// (0 ideal, 1 lan, 2 wan). One iteration is one Poll.
void BM_PingPong(benchmark::State& state) {
  FaultPlan plan = PlanNamed(static_cast<int>(state.range(0)));
  // Resets and crashes would end the game; keep the rest of the plan.
  plan.reset_probability = 0;
  plan.crash_probability = 0;
  plan.partition_probability = 0;
  plan.short_write_probability = 0;  // a reflector writes whole messages
  PingPong world(plan, static_cast<int>(state.range(1)), 64);
  SimNetwork& net = world.net();
  const SimStats before = net.stats();
  const absl::Time virtual_before = net.Now();
  for (auto _ : state) {
    absl::StatusOr<int> polled = net.Poll(absl::InfiniteFuture());
    EMBER_CHECK(polled.ok());
    benchmark::DoNotOptimize(*polled);
  }
  Report(state, net, before.events_processed, before.callbacks, virtual_before);
}
BENCHMARK(BM_PingPong)
    ->ArgNames({"plan", "pairs"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({1, 16})
    ->Args({1, 256})
    ->Args({2, 16});

// One direction streaming 64 KiB writes with every write split into
// segments and a 64 KiB window: the delivery path under load.
void BM_BulkSplit(benchmark::State& state) {
  FaultPlan plan = FaultPlan::Lan();
  plan.split_probability = 1.0;
  plan.window_bytes = 64 * 1024;
  SimOptions options;
  options.plan = plan;
  SimNetwork net(options);
  auto listener = net.Listen(io::Address::Loopback4(0), {});
  EMBER_CHECK(listener.ok());
  auto client = net.Connect((*listener)->LocalAddress(), {});
  EMBER_CHECK(client.ok());
  std::unique_ptr<io::StreamSocket> server;
  while (server == nullptr) {
    EMBER_CHECK(net.Poll(net.Now() + absl::Seconds(1)).ok());
    auto a = (*listener)->Accept();
    if (a.ok() && *a != nullptr) server = std::move(*a);
  }
  const std::string chunk(64 * 1024, 'b');
  char buf[16 * 1024];
  struct Fn final : io::IoWatcher {
    std::function<void()> f;
    void OnIoReady(uint32_t) override { f(); }
  } writer, reader;
  uint64_t bytes = 0;
  writer.f = [&] {
    io::ConstBuffer b{chunk.data(), chunk.size()};
    benchmark::DoNotOptimize((*client)->Write(&b, 1));
  };
  reader.f = [&] {
    while (true) {
      const io::IoResult r = server->Read(buf, sizeof(buf));
      if (!r.ok()) return;
      bytes += r.bytes;
    }
  };
  (*client)->SetWatcher(&writer);
  (*client)->SetInterest(io::kWritable);
  server->SetWatcher(&reader);
  server->SetInterest(io::kReadable);
  const SimStats before = net.stats();
  const absl::Time virtual_before = net.Now();
  for (auto _ : state) {
    EMBER_CHECK(net.Poll(absl::InfiniteFuture()).ok());
  }
  Report(state, net, before.events_processed, before.callbacks, virtual_before);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  (*client)->SetWatcher(nullptr);
  server->SetWatcher(nullptr);
}
BENCHMARK(BM_BulkSplit);

// Datagram ping-pong between two sockets under the LAN plan.
void BM_DatagramPingPong(benchmark::State& state) {
  FaultPlan plan = FaultPlan::Lan();
  plan.datagram_loss_probability = 0;  // a lost ball ends the game
  SimOptions options;
  options.plan = plan;
  SimNetwork net(options);
  auto a = net.OpenDatagram(io::Address::Loopback4(0));
  auto b = net.OpenDatagram(io::Address::Loopback4(0));
  EMBER_CHECK(a.ok() && b.ok());
  struct Bouncer final : io::IoWatcher {
    io::DatagramSocket* socket = nullptr;
    void OnIoReady(uint32_t) override {
      char buf[512];
      io::Address from;
      bool truncated = false;
      while (true) {
        const io::IoResult r =
            socket->ReceiveFrom(buf, sizeof(buf), &from, &truncated);
        if (!r.ok()) return;
        socket->SendTo(from, buf, r.bytes);
      }
    }
  } ba, bb;
  ba.socket = a->get();
  bb.socket = b->get();
  (*a)->SetWatcher(&ba);
  (*a)->SetInterest(io::kReadable);
  (*b)->SetWatcher(&bb);
  (*b)->SetInterest(io::kReadable);
  for (int i = 0; i < 8; ++i) {
    (*a)->SendTo((*b)->LocalAddress(), "ball", 4);
  }
  const SimStats before = net.stats();
  const absl::Time virtual_before = net.Now();
  for (auto _ : state) {
    EMBER_CHECK(net.Poll(absl::InfiniteFuture()).ok());
  }
  Report(state, net, before.events_processed, before.callbacks, virtual_before);
  (*a)->SetWatcher(nullptr);
  (*b)->SetWatcher(nullptr);
}
BENCHMARK(BM_DatagramPingPong);

}  // namespace
}  // namespace ember::sim

BENCHMARK_MAIN();
