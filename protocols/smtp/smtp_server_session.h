// SmtpServerSession: the server side of one SMTP connection as a pure state
// machine (RFC 5321, with SIZE 1870, PIPELINING 2920, 8BITMIME 6152,
// STARTTLS 3207 and AUTH PLAIN/LOGIN 4954).
//
// Bytes from the client go in through `Feed`; replies come out through a
// `SmtpServerTransport` (send, start TLS, close), and the application sees
// the conversation through a `SmtpServerHandler`: it may accept or reject
// the sender, each recipient, the message data as it streams in, and the
// complete message. That last answer may come later (`SmtpCompletion`): the
// session holds every command pipelined after the message until it does,
// so replies always go out in order. There are no sockets and no clocks in
// here; `SmtpServer` (smtp_server.h) adapts it to reactor connections and
// adds the per-stage timeouts, and the fuzz target feeds it byte streams.
//
// Limits and their replies (each tested in tests/protocols/smtp):
//   - A line (command or message text) longer than line_bytes_max:
//     "500 5.5.2 Line too long", then the connection closes (RFC 5321
//     4.5.3.1.4/.6).
//   - A message larger than message_bytes_max: declared with SIZE=, "552
//     5.3.4" to MAIL (RFC 1870); found while receiving, the rest of the data
//     is read and dropped and the final dot gets "552 5.3.4".
//   - More than recipients_max recipients: "452 4.5.3 Too many recipients"
//     for each one past the limit (RFC 5321 4.5.3.1.10).
//   - require_tls and no TLS yet: "530 5.7.0 Must issue a STARTTLS command
//     first" to MAIL (RFC 3207). require_auth and not authenticated: "530
//     5.7.0 Authentication required" to MAIL (RFC 4954).
//   - AUTH over plaintext with auth_requires_tls: "538 5.7.11 Encryption
//     required for requested authentication mechanism" (RFC 4954).
//   - A bare LF (an LF not right after a CR) anywhere, in a command, an
//     AUTH response or message text: "521 5.5.2 Bare <LF> received", the
//     message in progress is aborted (never handed over as complete) and
//     the connection closes. So the only end of message data is
//     <CRLF>.<CRLF>, and no "<LF>.<LF>" (or "<CR>.<LF>", "<LF>.<CRLF>")
//     can end one message early and smuggle the commands after it. A bare
//     CR never ends a line: in message text it is kept as data (a line
//     "\r.\r" is not the final dot), in a command it is part of the
//     command's text.
//   - Input held while the application answers a message (pipelined
//     commands): at most LineFramer's paused_bytes_max (1 MiB); beyond it
//     "500 5.5.0 Too much pipelined input", then the connection closes. The
//     adapter stops reading meanwhile, so only a read in flight counts.
//
// Lifetime: the transport and handler are not owned and must outlive the
// session. Not thread-safe. `Feed`, `Finish`, `Continue` and `TimedOut`
// must not be called from inside the session's own callbacks.

#ifndef EMBER_PROTOCOLS_SMTP_SMTP_SERVER_SESSION_H_
#define EMBER_PROTOCOLS_SMTP_SMTP_SERVER_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "protocols/line/line_framer.h"
#include "protocols/smtp/smtp_command.h"

namespace ember::protocols {

struct SmtpSessionOptions {
  // The name the server gives in its greeting and EHLO reply.
  std::string hostname = "localhost";
  // Largest message accepted, in bytes as received after dot-unstuffing
  // (CRLF line ends included); advertised as SIZE.
  uint64_t message_bytes_max = 10 << 20;
  // Most recipients of one message.
  size_t recipients_max = 100;
  // Longest line, command or message text, without its CRLF. RFC 5321 asks
  // for at least 510 (commands) and 998 (text); AUTH lines need more.
  size_t line_bytes_max = 4096;
  // Offer STARTTLS (the adapter sets this when it has a TLS context).
  bool offer_starttls = false;
  // Offer AUTH PLAIN and LOGIN (answered by SmtpServerHandler::OnAuth).
  bool offer_auth = false;
  // AUTH only once TLS is up: not advertised before, 538 if tried.
  bool auth_requires_tls = true;
  // Refuse MAIL until STARTTLS / AUTH succeeded.
  bool require_tls = false;
  bool require_auth = false;
  // Message data reaches OnMessageData in pieces of about this many bytes
  // (whole lines; a piece ends where a line does).
  size_t data_chunk_bytes = 64 << 10;
};

// What the session knows of the client, given to every handler call.
struct SmtpSessionInfo {
  std::string helo;       // The name given in HELO/EHLO.
  bool esmtp = false;     // EHLO rather than HELO.
  bool tls = false;       // STARTTLS completed.
  std::string user;       // Authenticated user; empty if none.
};

struct SmtpEnvelope {
  std::string from;  // Reverse path; empty for the null sender <>.
  std::vector<std::string> recipients;  // Accepted recipients, in order.
  std::vector<SmtpParam> mail_params;   // MAIL FROM parameters.
};

struct SmtpCredentials {
  std::string mechanism;  // "PLAIN" or "LOGIN".
  std::string authzid;    // PLAIN's authorisation identity (often empty).
  std::string user;
  std::string password;
};

class SmtpServerSession;

// The answer to one complete message, given once, now or later. Reply does
// nothing when the session has ended meanwhile (the client never hears of
// it) or when it was already given. Copyable handle; all copies are one.
class SmtpCompletion {
 public:
  SmtpCompletion() = default;
  void Reply(SmtpReply reply);
  // True until Reply was called or the session ended.
  bool pending() const;

 private:
  friend class SmtpServerSession;
  struct Slot {
    SmtpServerSession* session = nullptr;
    bool replied = false;
  };
  explicit SmtpCompletion(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
  std::shared_ptr<Slot> slot_;
};

// The application's view of one connection. Every method has a default that
// accepts (AUTH: rejects). A reply with a 2xx or 3xx code accepts; any other
// is sent to the client as the rejection.
class SmtpServerHandler {
 public:
  virtual ~SmtpServerHandler() = default;

  // AUTH PLAIN or LOGIN: 235 to accept, 535 to refuse.
  virtual SmtpReply OnAuth(const SmtpSessionInfo& info,
                           const SmtpCredentials& credentials) {
    return {535, "5.7.8 Authentication credentials invalid"};
  }
  virtual SmtpReply OnMailFrom(const SmtpSessionInfo& info,
                               const SmtpEnvelope& envelope) {
    return {250, "2.1.0 Sender OK"};
  }
  // `recipient` is not yet in `envelope`; it is added when accepted.
  virtual SmtpReply OnRcptTo(const SmtpSessionInfo& info,
                             const SmtpEnvelope& envelope,
                             const std::string& recipient) {
    return {250, "2.1.5 Recipient OK"};
  }
  // DATA: 354 to receive the message.
  virtual SmtpReply OnDataStart(const SmtpSessionInfo& info,
                                const SmtpEnvelope& envelope) {
    return {354, "End data with <CR><LF>.<CR><LF>"};
  }
  // Message text as it arrives, dot-unstuffed, lines ending in CRLF. A
  // reply (a 4xx or 5xx) rejects the message: the rest of its data is read
  // and dropped, and the reply answers the final dot.
  virtual std::optional<SmtpReply> OnMessageData(std::string_view data) {
    return std::nullopt;
  }
  // The final dot arrived and nothing was rejected: answer through `done`,
  // now or later (250 means the message is now the server's). Commands the
  // client pipelined after the message wait for the answer.
  virtual void OnMessageComplete(const SmtpSessionInfo& info,
                                 const SmtpEnvelope& envelope,
                                 SmtpCompletion done) {
    done.Reply({250, "2.0.0 OK"});
  }
  // A message whose data had started will not complete (RSET is impossible
  // in DATA, so: the connection ended, timed out or broke a limit). Drop
  // whatever was kept of it.
  virtual void OnMessageAborted() {}
};

// What the session needs from the connection under it.
class SmtpServerTransport {
 public:
  virtual ~SmtpServerTransport() = default;
  // Queues reply bytes.
  virtual void Send(std::string_view bytes) = 0;
  // Puts TLS under the connection: bytes sent before go out in plaintext,
  // bytes read after are ciphertext. False if it could not (the session
  // then closes the connection).
  virtual bool StartTls() = 0;
  // Closes once the queued replies are written.
  virtual void Close() = 0;
  // An asynchronous SmtpCompletion answered: call Continue() from the loop
  // soon (never from inside this call) to go on with held input.
  virtual void ScheduleContinue() = 0;
};

// Where the session is, for the adapter's timeouts.
enum class SmtpStage {
  kCommand,    // Waiting for a command (or an AUTH response line).
  kData,       // Receiving message text.
  kAwaiting,   // Waiting for the application's answer to a message.
  kClosed,
};

class SmtpServerSession : private LineFramer::Listener {
 public:
  SmtpServerSession(SmtpServerTransport* transport, SmtpServerHandler* handler,
                    SmtpSessionOptions options);
  ~SmtpServerSession() override;
  SmtpServerSession(const SmtpServerSession&) = delete;
  SmtpServerSession& operator=(const SmtpServerSession&) = delete;

  // Sends the 220 greeting.
  void Start();
  // Bytes from the client, cut anywhere.
  void Feed(std::string_view data);
  // The client closed its side (or the connection ended): a message in
  // progress is aborted.
  void Finish();
  // Goes on with input held while a message awaited its answer.
  void Continue();
  // The stage's time ran out: "421 4.4.2" and close.
  void TimedOut();

  SmtpStage stage() const;
  // True while input is held for an asynchronous answer: the adapter should
  // stop reading until Continue.
  bool holding_input() const { return awaiting_completion_; }
  const SmtpSessionInfo& info() const { return info_; }
  // Messages answered 250 on this session.
  uint64_t messages_accepted() const { return messages_accepted_; }

 private:
  friend class SmtpCompletion;

  enum class State {
    kCommand,
    kAuthPlain,      // AUTH PLAIN sent 334, awaiting the response.
    kAuthLoginUser,  // AUTH LOGIN, awaiting the user name.
    kAuthLoginPass,  // AUTH LOGIN, awaiting the password.
    kData,
    kClosed,
  };

  void OnLine(std::string_view line) override;
  void OnBinary(std::string_view data) override {}
  void OnError(const absl::Status& status) override;

  void HandleCommand(std::string_view line);
  void HandleHello(const SmtpCommand& command);
  void HandleMail(const SmtpCommand& command);
  void HandleRcpt(const SmtpCommand& command);
  void HandleData();
  void HandleStartTls();
  void HandleAuth(const SmtpCommand& command);
  void HandleAuthLine(std::string_view line);
  void FinishAuth(SmtpCredentials credentials);
  void HandleDataLine(std::string_view line);
  void FlushData();
  void EndOfData();
  void CompleteMessage(SmtpReply reply);
  void ResetTransaction();
  void AbortMessage();
  void Reply(int code, std::string_view text);
  void Reply(const SmtpReply& reply);
  void CloseSession();
  void AfterFraming();
  std::string EhloText() const;
  std::unique_ptr<LineFramer> NewFramer();

  SmtpServerTransport* const transport_;
  SmtpServerHandler* const handler_;
  const SmtpSessionOptions options_;
  LineFramer::Options framer_options_;
  std::unique_ptr<LineFramer> framer_;

  State state_ = State::kCommand;
  SmtpSessionInfo info_;
  bool hello_seen_ = false;
  bool in_transaction_ = false;  // MAIL accepted.
  SmtpEnvelope envelope_;
  // DATA phase.
  bool data_started_ = false;
  std::string data_buffer_;
  uint64_t data_bytes_ = 0;
  bool data_too_large_ = false;
  std::optional<SmtpReply> data_rejection_;
  // The answer to the last message is awaited.
  bool awaiting_completion_ = false;
  std::shared_ptr<SmtpCompletion::Slot> completion_slot_;
  bool in_framer_ = false;
  bool restart_framer_ = false;  // After STARTTLS: drop what was read.
  std::string pending_user_;     // AUTH LOGIN: the user name given.
  uint64_t messages_accepted_ = 0;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_SMTP_SMTP_SERVER_SESSION_H_
