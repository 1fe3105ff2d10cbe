// Goal (RapidCheck): what a client dot-stuffs, the server session hands
// back unchanged; and the session's events (replies, the messages and
// envelopes the handler sees) are the same however the input bytes are
// split into reads.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "protocols/smtp/smtp_command.h"
#include "protocols/smtp/smtp_server_session.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/protocols/smtp/smtp_test_util.h"

namespace ember::protocols {
namespace {

using testing::RecordingTransport;
using testing::ScriptedHandler;

// Message text made of lines that stress the stuffing: dots, empty lines,
// lone dots, CRs inside lines, bytes over 127.
rc::Gen<std::string> CanonicalMessage() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(rc::gen::oneOf(
          rc::gen::element<std::string>(".", "..", "", ".x", "\r", "a\rb",
                                        "\x80\xff", "From me"),
          rc::gen::container<std::string>(
              rc::gen::element('a', '.', ' ', '\r', 'z', '\t')))),
      [](const std::vector<std::string>& lines) {
        std::string out;
        for (const std::string& line : lines) {
          // A line ending in CR would merge with the CRLF after it.
          std::string l = line;
          while (!l.empty() && l.back() == '\r') l.pop_back();
          out += l + "\r\n";
        }
        return out;
      });
}

struct Run {
  std::string replies;
  std::vector<std::string> messages;
  std::vector<std::string> chunks_joined;
  int aborted = 0;
};

// Feeds `input` to a fresh session cut at `cuts` (offsets, any order).
Run Feed(const std::string& input, std::vector<size_t> cuts) {
  RecordingTransport transport;
  ScriptedHandler handler;
  SmtpSessionOptions options;
  options.data_chunk_bytes = 16;
  options.line_bytes_max = 200;
  SmtpServerSession session(&transport, &handler, options);
  session.Start();
  std::sort(cuts.begin(), cuts.end());
  size_t pos = 0;
  for (size_t cut : cuts) {
    cut = std::min(cut, input.size());
    if (cut < pos) continue;
    session.Feed(std::string_view(input).substr(pos, cut - pos));
    pos = cut;
  }
  session.Feed(std::string_view(input).substr(pos));
  session.Finish();
  Run run;
  run.replies = transport.out;
  run.messages = handler.messages;
  std::string joined;
  for (const std::string& c : handler.chunks) joined += c + "|";
  run.chunks_joined.push_back(joined);
  run.aborted = handler.aborted;
  return run;
}

RC_GTEST_PROP(SmtpProperties, DotStuffedMessagesRoundTrip, ()) {
  const std::string message = *CanonicalMessage();
  RC_ASSERT(IsCanonicalMessage(message));
  const std::string input = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                            "DATA\r\n" +
                            DotStuff(message) + "QUIT\r\n";
  const Run run = Feed(input, {});
  RC_ASSERT(run.messages.size() == 1u);
  RC_ASSERT(run.messages[0] == message);
}

RC_GTEST_PROP(SmtpProperties, AnyContentSurvivesUpToLineEndings, ()) {
  // Content with bare LFs: what arrives is the content with each line end
  // made CRLF and a final CRLF added.
  const std::string content = *rc::gen::container<std::string>(
      rc::gen::element('a', '.', '\n', '\r', 'x'));
  const std::string stuffed = DotStuff(content);
  // What a client sends never holds a bare LF.
  for (size_t i = 0; i < stuffed.size(); ++i) {
    RC_ASSERT(stuffed[i] != '\n' || (i > 0 && stuffed[i - 1] == '\r'));
  }
  const Run run = Feed("HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y>\r\nDATA\r\n" +
                           stuffed,
                       {});
  RC_ASSERT(run.messages.size() == 1u);
  RC_ASSERT(IsCanonicalMessage(run.messages[0]));
  RC_ASSERT(DotStuff(run.messages[0]) == stuffed);
}

// Bodies with bare CRs and LFs, and fake ends of data in every shape, sent
// as a client means them: each "." at the start of a CRLF line doubled, a
// CRLF added when missing, then the real <CRLF>.<CRLF> and QUIT. The
// session either refuses the message (a bare LF: 521, nothing stored) or
// stores exactly that body; never two messages, and the same however the
// bytes are cut.
RC_GTEST_PROP(SmtpProperties, BareLineEndsNeverSplitOrSmuggleAMessage, ()) {
  const std::vector<std::string> pieces = *rc::gen::container<
      std::vector<std::string>>(rc::gen::oneOf(
      rc::gen::element<std::string>(
          "\r", "\n", "\r\n", ".", "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n",
          "\r.\n", ".\r\n", "\r\n.\r", "MAIL FROM:<evil@x>\r\n",
          "RCPT TO:<victim@y>\r\n", "DATA\r\n", "QUIT\r\n"),
      rc::gen::container<std::string>(
          rc::gen::element('a', '.', '\r', '\n', ' '))));
  std::string body;
  for (const std::string& piece : pieces) body += piece;
  if (!body.empty() && !absl::EndsWith(body, "\r\n")) body += "\r\n";
  // The client's dot-stuffing, which leaves CR and LF as they are.
  std::string wire;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '.' && (i == 0 || (i >= 2 && body[i - 1] == '\n' &&
                                      body[i - 2] == '\r'))) {
      wire += '.';
    }
    wire += body[i];
  }
  const std::string input =
      "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n" + wire +
      ".\r\nQUIT\r\n";
  bool bare_lf = false;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) bare_lf = true;
  }
  const Run run = Feed(input, {});
  RC_ASSERT(run.messages.size() <= 1u);
  if (bare_lf) {
    RC_ASSERT(run.messages.empty());
    RC_ASSERT(run.aborted == 1);
    RC_ASSERT(absl::EndsWith(run.replies, "521 5.5.2 Bare <LF> received, "
                                          "closing connection\r\n"));
  } else {
    RC_ASSERT(run.messages.size() == 1u);
    RC_ASSERT(run.messages[0] == body);
    RC_ASSERT(absl::EndsWith(run.replies, "221 2.0.0 localhost closing\r\n"));
  }
  // One DATA answered, whatever the body held.
  const size_t first = run.replies.find("354 ");
  RC_ASSERT(first != std::string::npos);
  RC_ASSERT(run.replies.find("354 ", first + 1) == std::string::npos);

  const auto cuts = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, input.size() + 1));
  const Run cut = Feed(input, cuts);
  RC_ASSERT(cut.replies == run.replies);
  RC_ASSERT(cut.messages == run.messages);
}

RC_GTEST_PROP(SmtpProperties, EventsDoNotDependOnHowInputIsCut, ()) {
  const std::string message = *CanonicalMessage();
  const std::string input =
      "EHLO c\r\nNOOP\r\nMAIL FROM:<a@x> SIZE=10\r\nRCPT TO:<b@y>\r\n"
      "RCPT TO:<c@y>\r\nDATA\r\n" +
      DotStuff(message) + "FROB\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<d@y>\r\n"
      "DATA\r\n" + DotStuff(message) + "VRFY x\r\nQUIT\r\n";
  const auto cuts = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, input.size() + 1));
  const Run whole = Feed(input, {});
  const Run cut = Feed(input, cuts);
  RC_ASSERT(whole.replies == cut.replies);
  RC_ASSERT(whole.messages == cut.messages);
  RC_ASSERT(whole.chunks_joined == cut.chunks_joined);
  RC_ASSERT(whole.messages.size() == 2u);
}

}  // namespace
}  // namespace ember::protocols
