// TLS load on Ember's reactor and epoll backend: handshakes per second and
// bulk throughput with 16 KiB records, against any TLS server (Ember's, or
// `openssl s_server` for comparison), plus a TLS sink server to measure
// against. See README.md ("TLS").
//
//   tls_load --mode=serve --port=0 --cert=c.pem --key=k.pem    # sink server
//   tls_load --mode=handshake --port=P --ca=ca.pem --connections=4
//   tls_load --mode=bulk --port=P --ca=ca.pem

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "io/epoll/epoll_network.h"
#include "protocols/tls/tls_connection.h"
#include "reactor/reactor.h"

ABSL_FLAG(std::string, mode, "handshake", "handshake, bulk or serve");
ABSL_FLAG(std::string, host, "127.0.0.1", "server IP literal");
ABSL_FLAG(int, port, 8443, "server port (serve: 0 picks one)");
ABSL_FLAG(std::string, server_name, "localhost", "name to verify and send");
ABSL_FLAG(std::string, ca, "", "CA file (PEM) to verify the server with");
ABSL_FLAG(std::string, cert, "", "serve: certificate chain (PEM)");
ABSL_FLAG(std::string, key, "", "serve: private key (PEM)");
ABSL_FLAG(int, connections, 1, "connections at once");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(bool, tls12, false, "limit to TLS 1.2");

namespace ember::bench {
namespace {

using tls::TlsContext;
using tls::TlsOptions;
using tls::TlsRole;

constexpr size_t kRecordBytes = 16 * 1024;

struct Totals {
  uint64_t handshakes = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
};

// Serve: discards what arrives.
class Sink : public Connection {
 public:
  explicit Sink(Totals* totals) : totals_(totals) {}
  void ReceiveData(std::string_view data) override {
    totals_->bytes += data.size();
    bytes_ += data.size();
  }
  void HandshakeCompleted() override { totals_->handshakes++; }
  void Unbind(const UnbindReason& reason) override {
    if (bytes_ > 0) {
      std::printf("connection received %llu bytes (%s)\n",
                  static_cast<unsigned long long>(bytes_),
                  reason.ToString().c_str());
      std::fflush(stdout);
    }
    if (reason.is_error() && totals_->errors++ < 20) {
      std::fprintf(stderr, "server connection: %s\n",
                   reason.ToString().c_str());
    }
  }

 private:
  Totals* totals_;
  uint64_t bytes_ = 0;
};

class Handshaker : public Connection {
 public:
  Handshaker(Totals* totals, std::function<void()> next)
      : totals_(totals), next_(std::move(next)) {}
  void HandshakeCompleted() override {
    totals_->handshakes++;
    CloseAfterWriting();
  }
  void Unbind(const UnbindReason& reason) override {
    // Connections still handshaking when the measured time ends are not
    // errors.
    if (reason.is_error() && reason.kind != UnbindKind::kReactorStopped) {
      if (totals_->errors++ < 5) {
        std::fprintf(stderr, "error: %s\n", reason.ToString().c_str());
      }
    }
    next_();
  }

 private:
  Totals* totals_;
  std::function<void()> next_;
};

// Keeps the outbound queue between 2 and 8 MiB of 16 KiB writes (16 KiB
// records). The low-water callback fires only after the queue passed the
// high mark, which a fast reader may never let happen (the socket takes a
// whole refill at once), so a 1 ms timer tops the queue up too.
class Bulk : public Connection {
 public:
  Bulk(Totals* totals, std::set<Bulk*>* live)
      : totals_(totals), live_(live), record_(kRecordBytes, 'x') {
    live_->insert(this);
    OutboundLimits limits;
    limits.high_water_bytes = 4 << 20;
    limits.low_water_bytes = 2 << 20;
    limits.max_bytes = 64 << 20;
    SetOutboundLimits(limits);
  }
  void HandshakeCompleted() override {
    totals_->handshakes++;
    Fill();
    auto timer = reactor().AddPeriodicTimer(absl::Milliseconds(1), [this] {
      if (OutboundDataSize() <= (2 << 20)) Fill();
    });
    if (timer.ok()) timer_ = *timer;
  }
  void OutboundLowWater() override { Fill(); }
  void Unbind(const UnbindReason& reason) override {
    if (timer_ != 0) reactor().CancelTimer(timer_);
    live_->erase(this);
    totals_->bytes += sent();
    if (reason.is_error() && reason.kind != UnbindKind::kReactorStopped) {
      totals_->errors++;
      std::fprintf(stderr, "error: %s\n", reason.ToString().c_str());
    }
  }
  // Bytes handed to the socket (queued ones not counted).
  uint64_t sent() const { return queued_ - OutboundDataSize(); }

 private:
  void Fill() {
    while (OutboundDataSize() < (8 << 20) && !closing()) {
      if (!SendData(record_).ok()) return;
      queued_ += record_.size();
    }
  }
  Totals* totals_;
  std::set<Bulk*>* live_;
  std::string record_;
  uint64_t queued_ = 0;
  TimerId timer_ = 0;
};

int Run() {
  auto net = io::EpollNetwork::Create();
  if (!net.ok()) return 1;
  Reactor reactor(**net);
  Totals totals;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  TlsOptions options;
  if (absl::GetFlag(FLAGS_tls12)) options.max_version = tls::TlsVersion::kTls12;

  if (mode == "serve") {
    auto pem = tls::TlsCertificate::FromFiles(absl::GetFlag(FLAGS_cert),
                                              absl::GetFlag(FLAGS_key));
    if (!pem.ok()) {
      std::fprintf(stderr, "%s\n", pem.status().ToString().c_str());
      return 2;
    }
    options.certificates.push_back(*pem);
    auto context = TlsContext::Create(TlsRole::kServer, options);
    if (!context.ok()) return 2;
    auto server = reactor.StartServer(
        absl::GetFlag(FLAGS_host),
        static_cast<uint16_t>(absl::GetFlag(FLAGS_port)),
        tls::TlsServerFactory(*context,
                              [&] { return std::make_unique<Sink>(&totals); }));
    if (!server.ok()) return 1;
    std::printf("tls_load serving on %s\n",
                reactor.ServerAddress(*server)->ToString().c_str());
    std::fflush(stdout);
    return reactor.Run().ok() ? 0 : 1;
  }

  options.ca_file = absl::GetFlag(FLAGS_ca);
  options.session_resumption = false;  // Full handshakes only.
  auto context = TlsContext::Create(TlsRole::kClient, options);
  if (!context.ok()) {
    std::fprintf(stderr, "%s\n", context.status().ToString().c_str());
    return 2;
  }
  const uint16_t port = static_cast<uint16_t>(absl::GetFlag(FLAGS_port));
  const std::string host = absl::GetFlag(FLAGS_host);
  tls::TlsSessionOptions session{absl::GetFlag(FLAGS_server_name)};
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  bool stopping = false;
  std::function<void()> start_handshake = [&] {
    if (stopping) return;
    auto c = tls::ConnectTls(
        reactor, host, port,
        std::make_unique<Handshaker>(
            &totals, [&] { reactor.NextTick([&] { start_handshake(); }); }),
        *context, session);
    if (!c.ok()) totals.errors++;
  };
  std::set<Bulk*> bulks;
  const absl::Time start = reactor.Now();
  for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
    if (mode == "handshake") {
      start_handshake();
    } else {
      auto c = tls::ConnectTls(reactor, host, port,
                               std::make_unique<Bulk>(&totals, &bulks),
                               *context, session);
      if (!c.ok()) return 1;
    }
  }
  uint64_t bulk_bytes = 0;
  auto timer = reactor.AddTimer(duration, [&] {
    stopping = true;
    bulk_bytes = totals.bytes;  // Connections already ended.
    for (Bulk* b : bulks) bulk_bytes += b->sent();
    reactor.Stop();
  });
  if (!timer.ok()) return 1;
  if (!reactor.Run().ok()) return 1;
  const double seconds = absl::ToDoubleSeconds(reactor.Now() - start);
  if (mode == "handshake") {
    std::printf("handshakes: %llu in %.3f s = %.0f /s, errors %llu\n",
                static_cast<unsigned long long>(totals.handshakes), seconds,
                totals.handshakes / seconds,
                static_cast<unsigned long long>(totals.errors));
  } else {
    std::printf("bulk: %llu bytes in %.3f s = %.1f MB/s, errors %llu\n",
                static_cast<unsigned long long>(bulk_bytes), seconds,
                bulk_bytes / seconds / 1e6,
                static_cast<unsigned long long>(totals.errors));
  }
  return totals.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ember::bench::Run();
}
