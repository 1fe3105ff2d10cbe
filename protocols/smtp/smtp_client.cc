#include "protocols/smtp/smtp_client.h"

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/line/line_connection.h"
#include "protocols/tls/tls_connection.h"

namespace ember::protocols {
namespace {

// What the next reply answers.
enum class Expect {
  kGreeting,
  kEhlo,
  kHelo,
  kStartTls,
  kAuth,
  kMail,
  kRcpt,
  kData,
  kDataEnd,
  kQuit,
};

bool ValidAddress(std::string_view address) {
  for (char c : address) {
    if (c == '<' || c == '>' || c == '\r' || c == '\n' || c == ' ') {
      return false;
    }
  }
  return true;
}

absl::Status StatusForRejection(const SmtpReply& reply, Expect expect) {
  const std::string text = absl::StrCat("server replied ", reply.ToString());
  if (expect == Expect::kAuth || reply.code == 530 || reply.code == 535 ||
      reply.code == 538) {
    if (reply.code >= 500) return absl::UnauthenticatedError(text);
  }
  if (reply.transient()) return absl::UnavailableError(text);
  if (reply.code == 552) return absl::ResourceExhaustedError(text);
  if (reply.permanent()) return absl::FailedPreconditionError(text);
  return absl::InvalidArgumentError(
      absl::StrCat("unexpected reply: ", reply.ToString()));
}

class SmtpClientConnection final : public LineConnection {
 public:
  SmtpClientConnection(SmtpMessage message, SmtpClientOptions options,
                       std::string host, SmtpSendCallback done)
      : LineConnection(FramerOptions(options)),
        message_(std::move(message)),
        options_(std::move(options)),
        host_(std::move(host)),
        done_(std::move(done)),
        payload_(DotStuff(message_.content)) {
    for (const std::string& to : message_.to) {
      result_.recipients.push_back({to, SmtpReply{}});
    }
  }

  ~SmtpClientConnection() override { CancelTimer(); }

  void PostInit() override {
    SetPendingConnectTimeout(options_.connect_timeout);
    Expecting(Expect::kGreeting);
  }

  void ReceiveLine(std::string_view line) override {
    if (closing()) return;
    if (line.size() < 3 || !absl::ascii_isdigit(line[0]) ||
        !absl::ascii_isdigit(line[1]) || !absl::ascii_isdigit(line[2]) ||
        line[0] < '2' || line[0] > '5' ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat("malformed reply line: ", absl::CHexEscape(AbslView(line)))));
      return;
    }
    int code = 0;
    EMBER_CHECK(absl::SimpleAtoi(AbslView(line.substr(0, 3)), &code));
    const bool more = line.size() > 3 && line[3] == '-';
    const std::string_view text = line.size() > 4 ? line.substr(4) : "";
    if (reply_lines_ > 0 && code != partial_.code) {
      Fail(absl::InvalidArgumentError(absl::StrCat(
          "reply lines with different codes: ", partial_.code, ", ", code)));
      return;
    }
    if (++reply_lines_ > options_.reply_lines_max) {
      Fail(absl::ResourceExhaustedError(absl::StrCat(
          "reply of more than ", options_.reply_lines_max, " lines")));
      return;
    }
    if (reply_lines_ > 1) partial_.text.push_back('\n');
    partial_.code = code;
    partial_.text.append(text);
    if (more) return;
    SmtpReply reply = std::move(partial_);
    partial_ = SmtpReply();
    reply_lines_ = 0;
    HandleReply(std::move(reply));
  }

  void ReceiveLineError(const absl::Status& status) override {
    Fail(absl::ResourceExhaustedError(absl::StrCat(
        "reply line over ", options_.reply_line_bytes_max, " bytes")));
  }

  void Unbind(const UnbindReason& reason) override {
    CancelTimer();
    if (reported_) return;
    absl::Status status;
    if (reason.kind == UnbindKind::kTimedOut) {
      status = absl::DeadlineExceededError(
          absl::StrCat("timed out: ", reason.ToString()));
    } else {
      status = absl::UnavailableError(
          absl::StrCat("connection ended: ", reason.ToString()));
    }
    Report(Broken(std::move(status)));
  }

 private:
  static LineFramer::Options FramerOptions(const SmtpClientOptions& options) {
    LineFramer::Options framer;
    framer.line_bytes_max = options.reply_line_bytes_max;
    return framer;
  }

  // The result for a connection that ends without a decisive reply.
  SmtpSendResult Broken(absl::Status status) {
    SmtpSendResult result = std::move(result_);
    if (dot_sent_) {
      result.outcome = SmtpOutcome::kUnconfirmed;
      result.status = absl::UnknownError(absl::StrCat(
          "no reply to the final dot, so the message may or may not have "
          "been taken: ",
          status.message()));
    } else {
      result.outcome = SmtpOutcome::kFailed;
      result.status = std::move(status);
    }
    return result;
  }

  void Report(SmtpSendResult result) {
    if (reported_) return;
    reported_ = true;
    result.tls = tls_active_;
    SmtpSendCallback done = std::move(done_);
    done(std::move(result));
  }

  // Ends the connection now, reporting `status` (as kFailed, or as
  // kUnconfirmed after the final dot).
  void Fail(absl::Status status) {
    CancelTimer();
    if (!reported_) Report(Broken(std::move(status)));
    CloseConnection();
  }

  // A refusal: reported, then QUIT (replies still due are read and
  // ignored).
  void Reject(const SmtpReply& reply, Expect expect) {
    SmtpSendResult result = std::move(result_);
    result.outcome = SmtpOutcome::kRejected;
    result.status = StatusForRejection(reply, expect);
    result.reply = reply;
    Report(std::move(result));
    Quit();
  }

  // QUIT once every reply still due has come: a pipelined DATA the server
  // answered 354 (against RFC 2920) must first be ended, or QUIT would be
  // taken as message text.
  void Quit() {
    if (quit_sent_ || closing()) return;
    if (!expects_.empty()) {
      quit_wanted_ = true;
      return;
    }
    quit_sent_ = true;
    Send("QUIT\r\n");
    Expecting(Expect::kQuit);
  }

  void Send(std::string_view bytes) {
    if (!SendData(bytes).ok()) {
      Fail(absl::UnavailableError("could not queue a command"));
    }
  }

  void Expecting(Expect expect) {
    expects_.push_back(expect);
    ArmTimer();
  }

  void ArmTimer() {
    CancelTimer();
    if (expects_.empty()) return;
    const absl::Duration timeout = expects_.front() == Expect::kDataEnd
                                       ? options_.final_reply_timeout
                                       : options_.reply_timeout;
    // A timer of the connection's own: it never fails for want of room
    // (ReactorOptions::timers_max) and never runs after Unbind.
    timer_ = StartTimer(timeout, [this] {
      timer_ = 0;
      Fail(absl::DeadlineExceededError("no reply in time"));
    });
  }

  void CancelTimer() {
    if (timer_ != 0) {
      Connection::CancelTimer(timer_);
      timer_ = 0;
    }
  }

  void HandleReply(SmtpReply reply) {
    if (expects_.empty()) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat("reply nothing asked for: ", reply.ToString())));
      return;
    }
    const Expect expect = expects_.front();
    expects_.pop_front();
    ArmTimer();
    if (reported_) {
      // After the result: read what is still due, then QUIT ends it.
      if (expect == Expect::kData && reply.code == 354) {
        Send(".\r\n");  // An empty message the server will refuse or drop.
        expects_.push_front(Expect::kDataEnd);
        ArmTimer();
      } else if (expect == Expect::kQuit) {
        CancelTimer();
        CloseAfterWriting();
      } else if (quit_wanted_ && expects_.empty()) {
        Quit();
      }
      return;
    }
    switch (expect) {
      case Expect::kGreeting:
        if (reply.code != 220) return Reject(reply, expect);
        SendHello(/*extended=*/true);
        return;
      case Expect::kEhlo:
        if (reply.code == 250) {
          ReadExtensions(reply.text);
          AfterHello();
        } else if (reply.permanent() && !tls_active_) {
          SendHello(/*extended=*/false);
        } else {
          Reject(reply, expect);
        }
        return;
      case Expect::kHelo:
        if (reply.code != 250) return Reject(reply, expect);
        extensions_.clear();
        AfterHello();
        return;
      case Expect::kStartTls:
        if (reply.code != 220) {
          if (options_.tls_mode == SmtpTlsMode::kRequired) {
            return Reject(reply, expect);
          }
          starttls_declined_ = true;
          AfterHello();
          return;
        }
        BeginTls();
        return;
      case Expect::kAuth:
        if (reply.code != 235) return Reject(reply, expect);
        authenticated_ = true;
        StartTransaction();
        return;
      case Expect::kMail:
        if (!reply.positive()) return Reject(reply, expect);
        if (!pipelined_) SendNextRecipient();
        return;
      case Expect::kRcpt:
        result_.recipients[rcpt_replies_++].reply = reply;
        if (reply.positive()) ++accepted_;
        if (!pipelined_) {
          if (rcpt_replies_ < message_.to.size()) {
            SendNextRecipient();
          } else if (accepted_ == 0) {
            Reject(reply, expect);
          } else {
            Send("DATA\r\n");
            Expecting(Expect::kData);
          }
        }
        return;
      case Expect::kData:
        if (reply.code != 354) {
          // With every recipient refused, their reply says more than DATA's.
          if (accepted_ == 0 && !result_.recipients.empty()) {
            return Reject(result_.recipients.back().reply, Expect::kRcpt);
          }
          return Reject(reply, expect);
        }
        if (accepted_ == 0) {
          // Asked for text with no recipient: end it empty, then refuse.
          Send(".\r\n");
          Expecting(Expect::kDataEnd);
          Reject(result_.recipients.back().reply, Expect::kRcpt);
          return;
        }
        Send(payload_);
        dot_sent_ = true;
        Expecting(Expect::kDataEnd);
        return;
      case Expect::kDataEnd: {
        if (!reply.positive()) return Reject(reply, expect);
        SmtpSendResult result = std::move(result_);
        result.outcome = SmtpOutcome::kSent;
        result.status = absl::OkStatus();
        result.reply = reply;
        Report(std::move(result));
        Quit();
        return;
      }
      case Expect::kQuit:
        CloseAfterWriting();
        return;
    }
  }

  void SendHello(bool extended) {
    Send(absl::StrCat(extended ? "EHLO " : "HELO ", options_.helo_name,
                      "\r\n"));
    Expecting(extended ? Expect::kEhlo : Expect::kHelo);
  }

  void ReadExtensions(std::string_view text) {
    extensions_.clear();
    std::vector<absl::string_view> lines = absl::StrSplit(AbslView(text), '\n');
    // The first line is the greeting.
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string line = absl::AsciiStrToUpper(lines[i]);
      extensions_.push_back(std::move(line));
    }
  }

  // The extension's line ("SIZE 1000", "AUTH PLAIN LOGIN"), if offered.
  const std::string* Extension(std::string_view keyword) const {
    for (const std::string& line : extensions_) {
      if (std::string_view(line) == keyword ||
          (line.size() > keyword.size() && line.compare(0, keyword.size(), keyword) == 0 &&
           line[keyword.size()] == ' ')) {
        return &line;
      }
    }
    return nullptr;
  }

  void AfterHello() {
    if (!tls_active_ && options_.tls_mode != SmtpTlsMode::kNever &&
        !starttls_declined_) {
      const bool offered = Extension("STARTTLS") != nullptr;
      if (offered && options_.tls != nullptr) {
        Send("STARTTLS\r\n");
        Expecting(Expect::kStartTls);
        return;
      }
      if (options_.tls_mode == SmtpTlsMode::kRequired) {
        Fail(absl::FailedPreconditionError(
            offered ? "TLS required but no TLS context given"
                    : "TLS required but the server does not offer STARTTLS"));
        return;
      }
    }
    if (options_.user_password.has_value() && !authenticated_) {
      const std::string* auth = Extension("AUTH");
      std::vector<std::string> mechanisms;
      if (auth != nullptr) mechanisms = absl::StrSplit(*auth, ' ');
      bool plain = false;
      for (const std::string& m : mechanisms) plain = plain || m == "PLAIN";
      if (!plain) {
        Fail(absl::FailedPreconditionError(
            "credentials given but the server does not offer AUTH PLAIN"));
        return;
      }
      const auto& [user, password] = *options_.user_password;
      std::string response;
      response.push_back('\0');
      response.append(user);
      response.push_back('\0');
      response.append(password);
      Send(absl::StrCat("AUTH PLAIN ", absl::Base64Escape(response), "\r\n"));
      Expecting(Expect::kAuth);
      return;
    }
    StartTransaction();
  }

  void BeginTls() {
    // Bytes after the 220 came before TLS: a man in the middle's injection.
    if (framer().buffered_bytes() > 0) {
      Fail(absl::InvalidArgumentError("plaintext after the STARTTLS reply"));
      return;
    }
    tls::TlsSessionOptions session = options_.tls_session;
    if (session.server_name.empty()) session.server_name = host_;
    absl::Status status = tls::StartTls(*this, options_.tls, session);
    if (!status.ok()) {
      Fail(absl::FailedPreconditionError(
          absl::StrCat("STARTTLS: ", status.message())));
      return;
    }
    tls_active_ = true;
    extensions_.clear();
    SendHello(/*extended=*/true);  // Goes out once the handshake is done.
  }

  void StartTransaction() {
    std::string mail = absl::StrCat("MAIL FROM:<", message_.from, ">");
    if (Extension("SIZE") != nullptr) {
      absl::StrAppend(&mail, " SIZE=", payload_.size());
    }
    if (Extension("8BITMIME") != nullptr) {
      for (char c : message_.content) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          absl::StrAppend(&mail, " BODY=8BITMIME");
          break;
        }
      }
    }
    mail.append("\r\n");
    pipelined_ = options_.pipelining && Extension("PIPELINING") != nullptr;
    if (!pipelined_) {
      Send(mail);
      Expecting(Expect::kMail);
      return;
    }
    for (const std::string& to : message_.to) {
      absl::StrAppend(&mail, "RCPT TO:<", to, ">\r\n");
    }
    mail.append("DATA\r\n");
    Send(mail);
    Expecting(Expect::kMail);
    for (size_t i = 0; i < message_.to.size(); ++i) Expecting(Expect::kRcpt);
    Expecting(Expect::kData);
  }

  void SendNextRecipient() {
    Send(absl::StrCat("RCPT TO:<", message_.to[rcpt_sent_++], ">\r\n"));
    Expecting(Expect::kRcpt);
  }

  const SmtpMessage message_;
  const SmtpClientOptions options_;
  const std::string host_;
  SmtpSendCallback done_;
  const std::string payload_;  // Dot-stuffed, with the final dot.
  SmtpSendResult result_;
  std::deque<Expect> expects_;
  SmtpReply partial_;
  size_t reply_lines_ = 0;
  std::vector<std::string> extensions_;
  size_t rcpt_sent_ = 0;
  size_t rcpt_replies_ = 0;
  size_t accepted_ = 0;
  bool pipelined_ = false;
  bool tls_active_ = false;
  bool starttls_declined_ = false;
  bool authenticated_ = false;
  bool dot_sent_ = false;
  bool quit_sent_ = false;
  bool quit_wanted_ = false;
  bool reported_ = false;
  TimerId timer_ = 0;
};

}  // namespace

std::string_view SmtpOutcomeName(SmtpOutcome outcome) {
  switch (outcome) {
    case SmtpOutcome::kSent:
      return "sent";
    case SmtpOutcome::kRejected:
      return "rejected";
    case SmtpOutcome::kUnconfirmed:
      return "unconfirmed";
    case SmtpOutcome::kFailed:
      return "failed";
  }
  return "?";
}

std::string ComposeMessage(
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body) {
  std::string out;
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  out.append("\r\n");
  out.append(body);
  return out;
}

absl::Status SendMail(Reactor& reactor, std::string_view host, uint16_t port,
                      SmtpMessage message, SmtpClientOptions options,
                      SmtpSendCallback done) {
  EMBER_CHECK(done != nullptr);
  if (message.to.empty()) {
    return absl::InvalidArgumentError("a message needs a recipient");
  }
  if (options.helo_name.empty() ||
      options.helo_name.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError("invalid HELO name");
  }
  if (!ValidAddress(message.from)) {
    return absl::InvalidArgumentError("invalid sender address");
  }
  for (const std::string& to : message.to) {
    if (to.empty() || !ValidAddress(to)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid recipient address: ", absl::CHexEscape(to)));
    }
  }
  auto connection = std::make_unique<SmtpClientConnection>(
      std::move(message), std::move(options), std::string(host),
      std::move(done));
  return reactor.Connect(host, port, std::move(connection)).status();
}

}  // namespace ember::protocols
