// Goal: the command parser reads every command form the server relies on,
// and the reply formatter and dot-stuffing write what RFC 5321 specifies.

#include "protocols/smtp/smtp_command.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(SmtpCommandTest, ParsesMailWithParams) {
  SmtpCommand c = ParseCommand("MAIL FROM:<a@b.c> SIZE=12 body=8bitmime");
  EXPECT_EQ(c.verb, SmtpVerb::kMail);
  EXPECT_FALSE(c.syntax_error);
  EXPECT_EQ(c.path, "a@b.c");
  EXPECT_THAT(c.params,
              ElementsAre(Pair("SIZE", "12"), Pair("BODY", "8bitmime")));
}

TEST(SmtpCommandTest, AcceptsSpaceAfterColonAndSourceRoutes) {
  SmtpCommand c = ParseCommand("rcpt to: <@relay.x,@r2.y:u@d.z>");
  EXPECT_EQ(c.verb, SmtpVerb::kRcpt);
  EXPECT_FALSE(c.syntax_error);
  EXPECT_EQ(c.path, "u@d.z");
}

TEST(SmtpCommandTest, NullSenderButNoNullRecipient) {
  EXPECT_FALSE(ParseCommand("MAIL FROM:<>").syntax_error);
  EXPECT_TRUE(ParseCommand("RCPT TO:<>").syntax_error);
}

TEST(SmtpCommandTest, SyntaxErrors) {
  for (const char* line :
       {"MAIL", "MAIL FROM:a@b", "MAIL FROM:<a@b", "MAIL TO:<a@b>",
        "RCPT FROM:<a@b>", "MAIL FROM:<a b@c>", "MAIL FROM:<a@b>junk",
        "HELO", "EHLO   ", "DATA now", "QUIT x", "STARTTLS x", "AUTH",
        "MAIL FROM:<a@b> =x"}) {
    EXPECT_TRUE(ParseCommand(line).syntax_error) << line;
  }
}

TEST(SmtpCommandTest, VerbsAndUnknown) {
  EXPECT_EQ(ParseCommand("noop whatever").verb, SmtpVerb::kNoop);
  EXPECT_EQ(ParseCommand("StartTLS").verb, SmtpVerb::kStartTls);
  EXPECT_EQ(ParseCommand("EHLOX a").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseCommand("").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseCommand("EHLO  host.x ").argument, "host.x");
}

TEST(SmtpCommandTest, FormatsMultilineReplies) {
  EXPECT_EQ((SmtpReply{250, "a\nb\nc"}).Format(),
            "250-a\r\n250-b\r\n250 c\r\n");
  EXPECT_EQ((SmtpReply{334, ""}).Format(), "334 \r\n");
  EXPECT_EQ((SmtpReply{250, "a\nb"}).ToString(), "250 a b");
}

TEST(SmtpCommandTest, DotStuffing) {
  EXPECT_EQ(DotStuff(""), ".\r\n");
  EXPECT_EQ(DotStuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(DotStuff(".\r\n..x\nb\r\n"), "..\r\n...x\r\nb\r\n.\r\n");
  EXPECT_EQ(DotStuff("\n"), "\r\n.\r\n");
  // No bare LF ever reaches the wire, so a fake end of data in the content
  // becomes text; a bare CR stays data.
  EXPECT_EQ(DotStuff("a\n.\nMAIL FROM:<x@y>\n"),
            "a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\r.\r\n.\r\n"), "a\r.\r\n..\r\n.\r\n");
  EXPECT_TRUE(IsCanonicalMessage("a\r\nb\r\n"));
  EXPECT_TRUE(IsCanonicalMessage("a\rb\r\n"));
  EXPECT_FALSE(IsCanonicalMessage("a\nb\r\n"));
  EXPECT_FALSE(IsCanonicalMessage("a\r\nb"));
}

}  // namespace
}  // namespace ember::protocols
