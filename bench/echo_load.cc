// A closed-loop load generator for TCP echo servers, written on Ember's own
// reactor and epoll backend.
//
// It opens --connections connections to --host:--port. Once every one has
// connected (or failed), each keeps --pipeline messages of --message_bytes in
// flight: whenever a message has come back whole, it sends the next. The run
// ends after --duration, or earlier once --requests round trips have come
// back, and prints the round trips per second, the payload throughput, the
// latency percentiles and the errors. Latency is measured on the reactor's
// clock (Reactor::Now()), from the moment a message is queued to the moment
// its last byte is read back, so it includes the time the message waits in
// the client's own loop; it is recorded in a fixed-bucket histogram, so the
// measurement allocates nothing per sample.
//
//   bazel run --config=opt //examples/echo:server -- --port=17000 &
//   bazel run --config=opt //bench:echo_load -- --port=17000 --duration=10s
//
// Every byte echoed is checked against what was sent. A connection that
// fails to connect, is closed or reset by the server, gets nothing for
// --timeout, or receives bytes it did not send counts as an error; the exit
// status is 1 when there was any error (or no round trip at all) and 2 for
// invalid flags. It talks only to loopback addresses.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "io/absl_compat.h"
#include "io/address.h"
#include "io/check.h"
#include "io/epoll/epoll_network.h"
#include "reactor/connection.h"
#include "reactor/reactor.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "server address: an IPv4 or IPv6 loopback literal");
ABSL_FLAG(int, port, 7000, "server port");
ABSL_FLAG(int, connections, 50, "connections opened at once");
ABSL_FLAG(int64_t, message_bytes, 64, "bytes per message");
ABSL_FLAG(int, pipeline, 1, "messages in flight per connection");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "how long to measure, from the moment every connection is up");
ABSL_FLAG(int64_t, requests, 0,
          "stop once this many round trips have come back, in all "
          "connections together (0: run for --duration; the run never "
          "outlasts --duration)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "a connection that cannot connect, or receives nothing, for this "
          "long fails");

namespace ember::bench {
namespace {

constexpr int kConnectionsMax = 100000;
constexpr int kPipelineMax = 4096;
constexpr int64_t kMessageBytesMax = 16 << 20;
// Errors printed one by one; the rest are only counted.
constexpr int kErrorsPrintedMax = 10;

// Latency counts in log-linear buckets over nanoseconds, as HdrHistogram
// lays them out: values below kSubBuckets have a bucket each, and every
// power-of-two range above is split into kSubBuckets equal buckets. A value
// is thus known to within 1/kSubBuckets (3.1 %) of itself, over the whole
// range of int64 nanoseconds, in a fixed array.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr int64_t kSubBuckets = int64_t{1} << kSubBucketBits;
  // Values up to 2^63 - 1 have their top bit at 62 at most.
  static constexpr size_t kBuckets = (63 - kSubBucketBits + 1) * kSubBuckets;

  void Record(absl::Duration latency) {
    const int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(latency));
    ++counts_[BucketOf(ns)];
    ++count_;
    sum_ns_ += ns;
    min_ns_ = std::min(min_ns_, ns);
    max_ns_ = std::max(max_ns_, ns);
  }

  int64_t count() const { return count_; }
  absl::Duration min() const { return absl::Nanoseconds(count_ ? min_ns_ : 0); }
  absl::Duration max() const { return absl::Nanoseconds(max_ns_); }
  absl::Duration mean() const {
    return count_ ? absl::Nanoseconds(sum_ns_ / count_) : absl::ZeroDuration();
  }

  // The q-quantile (0 < q <= 1), rounded up to its bucket: the top of the
  // bucket that holds the sample of rank ceil(q * count), capped at the
  // largest sample. Zero when nothing was recorded.
  absl::Duration Percentile(double q) const {
    EMBER_CHECK(q > 0 && q <= 1);
    if (count_ == 0) return absl::ZeroDuration();
    const int64_t rank = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))));
    int64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return absl::Nanoseconds(std::min(BucketTop(i), max_ns_));
      }
    }
    return max();
  }

 private:
  static size_t BucketOf(int64_t ns) {
    if (ns < kSubBuckets) return static_cast<size_t>(ns);
    const int top_bit = 63 - std::countl_zero(static_cast<uint64_t>(ns));
    const int shift = top_bit - kSubBucketBits;
    // `ns >> shift` lies in [kSubBuckets, 2 * kSubBuckets).
    return static_cast<size_t>((shift + 1) * kSubBuckets +
                               ((ns >> shift) - kSubBuckets));
  }

  // The largest value BucketOf maps to bucket `i`.
  static int64_t BucketTop(size_t i) {
    const int64_t index = static_cast<int64_t>(i);
    if (index < kSubBuckets) return index;
    const int shift = static_cast<int>(index / kSubBuckets) - 1;
    const int64_t sub = kSubBuckets + index % kSubBuckets;
    return ((sub + 1) << shift) - 1;
  }

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t sum_ns_ = 0;
  int64_t min_ns_ = INT64_MAX;
  int64_t max_ns_ = 0;
};

struct LoadOptions {
  io::Address server;
  int connections = 0;
  size_t message_bytes = 0;
  int pipeline = 0;
  absl::Duration duration;
  int64_t requests = 0;  // 0: no limit.
  absl::Duration timeout;
};

class LoadConnection;

// One load run: starts the connections, holds them at a barrier until all
// are up, measures, and stops the reactor when done.
//
// The run must outlive the reactor: the connections report to it until the
// reactor has closed them all.
class LoadRun {
 public:
  explicit LoadRun(const LoadOptions& options);

  // Opens every connection on `reactor`; the reactor's Run does the rest.
  // Fails only for arguments the reactor refuses outright.
  absl::Status Start(Reactor& reactor);

  // Prints the figures. Call after the reactor's Run returned.
  void PrintReport() const;
  // True when the run had no error and completed at least one round trip.
  bool succeeded() const { return errors_ == 0 && histogram_.count() > 0; }

  // ---- Called by the connections. ----

  const LoadOptions& options() const { return options_; }
  std::string_view payload() const { return payload_; }
  bool finished() const { return phase_ == Phase::kFinished; }
  void OnConnected();
  // A connection failed (or, once the run is finished, was merely closed).
  void OnUnbind(LoadConnection* connection, const UnbindReason& reason);
  // Takes one send from the run's budget; false once --requests messages
  // were sent or the run is over.
  bool TakeSend();
  void RecordRoundTrip(absl::Duration latency);
  void RecordError(std::string_view what);

 private:
  enum class Phase : uint8_t { kConnecting, kMeasuring, kFinished };

  void MaybeBegin();
  void Finish();

  Reactor* reactor_ = nullptr;  // Set by Start.
  const LoadOptions options_;
  const std::string payload_;
  Phase phase_ = Phase::kConnecting;
  // Indexed like the connections opened; nullptr once one has unbound.
  std::vector<LoadConnection*> connections_;
  int connected_ = 0;
  int live_ = 0;
  int64_t sends_ = 0;
  int64_t errors_ = 0;
  absl::Time start_;
  absl::Time end_;
  LatencyHistogram histogram_;
};

// One client connection: keeps the run's pipeline depth of messages in
// flight, checks every byte that comes back, and times each message.
class LoadConnection : public Connection {
 public:
  LoadConnection(LoadRun& run, size_t index)
      : run_(run),
        index_(index),
        send_times_(static_cast<size_t>(run.options().pipeline)) {}

  size_t index() const { return index_; }
  // True once connected and until unbound.
  bool up() const { return up_; }

  // Starts the traffic: the barrier has passed.
  void Begin(absl::Time now) {
    SetInactivityTimeout(run_.options().timeout);
    for (int i = 0; i < run_.options().pipeline; ++i) {
      if (!Send(now)) return;
    }
  }

  void ConnectionCompleted() override {
    absl::Status status = SetNoDelay(true);
    if (!status.ok()) {
      run_.RecordError(absl::StrCat("connection ", index_,
                                    ": TCP_NODELAY: ", status.ToString()));
      CloseConnection();
      return;
    }
    up_ = true;
    run_.OnConnected();
  }

  void ReceiveData(std::string_view data) override {
    if (run_.finished()) return;
    // One clock reading serves every message completed by this read.
    const absl::Time now = reactor().Now();
    const std::string_view payload = run_.payload();
    // Only messages sent before this read can be answered by it: those sent
    // below are still queued, so bytes for them would be the server's
    // invention.
    size_t answerable = in_flight_;
    while (!data.empty()) {
      if (answerable == 0) {
        Fail(absl::StrCat(data.size(), " bytes arrived that were never sent"));
        return;
      }
      const size_t take = std::min(data.size(), payload.size() - received_);
      if (std::memcmp(data.data(), payload.data() + received_, take) != 0) {
        Fail("the echoed bytes differ from the bytes sent");
        return;
      }
      received_ += take;
      data.remove_prefix(take);
      if (received_ < payload.size()) continue;
      received_ = 0;
      const absl::Time sent = send_times_[oldest_];
      oldest_ = (oldest_ + 1) % send_times_.size();
      --in_flight_;
      --answerable;
      run_.RecordRoundTrip(now - sent);
      if (run_.finished()) return;
      if (!Send(now)) return;
    }
  }

  void Unbind(const UnbindReason& reason) override {
    run_.OnUnbind(this, reason);
  }

 private:
  // Sends one message if the run's budget allows. False if the connection
  // failed.
  bool Send(absl::Time now) {
    if (!run_.TakeSend()) {
      // The budget is spent: once nothing is in flight, this connection is
      // idle by design, not stalled.
      if (in_flight_ == 0) SetInactivityTimeout(absl::ZeroDuration());
      return true;
    }
    absl::Status status = SendData(run_.payload());
    if (!status.ok()) {
      Fail(absl::StrCat("send: ", status.ToString()));
      return false;
    }
    EMBER_CHECK(in_flight_ < send_times_.size());
    send_times_[(oldest_ + in_flight_) % send_times_.size()] = now;
    ++in_flight_;
    return true;
  }

  void Fail(std::string_view what) {
    run_.RecordError(absl::StrCat("connection ", index_, ": ", AbslView(what)));
    CloseConnection();
  }

  LoadRun& run_;
  const size_t index_;
  bool up_ = false;
  // A ring of the send times of the messages in flight, oldest first.
  std::vector<absl::Time> send_times_;
  size_t oldest_ = 0;
  size_t in_flight_ = 0;
  // Bytes of the oldest message in flight already echoed.
  size_t received_ = 0;
};

std::string MakePayload(size_t bytes) {
  // Printable, and repeating only every 676 bytes, so that an echo that
  // shifts, drops or repeats bytes fails the byte check.
  std::string payload(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) {
    payload[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  }
  return payload;
}

LoadRun::LoadRun(const LoadOptions& options)
    : options_(options), payload_(MakePayload(options.message_bytes)) {}

absl::Status LoadRun::Start(Reactor& reactor) {
  EMBER_CHECK(reactor_ == nullptr);
  reactor_ = &reactor;
  connections_.resize(static_cast<size_t>(options_.connections), nullptr);
  for (size_t i = 0; i < connections_.size(); ++i) {
    auto connection = std::make_unique<LoadConnection>(*this, i);
    connection->SetPendingConnectTimeout(options_.timeout);
    absl::StatusOr<Connection*> adopted =
        reactor_->ConnectTo(options_.server, std::move(connection));
    if (!adopted.ok()) return adopted.status();
    connections_[i] = static_cast<LoadConnection*>(*adopted);
    ++live_;
  }
  return absl::OkStatus();
}

void LoadRun::OnConnected() {
  ++connected_;
  MaybeBegin();
}

void LoadRun::OnUnbind(LoadConnection* connection, const UnbindReason& reason) {
  connections_[connection->index()] = nullptr;
  --live_;
  if (connection->up()) --connected_;
  // After Finish, or when the reactor goes away without one (Main gave up),
  // closing is the expected end, not an error.
  if (phase_ == Phase::kFinished ||
      reason.kind == UnbindKind::kReactorStopped) {
    return;
  }
  // A connection that closed itself has recorded its error already.
  if (reason.is_error() || reason.kind != UnbindKind::kClosedLocally) {
    RecordError(absl::StrCat("connection ", connection->index(), ": ",
                             reason.ToString()));
  }
  if (live_ == 0) {
    Finish();
  } else {
    MaybeBegin();
  }
}

void LoadRun::MaybeBegin() {
  if (phase_ != Phase::kConnecting || connected_ < live_) return;
  phase_ = Phase::kMeasuring;
  start_ = reactor_->Now();
  // The run's only timer; it never needs cancelling, since the reactor stops
  // at Finish and the timer goes with it.
  absl::StatusOr<TimerId> timer =
      reactor_->AddTimer(options_.duration, [this] { Finish(); });
  EMBER_CHECK_MSG(timer.ok(), "one timer cannot pass the timer limit");
  for (LoadConnection* connection : connections_) {
    if (connection != nullptr) connection->Begin(start_);
  }
}

bool LoadRun::TakeSend() {
  if (phase_ != Phase::kMeasuring) return false;
  if (options_.requests > 0 && sends_ == options_.requests) return false;
  ++sends_;
  return true;
}

void LoadRun::RecordRoundTrip(absl::Duration latency) {
  histogram_.Record(latency);
  if (options_.requests > 0 && histogram_.count() == options_.requests) {
    Finish();
  }
}

void LoadRun::RecordError(std::string_view what) {
  ++errors_;
  if (errors_ <= kErrorsPrintedMax) {
    std::fprintf(stderr, "error: %.*s\n", static_cast<int>(what.size()),
                 what.data());
  } else if (errors_ == kErrorsPrintedMax + 1) {
    std::fprintf(stderr, "error: (further errors are only counted)\n");
  }
}

void LoadRun::Finish() {
  if (phase_ == Phase::kFinished) return;
  end_ = reactor_->Now();
  if (phase_ == Phase::kConnecting) start_ = end_;
  phase_ = Phase::kFinished;
  // Stopping closes the connections; their messages in flight are dropped.
  reactor_->Stop();
}

double Micros(absl::Duration d) { return absl::ToDoubleMicroseconds(d); }

void LoadRun::PrintReport() const {
  const double seconds = absl::ToDoubleSeconds(end_ - start_);
  const int64_t round_trips = histogram_.count();
  const double per_second = seconds > 0 ? round_trips / seconds : 0;
  const double megabytes_per_second =
      per_second * static_cast<double>(options_.message_bytes) / 1e6;
  std::printf("round trips:  %lld in %.3f s = %.0f /s\n",
              static_cast<long long>(round_trips), seconds, per_second);
  std::printf("throughput:   %.2f MB/s of payload each way\n",
              megabytes_per_second);
  std::printf(
      "latency (us): p50 %.1f  p99 %.1f  p99.9 %.1f  (min %.1f  mean %.1f  "
      "max %.1f)\n",
      Micros(histogram_.Percentile(0.5)), Micros(histogram_.Percentile(0.99)),
      Micros(histogram_.Percentile(0.999)), Micros(histogram_.min()),
      Micros(histogram_.mean()), Micros(histogram_.max()));
  std::printf("errors:       %lld\n", static_cast<long long>(errors_));
}

// Reads and checks the flags. Prints what is wrong and returns false when
// they cannot work.
bool ParseOptions(LoadOptions& options) {
  bool ok = true;
  auto complain = [&ok](const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    ok = false;
  };
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 1 || port > 65535) {
    complain(absl::StrCat("--port must be 1..65535, not ", port));
  }
  const std::string host = absl::GetFlag(FLAGS_host);
  absl::StatusOr<io::Address> server =
      io::Address::ParseIp(host, static_cast<uint16_t>(port));
  if (!server.ok()) {
    complain(absl::StrCat("--host: ", server.status().ToString()));
  } else if (!server->is_loopback()) {
    complain(absl::StrCat("--host must be a loopback address, not ", host));
  } else {
    options.server = *server;
  }
  options.connections = absl::GetFlag(FLAGS_connections);
  if (options.connections < 1 || options.connections > kConnectionsMax) {
    complain(absl::StrCat("--connections must be 1..", kConnectionsMax));
  }
  const int64_t message_bytes = absl::GetFlag(FLAGS_message_bytes);
  const bool message_bytes_ok =
      message_bytes >= 1 && message_bytes <= kMessageBytesMax;
  if (!message_bytes_ok) {
    complain(absl::StrCat("--message_bytes must be 1..", kMessageBytesMax));
  }
  options.message_bytes = static_cast<size_t>(message_bytes);
  options.pipeline = absl::GetFlag(FLAGS_pipeline);
  if (options.pipeline < 1 || options.pipeline > kPipelineMax) {
    complain(absl::StrCat("--pipeline must be 1..", kPipelineMax));
  } else if (message_bytes_ok &&
             message_bytes * options.pipeline >
                 static_cast<int64_t>(OutboundLimits().max_bytes)) {
    complain(absl::StrCat(
        "--pipeline times --message_bytes must fit a connection's outbound "
        "limit of ",
        OutboundLimits().max_bytes, " bytes"));
  }
  options.duration = absl::GetFlag(FLAGS_duration);
  if (options.duration <= absl::ZeroDuration() ||
      options.duration == absl::InfiniteDuration()) {
    complain("--duration must be positive and finite");
  }
  options.requests = absl::GetFlag(FLAGS_requests);
  if (options.requests < 0) complain("--requests must not be negative");
  options.timeout = absl::GetFlag(FLAGS_timeout);
  if (options.timeout <= absl::ZeroDuration() ||
      options.timeout == absl::InfiniteDuration()) {
    complain("--timeout must be positive and finite");
  }
  return ok;
}

int Main() {
  LoadOptions options;
  if (!ParseOptions(options)) return 2;

  // Each connection takes one descriptor; leave room for the loop's own.
  const int descriptors_needed = options.connections + 64;
  absl::StatusOr<int> descriptors =
      io::EpollNetwork::RaiseDescriptorLimit(descriptors_needed);
  if (!descriptors.ok() || *descriptors < descriptors_needed) {
    std::fprintf(stderr, "cannot open %d descriptors: %s\n", descriptors_needed,
                 descriptors.ok()
                     ? absl::StrCat("the limit is ", *descriptors).c_str()
                     : descriptors.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<io::EpollNetwork>> network =
      io::EpollNetwork::Create();
  if (!network.ok()) {
    std::fprintf(stderr, "%s\n", network.status().ToString().c_str());
    return 1;
  }
  // Declared before the reactor, so that it outlives the connections.
  LoadRun run(options);
  Reactor reactor(**network);

  std::printf(
      "echo_load: %d connections to %s, %zu-byte messages, pipeline %d, "
      "duration %s",
      options.connections, options.server.ToString().c_str(),
      options.message_bytes, options.pipeline,
      absl::FormatDuration(options.duration).c_str());
  if (options.requests > 0) {
    std::printf(", at most %lld round trips",
                static_cast<long long>(options.requests));
  }
  std::printf("\n");
  std::fflush(stdout);

  absl::Status started = run.Start(reactor);
  if (!started.ok()) {
    std::fprintf(stderr, "cannot connect: %s\n", started.ToString().c_str());
    return 1;
  }
  absl::Status status = reactor.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "reactor stopped: %s\n", status.ToString().c_str());
    return 1;
  }
  run.PrintReport();
  return run.succeeded() ? 0 : 1;
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ember::bench::Main();
}
