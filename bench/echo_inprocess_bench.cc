// Benchmarks of the reactor on the real backend, and of its two hot data
// structures.
//
// The echo benchmarks run an Ember echo server (examples/echo) and one client
// connection on a single reactor over TCP loopback, in this one process and
// thread: each iteration queues a message on the client and turns the loop
// until the whole message has come back. With no second process and no
// thread hand-off, the time per iteration is what the reactor, the epoll
// backend and the kernel's loopback path cost for one round trip:
//
//   BM_EchoPingPong/64         one 64-byte message there and back.
//   BM_EchoBulk/1048576        1 MiB there and back, through the outbound
//                              queues, the 64 KiB read buffer and the
//                              server's high/low-water throttling.
//
// The micro-benchmarks time the structures every event goes through:
//
//   BM_TimerQueueAddFire/pending:N     add a due timer and run it, with N
//                                      other timers pending.
//   BM_TimerQueueAddCancel/pending:N   add a timer and cancel it.
//   BM_OutboundBufferAppendGatherConsume/bytes:B/appends:A
//                                      queue A messages of B bytes, gather
//                                      them as for a writev and consume them.
//
//   bazel run --config=opt //bench:echo_inprocess_bench

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "examples/echo/echo_server.h"
#include "io/check.h"
#include "io/epoll/epoll_network.h"
#include "io/network.h"
#include "reactor/connection.h"
#include "reactor/outbound_buffer.h"
#include "reactor/reactor.h"
#include "reactor/timer_queue.h"

namespace ember::bench {
namespace {

// How long one step (connecting, one round trip) may take before the
// benchmark gives up: far beyond any healthy loopback round trip, there only
// so that a broken build fails instead of hanging.
constexpr absl::Duration kStepTimeout = absl::Seconds(10);

// The client end: counts the bytes echoed back and remembers why it ended.
class CountingClient : public Connection {
 public:
  void ConnectionCompleted() override { completed_ = true; }
  void ReceiveData(std::string_view data) override {
    received_bytes_ += data.size();
  }
  void Unbind(const UnbindReason& reason) override {
    ended_ = true;
    end_status_ = reason.is_error()
                      ? reason.status
                      : absl::UnavailableError(absl::StrCat(
                            "client connection ended: ", reason.ToString()));
  }

  bool completed() const { return completed_; }
  bool ended() const { return ended_; }
  const absl::Status& end_status() const { return end_status_; }
  uint64_t received_bytes() const { return received_bytes_; }

 private:
  bool completed_ = false;
  bool ended_ = false;
  absl::Status end_status_;
  uint64_t received_bytes_ = 0;
};

// An echo server and a client connected to it over 127.0.0.1, on one
// reactor that runs only when asked to.
class LoopbackEcho {
 public:
  // Starts the server on a free port and connects the client.
  static absl::StatusOr<std::unique_ptr<LoopbackEcho>> Start() {
    absl::StatusOr<std::unique_ptr<io::EpollNetwork>> network =
        io::EpollNetwork::Create();
    if (!network.ok()) return network.status();
    std::unique_ptr<LoopbackEcho> echo(new LoopbackEcho(*std::move(network)));
    EMBER_RETURN_IF_ERROR(echo->Connect());
    return echo;
  }

  // Queues `message` on the client and runs the loop until it has come back
  // whole. kDeadlineExceeded after kStepTimeout; the client's error if its
  // connection ends.
  absl::Status RoundTrip(std::string_view message) {
    EMBER_RETURN_IF_ERROR(client_->SendData(message));
    const uint64_t target = client_->received_bytes() + message.size();
    return RunUntil([&] { return client_->received_bytes() >= target; });
  }

 private:
  explicit LoopbackEcho(std::unique_ptr<io::EpollNetwork> network)
      : network_(std::move(network)), reactor_(*network_) {}

  absl::Status Connect() {
    absl::StatusOr<ServerId> server = reactor_.StartServer("127.0.0.1", 0, [] {
      return std::make_unique<examples::EchoConnection>();
    });
    if (!server.ok()) return server.status();
    absl::StatusOr<io::Address> address = reactor_.ServerAddress(*server);
    if (!address.ok()) return address.status();
    absl::StatusOr<Connection*> client =
        reactor_.ConnectTo(*address, std::make_unique<CountingClient>());
    if (!client.ok()) return client.status();
    client_ = static_cast<CountingClient*>(*client);
    EMBER_RETURN_IF_ERROR(RunUntil([&] { return client_->completed(); }));
    // A load generator turns Nagle off; the server keeps the kernel default,
    // as examples/echo does.
    return client_->SetNoDelay(true);
  }

  template <typename Done>
  absl::Status RunUntil(Done done) {
    const absl::Time deadline = reactor_.Now() + kStepTimeout;
    while (!done()) {
      if (client_->ended()) return client_->end_status();
      if (reactor_.Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no progress for ", absl::FormatDuration(kStepTimeout)));
      }
      EMBER_RETURN_IF_ERROR(reactor_.RunOnce(deadline));
    }
    return absl::OkStatus();
  }

  // The reactor is declared after the network, so it is destroyed first.
  std::unique_ptr<io::EpollNetwork> network_;
  Reactor reactor_;
  CountingClient* client_ = nullptr;  // Owned by the reactor.
};

void RunEcho(benchmark::State& state) {
  const size_t message_bytes = static_cast<size_t>(state.range(0));
  absl::StatusOr<std::unique_ptr<LoopbackEcho>> echo = LoopbackEcho::Start();
  if (!echo.ok()) {
    state.SkipWithError(echo.status().ToString().c_str());
    return;
  }
  const std::string message(message_bytes, 'e');
  for (auto _ : state) {
    absl::Status status = (*echo)->RoundTrip(message);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(message_bytes));
}

void BM_EchoPingPong(benchmark::State& state) { RunEcho(state); }
BENCHMARK(BM_EchoPingPong)->Arg(64);

void BM_EchoBulk(benchmark::State& state) { RunEcho(state); }
BENCHMARK(BM_EchoBulk)->Arg(1 << 20);

// Fills `timers` with `count` timers due an hour after `now`, so that the
// timers being measured share the heap with them.
void AddPendingTimers(TimerQueue& timers, int64_t count, absl::Time now) {
  for (int64_t i = 0; i < count; ++i) {
    timers.Add(now + absl::Hours(1) + absl::Milliseconds(i),
               absl::ZeroDuration(), TimerQueue::Origin::kUser, [] {});
  }
}

void BM_TimerQueueAddFire(benchmark::State& state) {
  TimerQueue timers;
  const absl::Time now = absl::UnixEpoch();
  AddPendingTimers(timers, state.range(0), now);
  int64_t fired = 0;
  for (auto _ : state) {
    timers.Add(now, absl::ZeroDuration(), TimerQueue::Origin::kUser,
               [&fired] { ++fired; });
    timers.RunDue(now,
                  [](TimerId, TimerQueue::Callback& callback) { callback(); });
  }
  EMBER_CHECK(fired == static_cast<int64_t>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerQueueAddFire)
    ->ArgName("pending")
    ->Arg(0)
    ->Arg(1000)
    ->Arg(100000);

void BM_TimerQueueAddCancel(benchmark::State& state) {
  TimerQueue timers;
  const absl::Time now = absl::UnixEpoch();
  AddPendingTimers(timers, state.range(0), now);
  for (auto _ : state) {
    const TimerId id = timers.Add(now + absl::Seconds(30), absl::ZeroDuration(),
                                  TimerQueue::Origin::kUser, [] {});
    const bool cancelled = timers.Cancel(id);
    benchmark::DoNotOptimize(cancelled);
  }
  EMBER_CHECK(timers.size() == static_cast<size_t>(state.range(0)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerQueueAddCancel)
    ->ArgName("pending")
    ->Arg(0)
    ->Arg(1000)
    ->Arg(100000);

void BM_OutboundBufferAppendGatherConsume(benchmark::State& state) {
  const std::string message(static_cast<size_t>(state.range(0)), 'o');
  const int64_t appends = state.range(1);
  OutboundBuffer buffer;
  io::ConstBuffer spans[io::StreamSocket::kWriteBuffersMax];
  for (auto _ : state) {
    for (int64_t i = 0; i < appends; ++i) buffer.Append(message);
    // As Connection::Flush does, with a socket that takes every byte.
    while (!buffer.empty()) {
      const size_t count =
          buffer.Gather(spans, io::StreamSocket::kWriteBuffersMax);
      size_t gathered_bytes = 0;
      for (size_t i = 0; i < count; ++i) gathered_bytes += spans[i].size;
      benchmark::DoNotOptimize(spans);
      buffer.Consume(gathered_bytes);
    }
  }
  state.SetItemsProcessed(state.iterations() * appends);
  state.SetBytesProcessed(state.iterations() * appends *
                          static_cast<int64_t>(message.size()));
}
BENCHMARK(BM_OutboundBufferAppendGatherConsume)
    ->ArgNames({"bytes", "appends"})
    ->Args({64, 1})
    ->Args({64, 16})
    ->Args({4096, 1})
    ->Args({65536, 1})
    ->Args({1 << 20, 1});

}  // namespace
}  // namespace ember::bench

BENCHMARK_MAIN();
