#include "protocols/smtp/smtp_server_session.h"

#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"

namespace ember::protocols {

void SmtpCompletion::Reply(SmtpReply reply) {
  if (slot_ == nullptr || slot_->replied || slot_->session == nullptr) return;
  slot_->replied = true;
  slot_->session->CompleteMessage(std::move(reply));
}

bool SmtpCompletion::pending() const {
  return slot_ != nullptr && !slot_->replied && slot_->session != nullptr;
}

SmtpServerSession::SmtpServerSession(SmtpServerTransport* transport,
                                     SmtpServerHandler* handler,
                                     SmtpSessionOptions options)
    : transport_(transport), handler_(handler), options_(std::move(options)) {
  EMBER_CHECK(transport_ != nullptr && handler_ != nullptr);
  EMBER_CHECK(options_.line_bytes_max > 0);
  // Lines end at LF with their CR kept (not counted in the limit), so that
  // OnLine can tell CRLF from a bare LF.
  framer_options_.delimiter = "\n";
  framer_options_.strip_cr = false;
  framer_options_.line_bytes_max = options_.line_bytes_max;
  framer_ = NewFramer();
}

std::unique_ptr<LineFramer> SmtpServerSession::NewFramer() {
  LineFramer::Listener* listener = this;
  return std::make_unique<LineFramer>(listener, framer_options_);
}

SmtpServerSession::~SmtpServerSession() {
  if (completion_slot_ != nullptr) completion_slot_->session = nullptr;
}

SmtpStage SmtpServerSession::stage() const {
  if (state_ == State::kClosed) return SmtpStage::kClosed;
  if (awaiting_completion_) return SmtpStage::kAwaiting;
  if (state_ == State::kData) return SmtpStage::kData;
  return SmtpStage::kCommand;
}

void SmtpServerSession::Start() {
  Reply(220, absl::StrCat(options_.hostname, " ESMTP ready"));
}

void SmtpServerSession::Feed(std::string_view data) {
  EMBER_CHECK(!in_framer_);
  if (state_ == State::kClosed) return;
  in_framer_ = true;
  framer_->Feed(data);
  in_framer_ = false;
  AfterFraming();
}

void SmtpServerSession::AfterFraming() {
  if (restart_framer_ && state_ != State::kClosed) {
    // STARTTLS: whatever followed the command in plaintext is dropped
    // (RFC 3207 5: it must not be taken as sent under TLS).
    restart_framer_ = false;
    framer_ = NewFramer();
  }
}

void SmtpServerSession::Finish() {
  if (state_ == State::kClosed) return;
  AbortMessage();
  state_ = State::kClosed;
  framer_->Stop();
}

void SmtpServerSession::Continue() {
  EMBER_CHECK(!in_framer_);
  if (state_ == State::kClosed || awaiting_completion_) return;
  if (!framer_->paused()) return;
  framer_->Resume();
  Feed({});
}

void SmtpServerSession::TimedOut() {
  if (state_ == State::kClosed) return;
  Reply(421, absl::StrCat("4.4.2 ", options_.hostname,
                          " Timeout, closing connection"));
  AbortMessage();
  CloseSession();
}

void SmtpServerSession::Reply(int code, std::string_view text) {
  Reply(SmtpReply{code, std::string(text)});
}

void SmtpServerSession::Reply(const SmtpReply& reply) {
  transport_->Send(reply.Format());
}

void SmtpServerSession::CloseSession() {
  state_ = State::kClosed;
  framer_->Stop();
  transport_->Close();
}

void SmtpServerSession::OnError(const absl::Status& status) {
  // The framer fails on a line over line_bytes_max, or on more input than
  // it holds while paused (a completion pending).
  if (awaiting_completion_) {
    Reply(500, "5.5.0 Too much pipelined input");
  } else {
    Reply(500, "5.5.2 Line too long");
  }
  AbortMessage();
  CloseSession();
}

void SmtpServerSession::OnLine(std::string_view line) {
  if (state_ == State::kClosed) return;
  if (line.empty() || line.back() != '\r') {
    // A bare LF. Taken as a line end it would let "<LF>.<LF>" end message
    // data here while a relay before or after this server reads on, so
    // that commands hidden in one message's text run as a second message
    // (SMTP smuggling). Nothing read after it can be trusted: refuse, drop
    // the message in progress and close.
    Reply(521, "5.5.2 Bare <LF> received, closing connection");
    AbortMessage();
    CloseSession();
    return;
  }
  line.remove_suffix(1);
  switch (state_) {
    case State::kCommand:
      HandleCommand(line);
      break;
    case State::kAuthPlain:
    case State::kAuthLoginUser:
    case State::kAuthLoginPass:
      HandleAuthLine(line);
      break;
    case State::kData:
      HandleDataLine(line);
      break;
    case State::kClosed:
      return;
  }
  // Hold what follows until the message's answer comes.
  if (awaiting_completion_) framer_->Pause();
}

void SmtpServerSession::ResetTransaction() {
  in_transaction_ = false;
  envelope_ = SmtpEnvelope();
  data_started_ = false;
  data_buffer_.clear();
  data_bytes_ = 0;
  data_too_large_ = false;
  data_rejection_.reset();
}

void SmtpServerSession::AbortMessage() {
  if (data_started_) {
    data_started_ = false;
    handler_->OnMessageAborted();
  }
  ResetTransaction();
}

std::string SmtpServerSession::EhloText() const {
  std::string text = absl::StrCat(options_.hostname, " greets ", info_.helo);
  absl::StrAppend(&text, "\nPIPELINING\nSIZE ", options_.message_bytes_max,
                  "\n8BITMIME\nENHANCEDSTATUSCODES");
  if (options_.offer_starttls && !info_.tls) absl::StrAppend(&text, "\nSTARTTLS");
  if (options_.offer_auth && (info_.tls || !options_.auth_requires_tls)) {
    absl::StrAppend(&text, "\nAUTH PLAIN LOGIN");
  }
  return text;
}

void SmtpServerSession::HandleCommand(std::string_view line) {
  const SmtpCommand command = ParseCommand(line);
  if (command.verb == SmtpVerb::kUnknown) {
    Reply(500, "5.5.2 Command not recognized");
    return;
  }
  if (command.syntax_error) {
    Reply(501, absl::StrCat("5.5.4 Syntax error in arguments of ",
                            AbslView(SmtpVerbName(command.verb))));
    return;
  }
  switch (command.verb) {
    case SmtpVerb::kHelo:
    case SmtpVerb::kEhlo:
      HandleHello(command);
      return;
    case SmtpVerb::kMail:
      HandleMail(command);
      return;
    case SmtpVerb::kRcpt:
      HandleRcpt(command);
      return;
    case SmtpVerb::kData:
      HandleData();
      return;
    case SmtpVerb::kRset:
      AbortMessage();
      Reply(250, "2.0.0 OK");
      return;
    case SmtpVerb::kNoop:
      Reply(250, "2.0.0 OK");
      return;
    case SmtpVerb::kQuit:
      Reply(221, absl::StrCat("2.0.0 ", options_.hostname, " closing"));
      AbortMessage();
      CloseSession();
      return;
    case SmtpVerb::kVrfy:
    case SmtpVerb::kExpn:
      Reply(502, "5.5.1 Command not implemented");
      return;
    case SmtpVerb::kHelp:
      Reply(214, "2.0.0 See RFC 5321");
      return;
    case SmtpVerb::kStartTls:
      HandleStartTls();
      return;
    case SmtpVerb::kAuth:
      HandleAuth(command);
      return;
    case SmtpVerb::kUnknown:
      return;
  }
}

void SmtpServerSession::HandleHello(const SmtpCommand& command) {
  AbortMessage();
  hello_seen_ = true;
  info_.helo = command.argument;
  info_.esmtp = command.verb == SmtpVerb::kEhlo;
  if (info_.esmtp) {
    Reply(250, EhloText());
  } else {
    Reply(250, absl::StrCat(options_.hostname, " greets ", info_.helo));
  }
}

void SmtpServerSession::HandleMail(const SmtpCommand& command) {
  if (!hello_seen_) {
    Reply(503, "5.5.1 Send HELO or EHLO first");
    return;
  }
  if (in_transaction_) {
    Reply(503, "5.5.1 Sender already given");
    return;
  }
  if (options_.require_tls && !info_.tls) {
    Reply(530, "5.7.0 Must issue a STARTTLS command first");
    return;
  }
  if (options_.require_auth && info_.user.empty()) {
    Reply(530, "5.7.0 Authentication required");
    return;
  }
  for (const SmtpParam& param : command.params) {
    if (param.first == "SIZE") {
      uint64_t size = 0;
      if (!absl::SimpleAtoi(param.second, &size)) {
        Reply(501, "5.5.4 Bad SIZE value");
        return;
      }
      if (size > options_.message_bytes_max) {
        Reply(552, "5.3.4 Message size exceeds fixed maximum message size");
        return;
      }
    } else if (param.first == "BODY") {
      std::string value = absl::AsciiStrToUpper(param.second);
      if (value != "7BIT" && value != "8BITMIME") {
        Reply(501, "5.5.4 Bad BODY value");
        return;
      }
    } else if (param.first == "AUTH") {
      // RFC 4954 5: accepted and not acted on.
    } else {
      Reply(555, "5.5.4 MAIL parameter not recognized");
      return;
    }
  }
  SmtpEnvelope candidate;
  candidate.from = command.path;
  candidate.mail_params = command.params;
  const SmtpReply reply = handler_->OnMailFrom(info_, candidate);
  if (reply.positive()) {
    in_transaction_ = true;
    envelope_ = std::move(candidate);
  }
  Reply(reply);
}

void SmtpServerSession::HandleRcpt(const SmtpCommand& command) {
  if (!in_transaction_) {
    Reply(503, "5.5.1 Need MAIL before RCPT");
    return;
  }
  if (!command.params.empty()) {
    Reply(555, "5.5.4 RCPT parameters not recognized");
    return;
  }
  if (envelope_.recipients.size() >= options_.recipients_max) {
    Reply(452, "4.5.3 Too many recipients");
    return;
  }
  const SmtpReply reply = handler_->OnRcptTo(info_, envelope_, command.path);
  if (reply.positive()) envelope_.recipients.push_back(command.path);
  Reply(reply);
}

void SmtpServerSession::HandleData() {
  if (!in_transaction_) {
    Reply(503, "5.5.1 Need MAIL before DATA");
    return;
  }
  if (envelope_.recipients.empty()) {
    Reply(554, "5.5.1 No valid recipients");
    return;
  }
  const SmtpReply reply = handler_->OnDataStart(info_, envelope_);
  if (reply.code != 354) {
    Reply(reply);
    return;
  }
  Reply(reply);
  state_ = State::kData;
  data_started_ = true;
  data_buffer_.clear();
  data_bytes_ = 0;
  data_too_large_ = false;
  data_rejection_.reset();
}

void SmtpServerSession::HandleDataLine(std::string_view line) {
  if (line == ".") {
    EndOfData();
    return;
  }
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);
  data_bytes_ += line.size() + 2;
  if (data_bytes_ > options_.message_bytes_max) data_too_large_ = true;
  if (data_too_large_ || data_rejection_.has_value()) {
    data_buffer_.clear();
    return;
  }
  data_buffer_.append(line);
  data_buffer_.append("\r\n");
  if (data_buffer_.size() >= options_.data_chunk_bytes) FlushData();
}

void SmtpServerSession::FlushData() {
  if (data_buffer_.empty() || data_too_large_ || data_rejection_) return;
  std::optional<SmtpReply> reply = handler_->OnMessageData(data_buffer_);
  data_buffer_.clear();
  if (reply.has_value()) {
    if (reply->positive()) {
      reply = SmtpReply{554, "5.6.0 Message rejected"};
    }
    data_rejection_ = std::move(reply);
  }
}

void SmtpServerSession::EndOfData() {
  FlushData();
  state_ = State::kCommand;
  data_started_ = false;
  if (data_too_large_) {
    handler_->OnMessageAborted();
    ResetTransaction();
    Reply(552, "5.3.4 Message size exceeds fixed maximum message size");
    return;
  }
  if (data_rejection_.has_value()) {
    const SmtpReply reply = *data_rejection_;
    handler_->OnMessageAborted();
    ResetTransaction();
    Reply(reply);
    return;
  }
  awaiting_completion_ = true;
  if (completion_slot_ != nullptr) completion_slot_->session = nullptr;
  completion_slot_ = std::make_shared<SmtpCompletion::Slot>();
  completion_slot_->session = this;
  const SmtpEnvelope envelope = envelope_;
  handler_->OnMessageComplete(info_, envelope, SmtpCompletion(completion_slot_));
}

void SmtpServerSession::CompleteMessage(SmtpReply reply) {
  EMBER_CHECK(awaiting_completion_);
  awaiting_completion_ = false;
  completion_slot_->session = nullptr;
  completion_slot_.reset();
  ResetTransaction();
  if (state_ == State::kClosed) return;
  if (reply.code < 200 || reply.code > 599) {
    reply = SmtpReply{451, "4.3.0 Local error in processing"};
  }
  if (reply.code == 250) ++messages_accepted_;
  Reply(reply);
  // An answer given from inside OnMessageComplete needs no wake-up: the
  // framer goes on by itself.
  if (!in_framer_) transport_->ScheduleContinue();
}

void SmtpServerSession::HandleStartTls() {
  if (!options_.offer_starttls) {
    Reply(502, "5.5.1 STARTTLS not offered");
    return;
  }
  if (info_.tls) {
    Reply(503, "5.5.1 TLS already active");
    return;
  }
  Reply(220, "2.0.0 Ready to start TLS");
  if (!transport_->StartTls()) {
    AbortMessage();
    CloseSession();
    return;
  }
  // RFC 3207 4.2: forget everything learned before TLS.
  AbortMessage();
  hello_seen_ = false;
  info_ = SmtpSessionInfo();
  info_.tls = true;
  framer_->Stop();
  restart_framer_ = true;
}

void SmtpServerSession::HandleAuth(const SmtpCommand& command) {
  if (!options_.offer_auth) {
    Reply(502, "5.5.1 AUTH not offered");
    return;
  }
  if (!hello_seen_ || !info_.esmtp) {
    Reply(503, "5.5.1 Send EHLO first");
    return;
  }
  if (!info_.user.empty()) {
    Reply(503, "5.5.1 Already authenticated");
    return;
  }
  if (in_transaction_) {
    Reply(503, "5.5.1 AUTH not allowed during a mail transaction");
    return;
  }
  if (options_.auth_requires_tls && !info_.tls) {
    Reply(538, "5.7.11 Encryption required for requested authentication "
               "mechanism");
    return;
  }
  const size_t space = command.argument.find(' ');
  std::string mechanism = absl::AsciiStrToUpper(
      AbslView(std::string_view(command.argument).substr(0, space)));
  std::string_view initial;
  if (space != std::string::npos) {
    initial = std::string_view(command.argument).substr(space + 1);
  }
  if (mechanism == "PLAIN") {
    if (initial.empty()) {
      state_ = State::kAuthPlain;
      Reply(334, "");
      return;
    }
    HandleAuthLine(initial);  // As if it came as the response.
    return;
  }
  if (mechanism == "LOGIN") {
    if (initial.empty()) {
      state_ = State::kAuthLoginUser;
      Reply(334, "VXNlcm5hbWU6");  // "Username:"
      return;
    }
    state_ = State::kAuthLoginUser;
    HandleAuthLine(initial);
    return;
  }
  Reply(504, "5.5.4 Unrecognized authentication type");
}

void SmtpServerSession::HandleAuthLine(std::string_view line) {
  if (line == "*") {
    state_ = State::kCommand;
    pending_user_.clear();
    Reply(501, "5.0.0 Authentication cancelled");
    return;
  }
  std::string decoded;
  if (!absl::Base64Unescape(AbslView(line), &decoded)) {
    state_ = State::kCommand;
    pending_user_.clear();
    Reply(501, "5.5.2 Cannot decode response");
    return;
  }
  if (state_ == State::kAuthLoginUser) {
    pending_user_ = std::move(decoded);
    state_ = State::kAuthLoginPass;
    Reply(334, "UGFzc3dvcmQ6");  // "Password:"
    return;
  }
  SmtpCredentials credentials;
  if (state_ == State::kAuthLoginPass) {
    credentials.mechanism = "LOGIN";
    credentials.user = std::move(pending_user_);
    credentials.password = std::move(decoded);
    pending_user_.clear();
  } else {
    // PLAIN (kAuthPlain, or kCommand with an initial response):
    // authzid NUL authcid NUL passwd.
    credentials.mechanism = "PLAIN";
    const size_t first = decoded.find('\0');
    const size_t second = first == std::string::npos
                              ? std::string::npos
                              : decoded.find('\0', first + 1);
    if (second == std::string::npos) {
      state_ = State::kCommand;
      Reply(501, "5.5.2 Malformed PLAIN response");
      return;
    }
    credentials.authzid = decoded.substr(0, first);
    credentials.user = decoded.substr(first + 1, second - first - 1);
    credentials.password = decoded.substr(second + 1);
  }
  FinishAuth(std::move(credentials));
}

void SmtpServerSession::FinishAuth(SmtpCredentials credentials) {
  state_ = State::kCommand;
  SmtpReply reply = handler_->OnAuth(info_, credentials);
  if (reply.code == 235) {
    info_.user = credentials.user;
  } else if (reply.positive()) {
    reply = SmtpReply{535, "5.7.8 Authentication credentials invalid"};
  }
  Reply(reply);
}

}  // namespace ember::protocols
