// Goal: TLS over the simulated network behaves as specified, case by case:
// a handshake and echo with what was negotiated visible to both handlers;
// each failure the issue lists ends the connection with its own reason and
// status (untrusted chain, name mismatch, expiry judged by the backend's
// wall clock, version and ALPN mismatch, garbage, a peer closing during the
// handshake, a handshake that never finishes, a missing client certificate,
// a verify hook's veto); close_notify on an orderly close; resumption on a
// reconnect; SNI picking the certificate; STARTTLS upgrading a plaintext
// line protocol; pausing with plaintext left inside the filter; and the
// outbound limit counted with the plaintext that waits for the handshake.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/line/line_connection.h"
#include "protocols/tls/tls_connection.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_engine.h"
#include "protocols/tls/tls_failure.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"
#include "tests/protocols/tls/tls_test_peers.h"

namespace ember::tls {
namespace {

using protocols::testing::RunUntil;
using testing::CertSpec;
using testing::EchoConnection;
using testing::PeerRecord;
using testing::ProbeConnection;
using testing::RecordingConnection;
using testing::ServerSpec;
using testing::TestCa;

constexpr uint16_t kPort = 4433;

class TlsSimTest : public ::testing::Test {
 protected:
  TlsSimTest()
      : wall_(net_.WallNow()),
        ca_("Ember Test CA", wall_ - absl::Hours(48),
            wall_ + absl::Hours(24 * 3650)) {}

  std::shared_ptr<const TlsContext> Server(TlsOptions options = {}) {
    if (options.certificates.empty()) {
      options.certificates.push_back(ca_.Issue(ServerSpec(wall_)));
    }
    auto context = TlsContext::Create(TlsRole::kServer, std::move(options));
    EXPECT_TRUE(context.ok()) << context.status();
    return *context;
  }

  std::shared_ptr<const TlsContext> Client(TlsOptions options = {}) {
    if (options.ca_pem.empty()) options.ca_pem = ca_.cert_pem();
    auto context = TlsContext::Create(TlsRole::kClient, std::move(options));
    EXPECT_TRUE(context.ok()) << context.status();
    return *context;
  }

  void Listen(std::shared_ptr<const TlsContext> context, PeerRecord* record) {
    auto server = reactor_.StartServer(
        "127.0.0.1", kPort, TlsServerFactory(std::move(context), [record] {
          return std::make_unique<EchoConnection>(record);
        }));
    ASSERT_TRUE(server.ok()) << server.status();
  }

  void Connect(std::shared_ptr<const TlsContext> context, PeerRecord* record,
               std::string payload, std::string host = "localhost") {
    net_.AddName("localhost", {io::Address::Loopback4(0)});
    auto c = ConnectTls(reactor_, host, kPort,
                        std::make_unique<ProbeConnection>(record, payload),
                        std::move(context));
    ASSERT_TRUE(c.ok()) << c.status();
  }

  bool Run(const std::function<bool()>& done,
           absl::Duration limit = absl::Minutes(2)) {
    return RunUntil(reactor_, done, limit);
  }

  sim::SimNetwork net_;
  Reactor reactor_{net_};
  absl::Time wall_;
  TestCa ca_;
};

TEST_F(TlsSimTest, HandshakeEchoAndNegotiatedDetails) {
  PeerRecord server, client;
  TlsOptions server_options;
  server_options.alpn_protocols = {"h2", "http/1.1"};
  Listen(Server(std::move(server_options)), &server);
  TlsOptions client_options;
  client_options.alpn_protocols = {"http/1.1"};
  const std::string payload(100000, 'x');
  Connect(Client(std::move(client_options)), &client, payload);
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));

  EXPECT_EQ(client.received, payload);
  EXPECT_EQ(server.received, payload);
  EXPECT_EQ(client.handshakes, 1);
  EXPECT_EQ(server.handshakes, 1);
  EXPECT_EQ(client.version, "TLSv1.3");
  EXPECT_EQ(server.version, "TLSv1.3");
  EXPECT_FALSE(client.cipher.empty());
  EXPECT_EQ(client.alpn, "http/1.1");
  EXPECT_EQ(server.alpn, "http/1.1");
  EXPECT_EQ(server.server_name, "localhost");
  EXPECT_FALSE(client.resumed);
  ASSERT_TRUE(client.peer.has_value());
  EXPECT_EQ(client.peer->dns_names, std::vector<std::string>{"localhost"});
  EXPECT_EQ(client.peer->ip_addresses,
            (std::vector<std::string>{"127.0.0.1", "0:0:0:0:0:0:0:1"}));
  EXPECT_EQ(client.peer->sha256_fingerprint.size(), 64u);
  EXPECT_NE(client.peer->subject.find("CN=localhost"), std::string::npos);
  EXPECT_FALSE(server.peer.has_value());  // No client certificate asked.
  // Orderly close on both sides: the client closes (close_notify), the
  // server sees it as an orderly end of stream and closes in turn.
  EXPECT_EQ(client.unbind->kind, UnbindKind::kClosedLocally)
      << client.unbind->ToString();
  EXPECT_TRUE(client.unbind->status.ok());
  EXPECT_TRUE(server.eof);
  EXPECT_EQ(server.unbind->kind, UnbindKind::kClosedByPeer)
      << server.unbind->ToString();
  EXPECT_TRUE(server.unbind->status.ok());
}

TEST_F(TlsSimTest, ConnectingByIpChecksTheIpSan) {
  PeerRecord server, client;
  Listen(Server(), &server);
  Connect(Client(), &client, "hello", "127.0.0.1");
  ASSERT_TRUE(Run([&] { return client.done(); }));
  EXPECT_EQ(client.received, "hello");
  EXPECT_TRUE(client.unbind->status.ok()) << client.unbind->ToString();
  EXPECT_EQ(server.server_name, "");  // No SNI for an IP.
}

struct FailureCase {
  UnbindKind kind;
  TlsFailure failure;
  absl::StatusCode code;
};

void ExpectFailure(const PeerRecord& record, TlsFailure failure,
                   absl::StatusCode code, UnbindKind kind = UnbindKind::kTls) {
  ASSERT_TRUE(record.unbind.has_value());
  EXPECT_EQ(record.unbind->kind, kind) << record.unbind->ToString();
  EXPECT_EQ(record.unbind->status.code(), code) << record.unbind->ToString();
  EXPECT_EQ(TlsFailureOf(record.unbind->status), failure)
      << record.unbind->ToString();
  EXPECT_EQ(record.handshakes, 0);
  EXPECT_EQ(record.received, "");
}

TEST_F(TlsSimTest, UntrustedChainFailsBothSides) {
  PeerRecord server, client;
  TestCa other("Other CA", wall_ - absl::Hours(1), wall_ + absl::Hours(1000));
  TlsOptions server_options;
  server_options.certificates.push_back(other.Issue(ServerSpec(wall_)));
  Listen(Server(std::move(server_options)), &server);
  Connect(Client(), &client, "secret");
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
  ExpectFailure(client, TlsFailure::kUntrustedCertificate,
                absl::StatusCode::kUnauthenticated);
  // The client's alert tells the server why.
  ExpectFailure(server, TlsFailure::kRejectedByPeer,
                absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(server.received, "");  // Not a byte of "secret" reached it.
}

// The file name OpenSSL's (and BoringSSL's) hashed CA directories use for
// a CA certificate: its subject name hash, then ".0".
std::string HashedName(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EMBER_CHECK(cert != nullptr);
  char name[32];
  std::snprintf(name, sizeof(name), "%08lx.0", X509_subject_name_hash(cert));
  X509_free(cert);
  return name;
}

TEST_F(TlsSimTest, ACaDirectoryIsTrusted) {
  // Goal: ca_dir (a hashed directory, as c_rehash makes) is a trust store:
  // a server certified by a CA in it passes; with the directory holding
  // another CA only, the same server is untrusted.
  const std::string dir = testing::WriteTempFile("ca-dir-marker", "");
  const std::string base = dir.substr(0, dir.rfind('/'));
  const std::string good = base + "/cadir-good", other = base + "/cadir-other";
  ASSERT_EQ(std::system(("mkdir -p " + good + " " + other).c_str()), 0);
  {
    std::ofstream(good + "/" + HashedName(ca_.cert_pem())) << ca_.cert_pem();
    TestCa stranger("Stranger CA", wall_ - absl::Hours(1),
                    wall_ + absl::Hours(1000));
    std::ofstream(other + "/" + HashedName(stranger.cert_pem()))
        << stranger.cert_pem();
  }
  for (const auto& [where, trusted] :
       {std::pair<std::string, bool>{good, true}, {other, false}}) {
    SCOPED_TRACE(where);
    PeerRecord server, client;
    Listen(Server(), &server);
    TlsOptions options;
    options.ca_dir = where;
    auto context = TlsContext::Create(TlsRole::kClient, std::move(options));
    ASSERT_TRUE(context.ok()) << context.status();
    Connect(*context, &client, "via dir");
    ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
    if (trusted) {
      EXPECT_EQ(client.received, "via dir");
      EXPECT_EQ(client.handshakes, 1);
    } else {
      ExpectFailure(client, TlsFailure::kUntrustedCertificate,
                    absl::StatusCode::kUnauthenticated);
    }
    reactor_.Stop();
    ASSERT_TRUE(reactor_.Run().ok());  // Ends the server for the next round.
  }
}

TEST_F(TlsSimTest, WithNoCaGivenTheSystemStoreDecides) {
  // Goal: a client given no CA trusts the system store, found through
  // SSL_CERT_FILE as with OpenSSL: a store holding the test CA trusts the
  // server, one holding another CA does not.
  const std::string ours = testing::WriteTempFile("store-ours.pem", ca_.cert_pem());
  TestCa stranger("Stranger CA", wall_ - absl::Hours(1),
                  wall_ + absl::Hours(1000));
  const std::string theirs =
      testing::WriteTempFile("store-theirs.pem", stranger.cert_pem());
  for (const auto& [store, trusted] :
       {std::pair<std::string, bool>{ours, true}, {theirs, false}}) {
    SCOPED_TRACE(store);
    ASSERT_EQ(setenv("SSL_CERT_FILE", store.c_str(), 1), 0);
    ASSERT_EQ(setenv("SSL_CERT_DIR", "/nonexistent", 1), 0);
    auto context = TlsContext::Create(TlsRole::kClient, TlsOptions{});
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    ASSERT_TRUE(context.ok()) << context.status();
    PeerRecord server, client;
    Listen(Server(), &server);
    Connect(*context, &client, "system");
    ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
    if (trusted) {
      EXPECT_EQ(client.received, "system");
    } else {
      ExpectFailure(client, TlsFailure::kUntrustedCertificate,
                    absl::StatusCode::kUnauthenticated);
    }
    reactor_.Stop();
    ASSERT_TRUE(reactor_.Run().ok());
  }
}

TEST_F(TlsSimTest, VerificationOffIsTheOnlyWayToAcceptAnUntrustedServer) {
  // Goal: verify_peer = false (and nothing else) lets a client talk to a
  // server whose chain it cannot verify; the default refuses it.
  PeerRecord server, client;
  TestCa stranger("Stranger CA", wall_ - absl::Hours(1),
                  wall_ + absl::Hours(1000));
  TlsOptions server_options;
  server_options.certificates.push_back(
      stranger.Issue(ServerSpec(wall_, {"elsewhere.example"}, {})));
  Listen(Server(std::move(server_options)), &server);
  TlsOptions options;
  options.verify_peer = false;
  auto context = TlsContext::Create(TlsRole::kClient, std::move(options));
  ASSERT_TRUE(context.ok()) << context.status();
  Connect(*context, &client, "unverified");
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
  EXPECT_EQ(client.received, "unverified");
  EXPECT_EQ(client.handshakes, 1);
}

TEST_F(TlsSimTest, NameMismatch) {
  PeerRecord server, client;
  TlsOptions server_options;
  server_options.certificates.push_back(
      ca_.Issue(ServerSpec(wall_, {"other.example"}, {})));
  Listen(Server(std::move(server_options)), &server);
  Connect(Client(), &client, "secret");
  ASSERT_TRUE(Run([&] { return client.done(); }));
  ExpectFailure(client, TlsFailure::kNameMismatch,
                absl::StatusCode::kUnauthenticated);
}

TEST_F(TlsSimTest, ExpiryFollowsTheBackendWallClock) {
  // A certificate valid for one more hour: fine now, expired once the
  // simulated wall clock has moved two hours on.
  PeerRecord server, early, late;
  CertSpec spec = ServerSpec(wall_);
  spec.not_after = wall_ + absl::Hours(1);
  TlsOptions server_options;
  server_options.certificates.push_back(ca_.Issue(spec));
  Listen(Server(std::move(server_options)), &server);
  auto client = Client();
  Connect(client, &early, "now");
  ASSERT_TRUE(Run([&] { return early.done(); }));
  EXPECT_EQ(early.received, "now");
  EXPECT_TRUE(early.unbind->status.ok()) << early.unbind->ToString();

  net_.JumpWallClock(absl::Hours(2));
  Connect(client, &late, "later");
  ASSERT_TRUE(Run([&] { return late.done(); }));
  ExpectFailure(late, TlsFailure::kExpiredCertificate,
                absl::StatusCode::kUnauthenticated);
}

TEST_F(TlsSimTest, NotYetValid) {
  PeerRecord server, client;
  CertSpec spec = ServerSpec(wall_);
  spec.not_before = wall_ + absl::Hours(1);
  TlsOptions server_options;
  server_options.certificates.push_back(ca_.Issue(spec));
  Listen(Server(std::move(server_options)), &server);
  Connect(Client(), &client, "x");
  ASSERT_TRUE(Run([&] { return client.done(); }));
  ExpectFailure(client, TlsFailure::kCertificateNotYetValid,
                absl::StatusCode::kUnauthenticated);
}

TEST_F(TlsSimTest, VersionMismatch) {
  PeerRecord server, client;
  TlsOptions server_options;
  server_options.min_version = TlsVersion::kTls13;
  Listen(Server(std::move(server_options)), &server);
  TlsOptions client_options;
  client_options.max_version = TlsVersion::kTls12;
  Connect(Client(std::move(client_options)), &client, "x");
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
  ExpectFailure(server, TlsFailure::kVersionMismatch,
                absl::StatusCode::kFailedPrecondition);
  ExpectFailure(client, TlsFailure::kVersionMismatch,
                absl::StatusCode::kFailedPrecondition);
}

TEST_F(TlsSimTest, Tls12WhenBothAllowOnlyIt) {
  PeerRecord server, client;
  TlsOptions server_options;
  server_options.max_version = TlsVersion::kTls12;
  Listen(Server(std::move(server_options)), &server);
  Connect(Client(), &client, "twelve");
  ASSERT_TRUE(Run([&] { return client.done(); }));
  EXPECT_EQ(client.version, "TLSv1.2");
  EXPECT_EQ(client.received, "twelve");
}

TEST_F(TlsSimTest, NoCommonAlpn) {
  PeerRecord server, client;
  TlsOptions server_options;
  server_options.alpn_protocols = {"http/1.1"};
  Listen(Server(std::move(server_options)), &server);
  TlsOptions client_options;
  client_options.alpn_protocols = {"smtp"};
  Connect(Client(std::move(client_options)), &client, "x");
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
  ExpectFailure(server, TlsFailure::kNoCommonParameters,
                absl::StatusCode::kFailedPrecondition);
  ExpectFailure(client, TlsFailure::kNoCommonParameters,
                absl::StatusCode::kFailedPrecondition);
}

// Sends fixed bytes once connected.
class Sender : public RecordingConnection {
 public:
  Sender(PeerRecord* record, std::string bytes)
      : RecordingConnection(record), bytes_(std::move(bytes)) {}
  void ConnectionCompleted() override { SendData(bytes_).IgnoreError(); }

 private:
  std::string bytes_;
};

TEST_F(TlsSimTest, GarbageInsteadOfAHandshake) {
  // A plaintext HTTP request where a ClientHello belongs, and a handshake
  // record whose message is nonsense: both are malformed input. For the
  // second the server explains itself with an alert record.
  PeerRecord server, http, nonsense;
  Listen(Server(), &server);
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<Sender>(
                               &http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
                  .ok());
  ASSERT_TRUE(Run([&] { return server.done() && http.done(); }));
  ExpectFailure(server, TlsFailure::kMalformedInput,
                absl::StatusCode::kInvalidArgument);

  server = PeerRecord();
  // A handshake record (type 22) holding a "ClientHello" of 3 bytes that
  // claims to be 0x10000 long.
  const std::string record("\x16\x03\x01\x00\x07\x01\x01\x00\x00xyz", 12);
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<Sender>(&nonsense, record))
                  .ok());
  ASSERT_TRUE(Run([&] { return server.done() && nonsense.done(); }));
  ASSERT_TRUE(server.unbind.has_value());
  EXPECT_EQ(server.unbind->kind, UnbindKind::kTls);
  EXPECT_EQ(server.unbind->status.code(), absl::StatusCode::kInvalidArgument)
      << server.unbind->ToString();
  ASSERT_FALSE(nonsense.received.empty());
  EXPECT_EQ(nonsense.received[0], '\x15');  // An alert record.
}

TEST_F(TlsSimTest, HandshakeTimeoutAgainstASilentServer) {
  // A plaintext server that never answers: the client's handshake times
  // out after the default 10 s of backend time, with its own status.
  PeerRecord silent, client;
  ASSERT_TRUE(
      reactor_
          .StartServer(
              "127.0.0.1", kPort,
              [&] { return std::make_unique<RecordingConnection>(&silent); })
          .ok());
  const absl::Time start = reactor_.Now();
  Connect(Client(), &client, "x");
  ASSERT_TRUE(Run([&] { return client.done(); }, absl::Minutes(1)));
  ExpectFailure(client, TlsFailure::kHandshakeTimeout,
                absl::StatusCode::kDeadlineExceeded, UnbindKind::kTimedOut);
  EXPECT_GE(reactor_.Now() - start, absl::Seconds(10));
  EXPECT_LT(reactor_.Now() - start, absl::Seconds(11));
  EXPECT_FALSE(silent.received.empty());  // It did get a ClientHello.
}

TEST_F(TlsSimTest, PeerClosingDuringTheHandshake) {
  PeerRecord client;
  // A plaintext server that closes as soon as anything arrives.
  class Closer : public Connection {
    void ReceiveData(std::string_view) override { CloseConnection(); }
  };
  ASSERT_TRUE(reactor_
                  .StartServer("127.0.0.1", kPort,
                               [] { return std::make_unique<Closer>(); })
                  .ok());
  Connect(Client(), &client, "x");
  ASSERT_TRUE(Run([&] { return client.done(); }));
  ExpectFailure(client, TlsFailure::kClosedDuringHandshake,
                absl::StatusCode::kUnavailable);
}

TEST_F(TlsSimTest, ClientCertificateRequired) {
  PeerRecord server, anonymous, identified;
  TlsOptions server_options;
  server_options.client_certificates = ClientCertificates::kRequire;
  server_options.ca_pem = ca_.cert_pem();
  Listen(Server(std::move(server_options)), &server);

  Connect(Client(), &anonymous, "x");
  ASSERT_TRUE(Run([&] { return anonymous.done() && server.done(); }));
  ExpectFailure(server, TlsFailure::kPeerCertificateMissing,
                absl::StatusCode::kUnauthenticated);
  // In TLS 1.3 the client finished its side first; it learns from the alert.
  ASSERT_TRUE(anonymous.unbind.has_value());
  EXPECT_EQ(TlsFailureOf(anonymous.unbind->status),
            TlsFailure::kPeerCertificateMissing)
      << anonymous.unbind->ToString();

  server = PeerRecord();
  CertSpec spec = ServerSpec(wall_, {}, {});
  spec.common_name = "client-7";
  TlsOptions client_options;
  client_options.certificates.push_back(ca_.Issue(spec));
  Connect(Client(std::move(client_options)), &identified, "me");
  ASSERT_TRUE(Run([&] { return identified.done() && server.done(); }));
  EXPECT_EQ(identified.received, "me");
  ASSERT_TRUE(server.peer.has_value());
  EXPECT_NE(server.peer->subject.find("CN=client-7"), std::string::npos);
}

TEST_F(TlsSimTest, VerifyHookAddsChecksButCannotPassABadChain) {
  PeerRecord server, vetoed, bad_chain;
  Listen(Server(), &server);
  int hook_calls = 0;
  TlsOptions options;
  options.verify_hook = [&](const TlsPeerCertificate& cert) {
    ++hook_calls;
    EXPECT_EQ(cert.dns_names, std::vector<std::string>{"localhost"});
    return absl::PermissionDeniedError("fingerprint not pinned");
  };
  Connect(Client(std::move(options)), &vetoed, "x");
  ASSERT_TRUE(Run([&] { return vetoed.done(); }));
  ExpectFailure(vetoed, TlsFailure::kRejectedByVerifyHook,
                absl::StatusCode::kUnauthenticated);
  EXPECT_NE(vetoed.unbind->status.message().find("fingerprint not pinned"),
            absl::string_view::npos);
  EXPECT_EQ(hook_calls, 1);

  // A hook that accepts everything does not rescue an untrusted chain: it
  // is not even asked.
  TestCa other("Other CA", wall_ - absl::Hours(1), wall_ + absl::Hours(1000));
  TlsOptions permissive;
  permissive.ca_pem = other.cert_pem();
  permissive.verify_hook = [&](const TlsPeerCertificate&) {
    ++hook_calls;
    return absl::OkStatus();
  };
  Connect(Client(std::move(permissive)), &bad_chain, "x");
  ASSERT_TRUE(Run([&] { return bad_chain.done(); }));
  ExpectFailure(bad_chain, TlsFailure::kUntrustedCertificate,
                absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(hook_calls, 1);
}

TEST_F(TlsSimTest, SessionResumptionOnReconnect) {
  PeerRecord server, first, second, third;
  Listen(Server(), &server);
  auto client = Client();
  Connect(client, &first, "one");
  ASSERT_TRUE(Run([&] { return first.done(); }));
  Connect(client, &second, "two");
  ASSERT_TRUE(Run([&] { return second.done(); }));
  EXPECT_FALSE(first.resumed);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.received, "two");
  // Resumption does not skip verification of who we talk to: the session
  // is kept per server name.
  Connect(client, &third, "three", "127.0.0.1");
  ASSERT_TRUE(Run([&] { return third.done(); }));
  EXPECT_FALSE(third.resumed);

  PeerRecord off1, off2;
  TlsOptions no_resumption;
  no_resumption.session_resumption = false;
  auto fresh = Client(std::move(no_resumption));
  Connect(fresh, &off1, "a");
  ASSERT_TRUE(Run([&] { return off1.done(); }));
  Connect(fresh, &off2, "b");
  ASSERT_TRUE(Run([&] { return off2.done(); }));
  EXPECT_FALSE(off2.resumed);
}

TEST_F(TlsSimTest, SniPicksTheCertificate) {
  PeerRecord server, a, b;
  TlsOptions server_options;
  server_options.certificates.push_back(
      ca_.Issue(ServerSpec(wall_, {"a.test"}, {})));
  server_options.certificates.push_back(
      ca_.Issue(ServerSpec(wall_, {"b.test", "*.b.test"}, {})));
  Listen(Server(std::move(server_options)), &server);
  net_.AddName("a.test", {io::Address::Loopback4(0)});
  net_.AddName("b.test", {io::Address::Loopback4(0)});
  Connect(Client(), &a, "a", "a.test");
  Connect(Client(), &b, "b", "b.test");
  ASSERT_TRUE(Run([&] { return a.done() && b.done(); }));
  EXPECT_EQ(a.received, "a") << a.unbind->ToString();
  EXPECT_EQ(b.received, "b") << b.unbind->ToString();
  ASSERT_TRUE(a.peer && b.peer);
  EXPECT_EQ(a.peer->dns_names, std::vector<std::string>{"a.test"});
  EXPECT_EQ(b.peer->dns_names,
            (std::vector<std::string>{"b.test", "*.b.test"}));
}

// A server that speaks TLS by driving a TlsEngine itself over a plain
// connection, so that it can cut its own ciphertext short.
class ManualTlsServer : public Connection {
 public:
  enum class Ending { kMidRecord, kBetweenRecords };
  ManualTlsServer(std::shared_ptr<const TlsContext> context, Ending ending)
      : ending_(ending) {
    engine_ = *TlsEngine::Create(std::move(context), {},
                                 [this] { return reactor().WallNow(); });
    EMBER_CHECK(engine_->Start().ok());
  }
  void ReceiveData(std::string_view data) override {
    if (!engine_->FeedCiphertext(data).ok()) return CloseConnection();
    SendCiphertext();
    if (!engine_->established() || sent_) return;
    sent_ = true;
    EMBER_CHECK(engine_->WritePlaintext("hello world").ok());
    std::string records;
    engine_->TakeCiphertext([&](std::string_view b) { records.append(b); });
    if (ending_ == Ending::kMidRecord) records.resize(records.size() - 5);
    SendData(records).IgnoreError();
    CloseAfterWriting();  // TCP FIN, no close_notify.
  }

 private:
  void SendCiphertext() {
    engine_->TakeCiphertext(
        [&](std::string_view b) { SendData(b).IgnoreError(); });
  }
  Ending ending_;
  bool sent_ = false;
  std::unique_ptr<TlsEngine> engine_;
};

TEST_F(TlsSimTest, TruncationIsAnErrorNeverAShortRead) {
  for (auto ending : {ManualTlsServer::Ending::kMidRecord,
                      ManualTlsServer::Ending::kBetweenRecords}) {
    SCOPED_TRACE(static_cast<int>(ending));
    sim::SimNetwork net;
    Reactor reactor(net);
    auto server_context = Server();
    auto server = reactor.StartServer("127.0.0.1", kPort, [&] {
      return std::make_unique<ManualTlsServer>(server_context, ending);
    });
    ASSERT_TRUE(server.ok());
    PeerRecord client;
    auto c =
        ConnectTls(reactor, "127.0.0.1", kPort,
                   std::make_unique<RecordingConnection>(&client), Client());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(RunUntil(reactor, [&] { return client.done(); }));
    ASSERT_TRUE(client.unbind.has_value());
    EXPECT_EQ(client.unbind->kind, UnbindKind::kTls);
    EXPECT_EQ(client.unbind->status.code(), absl::StatusCode::kDataLoss);
    EXPECT_FALSE(client.eof);  // Never an orderly end of stream.
    if (ending == ManualTlsServer::Ending::kMidRecord) {
      EXPECT_EQ(TlsFailureOf(client.unbind->status), TlsFailure::kTruncated)
          << client.unbind->ToString();
      EXPECT_EQ(client.received, "");  // The cut record is not delivered.
    } else {
      EXPECT_EQ(TlsFailureOf(client.unbind->status), TlsFailure::kNoCloseNotify)
          << client.unbind->ToString();
      EXPECT_EQ(client.received, "hello world");  // Whole records arrive.
    }
  }
}

TEST_F(TlsSimTest, StartTlsUpgradesALineProtocol) {
  // SMTP's shape: a plaintext exchange, STARTTLS, "go ahead" in plaintext,
  // then the same LineConnection handlers speak over TLS.
  auto server_context = Server();
  auto client_context = Client();
  std::vector<std::string> server_lines, client_lines;
  bool server_secure_at_secret = false;
  class LineServer : public protocols::LineConnection {
   public:
    LineServer(std::shared_ptr<const TlsContext> context,
               std::vector<std::string>* lines, bool* secure)
        : context_(std::move(context)), lines_(lines), secure_(secure) {}
    void ReceiveLine(std::string_view line) override {
      lines_->emplace_back(line);
      if (line == "STARTTLS") {
        SendData("220 go ahead\n").IgnoreError();
        EXPECT_TRUE(StartTls(*this, context_).ok());
        return;
      }
      if (line == "secret")
        *secure_ = TlsOf(*this) != nullptr && TlsOf(*this)->established();
      SendData(absl::StrCat("echo ", AbslView(line), "\n")).IgnoreError();
    }

   private:
    std::shared_ptr<const TlsContext> context_;
    std::vector<std::string>* lines_;
    bool* secure_;
  };
  class LineClient : public protocols::LineConnection {
   public:
    LineClient(std::shared_ptr<const TlsContext> context,
               std::vector<std::string>* lines)
        : context_(std::move(context)), lines_(lines) {}
    void ConnectionCompleted() override {
      SendData("hello\nSTARTTLS\n").IgnoreError();
    }
    void ReceiveLine(std::string_view line) override {
      lines_->emplace_back(line);
      if (line == "220 go ahead") {
        EXPECT_TRUE(StartTls(*this, context_, {"localhost"}).ok());
        // A second StartTls is refused and changes nothing.
        EXPECT_EQ(StartTls(*this, context_, {"localhost"}).code(),
                  absl::StatusCode::kFailedPrecondition);
        SendData("secret\n").IgnoreError();  // Kept for the handshake.
      }
      if (line == "echo secret") CloseAfterWriting();
    }
    void Unbind(const UnbindReason& reason) override { reason_ = reason; }
    UnbindReason reason_;

   private:
    std::shared_ptr<const TlsContext> context_;
    std::vector<std::string>* lines_;
  };
  ASSERT_TRUE(reactor_
                  .StartServer("127.0.0.1", kPort,
                               [&] {
                                 return std::make_unique<LineServer>(
                                     server_context, &server_lines,
                                     &server_secure_at_secret);
                               })
                  .ok());
  auto client = reactor_.Connect(
      "127.0.0.1", kPort,
      std::make_unique<LineClient>(client_context, &client_lines));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(Run([&] { return reactor_.ConnectionCount() == 0; }));
  EXPECT_EQ(server_lines,
            (std::vector<std::string>{"hello", "STARTTLS", "secret"}));
  EXPECT_EQ(client_lines, (std::vector<std::string>{
                              "echo hello", "220 go ahead", "echo secret"}));
  EXPECT_TRUE(server_secure_at_secret);
}

TEST_F(TlsSimTest, PauseKeepsPlaintextInsideTheFilterUntilResume) {
  PeerRecord server;
  const std::string big(300000, 'b');
  class Blaster : public RecordingConnection {
   public:
    Blaster(PeerRecord* r, const std::string* data)
        : RecordingConnection(r), data_(data) {}
    void HandshakeCompleted() override {
      RecordingConnection::HandshakeCompleted();
      SendData(*data_).IgnoreError();
    }
    void ReceiveEof() override {}  // Keep going until the client closes.

   private:
    const std::string* data_;
  };
  ASSERT_TRUE(
      reactor_
          .StartServer("127.0.0.1", kPort,
                       TlsServerFactory(Server(),
                                        [&] {
                                          return std::make_unique<Blaster>(
                                              &server, &big);
                                        }))
          .ok());
  class Pauser : public RecordingConnection {
   public:
    using RecordingConnection::RecordingConnection;
    void ReceiveData(std::string_view data) override {
      RecordingConnection::ReceiveData(data);
      ++calls;
      Pause();
    }
    int calls = 0;
  };
  PeerRecord client;
  auto c = ConnectTls(reactor_, "127.0.0.1", kPort,
                      std::make_unique<Pauser>(&client), Client());
  ASSERT_TRUE(c.ok());
  auto* pauser = static_cast<Pauser*>(*c);
  ASSERT_TRUE(Run([&] { return pauser->calls == 1; }));
  protocols::testing::RunFor(reactor_, absl::Seconds(5));
  EXPECT_EQ(pauser->calls, 1);  // Paused: nothing more was delivered.
  const size_t first = client.received.size();
  EXPECT_LT(first, big.size());
  while (client.received.size() < big.size()) {
    const size_t before = client.received.size();
    pauser->Resume();
    ASSERT_TRUE(Run([&] { return client.received.size() > before; }))
        << "no progress after Resume at " << before;
  }
  EXPECT_EQ(client.received, big);
  pauser->CloseConnection();
  ASSERT_TRUE(Run([&] { return client.done(); }));
}

TEST_F(TlsSimTest, OutboundLimitCountsPlaintextWaitingForTheHandshake) {
  PeerRecord server;
  Listen(Server(), &server);
  PeerRecord client;
  class Limited : public RecordingConnection {
   public:
    using RecordingConnection::RecordingConnection;
    void PostInit() override {
      SetOutboundLimits(
          {.high_water_bytes = 800, .low_water_bytes = 100, .max_bytes = 1000});
      first = SendData(std::string(600, 'a'));
      second = SendData(std::string(500, 'b'));  // 1100 > 1000: refused.
      queued = OutboundDataSize();
      third = SendData(std::string(400, 'c'));  // Exactly 1000: fine.
    }
    void ReceiveData(std::string_view data) override {
      RecordingConnection::ReceiveData(data);
      if (record_ != nullptr && record_->received.size() == 1000)
        CloseAfterWriting();
    }
    absl::Status first, second, third;
    size_t queued = 0;
  };
  auto c = ConnectTls(reactor_, "127.0.0.1", kPort,
                      std::make_unique<Limited>(&client), Client());
  ASSERT_TRUE(c.ok());
  auto* limited = static_cast<Limited*>(*c);
  EXPECT_TRUE(limited->first.ok());
  EXPECT_EQ(limited->second.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limited->queued, 600u);
  EXPECT_TRUE(limited->third.ok());
  ASSERT_TRUE(Run([&] { return client.done(); }));
  EXPECT_EQ(client.received, std::string(600, 'a') + std::string(400, 'c'));
}

TEST_F(TlsSimTest, HalfCloseSendsCloseNotifyAndKeepsReading) {
  // The client sends a request and half-closes (close_notify, then FIN);
  // the server sees an orderly end of stream, answers, and closes; the
  // client still reads the answer after its own close_notify.
  PeerRecord server, client;
  class Answerer : public RecordingConnection {
   public:
    using RecordingConnection::RecordingConnection;
    void ReceiveEof() override {
      if (record_ != nullptr) record_->eof = true;
      SendData("answer to " + record_->received).IgnoreError();
      CloseAfterWriting();
    }
  };
  ASSERT_TRUE(
      reactor_
          .StartServer("127.0.0.1", kPort,
                       TlsServerFactory(
                           Server(),
                           [&] { return std::make_unique<Answerer>(&server); }))
          .ok());
  absl::Status after_close_write;
  class HalfCloser : public RecordingConnection {
   public:
    HalfCloser(PeerRecord* record, absl::Status* after)
        : RecordingConnection(record), after_(after) {}
    void ConnectionCompleted() override {
      SendData("question").IgnoreError();
      CloseWrite();
      *after_ = SendData("more");
    }
    absl::Status* after_;
  };
  auto c = ConnectTls(reactor_, "127.0.0.1", kPort,
                      std::make_unique<HalfCloser>(&client, &after_close_write),
                      Client());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(Run([&] { return client.done() && server.done(); }));
  EXPECT_EQ(after_close_write.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(server.eof);
  EXPECT_EQ(server.received, "question");
  EXPECT_EQ(client.received, "answer to question");
  EXPECT_TRUE(client.eof);  // The server's close_notify.
  EXPECT_TRUE(client.unbind->status.ok()) << client.unbind->ToString();
  EXPECT_TRUE(server.unbind->status.ok()) << server.unbind->ToString();
}

TEST_F(TlsSimTest, ClientCertificateRequestedButOptional) {
  // kRequest: a client without a certificate is served; one with a valid
  // certificate is identified; one with a certificate from an unknown CA
  // is refused (a certificate that comes is verified).
  PeerRecord server, anonymous, identified, stranger;
  TlsOptions server_options;
  server_options.client_certificates = ClientCertificates::kRequest;
  server_options.ca_pem = ca_.cert_pem();
  Listen(Server(std::move(server_options)), &server);

  Connect(Client(), &anonymous, "anon");
  ASSERT_TRUE(Run([&] { return anonymous.done(); }));
  EXPECT_EQ(anonymous.received, "anon") << anonymous.unbind->ToString();
  ASSERT_TRUE(Run([&] { return server.done(); }));
  EXPECT_FALSE(server.peer.has_value());

  server = PeerRecord();
  CertSpec spec = ServerSpec(wall_, {}, {});
  spec.common_name = "client-9";
  TlsOptions with_cert;
  with_cert.certificates.push_back(ca_.Issue(spec));
  Connect(Client(std::move(with_cert)), &identified, "me");
  ASSERT_TRUE(Run([&] { return identified.done() && server.done(); }));
  EXPECT_EQ(identified.received, "me");
  ASSERT_TRUE(server.peer.has_value());
  EXPECT_NE(server.peer->subject.find("CN=client-9"), std::string::npos);

  server = PeerRecord();
  TestCa other("Other CA", wall_ - absl::Hours(1), wall_ + absl::Hours(1000));
  TlsOptions foreign;
  foreign.certificates.push_back(other.Issue(spec));
  Connect(Client(std::move(foreign)), &stranger, "x");
  ASSERT_TRUE(Run([&] { return stranger.done() && server.done(); }));
  ExpectFailure(server, TlsFailure::kUntrustedCertificate,
                absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(stranger.received, "");
}

}  // namespace
}  // namespace ember::tls
