// SMTP commands and replies as values, and the pure functions that read and
// write them: the command parser the server uses (fuzzed on its own), the
// reply formatter, and dot-stuffing for the DATA phase (RFC 5321).
//
// Nothing here touches sockets or clocks. A command line is given without
// its CRLF; `ParseCommand` never fails: a line it cannot read becomes a
// command of kind kUnknown or one with `syntax_error` set, and the server
// answers it with 500 or 501.

#ifndef EMBER_PROTOCOLS_SMTP_SMTP_COMMAND_H_
#define EMBER_PROTOCOLS_SMTP_SMTP_COMMAND_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::protocols {

// One reply: a three-digit code and its text (lines joined by "\n").
struct SmtpReply {
  int code = 0;
  std::string text;

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500 && code < 600; }
  // "250 text\r\n", or "250-line1\r\n250 line2\r\n" when the text has
  // several lines.
  std::string Format() const;
  std::string ToString() const;  // "250 text" on one line, for messages.
};

enum class SmtpVerb {
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStartTls,
  kAuth,
  kUnknown,
};

std::string_view SmtpVerbName(SmtpVerb verb);

// One parameter of MAIL or RCPT ("SIZE=1000" gives {"SIZE", "1000"}; a
// keyword without "=" has an empty value). Keywords are upper-cased.
using SmtpParam = std::pair<std::string, std::string>;

struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::kUnknown;
  // Everything after the verb and one space, as sent (HELO/EHLO domain,
  // AUTH mechanism and initial response, NOOP/HELP/VRFY argument).
  std::string argument;
  // MAIL and RCPT: the address inside <...> (empty for the null sender
  // "<>"), and the parameters after it.
  std::string path;
  std::vector<SmtpParam> params;
  // The verb is known but its arguments are not what it takes (MAIL
  // without "FROM:<...>", QUIT with an argument, ...): answer 501.
  bool syntax_error = false;
};

// Reads one command line (without its CRLF). Verbs are case-insensitive;
// "MAIL FROM:<a@b>" and "MAIL FROM: <a@b>" are both accepted.
SmtpCommand ParseCommand(std::string_view line);

// The DATA payload for `content`: every line ending normalised to CRLF (a
// bare LF becomes CRLF, a bare CR is kept as data), a final CRLF added when
// missing, every line that starts with "." given one more, and the ending
// ".\r\n" appended. Empty content gives ".\r\n".
std::string DotStuff(std::string_view content);

// True when `content` is empty or ends in CRLF and every LF in it follows a
// CR: the content a server receives back unchanged from DotStuff.
bool IsCanonicalMessage(std::string_view content);

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_SMTP_SMTP_COMMAND_H_
