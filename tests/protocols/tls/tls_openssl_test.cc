// Goal: Ember's TLS client and server interoperate with independent peers,
// OpenSSL's `s_server` and `s_client`, started by the test on loopback over
// the real (epoll) backend: a verified handshake with data both ways, and
// each case the issue lists: an untrusted certificate, a name mismatch, an
// expired certificate, SNI picking the certificate, ALPN, TLS 1.2 only and
// TLS 1.3 only, and a client certificate required. Fails (never skips) when
// openssl is missing. Waits are bounded by the backend's clock (20 s), never
// sleeps.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "protocols/tls/tls_connection.h"
#include "protocols/tls/tls_failure.h"
#include "reactor/reactor.h"
#include "tests/common/subprocess.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"
#include "tests/protocols/tls/tls_test_peers.h"

namespace ember::tls {
namespace {

using protocols::testing::RunUntil;
using testing::CertSpec;
using testing::PeerRecord;
using testing::RecordingConnection;
using testing::ServerSpec;
using testing::TestCa;
using testing::WriteTempFile;
using testing_support::ChildProcess;

// Sends a line once the handshake is done and closes once a line is back.
class LineProbe : public RecordingConnection {
 public:
  LineProbe(PeerRecord* record, std::string line)
      : RecordingConnection(record), line_(std::move(line)) {}
  void HandshakeCompleted() override {
    RecordingConnection::HandshakeCompleted();
    SendData(line_).IgnoreError();
  }
  void ReceiveData(std::string_view data) override {
    RecordingConnection::ReceiveData(data);
    if (record_ != nullptr && record_->received.find('\n') != std::string::npos)
      CloseAfterWriting();
  }

 private:
  std::string line_;
};

// Echoes the first line and closes after writing it.
class LineEcho : public RecordingConnection {
 public:
  using RecordingConnection::RecordingConnection;
  void ReceiveData(std::string_view data) override {
    RecordingConnection::ReceiveData(data);
    if (record_ != nullptr &&
        record_->received.find('\n') != std::string::npos && !answered_) {
      answered_ = true;
      SendData(absl::StrCat("ember: ", AbslView(record_->received)))
          .IgnoreError();
      CloseAfterWriting();
    }
  }

 private:
  bool answered_ = false;
};

class TlsOpensslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto openssl = testing_support::FindProgram("openssl");
    ASSERT_TRUE(openssl.ok()) << openssl.status();
    openssl_ = *openssl;
    auto net = io::EpollNetwork::Create();
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    reactor_ = std::make_unique<Reactor>(*net_);
    const absl::Time now = net_->WallNow();
    ca_ = std::make_unique<TestCa>("Ember Test CA", now - absl::Hours(48),
                                   now + absl::Hours(24 * 365));
    ca_file_ = WriteTempFile("ca.pem", ca_->cert_pem());
    server_ = ca_->Issue(ServerSpec(now));
    server_cert_ = WriteTempFile("server.pem", server_.chain_pem);
    server_key_ = WriteTempFile("server.key", server_.key_pem);
  }

  void TearDown() override {
    reactor_.reset();
    net_.reset();
  }

  // Starts `openssl s_server` on 127.0.0.1 with `args`; returns its port.
  int StartServer(std::vector<std::string> args) {
    std::vector<std::string> argv = {openssl_,      "s_server", "-accept",
                                     "127.0.0.1:0", "-naccept", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ChildProcess::Start(argv);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return 0;
    server_process_ = std::move(*child);
    while (true) {
      auto line = server_process_->ReadLine(absl::Seconds(20));
      EXPECT_TRUE(line.ok()) << line.status();
      if (!line.ok()) return 0;
      if (line->rfind("ACCEPT", 0) == 0) {
        int port = 0;
        EXPECT_TRUE(absl::SimpleAtoi(
            AbslView(line->substr(line->rfind(':') + 1)), &port))
            << *line;
        return port;
      }
    }
  }

  std::shared_ptr<const TlsContext> Client(TlsOptions options = {}) {
    if (options.ca_file.empty() && options.ca_pem.empty()) {
      options.ca_file = ca_file_;
    }
    auto context = TlsContext::Create(TlsRole::kClient, std::move(options));
    EXPECT_TRUE(context.ok()) << context.status();
    return *context;
  }

  // Connects Ember's client to 127.0.0.1:port verifying `name`, sends a
  // line, and runs until the connection ends.
  PeerRecord RunClient(int port, std::shared_ptr<const TlsContext> context,
                       std::string name = "localhost") {
    PeerRecord record;
    auto c = ConnectTls(*reactor_, "127.0.0.1", static_cast<uint16_t>(port),
                        std::make_unique<LineProbe>(&record, "hello ember\n"),
                        std::move(context), {.server_name = name});
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(RunUntil(
        *reactor_, [&] { return record.done(); }, absl::Seconds(20)));
    return record;
  }

  // Runs `openssl s_client` with `args` (stdin: `input`) against an Ember
  // server made from `context`, while the reactor runs; returns s_client's
  // output.
  testing_support::ProgramResult RunSClient(
      std::shared_ptr<const TlsContext> context, PeerRecord* record,
      const std::vector<std::string>& args) {
    auto server = reactor_->StartServer(
        "127.0.0.1", 0, TlsServerFactory(std::move(context), [record] {
          return std::make_unique<LineEcho>(record);
        }));
    EXPECT_TRUE(server.ok()) << server.status();
    const int port = reactor_->ServerAddress(*server)->port();
    std::string command =
        absl::StrCat("printf 'hello openssl\\n' | ", openssl_,
                     " s_client -connect 127.0.0.1:", port, " -ign_eof");
    for (const std::string& a : args) absl::StrAppend(&command, " ", a);
    absl::StatusOr<testing_support::ProgramResult> result;
    std::atomic<bool> finished{false};
    std::thread runner([&] {
      result = testing_support::RunProgram({"/bin/sh", "-c", command},
                                           absl::Seconds(20));
      finished.store(true);
      reactor_->NextTick([] {});  // Wakes the loop to see `finished`.
    });
    RunUntil(
        *reactor_, [&] { return finished.load(); }, absl::Seconds(30));
    runner.join();
    // Let the server side see the end of the connection.
    RunUntil(
        *reactor_, [&] { return record->done(); }, absl::Seconds(5));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : testing_support::ProgramResult{};
  }

  std::string openssl_;
  std::unique_ptr<io::EpollNetwork> net_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<TestCa> ca_;
  std::string ca_file_;
  TlsCertificate server_;
  std::string server_cert_, server_key_;
  std::unique_ptr<ChildProcess> server_process_;
};

void ExpectTlsFailure(const PeerRecord& record, TlsFailure failure) {
  ASSERT_TRUE(record.unbind.has_value());
  EXPECT_EQ(record.unbind->kind, UnbindKind::kTls) << record.unbind->ToString();
  EXPECT_EQ(TlsFailureOf(record.unbind->status), failure)
      << record.unbind->ToString();
  EXPECT_EQ(record.handshakes, 0);
}

// ---- Ember's client against openssl s_server. ----

TEST_F(TlsOpensslTest, ClientVerifiesAndTalksToSServer) {
  const int port =
      StartServer({"-cert", server_cert_, "-key", server_key_, "-rev"});
  PeerRecord r = RunClient(port, Client());
  EXPECT_EQ(r.handshakes, 1);
  EXPECT_EQ(r.version, "TLSv1.3");
  EXPECT_NE(r.received.find("rebme olleh"), std::string::npos) << r.received;
  ASSERT_TRUE(r.peer.has_value());
  EXPECT_NE(r.peer->subject.find("CN=localhost"), std::string::npos);
}

TEST_F(TlsOpensslTest, ClientRejectsAnUntrustedCertificate) {
  TestCa other("Other CA", net_->WallNow() - absl::Hours(1),
               net_->WallNow() + absl::Hours(100));
  TlsCertificate cert = other.Issue(ServerSpec(net_->WallNow()));
  const int port =
      StartServer({"-cert", WriteTempFile("o.pem", cert.chain_pem), "-key",
                   WriteTempFile("o.key", cert.key_pem), "-rev"});
  ExpectTlsFailure(RunClient(port, Client()),
                   TlsFailure::kUntrustedCertificate);
}

TEST_F(TlsOpensslTest, ClientRejectsANameMismatch) {
  TlsCertificate cert =
      ca_->Issue(ServerSpec(net_->WallNow(), {"other.example"}, {}));
  const int port =
      StartServer({"-cert", WriteTempFile("n.pem", cert.chain_pem), "-key",
                   WriteTempFile("n.key", cert.key_pem), "-rev"});
  ExpectTlsFailure(RunClient(port, Client()), TlsFailure::kNameMismatch);
}

TEST_F(TlsOpensslTest, ClientRejectsAnExpiredCertificate) {
  CertSpec spec = ServerSpec(net_->WallNow());
  spec.not_before = net_->WallNow() - absl::Hours(48);
  spec.not_after = net_->WallNow() - absl::Hours(1);
  TlsCertificate cert = ca_->Issue(spec);
  const int port =
      StartServer({"-cert", WriteTempFile("e.pem", cert.chain_pem), "-key",
                   WriteTempFile("e.key", cert.key_pem), "-rev"});
  ExpectTlsFailure(RunClient(port, Client()), TlsFailure::kExpiredCertificate);
}

TEST_F(TlsOpensslTest, ClientSniSelectsTheServersSecondCertificate) {
  TlsCertificate b = ca_->Issue(ServerSpec(net_->WallNow(), {"b.test"}, {}));
  const int port =
      StartServer({"-cert", server_cert_, "-key", server_key_, "-servername",
                   "b.test", "-cert2", WriteTempFile("b.pem", b.chain_pem),
                   "-key2", WriteTempFile("b.key", b.key_pem), "-rev"});
  PeerRecord r = RunClient(port, Client(), "b.test");
  EXPECT_EQ(r.handshakes, 1) << (r.unbind ? r.unbind->ToString() : "");
  ASSERT_TRUE(r.peer.has_value());
  EXPECT_EQ(r.peer->dns_names, std::vector<std::string>{"b.test"});
}

TEST_F(TlsOpensslTest, ClientNegotiatesAlpn) {
  const int port = StartServer({"-cert", server_cert_, "-key", server_key_,
                                "-alpn", "http/1.1", "-rev"});
  TlsOptions options;
  options.alpn_protocols = {"h2", "http/1.1"};
  PeerRecord r = RunClient(port, Client(std::move(options)));
  EXPECT_EQ(r.alpn, "http/1.1");
}

TEST_F(TlsOpensslTest, ClientWithTls12OnlyServer) {
  const int port = StartServer(
      {"-cert", server_cert_, "-key", server_key_, "-tls1_2", "-rev"});
  PeerRecord r = RunClient(port, Client());
  EXPECT_EQ(r.version, "TLSv1.2");
  EXPECT_NE(r.received.find("rebme olleh"), std::string::npos) << r.received;
}

TEST_F(TlsOpensslTest, ClientLimitedTo12AgainstTls13OnlyServer) {
  const int port = StartServer(
      {"-cert", server_cert_, "-key", server_key_, "-tls1_3", "-rev"});
  TlsOptions options;
  options.max_version = TlsVersion::kTls12;
  ExpectTlsFailure(RunClient(port, Client(std::move(options))),
                   TlsFailure::kVersionMismatch);
}

TEST_F(TlsOpensslTest, ClientCertificateRequiredByServer) {
  const int port =
      StartServer({"-cert", server_cert_, "-key", server_key_, "-Verify", "1",
                   "-CAfile", ca_file_, "-verify_return_error", "-rev"});
  // Without a certificate: the server's alert ends it, with a reason.
  PeerRecord anonymous = RunClient(port, Client());
  ASSERT_TRUE(anonymous.unbind.has_value());
  EXPECT_EQ(anonymous.unbind->kind, UnbindKind::kTls);
  const TlsFailure f = TlsFailureOf(anonymous.unbind->status);
  EXPECT_TRUE(f == TlsFailure::kPeerCertificateMissing ||
              f == TlsFailure::kRejectedByPeer)
      << anonymous.unbind->ToString();
  EXPECT_EQ(anonymous.received, "");

  const int port2 =
      StartServer({"-cert", server_cert_, "-key", server_key_, "-Verify", "1",
                   "-CAfile", ca_file_, "-verify_return_error", "-rev"});
  CertSpec spec = ServerSpec(net_->WallNow(), {}, {});
  spec.common_name = "ember-client";
  TlsOptions options;
  options.certificates.push_back(ca_->Issue(spec));
  PeerRecord identified = RunClient(port2, Client(std::move(options)));
  EXPECT_EQ(identified.handshakes, 1);
  EXPECT_NE(identified.received.find("rebme olleh"), std::string::npos)
      << identified.received;
}

// ---- openssl s_client against Ember's server. ----

std::shared_ptr<const TlsContext> ServerContext(TlsOptions options) {
  auto context = TlsContext::Create(TlsRole::kServer, std::move(options));
  EXPECT_TRUE(context.ok()) << context.status();
  return *context;
}

TEST_F(TlsOpensslTest, SClientVerifiesEmberServer) {
  TlsOptions options;
  options.certificates.push_back(server_);
  options.alpn_protocols = {"http/1.1"};
  PeerRecord record;
  auto out = RunSClient(
      ServerContext(std::move(options)), &record,
      {"-CAfile", ca_file_, "-verify_return_error", "-verify_hostname",
       "localhost", "-servername", "localhost", "-alpn", "http/1.1"});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("ember: hello openssl"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("Verify return code: 0 (ok)"), std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("ALPN protocol: http/1.1"), std::string::npos)
      << out.out;
  EXPECT_EQ(record.received, "hello openssl\n");
  EXPECT_EQ(record.server_name, "localhost");
  EXPECT_EQ(record.alpn, "http/1.1");
  EXPECT_EQ(record.version, "TLSv1.3");
}

TEST_F(TlsOpensslTest, SClientTls12AndSni) {
  TlsOptions options;
  options.certificates.push_back(server_);
  options.certificates.push_back(
      ca_->Issue(ServerSpec(net_->WallNow(), {"b.test"}, {})));
  PeerRecord record;
  auto out =
      RunSClient(ServerContext(std::move(options)), &record,
                 {"-CAfile", ca_file_, "-verify_return_error", "-servername",
                  "b.test", "-verify_hostname", "b.test", "-tls1_2"});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("CN = b.test"), std::string::npos) << out.out;
  EXPECT_EQ(record.version, "TLSv1.2");
  EXPECT_EQ(record.server_name, "b.test");
  EXPECT_EQ(record.received, "hello openssl\n");
}

TEST_F(TlsOpensslTest, EmberServerRequiresAClientCertificate) {
  TlsOptions options;
  options.certificates.push_back(server_);
  options.client_certificates = ClientCertificates::kRequire;
  options.ca_pem = ca_->cert_pem();
  PeerRecord anonymous;
  RunSClient(ServerContext(options), &anonymous, {"-CAfile", ca_file_});
  ASSERT_TRUE(anonymous.unbind.has_value());
  EXPECT_EQ(TlsFailureOf(anonymous.unbind->status),
            TlsFailure::kPeerCertificateMissing)
      << anonymous.unbind->ToString();
  EXPECT_EQ(anonymous.received, "");

  CertSpec spec = ServerSpec(net_->WallNow(), {}, {});
  spec.common_name = "openssl-client";
  TlsCertificate client = ca_->Issue(spec);
  PeerRecord identified;
  auto out = RunSClient(
      ServerContext(options), &identified,
      {"-CAfile", ca_file_, "-cert", WriteTempFile("c.pem", client.chain_pem),
       "-key", WriteTempFile("c.key", client.key_pem)});
  EXPECT_NE(out.out.find("ember: hello openssl"), std::string::npos) << out.out;
  ASSERT_TRUE(identified.peer.has_value());
  EXPECT_NE(identified.peer->subject.find("CN=openssl-client"),
            std::string::npos);
}

TEST_F(TlsOpensslTest, SClientRejectsEmberServerForAnotherName) {
  TlsOptions options;
  options.certificates.push_back(server_);
  PeerRecord record;
  auto out = RunSClient(ServerContext(std::move(options)), &record,
                        {"-CAfile", ca_file_, "-verify_return_error",
                         "-verify_hostname", "not-localhost.example"});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE((out.out + out.err).find("hostname mismatch"), std::string::npos)
      << out.out << out.err;
  // s_client aborts the handshake; the server ends with a TLS failure (what
  // it makes of OpenSSL's abort is OpenSSL's business) and got no data.
  ASSERT_TRUE(record.unbind.has_value());
  EXPECT_EQ(record.unbind->kind, UnbindKind::kTls) << record.unbind->ToString();
  EXPECT_EQ(record.handshakes, 0);
  EXPECT_EQ(record.received, "");
}

}  // namespace
}  // namespace ember::tls
