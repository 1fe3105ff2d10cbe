#include "tests/protocols/tls/tls_sweep_scenario.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/tls/tls_connection.h"
#include "protocols/tls/tls_failure.h"
#include "sim/harness/scenario.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::tls::testing {
namespace {

constexpr uint16_t kPort = 4433;
constexpr int kClients = 4;

// Certificates valid for ten years either side of the simulator's start,
// so that wall clock jumps in the plans never expire them. Made once per
// process: their keys differ between processes, their sizes do not.
struct Credentials {
  Credentials()
      : ca("Ember Sweep CA", Start() - absl::Hours(24 * 3650),
           Start() + absl::Hours(24 * 3650)) {
    CertSpec spec = ServerSpec(Start(), {"localhost"}, {"127.0.0.1"});
    spec.not_before = Start() - absl::Hours(24 * 3650);
    spec.not_after = Start() + absl::Hours(24 * 3650);
    server = ca.Issue(spec);
  }
  static absl::Time Start() { return sim::SimOptions().wall_start; }
  TestCa ca;
  TlsCertificate server;
};

const Credentials& Creds() {
  static const Credentials* creds = new Credentials();
  return *creds;
}

std::string Payload(int client) {
  std::string s(static_cast<size_t>(1 + (client * 7919 + 4000) % 24000), '\0');
  uint32_t x = 2166136261u + static_cast<uint32_t>(client);
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

struct ClientRecord {
  std::string payload;
  std::string received;
  int handshakes = 0;
  bool resumed = false;
  bool done = false;
  UnbindReason reason;
};

class EchoServer : public Connection {
 public:
  explicit EchoServer(uint64_t* hash) : hash_(hash) {}
  void PostInit() override { SetPendingConnectTimeout(absl::Minutes(5)); }
  void ReceiveData(std::string_view data) override {
    *hash_ = Mix(*hash_, id());
    for (char c : data) *hash_ = Mix(*hash_, static_cast<uint8_t>(c));
    SendData(data).IgnoreError();
  }
  void ShutdownRequested() override {}

 private:
  uint64_t* hash_;
};

// Sends its payload in pieces over timers and closes when it has it back.
class EchoClient : public Connection {
 public:
  EchoClient(ClientRecord* record, uint64_t* hash)
      : record_(record), hash_(hash) {}
  void PostInit() override { SetPendingConnectTimeout(absl::Minutes(5)); }
  void ConnectionCompleted() override {
    // Pieces of 1..5000 bytes, 0..20 ms apart, all from the connection id
    // and payload size (deterministic).
    size_t offset = 0;
    int64_t at_ms = 0;
    uint64_t x = record_->payload.size();
    while (offset < record_->payload.size()) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const size_t piece = std::min<size_t>(1 + (x >> 33) % 5000,
                                            record_->payload.size() - offset);
      at_ms += static_cast<int64_t>((x >> 20) % 21);
      const std::string bytes = record_->payload.substr(offset, piece);
      auto timer = reactor().AddTimer(absl::Milliseconds(at_ms), [this, bytes] {
        SendData(bytes).IgnoreError();
      });
      EMBER_CHECK(timer.ok());
      timers_.push_back(*timer);
      offset += piece;
    }
  }
  void HandshakeCompleted() override {
    record_->handshakes++;
    record_->resumed = TlsOf(*this)->resumed();
  }
  void ReceiveData(std::string_view data) override {
    *hash_ = Mix(*hash_, id());
    for (char c : data) *hash_ = Mix(*hash_, static_cast<uint8_t>(c));
    record_->received.append(data.data(), data.size());
    if (record_->received.size() >= record_->payload.size()) {
      CloseAfterWriting();
    }
  }
  void ShutdownRequested() override {}
  void Unbind(const UnbindReason& reason) override {
    // The timers must not outlive the connection they write to.
    for (TimerId t : timers_) reactor().CancelTimer(t);
    record_->done = true;
    record_->reason = reason;
  }

 private:
  ClientRecord* record_;
  uint64_t* hash_;
  std::vector<TimerId> timers_;
};

}  // namespace

absl::Status RunTlsEcho(Reactor& reactor, sim::SimNetwork& net,
                        TlsEchoTotals* totals, uint64_t* plaintext_hash) {
  uint64_t hash = 0;
  TlsOptions server_options;
  server_options.certificates.push_back(Creds().server);
  // Longer than any clog or partition the plans cause: a failed handshake
  // then means a broken stream. (The 10 s default is tested on its own.)
  server_options.handshake_timeout = absl::Minutes(30);
  EMBER_ASSIGN_OR_RETURN(
      auto server_context,
      TlsContext::Create(TlsRole::kServer, std::move(server_options)));
  TlsOptions client_options;
  client_options.ca_pem = Creds().ca.cert_pem();
  client_options.handshake_timeout = absl::Minutes(30);
  EMBER_ASSIGN_OR_RETURN(
      auto client_context,
      TlsContext::Create(TlsRole::kClient, std::move(client_options)));

  EMBER_RETURN_IF_ERROR(
      reactor
          .StartServer(
              "127.0.0.1", kPort,
              TlsServerFactory(
                  server_context,
                  [&hash] { return std::make_unique<EchoServer>(&hash); }))
          .status());

  // Clients 0..kClients-1 start 3 ms apart; client kClients reconnects as
  // client 0 once that one has ended, and should resume its session.
  std::vector<std::unique_ptr<ClientRecord>> records;
  for (int i = 0; i <= kClients; ++i) {
    records.push_back(std::make_unique<ClientRecord>());
    records.back()->payload = Payload(i);
  }
  auto start = [&](int i) {
    auto c = ConnectTls(reactor, "127.0.0.1", kPort,
                        std::make_unique<EchoClient>(records[i].get(), &hash),
                        client_context);
    EMBER_CHECK(c.ok());
  };
  for (int i = 0; i < kClients; ++i) {
    auto timer =
        reactor.AddTimer(absl::Milliseconds(3 * i), [&, i] { start(i); });
    EMBER_RETURN_IF_ERROR(timer.status());
  }
  bool reconnected = false;
  const absl::Time deadline = reactor.Now() + absl::Hours(24);
  auto all_done = [&] {
    for (const auto& r : records) {
      if (!r->done) return false;
    }
    return true;
  };
  bool wait = false;
  while (!all_done() && reactor.Now() < deadline) {
    if (!reconnected && records[0]->done) {
      reconnected = true;
      start(kClients);
    }
    EMBER_RETURN_IF_ERROR(
        reactor.RunOnce(wait ? deadline : absl::InfinitePast()));
    wait = !wait;
  }
  if (!all_done()) {
    std::string stuck;
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i]->done) continue;
      absl::StrAppend(&stuck, " client ", i, " (", records[i]->handshakes,
                      " handshakes, ", records[i]->received.size(), " of ",
                      records[i]->payload.size(), " bytes back)");
    }
    return absl::InternalError(
        absl::StrCat("TLS clients never ended within 24 h:", stuck));
  }
  // The servers' sides end from the loop once their clients have; let them
  // (they hold `hash`) before returning.
  EMBER_RETURN_IF_ERROR(sim::RunUntil(
      reactor, [&] { return reactor.ConnectionCount() == 0; }, absl::Hours(1)));

  const bool lossless =
      !net.plan().BreaksStreams() && net.plan().partition_probability == 0;
  for (int i = 0; i <= kClients; ++i) {
    const ClientRecord& r = *records[i];
    const std::string who = absl::StrCat("client ", i);
    if (r.received.size() > r.payload.size() ||
        r.payload.compare(0, r.received.size(), r.received) != 0) {
      return absl::InternalError(absl::StrCat(
          who, ": received bytes that are not a prefix of what it sent"));
    }
    const bool complete = r.received == r.payload;
    if (r.reason.status.ok()) {
      if (!complete) {
        return absl::InternalError(absl::StrCat(
            who, " ended orderly (", r.reason.ToString(), ") with ",
            r.received.size(), " of ", r.payload.size(), " bytes"));
      }
      if (r.handshakes != 1) {
        return absl::InternalError(
            absl::StrCat(who, ": ", r.handshakes, " handshakes"));
      }
    } else {
      const UnbindKind k = r.reason.kind;
      const TlsFailure f = TlsFailureOf(r.reason.status);
      const bool io_failure =
          k == UnbindKind::kReset || k == UnbindKind::kTimedOut ||
          k == UnbindKind::kRefused || k == UnbindKind::kUnreachable;
      const bool stream_ended =
          k == UnbindKind::kTls &&
          (f == TlsFailure::kClosedDuringHandshake ||
           f == TlsFailure::kTruncated || f == TlsFailure::kNoCloseNotify);
      if (!io_failure && !stream_ended) {
        return absl::InternalError(
            absl::StrCat(who, ": unexpected failure ", r.reason.ToString()));
      }
      if (lossless) {
        return absl::InternalError(
            absl::StrCat(who, " failed although the plan breaks no stream: ",
                         r.reason.ToString()));
      }
      if (totals != nullptr) {
        totals->failures[absl::StrCat(AbslView(UnbindKindName(k)), " / ",
                                      AbslView(TlsFailureName(f)))]++;
      }
    }
    if (totals != nullptr) {
      totals->connections++;
      if (r.reason.status.ok()) totals->succeeded++;
      if (r.resumed) totals->resumed++;
    }
  }
  // The reconnect resumes when the first connection got its ticket, which
  // on a lossless plan it always does, unless the wall clock jumped: a
  // ticket that seems to come from the future, or to have expired, is
  // (rightly) refused, and a full handshake follows.
  if (lossless && net.plan().wall_jump_interval == absl::ZeroDuration() &&
      !records[kClients]->resumed) {
    return absl::InternalError("the reconnecting client did not resume");
  }
  if (records[0]->resumed) {
    return absl::InternalError("the first connection claims to be resumed");
  }
  if (plaintext_hash != nullptr) *plaintext_hash = hash;
  return absl::OkStatus();
}

}  // namespace ember::tls::testing
