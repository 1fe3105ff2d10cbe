// Goal: the example servers speak TLS when given --tls_cert and --tls_key,
// run as their own processes on loopback: curl (OpenSSL underneath)
// fetches over HTTPS from //examples/http:hello verifying the certificate
// against the test's private CA, negotiating ALPN http/1.1 and downloading a
// large body intact, and refuses it without that CA; Ember's TLS client over
// the real backend gets its bytes back from //examples/echo:server. And each
// example's --help prints its usage line and its flags. Fails (never skips)
// when curl is missing.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "protocols/tls/tls_connection.h"
#include "reactor/reactor.h"
#include "tests/common/subprocess.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"
#include "tests/protocols/tls/tls_test_peers.h"

namespace ember::examples {
namespace {

using testing_support::ChildProcess;
using testing_support::FindProgram;
using testing_support::ProgramResult;
using testing_support::RunProgram;

std::string Binary(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  EXPECT_NE(srcdir, nullptr);
  EXPECT_NE(workspace, nullptr);
  return absl::StrCat(srcdir, "/", workspace, "/", path);
}

// Starts `binary` with `args` and returns the port from its "listening on
// 127.0.0.1:<port>" line.
int StartServer(const std::string& binary, std::vector<std::string> args,
                std::unique_ptr<ChildProcess>* child) {
  args.insert(args.begin(), binary);
  auto started = ChildProcess::Start(args);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return 0;
  *child = std::move(*started);
  auto line = (*child)->ReadLine(absl::Seconds(20));
  EXPECT_TRUE(line.ok()) << line.status();
  if (!line.ok()) return 0;
  const size_t at = line->find("127.0.0.1:");
  EXPECT_NE(at, std::string::npos) << *line;
  const std::string rest = line->substr(at + 10);
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(AbslView(rest.substr(0, rest.find(' '))), &port))
      << *line;
  return port;
}

class TlsExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto net = io::EpollNetwork::Create();
    ASSERT_TRUE(net.ok());
    net_ = std::move(*net);
    const absl::Time now = net_->WallNow();
    ca_ = std::make_unique<tls::testing::TestCa>(
        "Ember Examples CA", now - absl::Hours(48), now + absl::Hours(1000));
    tls::TlsCertificate server = ca_->Issue(tls::testing::ServerSpec(now));
    ca_file_ = tls::testing::WriteTempFile("examples-ca.pem", ca_->cert_pem());
    cert_file_ =
        tls::testing::WriteTempFile("examples-cert.pem", server.chain_pem);
    key_file_ = tls::testing::WriteTempFile("examples-key.pem", server.key_pem);
  }

  std::unique_ptr<io::EpollNetwork> net_;
  std::unique_ptr<tls::testing::TestCa> ca_;
  std::string ca_file_, cert_file_, key_file_;
};

TEST_F(TlsExamplesTest, CurlFetchesFromHelloOverHttps) {
  auto curl = FindProgram("curl");
  ASSERT_TRUE(curl.ok()) << curl.status();
  std::unique_ptr<ChildProcess> hello;
  const int port =
      StartServer(Binary("examples/http/hello"),
                  {"--host=127.0.0.1", "--port=0", "--tls_cert=" + cert_file_,
                   "--tls_key=" + key_file_},
                  &hello);
  ASSERT_NE(port, 0);
  const std::string base = absl::StrCat("https://localhost:", port);
  const std::string resolve = absl::StrCat("localhost:", port, ":127.0.0.1");

  auto r = RunProgram(
      {*curl, "-sv", "--cacert", ca_file_, "--resolve", resolve, base + "/"},
      absl::Seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "Hello, World!");
  EXPECT_NE(r->err.find("ALPN: server accepted http/1.1"), std::string::npos)
      << r->err;
  EXPECT_NE(r->err.find("SSL certificate verify ok"), std::string::npos)
      << r->err;

  constexpr size_t kBytes = 4 << 20;
  r = RunProgram({*curl, "-sS", "--cacert", ca_file_, "--resolve", resolve,
                  "-w", "%{http_code} %{size_download}", "-o",
                  tls::testing::WriteTempFile("dl.bin", ""),
                  absl::StrCat(base, "/bytes/", kBytes)},
                 absl::Seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, absl::StrCat("200 ", kBytes)) << r->err;

  // Without the private CA, curl refuses the server (exit 60: the peer's
  // certificate cannot be authenticated).
  r = RunProgram({*curl, "-s", "--resolve", resolve, base + "/"},
                 absl::Seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 60) << r->err;
  EXPECT_EQ(r->out, "");
}

TEST_F(TlsExamplesTest, EchoServerEchoesOverTls) {
  std::unique_ptr<ChildProcess> echo;
  const int port =
      StartServer(Binary("examples/echo/server"),
                  {"--host=127.0.0.1", "--port=0", "--tls_cert=" + cert_file_,
                   "--tls_key=" + key_file_},
                  &echo);
  ASSERT_NE(port, 0);
  Reactor reactor(*net_);
  tls::TlsOptions options;
  options.ca_pem = ca_->cert_pem();
  auto context = tls::TlsContext::Create(tls::TlsRole::kClient, options);
  ASSERT_TRUE(context.ok());
  tls::testing::PeerRecord record;
  const std::string payload(200000, 'e');
  class Probe : public tls::testing::RecordingConnection {
   public:
    Probe(tls::testing::PeerRecord* r, const std::string* p)
        : RecordingConnection(r), payload_(p) {}
    void ConnectionCompleted() override { SendData(*payload_).IgnoreError(); }
    void ReceiveData(std::string_view data) override {
      RecordingConnection::ReceiveData(data);
      if (record_ != nullptr && record_->received.size() == payload_->size())
        CloseAfterWriting();
    }
    const std::string* payload_;
  };
  auto c = tls::ConnectTls(reactor, "127.0.0.1", static_cast<uint16_t>(port),
                           std::make_unique<Probe>(&record, &payload), *context,
                           {.server_name = "localhost"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(protocols::testing::RunUntil(
      reactor, [&] { return record.done(); }, absl::Seconds(20)));
  EXPECT_EQ(record.handshakes, 1);
  EXPECT_EQ(record.received, payload);
  EXPECT_TRUE(record.unbind->status.ok()) << record.unbind->ToString();
}

TEST_F(TlsExamplesTest, BadTlsFlagsAreRefused) {
  auto r = RunProgram(
      {Binary("examples/echo/server"), "--port=0", "--tls_cert=" + cert_file_},
      absl::Seconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_NE(r->err.find("--tls_cert and --tls_key go together"),
            std::string::npos)
      << r->err;
  r = RunProgram({Binary("examples/http/hello"), "--port=0",
                  "--tls_cert=" + cert_file_, "--tls_key=" + ca_file_},
                 absl::Seconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_NE(r->err.find("private key is not PEM"), std::string::npos) << r->err;
}

struct HelpCase {
  const char* binary;
  const char* usage;
  std::vector<std::string> flags;
};

TEST(ExampleHelpTest, EveryExampleListsItsUsageAndFlags) {
  const std::vector<HelpCase> cases = {
      {"examples/echo/server",
       "A TCP (or TLS) echo server.",
       {"--host", "--port", "--threads", "--pin_threads", "--tls_cert",
        "--tls_key"}},
      {"examples/http/hello",
       "An HTTP/1.1 (or HTTPS) hello server.",
       {"--host", "--port", "--threads", "--pin_threads", "--tls_cert",
        "--tls_key"}},
      {"examples/chat/server",
       "A line-based chat server.",
       {"--host", "--port"}},
      {"examples/chat/sim",
       "The chat server under the simulator.",
       {"--seed", "--clients", "--duration", "--faults"}},
  };
  for (const HelpCase& c : cases) {
    SCOPED_TRACE(c.binary);
    auto r = RunProgram({Binary(c.binary), "--help"}, absl::Seconds(20));
    ASSERT_TRUE(r.ok()) << r.status();
    const std::string all = r->out + r->err;
    EXPECT_NE(all.find(c.usage), std::string::npos) << all;
    EXPECT_EQ(all.find("No flags matched"), std::string::npos) << all;
    EXPECT_EQ(all.find("usage message was not set"), std::string::npos) << all;
    for (const std::string& flag : c.flags) {
      EXPECT_NE(all.find(flag + " ("), std::string::npos) << flag << "\n"
                                                          << all;
    }
  }
}

}  // namespace
}  // namespace ember::examples
