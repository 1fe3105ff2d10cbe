#include "protocols/smtp/smtp_command.h"

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "io/absl_compat.h"

namespace ember::protocols {
namespace {

// Abseil's string functions on std::string_view (see io/absl_compat.h).
std::string_view StripWhitespace(std::string_view s) {
  return StdView(absl::StripAsciiWhitespace(AbslView(s)));
}
bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return absl::StartsWithIgnoreCase(AbslView(s), AbslView(prefix));
}

struct VerbName {
  std::string_view name;
  SmtpVerb verb;
};

constexpr VerbName kVerbs[] = {
    {"HELO", SmtpVerb::kHelo},         {"EHLO", SmtpVerb::kEhlo},
    {"MAIL", SmtpVerb::kMail},         {"RCPT", SmtpVerb::kRcpt},
    {"DATA", SmtpVerb::kData},         {"RSET", SmtpVerb::kRset},
    {"NOOP", SmtpVerb::kNoop},         {"QUIT", SmtpVerb::kQuit},
    {"VRFY", SmtpVerb::kVrfy},         {"EXPN", SmtpVerb::kExpn},
    {"HELP", SmtpVerb::kHelp},         {"STARTTLS", SmtpVerb::kStartTls},
    {"AUTH", SmtpVerb::kAuth},
};

// Reads "<path> params..." after "FROM:" or "TO:" into `command`.
void ParsePathAndParams(std::string_view rest, SmtpCommand& command) {
  rest = StdView(absl::StripLeadingAsciiWhitespace(AbslView(rest)));
  if (rest.empty() || rest.front() != '<') {
    command.syntax_error = true;
    return;
  }
  const size_t close = rest.find('>');
  if (close == std::string_view::npos) {
    command.syntax_error = true;
    return;
  }
  std::string_view path = rest.substr(1, close - 1);
  // A source route ("@a,@b:user@c") is accepted and ignored (RFC 5321 C).
  if (!path.empty() && path.front() == '@') {
    const size_t colon = path.find(':');
    if (colon == std::string_view::npos) {
      command.syntax_error = true;
      return;
    }
    path.remove_prefix(colon + 1);
  }
  for (char c : path) {
    if (c == ' ' || c == '<' || c == '>' || static_cast<unsigned char>(c) < 32) {
      command.syntax_error = true;
      return;
    }
  }
  command.path = std::string(path);
  std::string_view params = rest.substr(close + 1);
  if (!params.empty() && params.front() != ' ') {
    command.syntax_error = true;
    return;
  }
  for (absl::string_view param_view :
       absl::StrSplit(AbslView(params), ' ', absl::SkipEmpty())) {
    const std::string_view param = StdView(param_view);
    const size_t eq = param.find('=');
    std::string keyword(param.substr(0, eq));

    if (keyword.empty()) {
      command.syntax_error = true;
      return;
    }
    absl::AsciiStrToUpper(&keyword);
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : std::string(param.substr(eq + 1));
    command.params.emplace_back(std::move(keyword), std::move(value));
  }
}

}  // namespace

std::string SmtpReply::Format() const {
  std::string out;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StrAppend(&out, code, i + 1 < lines.size() ? "-" : " ", lines[i],
                    "\r\n");
  }
  return out;
}

std::string SmtpReply::ToString() const {
  std::string flat = text;
  for (char& c : flat) {
    if (c == '\n') c = ' ';
  }
  return absl::StrCat(code, " ", flat);
}

std::string_view SmtpVerbName(SmtpVerb verb) {
  for (const VerbName& v : kVerbs) {
    if (v.verb == verb) return v.name;
  }
  return "UNKNOWN";
}

SmtpCommand ParseCommand(std::string_view line) {
  SmtpCommand command;
  const size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  const std::string_view argument =
      space == std::string_view::npos ? std::string_view()
                                      : line.substr(space + 1);
  for (const VerbName& v : kVerbs) {
    if (absl::EqualsIgnoreCase(AbslView(verb), AbslView(v.name))) {
      command.verb = v.verb;
      break;
    }
  }
  command.argument = std::string(argument);
  const std::string_view trimmed = StripWhitespace(argument);
  switch (command.verb) {
    case SmtpVerb::kHelo:
    case SmtpVerb::kEhlo:
      if (trimmed.empty()) command.syntax_error = true;
      command.argument = std::string(trimmed);
      break;
    case SmtpVerb::kMail:
    case SmtpVerb::kRcpt: {
      const std::string_view prefix =
          command.verb == SmtpVerb::kMail ? "FROM:" : "TO:";
      if (!StartsWithNoCase(argument, prefix)) {
        command.syntax_error = true;
        break;
      }
      ParsePathAndParams(argument.substr(prefix.size()), command);
      // RCPT TO:<> names nobody.
      if (command.verb == SmtpVerb::kRcpt && command.path.empty()) {
        command.syntax_error = true;
      }
      break;
    }
    case SmtpVerb::kData:
    case SmtpVerb::kRset:
    case SmtpVerb::kQuit:
    case SmtpVerb::kStartTls:
      if (!trimmed.empty()) command.syntax_error = true;
      break;
    case SmtpVerb::kAuth:
      if (trimmed.empty()) command.syntax_error = true;
      command.argument = std::string(trimmed);
      break;
    default:
      break;
  }
  return command;
}

std::string DotStuff(std::string_view content) {
  std::string out;
  out.reserve(content.size() + content.size() / 32 + 8);
  bool line_start = true;
  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (line_start && c == '.') out.push_back('.');
    line_start = false;
    if (c == '\n') {
      // A bare LF becomes CRLF; a CRLF stays as it is.
      if (i == 0 || content[i - 1] != '\r') {
        out.push_back('\r');
      }
      out.push_back('\n');
      line_start = true;
      continue;
    }
    out.push_back(c);
  }
  if (!line_start) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

bool IsCanonicalMessage(std::string_view content) {
  if (content.empty()) return true;
  if (!absl::EndsWith(AbslView(content), "\r\n")) return false;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n' && (i == 0 || content[i - 1] != '\r')) return false;
  }
  return true;
}

}  // namespace ember::protocols
