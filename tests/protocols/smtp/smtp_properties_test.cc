// Goal (RapidCheck): what a client dot-stuffs, the server session hands
// back unchanged; and the session's events (replies, the messages and
// envelopes the handler sees) are the same however the input bytes are
// split into reads.

#include <string>
#include <vector>

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
  const Run run = Feed("HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y>\r\nDATA\r\n" +
                           stuffed,
                       {});
  RC_ASSERT(run.messages.size() == 1u);
  RC_ASSERT(IsCanonicalMessage(run.messages[0]));
  RC_ASSERT(DotStuff(run.messages[0]) == stuffed);
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
