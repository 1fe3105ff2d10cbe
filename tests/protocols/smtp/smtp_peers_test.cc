// Goal: Ember's SMTP server and client interoperate with independent
// implementations on loopback: Python's smtplib and swaks send to
// SmtpServer (plain and pipelined, STARTTLS verified against a private CA,
// AUTH PLAIN and LOGIN, a refused password, AUTH refused before TLS), and
// SendMail delivers to aiosmtpd, with and without STARTTLS. Ports come
// from the OS (port 0) and are read back, never guessed; nothing sleeps:
// the programs run to their end with a bounded timeout, and output is
// awaited with poll.

#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "protocols/smtp/smtp_client.h"
#include "protocols/smtp/smtp_server.h"
#include "protocols/tls/tls_context.h"
#include "reactor/reactor.h"
#include "tests/common/subprocess.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::protocols {
namespace {

using testing_support::ChildProcess;
using testing_support::FindProgram;
using testing_support::RunProgram;

std::string TmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

std::string DataPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"),
                      "/tests/protocols/smtp/testdata/", name);
}

std::string Python() {
  // Debian's python3, which has aiosmtpd; not a python3 earlier on PATH.
  if (std::ifstream("/usr/bin/python3").good()) return "/usr/bin/python3";
  return FindProgram("python3").value_or("python3");
}

struct Received {
  std::string content;
  SmtpEnvelope envelope;
  SmtpSessionInfo info;
};

// Keeps messages; the reactor runs on its own thread, so under a lock.
struct Inbox {
  std::mutex mu;
  std::vector<Received> messages;
};

class InboxHandler : public SmtpServerHandler {
 public:
  explicit InboxHandler(Inbox* inbox) : inbox_(inbox) {}
  SmtpReply OnAuth(const SmtpSessionInfo&, const SmtpCredentials& c) override {
    if (c.user == "user" && c.password == "secret") return {235, "2.7.0 OK"};
    return {535, "5.7.8 Authentication credentials invalid"};
  }
  std::optional<SmtpReply> OnMessageData(std::string_view d) override {
    data_.append(d);
    return std::nullopt;
  }
  void OnMessageAborted() override { data_.clear(); }
  void OnMessageComplete(const SmtpSessionInfo& info, const SmtpEnvelope& env,
                         SmtpCompletion done) override {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      inbox_->messages.push_back({data_, env, info});
    }
    data_.clear();
    done.Reply({250, "2.0.0 Kept"});
  }

 private:
  Inbox* inbox_;
  std::string data_;
};

class SmtpPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = std::make_unique<tls::testing::TestCa>(
        "SMTP Test CA", absl::Now() - absl::Hours(24),
        absl::Now() + absl::Hours(24 * 30));
    cert_ = ca_->Issue(tls::testing::ServerSpec(absl::Now()));
    ca_path_ = TmpDir() + "/ca.pem";
    cert_path_ = TmpDir() + "/server.pem";
    key_path_ = TmpDir() + "/server.key";
    std::ofstream(ca_path_) << ca_->cert_pem();
    std::ofstream(cert_path_) << cert_.chain_pem;
    std::ofstream(key_path_) << cert_.key_pem;
    auto network = io::EpollNetwork::Create();
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = std::move(*network);
    reactor_ = std::make_unique<Reactor>(*network_);
  }

  void TearDown() override {
    if (thread_.joinable()) {
      reactor_->Stop();
      thread_.join();
    }
    server_.reset();
    reactor_.reset();
    network_.reset();
  }

  // Starts SmtpServer (STARTTLS and AUTH offered) and runs the reactor on
  // a thread of its own, so the test thread can wait for a program.
  void StartServer() {
    SmtpServerOptions options;
    tls::TlsOptions tls_options;
    tls_options.certificates.push_back(cert_);
    auto context =
        tls::TlsContext::Create(tls::TlsRole::kServer, std::move(tls_options));
    ASSERT_TRUE(context.ok()) << context.status();
    options.tls = *context;
    options.session.offer_auth = true;
    server_ = std::make_unique<SmtpServer>(*reactor_, options, [this] {
      return std::make_unique<InboxHandler>(&inbox_);
    });
    auto address = server_->Listen("127.0.0.1", 0);
    ASSERT_TRUE(address.ok()) << address.status();
    port_ = address->port();
    thread_ = std::thread([this] { reactor_->Run().IgnoreError(); });
  }

  std::vector<Received> Messages() {
    std::lock_guard<std::mutex> lock(inbox_.mu);
    return inbox_.messages;
  }

  std::string RunSmtplib(const std::string& mode) {
    auto result = RunProgram({Python(), DataPath("smtplib_client.py"),
                              absl::StrCat(port_), mode, ca_path_},
                             absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_code, 0) << result->err;
    return result->out;
  }

  testing_support::ProgramResult RunSwaks(std::vector<std::string> extra) {
    auto swaks = FindProgram("swaks");
    EXPECT_TRUE(swaks.ok()) << swaks.status();
    std::vector<std::string> argv = {
        swaks.value_or("swaks"), "-4", "--server", "127.0.0.1", "--port",
        absl::StrCat(port_), "--from", "swaks@x.test", "--to", "b@y.test",
        "--body", "swaks body\n.dot line\n", "--pipeline"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = RunProgram(argv, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(testing_support::ProgramResult{});
  }

  std::unique_ptr<tls::testing::TestCa> ca_;
  tls::TlsCertificate cert_;
  std::string ca_path_, cert_path_, key_path_;
  std::unique_ptr<io::EpollNetwork> network_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<SmtpServer> server_;
  std::thread thread_;
  Inbox inbox_;
  uint16_t port_ = 0;
};

const char kSmtplibBody[] =
    "Subject: from smtplib\r\n\r\nfirst line\r\n.starts with a dot\r\n"
    ".\r\nlast line\r\n";

TEST_F(SmtpPeersTest, SmtplibSendsPlainAndPipelined) {
  StartServer();
  EXPECT_EQ(RunSmtplib("plain"), "OK\n");
  auto messages = Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].content, kSmtplibBody);
  EXPECT_EQ(messages[0].envelope.from, "a@x.test");
  EXPECT_EQ(messages[0].envelope.recipients,
            (std::vector<std::string>{"b@y.test", "c@y.test"}));
  EXPECT_FALSE(messages[0].info.tls);
}

TEST_F(SmtpPeersTest, PipelinedTransactionsInOneWrite) {
  StartServer();
  EXPECT_EQ(RunSmtplib("raw_pipeline"), "250 250 354 250 250 250 354 250 221\n");
  auto messages = Messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].content, "one\r\n.two\r\n");
  EXPECT_EQ(messages[1].content, "three\r\n");
  EXPECT_EQ(messages[1].envelope.from, "");
}

TEST_F(SmtpPeersTest, SmtplibStartTlsAndAuth) {
  StartServer();
  EXPECT_EQ(RunSmtplib("starttls_auth"), "OK\n");
  EXPECT_EQ(RunSmtplib("bad_auth"), "AUTH 535\n");
  EXPECT_EQ(RunSmtplib("auth_before_tls"), "AUTH 538\n");
  auto messages = Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].info.tls);
  EXPECT_EQ(messages[0].info.user, "user");
  EXPECT_EQ(messages[0].content, kSmtplibBody);
}

TEST_F(SmtpPeersTest, SwaksPipelinedStartTlsAndAuth) {
  StartServer();
  auto plain = RunSwaks({});
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  auto tls_plain = RunSwaks({"--tls", "--tls-verify", "--tls-ca-path", ca_path_,
                             "--auth", "PLAIN", "--auth-user", "user",
                             "--auth-password", "secret"});
  EXPECT_EQ(tls_plain.exit_code, 0) << tls_plain.out << tls_plain.err;
  auto tls_login = RunSwaks({"--tls", "--tls-verify", "--tls-ca-path",
                             ca_path_, "--auth", "LOGIN", "--auth-user",
                             "user", "--auth-password", "secret"});
  EXPECT_EQ(tls_login.exit_code, 0) << tls_login.out << tls_login.err;
  auto refused = RunSwaks({"--tls", "--tls-ca-path", ca_path_, "--auth",
                           "PLAIN", "--auth-user", "user", "--auth-password",
                           "wrong"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(AbslView(refused.out), "535 5.7.8"))
      << refused.out;
  auto messages = Messages();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_FALSE(messages[0].info.tls);
  EXPECT_TRUE(messages[1].info.tls);
  EXPECT_EQ(messages[1].info.user, "user");
  EXPECT_EQ(messages[2].info.user, "user");
  for (const Received& m : messages) {
    EXPECT_TRUE(absl::StrContains(AbslView(m.content),
                                  "\r\nswaks body\r\n.dot line\r\n"))
        << m.content;
  }
}

// SendMail against aiosmtpd, run as a child that prints what it receives.
class SmtpClientAiosmtpdTest : public ::testing::Test {
 protected:
  void Start(bool tls) {
    std::vector<std::string> argv = {Python(), "-u",
                                     DataPath("aiosmtpd_server.py")};
    if (tls) {
      ca_ = std::make_unique<tls::testing::TestCa>(
          "aiosmtpd Test CA", absl::Now() - absl::Hours(24),
          absl::Now() + absl::Hours(24 * 30));
      const tls::TlsCertificate cert =
          ca_->Issue(tls::testing::ServerSpec(absl::Now()));
      const std::string cert_path = TmpDir() + "/aio.pem";
      const std::string key_path = TmpDir() + "/aio.key";
      std::ofstream(cert_path) << cert.chain_pem;
      std::ofstream(key_path) << cert.key_pem;
      argv.push_back(cert_path);
      argv.push_back(key_path);
      tls::TlsOptions client_tls;
      client_tls.ca_pem = ca_->cert_pem();
      auto context =
          tls::TlsContext::Create(tls::TlsRole::kClient, std::move(client_tls));
      ASSERT_TRUE(context.ok()) << context.status();
      client_tls_ = *context;
    }
    auto child = ChildProcess::Start(argv);
    ASSERT_TRUE(child.ok()) << child.status();
    child_ = std::move(*child);
    auto line = child_->ReadLine(absl::Seconds(30));
    ASSERT_TRUE(line.ok()) << line.status();
    int port = 0;
    ASSERT_TRUE(line->rfind("port ", 0) == 0 &&
                absl::SimpleAtoi(AbslView(line->substr(5)), &port))
        << *line;
    port_ = static_cast<uint16_t>(port);
    auto network = io::EpollNetwork::Create();
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = std::move(*network);
    reactor_ = std::make_unique<Reactor>(*network_);
  }

  void TearDown() override {
    reactor_.reset();
    network_.reset();
    child_.reset();
  }

  SmtpSendResult Send(SmtpMessage message, SmtpClientOptions options) {
    std::optional<SmtpSendResult> result;
    absl::Status status =
        SendMail(*reactor_, "127.0.0.1", port_, std::move(message),
                 std::move(options),
                 [&](SmtpSendResult r) { result = std::move(r); });
    EXPECT_TRUE(status.ok()) << status;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!result.has_value() && absl::Now() < deadline) {
      EXPECT_TRUE(reactor_->RunOnce(absl::Now() + absl::Milliseconds(100)).ok());
    }
    return result.value_or(SmtpSendResult{});
  }

 public:
  static SmtpMessage Message() {
    SmtpMessage m;
    m.from = "ember@x.test";
    m.to = {"one@y.test", "two@y.test"};
    m.content = ComposeMessage({{"Subject", "to aiosmtpd"}},
                               "hello\r\n.dotted\r\n.\r\nbye\r\n");
    return m;
  }

 protected:
  std::unique_ptr<tls::testing::TestCa> ca_;
  std::shared_ptr<const tls::TlsContext> client_tls_;
  std::unique_ptr<ChildProcess> child_;
  std::unique_ptr<io::EpollNetwork> network_;
  std::unique_ptr<Reactor> reactor_;
  uint16_t port_ = 0;
};

// What aiosmtpd printed for the message: "message FROM TOS LENGTH TLS REPR".
void ExpectReceived(ChildProcess& child, const std::string& tls) {
  auto line = child.ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string content = SmtpClientAiosmtpdTest::Message().content;
  EXPECT_EQ(*line, absl::StrCat("message ember@x.test one@y.test,two@y.test ",
                                content.size(), " ", tls, " b'Subject: to "
                                "aiosmtpd\\r\\n\\r\\nhello\\r\\n.dotted\\r\\n."
                                "\\r\\nbye\\r\\n'"));
}

TEST_F(SmtpClientAiosmtpdTest, SendsPlain) {
  Start(/*tls=*/false);
  SmtpClientOptions options;
  SmtpSendResult r = Send(Message(), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent) << r.status;
  EXPECT_FALSE(r.tls);
  ASSERT_TRUE(r.reply.has_value());
  EXPECT_EQ(r.reply->ToString(), "250 2.0.0 Accepted");
  ExpectReceived(*child_, "plain");
}

TEST_F(SmtpClientAiosmtpdTest, SendsOverStartTls) {
  Start(/*tls=*/true);
  SmtpClientOptions options;
  options.tls = client_tls_;
  options.tls_mode = SmtpTlsMode::kRequired;
  SmtpSendResult r = Send(Message(), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent) << r.status;
  EXPECT_TRUE(r.tls);
  ExpectReceived(*child_, "tls");
}

TEST_F(SmtpClientAiosmtpdTest, RequiredTlsNotOfferedFails) {
  Start(/*tls=*/false);
  SmtpClientOptions options;
  tls::TlsOptions client_tls;
  options.tls = *tls::TlsContext::Create(tls::TlsRole::kClient, client_tls);
  options.tls_mode = SmtpTlsMode::kRequired;
  SmtpSendResult r = Send(Message(), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ember::protocols
