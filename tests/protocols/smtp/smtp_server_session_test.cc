// Goal: the server session answers every command of RFC 5321 and the
// extensions it offers with the specified code, hands the application each
// stage of a message, and enforces each limit with its specified reply.
// The session is driven directly with bytes; no reactor is involved.

#include "protocols/smtp/smtp_server_session.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/protocols/smtp/smtp_test_util.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;
using testing::RecordingTransport;
using testing::ScriptedHandler;

class SessionTest : public ::testing::Test {
 protected:
  void Make(SmtpSessionOptions options = {}) {
    session_ = std::make_unique<SmtpServerSession>(&transport_, &handler_,
                                                   std::move(options));
    session_->Start();
  }
  // Feeds `input` and returns the codes of the replies it caused.
  std::vector<int> Send(const std::string& input) {
    transport_.Take();
    session_->Feed(input);
    return transport_.Codes();
  }

  RecordingTransport transport_;
  ScriptedHandler handler_;
  std::unique_ptr<SmtpServerSession> session_;
};

TEST_F(SessionTest, GreetsAndAdvertisesExtensions) {
  SmtpSessionOptions options;
  options.hostname = "mx.test";
  options.message_bytes_max = 1234;
  Make(options);
  EXPECT_EQ(transport_.out, "220 mx.test ESMTP ready\r\n");
  Send("EHLO client.test\r\n");
  EXPECT_EQ(transport_.out,
            "250-mx.test greets client.test\r\n250-PIPELINING\r\n"
            "250-SIZE 1234\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
  EXPECT_THAT(Send("HELO other\r\n"), ElementsAre(250));
  EXPECT_EQ(transport_.out, "250 mx.test greets other\r\n");
}

TEST_F(SessionTest, OneMessageWithDotUnstuffing) {
  Make();
  EXPECT_THAT(Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                   "RCPT TO:<c@y>\r\nDATA\r\n"),
              ElementsAre(250, 250, 250, 250, 354));
  EXPECT_THAT(Send("Subject: hi\r\n\r\n..leading dot\r\n.\r\n"),
              ElementsAre(250));
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0], "Subject: hi\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(handler_.envelopes[0].from, "a@x");
  EXPECT_THAT(handler_.envelopes[0].recipients, ElementsAre("b@y", "c@y"));
  EXPECT_EQ(session_->messages_accepted(), 1u);
  EXPECT_FALSE(transport_.closed);
}

TEST_F(SessionTest, SeveralMessagesAndNullSender) {
  Make();
  Send("HELO c\r\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Send("MAIL FROM:<>\r\nRCPT TO:<b@y>\r\nDATA\r\nbody\r\n.\r\n"),
                ElementsAre(250, 250, 354, 250));
  }
  EXPECT_EQ(handler_.messages.size(), 3u);
  EXPECT_EQ(handler_.envelopes[2].from, "");
  EXPECT_THAT(Send("QUIT\r\n"), ElementsAre(221));
  EXPECT_TRUE(transport_.closed);
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre());  // Nothing after QUIT.
}

TEST_F(SessionTest, OtherCommands) {
  Make();
  EXPECT_THAT(Send("NOOP\r\nVRFY bob\r\nEXPN list\r\nFROB\r\nHELP\r\n"),
              ElementsAre(250, 502, 502, 500, 214));
  EXPECT_THAT(Send("EHLO\r\nMAIL FROM:bad\r\nQUIT now\r\n"),
              ElementsAre(501, 501, 501));
  // Lower case is understood.
  EXPECT_THAT(Send("ehlo c\r\nmail from: <a@x>\r\n"), ElementsAre(250, 250));
}

// A command ending in a bare LF is refused and the connection closes: the
// client's idea of a line end is not the server's, so nothing after it is
// trusted.
TEST_F(SessionTest, BareLfInCommandGets521AndCloses) {
  Make();
  EXPECT_THAT(Send("EHLO c\r\nNOOP\nNOOP\r\n"), ElementsAre(250, 521));
  EXPECT_NE(transport_.out.find("521 5.5.2 Bare <LF> received"),
            std::string::npos);
  EXPECT_TRUE(transport_.closed);
  EXPECT_EQ(session_->stage(), SmtpStage::kClosed);
}

TEST_F(SessionTest, CommandsOutOfOrderGet503) {
  Make();
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\n"), ElementsAre(503));  // No HELO.
  Send("EHLO c\r\n");
  EXPECT_THAT(Send("RCPT TO:<b@y>\r\nDATA\r\n"), ElementsAre(503, 503));
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\n"),
              ElementsAre(250, 503));
  // DATA with no accepted recipient.
  EXPECT_THAT(Send("DATA\r\n"), ElementsAre(554));
  // RSET ends the transaction.
  EXPECT_THAT(Send("RSET\r\nRCPT TO:<b@y>\r\n"), ElementsAre(250, 503));
}

TEST_F(SessionTest, HandlerRejectsRecipientsAndSender) {
  Make();
  handler_.rcpt = [](const std::string& r) {
    return r == "bad@y" ? SmtpReply{550, "5.1.1 No such user"}
                        : SmtpReply{250, "OK"};
  };
  Send("EHLO c\r\n");
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nRCPT TO:<bad@y>\r\nRCPT TO:<ok@y>\r\n"
                   "DATA\r\nx\r\n.\r\n"),
              ElementsAre(250, 550, 250, 354, 250));
  EXPECT_THAT(handler_.envelopes[0].recipients, ElementsAre("ok@y"));
  handler_.mail = SmtpReply{451, "4.7.1 Try later"};
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nRCPT TO:<ok@y>\r\n"),
              ElementsAre(451, 503));
}

TEST_F(SessionTest, DataRejectedMidStreamIsAnsweredAfterTheDot) {
  SmtpSessionOptions options;
  options.data_chunk_bytes = 8;
  Make(options);
  handler_.data_reject = SmtpReply{554, "5.7.1 Spam"};
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
  EXPECT_THAT(Send("0123456789\r\nmore\r\n"), ElementsAre());
  EXPECT_THAT(Send(".\r\n"), ElementsAre(554));
  EXPECT_TRUE(handler_.messages.empty());
  EXPECT_EQ(handler_.aborted, 1);
  EXPECT_EQ(handler_.chunks.size(), 1u);  // Nothing after the rejection.
}

TEST_F(SessionTest, DeclaredSizeOverTheLimitGets552) {
  SmtpSessionOptions options;
  options.message_bytes_max = 100;
  Make(options);
  Send("EHLO c\r\n");
  EXPECT_THAT(Send("MAIL FROM:<a@x> SIZE=101\r\n"), ElementsAre(552));
  EXPECT_THAT(Send("MAIL FROM:<a@x> SIZE=abc\r\n"), ElementsAre(501));
  EXPECT_THAT(Send("MAIL FROM:<a@x> SIZE=100 BODY=8BITMIME\r\n"),
              ElementsAre(250));
  EXPECT_THAT(Send("RSET\r\nMAIL FROM:<a@x> BODY=9BIT\r\n"),
              ElementsAre(250, 501));
  EXPECT_THAT(Send("MAIL FROM:<a@x> FROB=1\r\n"), ElementsAre(555));
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nRCPT TO:<b@y> NOTIFY=NEVER\r\n"),
              ElementsAre(250, 555));
}

TEST_F(SessionTest, ActualSizeOverTheLimitGets552AfterTheDot) {
  SmtpSessionOptions options;
  options.message_bytes_max = 100;
  Make(options);
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
  // 98 bytes + CRLF = 100: exactly at the limit is accepted.
  EXPECT_THAT(Send(std::string(98, 'a') + "\r\n.\r\n"), ElementsAre(250));
  Send("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
  EXPECT_THAT(Send(std::string(99, 'a') + "\r\nmore\r\n.\r\n"),
              ElementsAre(552));
  EXPECT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.aborted, 1);
  // The session goes on.
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre(250));
}

TEST_F(SessionTest, TooManyRecipientsGet452) {
  SmtpSessionOptions options;
  options.recipients_max = 2;
  Make(options);
  Send("EHLO c\r\n");
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nRCPT TO:<1@y>\r\nRCPT TO:<2@y>\r\n"
                   "RCPT TO:<3@y>\r\nDATA\r\nx\r\n.\r\n"),
              ElementsAre(250, 250, 250, 452, 354, 250));
  EXPECT_THAT(handler_.envelopes[0].recipients, ElementsAre("1@y", "2@y"));
}

// SMTP smuggling: a client (or a relay in front) hides a second
// transaction in the text of the first behind an end of data that is not
// <CRLF>.<CRLF>. None of these patterns may end the message, and the
// commands after them never run: a bare LF closes the connection with the
// message dropped; a bare CR is plain text, so everything up to the real
// <CRLF>.<CRLF> is the one message.
struct SmugglingCase {
  std::string end;       // The fake end of data.
  bool bare_lf;          // It holds a bare LF.
};

class SmugglingTest : public ::testing::TestWithParam<SmugglingCase> {};

struct Outcome {
  std::string out;
  std::vector<std::string> messages;
  std::vector<std::string> senders;
  int aborted = 0;
  bool closed = false;
};

// Feeds `input` in the pieces that `cuts` (ascending offsets) make.
Outcome RunSession(const std::string& input, const std::vector<size_t>& cuts) {
  RecordingTransport transport;
  ScriptedHandler handler;
  SmtpServerSession session(&transport, &handler, SmtpSessionOptions());
  session.Start();
  size_t pos = 0;
  for (size_t cut : cuts) {
    session.Feed(std::string_view(input).substr(pos, cut - pos));
    pos = cut;
  }
  session.Feed(std::string_view(input).substr(pos));
  session.Finish();
  Outcome outcome;
  outcome.out = transport.out;
  outcome.messages = handler.messages;
  for (const SmtpEnvelope& e : handler.envelopes) {
    outcome.senders.push_back(e.from);
  }
  outcome.aborted = handler.aborted;
  outcome.closed = transport.closed;
  return outcome;
}

TEST_P(SmugglingTest, FakeEndOfDataNeitherEndsTheMessageNorRunsCommands) {
  const SmugglingCase& c = GetParam();
  const std::string smuggled =
      "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n"
      "From: someone trusted\r\n\r\nsmuggled\r\n.\r\n";
  const std::string input = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                            "DATA\r\nSubject: one\r\n\r\nbody" +
                            c.end + smuggled + "QUIT\r\n";
  const Outcome whole = RunSession(input, {});
  if (c.bare_lf) {
    EXPECT_TRUE(whole.messages.empty());
    EXPECT_EQ(whole.aborted, 1);
    EXPECT_TRUE(whole.closed);
    EXPECT_TRUE(absl::EndsWith(whole.out,
                               "521 5.5.2 Bare <LF> received, closing "
                               "connection\r\n"))
        << absl::CEscape(whole.out);
  } else {
    ASSERT_EQ(whole.messages.size(), 1u);
    EXPECT_EQ(whole.messages[0], "Subject: one\r\n\r\nbody" + c.end +
                                     smuggled.substr(0, smuggled.size() - 3));
    EXPECT_EQ(whole.aborted, 0);
    EXPECT_TRUE(absl::EndsWith(whole.out, "250 2.0.0 Stored\r\n221 2.0.0 localhost"
                                          " closing\r\n"))
        << absl::CEscape(whole.out);
  }
  // Only the first transaction's MAIL ever reached the application, and
  // only one DATA was answered 354.
  EXPECT_EQ(whole.out.find("354", whole.out.find("354") + 1), std::string::npos);
  for (const std::string& from : whole.senders) EXPECT_EQ(from, "a@x");

  // The same however the bytes arrive: cut once at every offset, and one
  // byte at a time.
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const Outcome split = RunSession(input, {cut});
    ASSERT_EQ(split.out, whole.out) << "cut at " << cut;
    ASSERT_EQ(split.messages, whole.messages) << "cut at " << cut;
    ASSERT_EQ(split.aborted, whole.aborted) << "cut at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  const Outcome bytewise = RunSession(input, every);
  EXPECT_EQ(bytewise.out, whole.out);
  EXPECT_EQ(bytewise.messages, whole.messages);
  EXPECT_EQ(bytewise.senders, whole.senders);
}

INSTANTIATE_TEST_SUITE_P(
    Patterns, SmugglingTest,
    ::testing::Values(SmugglingCase{"\n.\n", true},
                      SmugglingCase{"\r.\r", false},
                      SmugglingCase{"\n.\r\n", true},
                      SmugglingCase{"\r\n.\n", true},
                      SmugglingCase{"\r.\n", true},
                      SmugglingCase{"\r.\r\n", false},
                      SmugglingCase{"\n..\n", true}));

TEST_F(SessionTest, CommandLineTooLongGets500AndCloses) {
  SmtpSessionOptions options;
  options.line_bytes_max = 64;
  Make(options);
  // At the limit: fine.
  EXPECT_THAT(Send("NOOP " + std::string(59, 'x') + "\r\n"), ElementsAre(250));
  EXPECT_THAT(Send("NOOP " + std::string(60, 'x') + "\r\n"), ElementsAre(500));
  EXPECT_NE(transport_.out.find("5.5.2 Line too long"), std::string::npos);
  EXPECT_TRUE(transport_.closed);
}

TEST_F(SessionTest, TextLineTooLongGets500AbortsAndCloses) {
  SmtpSessionOptions options;
  options.line_bytes_max = 64;
  Make(options);
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
  EXPECT_THAT(Send(std::string(65, 'x')), ElementsAre(500));
  EXPECT_TRUE(transport_.closed);
  EXPECT_EQ(handler_.aborted, 1);
  EXPECT_TRUE(handler_.messages.empty());
}

TEST_F(SessionTest, TimeoutGets421AndAbortsTheMessage) {
  Make();
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\npart\r\n");
  EXPECT_EQ(session_->stage(), SmtpStage::kData);
  transport_.Take();
  session_->TimedOut();
  EXPECT_THAT(transport_.Codes(), ElementsAre(421));
  EXPECT_TRUE(transport_.closed);
  EXPECT_EQ(handler_.aborted, 1);
  EXPECT_EQ(session_->stage(), SmtpStage::kClosed);
}

TEST_F(SessionTest, EndOfStreamInDataAbortsTheMessage) {
  Make();
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\npartial\r\n");
  session_->Finish();
  EXPECT_EQ(handler_.aborted, 1);
  EXPECT_TRUE(handler_.messages.empty());
}

TEST_F(SessionTest, AsyncCompletionHoldsPipelinedCommands) {
  Make();
  handler_.async = true;
  Send("EHLO c\r\n");
  // The whole second transaction is pipelined behind the first message.
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\none\r\n.\r\n"
                   "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\ntwo\r\n.\r\n"
                   "QUIT\r\n"),
              ElementsAre(250, 250, 354));
  EXPECT_TRUE(session_->holding_input());
  EXPECT_EQ(session_->stage(), SmtpStage::kAwaiting);
  ASSERT_EQ(handler_.messages.size(), 1u);
  SmtpCompletion first = handler_.pending;
  EXPECT_TRUE(first.pending());
  transport_.Take();
  first.Reply({250, "2.0.0 Stored one"});
  EXPECT_FALSE(first.pending());
  first.Reply({550, "twice"});  // A second answer is ignored.
  EXPECT_THAT(transport_.Codes(), ElementsAre(250));
  EXPECT_EQ(transport_.continues, 1);
  EXPECT_THAT(Send(""), ElementsAre());  // Still waiting for Continue.
  transport_.Take();
  session_->Continue();
  EXPECT_THAT(transport_.Codes(), ElementsAre(250, 250, 354));
  ASSERT_EQ(handler_.messages.size(), 2u);
  EXPECT_EQ(handler_.messages[1], "two\r\n");
  transport_.Take();
  handler_.pending.Reply({451, "4.3.0 Disk full"});
  session_->Continue();
  EXPECT_THAT(transport_.Codes(), ElementsAre(451, 221));
  EXPECT_EQ(session_->messages_accepted(), 1u);
}

TEST_F(SessionTest, TooMuchInputWhileHoldingGets500AndCloses) {
  Make();
  handler_.async = true;
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_TRUE(session_->holding_input());
  std::string noops;
  while (noops.size() + 6 <= (1 << 20) - 10) noops += "NOOP\r\n";
  noops += "NOOP " + std::string((1 << 20) - noops.size() - 7, 'x') + "\r\n";
  ASSERT_EQ(noops.size(), 1u << 20);
  EXPECT_THAT(Send(noops), ElementsAre());  // Exactly 1 MiB: still held.
  EXPECT_FALSE(transport_.closed);
  EXPECT_THAT(Send("NOOP\r\n"), ElementsAre(500));
  EXPECT_NE(transport_.out.find("5.5.0 Too much pipelined input"),
            std::string::npos);
  EXPECT_TRUE(transport_.closed);
  handler_.pending.Reply({250, "late"});  // Nothing more is sent.
  EXPECT_THAT(transport_.Codes(), ElementsAre(500));
}

TEST_F(SessionTest, CompletionAfterTheSessionEndedDoesNothing) {
  Make();
  handler_.async = true;
  Send("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\none\r\n.\r\n");
  SmtpCompletion done = handler_.pending;
  session_.reset();
  EXPECT_FALSE(done.pending());
  done.Reply({250, "late"});  // Must not touch the destroyed session.
}

TEST_F(SessionTest, StartTlsDropsWhatFollowedInPlaintextAndResets) {
  SmtpSessionOptions options;
  options.offer_starttls = true;
  Make(options);
  Send("EHLO c\r\n");
  EXPECT_NE(transport_.out.find("250 STARTTLS\r\n"), std::string::npos);
  // A command injected after STARTTLS in the same packet must not run.
  EXPECT_THAT(Send("STARTTLS\r\nMAIL FROM:<evil@x>\r\n"), ElementsAre(220));
  EXPECT_EQ(transport_.tls_starts, 1);
  EXPECT_TRUE(session_->info().tls);
  // The session forgot the EHLO: MAIL needs a new one.
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\n"), ElementsAre(503));
  Send("EHLO c\r\n");
  EXPECT_EQ(transport_.out.find("STARTTLS"), std::string::npos);
  EXPECT_THAT(Send("STARTTLS\r\n"), ElementsAre(503));
}

TEST_F(SessionTest, StartTlsNotOfferedGets502) {
  Make();
  EXPECT_THAT(Send("EHLO c\r\nSTARTTLS\r\n"), ElementsAre(250, 502));
}

TEST_F(SessionTest, RequireTlsGets530BeforeStartTls) {
  SmtpSessionOptions options;
  options.offer_starttls = true;
  options.require_tls = true;
  Make(options);
  EXPECT_THAT(Send("EHLO c\r\nMAIL FROM:<a@x>\r\n"), ElementsAre(250, 530));
  EXPECT_NE(transport_.out.find("5.7.0 Must issue a STARTTLS command first"),
            std::string::npos);
  Send("STARTTLS\r\n");
  EXPECT_THAT(Send("EHLO c\r\nMAIL FROM:<a@x>\r\n"), ElementsAre(250, 250));
}

std::string Plain(const std::string& user, const std::string& password) {
  return absl::Base64Escape(std::string("\0", 1) + user +
                            std::string("\0", 1) + password);
}

TEST_F(SessionTest, AuthPlainAndRequireAuth) {
  SmtpSessionOptions options;
  options.offer_auth = true;
  options.auth_requires_tls = false;
  options.require_auth = true;
  Make(options);
  Send("EHLO c\r\n");
  EXPECT_NE(transport_.out.find("250 AUTH PLAIN LOGIN\r\n"), std::string::npos);
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\n"), ElementsAre(530));
  EXPECT_NE(transport_.out.find("5.7.0 Authentication required"),
            std::string::npos);
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("user", "wrong") + "\r\n"),
              ElementsAre(535));
  EXPECT_THAT(Send("AUTH CRAM-MD5\r\n"), ElementsAre(504));
  EXPECT_THAT(Send("AUTH PLAIN not-base64!\r\n"), ElementsAre(501));
  // PLAIN with the response on its own line.
  EXPECT_THAT(Send("AUTH PLAIN\r\n"), ElementsAre(334));
  EXPECT_THAT(Send(Plain("user", "secret") + "\r\n"), ElementsAre(235));
  EXPECT_EQ(session_->info().user, "user");
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("user", "secret") + "\r\n"),
              ElementsAre(503));
  EXPECT_THAT(Send("MAIL FROM:<a@x>\r\n"), ElementsAre(250));
  ASSERT_EQ(handler_.credentials.size(), 2u);
  EXPECT_EQ(handler_.credentials[1].mechanism, "PLAIN");
}

TEST_F(SessionTest, AuthLoginAndCancel) {
  SmtpSessionOptions options;
  options.offer_auth = true;
  options.auth_requires_tls = false;
  Make(options);
  Send("EHLO c\r\n");
  EXPECT_THAT(Send("AUTH LOGIN\r\n"), ElementsAre(334));
  EXPECT_EQ(transport_.out, "334 VXNlcm5hbWU6\r\n");
  EXPECT_THAT(Send("*\r\n"), ElementsAre(501));
  EXPECT_THAT(Send("AUTH LOGIN\r\n" + absl::Base64Escape("user") + "\r\n"),
              ElementsAre(334, 334));
  EXPECT_THAT(Send(absl::Base64Escape("secret") + "\r\n"), ElementsAre(235));
  EXPECT_EQ(handler_.credentials.back().mechanism, "LOGIN");
}

TEST_F(SessionTest, AuthOverPlaintextGets538WhenTlsIsRequiredForIt) {
  SmtpSessionOptions options;
  options.offer_auth = true;
  options.offer_starttls = true;
  Make(options);  // auth_requires_tls is the default.
  Send("EHLO c\r\n");
  EXPECT_EQ(transport_.out.find("AUTH"), std::string::npos);
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("user", "secret") + "\r\n"),
              ElementsAre(538));
  Send("STARTTLS\r\n");
  Send("EHLO c\r\n");
  EXPECT_NE(transport_.out.find("250 AUTH PLAIN LOGIN\r\n"), std::string::npos);
  EXPECT_THAT(Send("AUTH PLAIN " + Plain("user", "secret") + "\r\n"),
              ElementsAre(235));
}

TEST_F(SessionTest, AuthNotOfferedGets502) {
  Make();
  EXPECT_THAT(Send("EHLO c\r\nAUTH PLAIN abc\r\n"), ElementsAre(250, 502));
}

}  // namespace
}  // namespace ember::protocols
