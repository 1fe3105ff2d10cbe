// Goal: SendMail and SmtpServer over the simulated network, case by case:
// a message arrives byte for byte (pipelined or not, with dots at line
// starts), per-recipient results, each kind of rejection with its status
// code, STARTTLS and AUTH PLAIN end to end, the HELO fallback, a malformed
// reply, the client's reply timeout, the server's command and data
// timeouts (421 after the configured time of simulated clock), and the
// three outcomes a client can report: sent, rejected, and unconfirmed
// when the connection breaks after the final dot.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "protocols/line/line_connection.h"
#include "protocols/smtp/smtp_client.h"
#include "protocols/smtp/smtp_server.h"
#include "protocols/tls/tls_context.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"
#include "tests/protocols/tls/tls_test_peers.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;
using testing::RunUntil;

constexpr uint16_t kPort = 2525;

// Keeps every message; answers per the test's settings.
struct Mailbox {
  std::vector<std::string> messages;
  std::vector<SmtpEnvelope> envelopes;
  std::vector<SmtpSessionInfo> infos;
  std::vector<SmtpCompletion> pending;
  int aborted = 0;
  bool hold = false;  // Never answer: keep the completion.
  std::optional<SmtpReply> final_reply;
  std::set<std::string> bad_recipients;
};

class MailboxHandler : public SmtpServerHandler {
 public:
  explicit MailboxHandler(Mailbox* box) : box_(box) {}
  SmtpReply OnAuth(const SmtpSessionInfo&, const SmtpCredentials& c) override {
    if (c.user == "user" && c.password == "secret") return {235, "2.7.0 OK"};
    return {535, "5.7.8 Bad credentials"};
  }
  SmtpReply OnRcptTo(const SmtpSessionInfo&, const SmtpEnvelope&,
                     const std::string& r) override {
    if (box_->bad_recipients.count(r) > 0) return {550, "5.1.1 No such user"};
    return {250, "2.1.5 OK"};
  }
  std::optional<SmtpReply> OnMessageData(std::string_view d) override {
    data_.append(d);
    return std::nullopt;
  }
  void OnMessageComplete(const SmtpSessionInfo& info, const SmtpEnvelope& env,
                         SmtpCompletion done) override {
    if (box_->hold) {
      box_->pending.push_back(done);
      return;
    }
    if (box_->final_reply) {
      done.Reply(*box_->final_reply);
      return;
    }
    box_->messages.push_back(std::move(data_));
    box_->envelopes.push_back(env);
    box_->infos.push_back(info);
    data_.clear();
    done.Reply({250, "2.0.0 Kept"});
  }
  void OnMessageAborted() override {
    box_->aborted++;
    data_.clear();
  }

 private:
  Mailbox* box_;
  std::string data_;
};

// A server that answers from a fixed script: the greeting, then for each
// line the reply for its first word (upper-cased), "." in DATA included.
class ScriptServer : public LineConnection {
 public:
  ScriptServer(std::map<std::string, std::string> script,
               std::vector<std::string>* log)
      : script_(std::move(script)), log_(log) {}
  void PostInit() override { Say("GREETING"); }
  void ReceiveLine(std::string_view line) override {
    if (log_ != nullptr) log_->emplace_back(line);
    if (in_data_) {
      if (line == ".") {
        in_data_ = false;
        Say(".");
      }
      return;
    }
    std::string word(line.substr(0, line.find(' ')));
    for (char& c : word) c = static_cast<char>(toupper(c));
    Say(word);
    if (word == "DATA") in_data_ = true;
    if (word == "QUIT") CloseAfterWriting();
  }

 private:
  void Say(const std::string& key) {
    auto it = script_.find(key);
    if (it == script_.end()) return;  // Silence.
    SendData(it->second).IgnoreError();
  }
  std::map<std::string, std::string> script_;
  std::vector<std::string>* log_;
  bool in_data_ = false;
};

// Sends a payload, then only listens: never closes its side.
struct StallRecord {
  std::string received;
  bool done = false;
};
class StallClient : public Connection {
 public:
  StallClient(StallRecord* record, std::string payload)
      : record_(record), payload_(std::move(payload)) {}
  void ConnectionCompleted() override { SendData(payload_).IgnoreError(); }
  void ReceiveData(std::string_view data) override {
    record_->received.append(data);
  }
  void Unbind(const UnbindReason&) override { record_->done = true; }

 private:
  StallRecord* record_;
  std::string payload_;
};

class SmtpSimTest : public ::testing::Test {
 protected:
  SmtpSimTest()
      : wall_(net_.WallNow()),
        ca_("Ember Test CA", wall_ - absl::Hours(48),
            wall_ + absl::Hours(24 * 3650)) {
    net_.AddName("localhost", {io::Address::Loopback4(0)});
  }

  std::shared_ptr<const tls::TlsContext> ServerTls() {
    tls::TlsOptions options;
    options.certificates.push_back(ca_.Issue(tls::testing::ServerSpec(wall_)));
    return *tls::TlsContext::Create(tls::TlsRole::kServer, std::move(options));
  }
  std::shared_ptr<const tls::TlsContext> ClientTls() {
    tls::TlsOptions options;
    options.ca_pem = ca_.cert_pem();
    return *tls::TlsContext::Create(tls::TlsRole::kClient, std::move(options));
  }

  void StartServer(SmtpServerOptions options = {}) {
    server_ = std::make_unique<SmtpServer>(reactor_, std::move(options), [this] {
      return std::make_unique<MailboxHandler>(&box_);
    });
    ASSERT_TRUE(server_->Listen("127.0.0.1", kPort).ok());
  }

  void StartScript(std::map<std::string, std::string> script) {
    ASSERT_TRUE(reactor_
                    .StartServer("127.0.0.1", kPort,
                                 [this, script] {
                                   return std::make_unique<ScriptServer>(
                                       script, &script_log_);
                                 })
                    .ok());
  }

  static SmtpMessage Message(std::vector<std::string> to = {"b@y.test"}) {
    SmtpMessage m;
    m.from = "a@x.test";
    m.to = std::move(to);
    m.content = ComposeMessage({{"Subject", "Test"}},
                               "line one\r\n.dot line\r\n.\r\nlast\r\n");
    return m;
  }

  // Sends and runs until the result arrives.
  SmtpSendResult Send(SmtpMessage message, SmtpClientOptions options = {},
                      absl::Duration limit = absl::Hours(1)) {
    std::optional<SmtpSendResult> result;
    absl::Status status =
        SendMail(reactor_, "localhost", kPort, std::move(message),
                 std::move(options),
                 [&](SmtpSendResult r) { result = std::move(r); });
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }, limit));
    return result.value_or(SmtpSendResult{});
  }

  sim::SimNetwork net_;
  Reactor reactor_{net_};
  absl::Time wall_;
  tls::testing::TestCa ca_;
  Mailbox box_;
  std::unique_ptr<SmtpServer> server_;
  std::vector<std::string> script_log_;  // Lines the script server read.
};

TEST_F(SmtpSimTest, SendsPipelinedMessageByteForByte) {
  StartServer();
  const SmtpMessage message = Message({"b@y.test", "c@y.test"});
  SmtpSendResult r = Send(message);
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent);
  EXPECT_TRUE(r.status.ok()) << r.status;
  ASSERT_TRUE(r.reply.has_value());
  EXPECT_EQ(r.reply->code, 250);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_TRUE(r.recipients[0].accepted());
  EXPECT_TRUE(r.recipients[1].accepted());
  ASSERT_EQ(box_.messages.size(), 1u);
  EXPECT_EQ(box_.messages[0], message.content);
  EXPECT_EQ(box_.envelopes[0].from, "a@x.test");
  EXPECT_THAT(box_.envelopes[0].recipients, ElementsAre("b@y.test", "c@y.test"));
  // SIZE was declared.
  ASSERT_EQ(box_.envelopes[0].mail_params.size(), 1u);
  EXPECT_EQ(box_.envelopes[0].mail_params[0].first, "SIZE");
  EXPECT_TRUE(RunUntil(reactor_, [&] { return server_->connection_count() == 0; }));
  EXPECT_EQ(server_->stats().messages_accepted, 1u);
}

TEST_F(SmtpSimTest, SendsWithoutPipelining) {
  StartServer();
  SmtpClientOptions options;
  options.pipelining = false;
  SmtpSendResult r = Send(Message({"b@y.test", "c@y.test"}), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent);
  EXPECT_EQ(box_.messages.size(), 1u);
}

TEST_F(SmtpSimTest, PerRecipientResults) {
  box_.bad_recipients = {"bad@y.test"};
  StartServer();
  for (bool pipelining : {true, false}) {
    SmtpClientOptions options;
    options.pipelining = pipelining;
    SmtpSendResult r = Send(Message({"bad@y.test", "ok@y.test"}), options);
    EXPECT_EQ(r.outcome, SmtpOutcome::kSent);
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[0].reply.code, 550);
    EXPECT_EQ(r.recipients[1].reply.code, 250);
  }
  EXPECT_EQ(box_.messages.size(), 2u);
  EXPECT_THAT(box_.envelopes[0].recipients, ElementsAre("ok@y.test"));
}

TEST_F(SmtpSimTest, AllRecipientsRefusedIsRejected) {
  box_.bad_recipients = {"bad@y.test"};
  StartServer();
  for (bool pipelining : {true, false}) {
    SmtpClientOptions options;
    options.pipelining = pipelining;
    SmtpSendResult r = Send(Message({"bad@y.test"}), options);
    EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(r.reply.has_value());
    EXPECT_EQ(r.reply->code, 550);
  }
  EXPECT_TRUE(box_.messages.empty());
}

TEST_F(SmtpSimTest, RejectionsMapToStatusCodes) {
  StartServer();
  box_.final_reply = SmtpReply{451, "4.3.0 Try later"};
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.reply->code, 451);
  box_.final_reply = SmtpReply{554, "5.7.1 No"};
  r = Send(Message());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(box_.messages.empty());
}

TEST_F(SmtpSimTest, TooLargeIsRejectedWithResourceExhausted) {
  SmtpServerOptions options;
  options.session.message_bytes_max = 40;
  StartServer(options);
  SmtpSendResult r = Send(Message());  // Declares SIZE over 40.
  EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.reply->code, 552);
}

TEST_F(SmtpSimTest, StartTlsAndAuthEndToEnd) {
  SmtpServerOptions options;
  options.tls = ServerTls();
  options.session.offer_auth = true;
  options.session.require_tls = true;
  options.session.require_auth = true;
  StartServer(options);
  SmtpClientOptions client;
  client.tls = ClientTls();
  client.tls_mode = SmtpTlsMode::kRequired;
  client.user_password = std::make_pair("user", "secret");
  SmtpSendResult r = Send(Message(), client);
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent) << r.status;
  EXPECT_TRUE(r.tls);
  ASSERT_EQ(box_.infos.size(), 1u);
  EXPECT_TRUE(box_.infos[0].tls);
  EXPECT_EQ(box_.infos[0].user, "user");

  client.user_password = std::make_pair("user", "wrong");
  r = Send(Message(), client);
  EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(r.reply->code, 535);

  // Without TLS the server refuses MAIL with 530.
  SmtpClientOptions plain;
  plain.tls_mode = SmtpTlsMode::kNever;
  r = Send(Message(), plain);
  EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
  EXPECT_EQ(r.reply->code, 530);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(box_.messages.size(), 1u);
}

TEST_F(SmtpSimTest, TlsOrAuthRequiredButNotOfferedFails) {
  StartServer();
  SmtpClientOptions client;
  client.tls = ClientTls();
  client.tls_mode = SmtpTlsMode::kRequired;
  SmtpSendResult r = Send(Message(), client);
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  SmtpClientOptions auth;
  auth.user_password.emplace("user", "secret");
  r = Send(Message(), auth);
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(box_.messages.empty());
}

TEST_F(SmtpSimTest, StartTlsWithAnUntrustedCertificateFails) {
  SmtpServerOptions options;
  options.tls = ServerTls();
  StartServer(options);
  SmtpClientOptions client;
  tls::TlsOptions untrusting;  // Trusts the system roots only.
  client.tls = *tls::TlsContext::Create(tls::TlsRole::kClient, untrusting);
  SmtpSendResult r = Send(Message(), client);
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(box_.messages.empty());
}

TEST_F(SmtpSimTest, DroppedAfterTheFinalDotIsUnconfirmed) {
  box_.hold = true;
  StartServer();
  std::optional<SmtpSendResult> result;
  ASSERT_TRUE(SendMail(reactor_, "localhost", kPort, Message(), {},
                       [&](SmtpSendResult r) { result = std::move(r); })
                  .ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return !box_.pending.empty(); }));
  server_.reset();  // Closes the connection before any answer.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->outcome, SmtpOutcome::kUnconfirmed);
  EXPECT_EQ(result->status.code(), absl::StatusCode::kUnknown);
  EXPECT_FALSE(box_.pending[0].pending());
}

TEST_F(SmtpSimTest, FinalReplyTimeoutIsUnconfirmed) {
  box_.hold = true;
  StartServer();
  SmtpClientOptions options;
  options.final_reply_timeout = absl::Minutes(2);
  const absl::Time start = reactor_.Now();
  SmtpSendResult r = Send(Message(), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kUnconfirmed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnknown);
  EXPECT_GE(reactor_.Now() - start, absl::Minutes(2));
  EXPECT_LT(reactor_.Now() - start, absl::Minutes(3));
}

TEST_F(SmtpSimTest, RefusedConnectionFails) {
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(SmtpSimTest, SilentServerTimesOutBeforeTheDot) {
  StartScript({});  // Never greets.
  SmtpClientOptions options;
  options.reply_timeout = absl::Seconds(30);
  SmtpSendResult r = Send(Message(), options);
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(SmtpSimTest, FallsBackToHeloAndSendsWithoutExtensions) {
  StartScript({{"GREETING", "220 old ready\r\n"},
               {"EHLO", "502 5.5.1 What?\r\n"},
               {"HELO", "250 old\r\n"},
               {"MAIL", "250 ok\r\n"},
               {"RCPT", "250 ok\r\n"},
               {"DATA", "354 go\r\n"},
               {".", "250 queued\r\n"},
               {"QUIT", "221 bye\r\n"}});
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kSent) << r.status;
  EXPECT_EQ(r.reply->text, "queued");
}

// A server that refuses every recipient yet answers the pipelined DATA with
// 354 (against RFC 2920): the client ends the empty text with a dot before
// QUIT, so QUIT is never taken as message text, and reports the refusal.
TEST_F(SmtpSimTest, DataAcceptedWithoutRecipientsIsEndedBeforeQuit) {
  StartScript({{"GREETING", "220 odd ready\r\n"},
               {"EHLO", "250-odd\r\n250 PIPELINING\r\n"},
               {"MAIL", "250 ok\r\n"},
               {"RCPT", "550 5.1.1 nobody\r\n"},
               {"DATA", "354 go\r\n"},
               {".", "554 5.5.1 no recipients\r\n"},
               {"QUIT", "221 bye\r\n"}});
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kRejected);
  EXPECT_EQ(r.reply->code, 550);
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return !script_log_.empty() && script_log_.back() == "QUIT";
  }));
  EXPECT_THAT(script_log_, ElementsAre("EHLO localhost", "MAIL FROM:<a@x.test>",
                                       "RCPT TO:<b@y.test>", "DATA", ".",
                                       "QUIT"));
}

TEST_F(SmtpSimTest, MalformedReplyFails) {
  StartScript({{"GREETING", "hello there\r\n"}});
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SmtpSimTest, OverlongReplyFails) {
  StartScript({{"GREETING", "220 " + std::string(5000, 'x') + "\r\n"}});
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(SmtpSimTest, ReplyWithTooManyLinesFails) {
  std::string many;
  for (int i = 0; i < 70; ++i) many += "220-a\r\n";
  StartScript({{"GREETING", many + "220 a\r\n"}});
  SmtpSendResult r = Send(Message());
  EXPECT_EQ(r.outcome, SmtpOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(SmtpSimTest, InvalidMessagesAreRefusedAtTheCall) {
  SmtpMessage m = Message({});
  EXPECT_EQ(SendMail(reactor_, "localhost", kPort, m, {}, [](SmtpSendResult) {})
                .code(),
            absl::StatusCode::kInvalidArgument);
  m = Message({"a\r\nRSET@x"});
  EXPECT_EQ(SendMail(reactor_, "localhost", kPort, m, {}, [](SmtpSendResult) {})
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A HELO name with a line end would put a bare LF (or a second command)
  // on the wire.
  SmtpClientOptions options;
  options.helo_name = "me\nMAIL FROM:<x@y>";
  EXPECT_EQ(SendMail(reactor_, "localhost", kPort, Message(), options,
                     [](SmtpSendResult) {})
                .code(),
            absl::StatusCode::kInvalidArgument);
  options.helo_name = "me\r";
  EXPECT_EQ(SendMail(reactor_, "localhost", kPort, Message(), options,
                     [](SmtpSendResult) {})
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A client pipelining two whole transactions while the application answers
// each message later (from a timer): the server holds the second until the
// first is answered, and the replies arrive in order.
TEST_F(SmtpSimTest, ServerHoldsPipelinedInputUntilAnAsyncAnswer) {
  box_.hold = true;
  StartServer();
  StallRecord record;
  ASSERT_TRUE(reactor_
                  .Connect("127.0.0.1", kPort,
                           std::make_unique<StallClient>(
                               &record,
                               "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                               "DATA\r\none\r\n.\r\nMAIL FROM:<a@x>\r\n"
                               "RCPT TO:<c@y>\r\nDATA\r\ntwo\r\n.\r\n"
                               "QUIT\r\n"))
                  .ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return box_.pending.size() == 1; }));
  // Nothing of the second transaction has been answered.
  RunUntil(reactor_, [] { return false; }, absl::Seconds(5));
  EXPECT_EQ(box_.pending.size(), 1u);
  EXPECT_TRUE(absl::EndsWith(AbslView(record.received), "354 End data with <CR><LF>.<CR><LF>\r\n"))
      << record.received;
  box_.pending[0].Reply({250, "2.0.0 First"});
  ASSERT_TRUE(RunUntil(reactor_, [&] { return box_.pending.size() == 2; }));
  box_.pending[1].Reply({250, "2.0.0 Second"});
  ASSERT_TRUE(RunUntil(reactor_, [&] { return record.done; }));
  const std::string& r = record.received;
  const size_t first = r.find("250 2.0.0 First");
  const size_t second = r.find("250 2.0.0 Second");
  ASSERT_NE(first, std::string::npos) << r;
  ASSERT_NE(second, std::string::npos) << r;
  EXPECT_LT(first, second);
  EXPECT_TRUE(absl::EndsWith(AbslView(r), "221 2.0.0 localhost closing\r\n"))
      << r;
  EXPECT_EQ(server_->stats().messages_accepted, 2u);
}

// The server's timeouts: a client that says nothing, and one that stalls
// inside DATA, get 421 after exactly the configured time.
TEST_F(SmtpSimTest, ServerCommandAndDataTimeouts) {
  SmtpServerOptions options;
  options.command_timeout = absl::Seconds(60);
  options.data_timeout = absl::Seconds(20);
  StartServer(options);
  for (const std::string& payload :
       {std::string(""),
        std::string("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
                    "partial\r\n")}) {
    StallRecord record;
    ASSERT_TRUE(reactor_
                    .Connect("127.0.0.1", kPort,
                             std::make_unique<StallClient>(&record, payload))
                    .ok());
    const absl::Time start = reactor_.Now();
    ASSERT_TRUE(RunUntil(reactor_, [&] { return record.done; },
                         absl::Minutes(10)));
    const absl::Duration waited = reactor_.Now() - start;
    EXPECT_TRUE(absl::StrContains(AbslView(record.received), "421 4.4.2"))
        << record.received;
    if (payload.empty()) {
      EXPECT_GE(waited, absl::Seconds(60));
      EXPECT_LT(waited, absl::Seconds(61));
    } else {
      EXPECT_GE(waited, absl::Seconds(20));
      EXPECT_LT(waited, absl::Seconds(21));
    }
  }
  EXPECT_EQ(server_->stats().timeouts, 2u);
  EXPECT_EQ(box_.aborted, 1);
}

}  // namespace
}  // namespace ember::protocols
