// SendMail: the SMTP client. One call sends one message over one
// connection and reports once, with what became of it.
//
//   SmtpMessage message;
//   message.from = "app@example.com";
//   message.to = {"a@example.org", "b@example.org"};
//   message.content = ComposeMessage({{"Subject", "Hi"}}, "Hello.\r\n");
//   SendMail(reactor, "127.0.0.1", 25, std::move(message), {},
//            [](SmtpSendResult result) { ... result.outcome ... });
//
// The conversation: the greeting, EHLO (HELO when EHLO is refused with a
// 5xx), STARTTLS when the server offers it and options.tls is set (or fail
// when options.tls_mode is kRequired and it is not offered), EHLO again
// under TLS, AUTH PLAIN when credentials are given, then MAIL FROM (with
// SIZE= when the server takes SIZE, BODY=8BITMIME for 8-bit content when
// it offers 8BITMIME), one RCPT TO per recipient and DATA — sent in one
// write when the server offers PIPELINING — then the dot-stuffed content and
// QUIT. The result never claims more than the client saw:
//
//   outcome       status code          when
//   kSent         OK                   a 2xx answered the final dot
//   kRejected     kUnavailable         a 4xx refused it (retry later)
//                 kResourceExhausted   552 (too large)
//                 kUnauthenticated     AUTH refused (535, 530, 538)
//                 kFailedPrecondition  any other 5xx (do not retry)
//   kUnconfirmed  kUnknown             the connection broke or the reply
//                                      timed out after the final dot was
//                                      sent: the server may or may not
//                                      have taken the message
//   kFailed       kUnavailable         the connection broke (or was
//                                      refused) before the final dot
//                 kDeadlineExceeded    a reply did not come in time
//                 kInvalidArgument     the server's reply was malformed
//                 kResourceExhausted   a reply over the line/line-count
//                                      limits
//                 kFailedPrecondition  TLS or AUTH required, not offered
//
// `reply` holds the reply that decided (rejections, and the 250 of a sent
// message); `recipients` one reply per recipient that got one. A message
// goes to the recipients that were accepted even when others were refused
// (their replies say which).
//
// Times come only from the reactor's clock, so SendMail runs under the
// simulator unchanged.

#ifndef EMBER_PROTOCOLS_SMTP_SMTP_CLIENT_H_
#define EMBER_PROTOCOLS_SMTP_SMTP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "protocols/smtp/smtp_command.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_engine.h"
#include "reactor/reactor.h"

namespace ember::protocols {

struct SmtpMessage {
  std::string from;             // Reverse path; empty for the null sender.
  std::vector<std::string> to;  // At least one.
  // Headers, a blank line, the body (RFC 5322); line ends are normalised to
  // CRLF on the wire (see DotStuff): a bare LF is sent as CRLF, never alone
  // (servers refuse it, see smtp_server_session.h), and a bare CR stays
  // data.
  std::string content;
};

// "Name: value\r\n" for each header, "\r\n", then `body`.
std::string ComposeMessage(
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body);

enum class SmtpTlsMode {
  kNever,      // Never STARTTLS.
  kIfOffered,  // STARTTLS when offered and `tls` is set.
  kRequired,   // Fail (kFailedPrecondition) unless STARTTLS succeeds.
};

struct SmtpClientOptions {
  // No CR or LF (SendMail returns kInvalidArgument).
  std::string helo_name = "localhost";
  SmtpTlsMode tls_mode = SmtpTlsMode::kIfOffered;
  // A client TLS context for STARTTLS; its verification applies, against
  // tls_session.server_name (the host given to SendMail when empty).
  std::shared_ptr<const tls::TlsContext> tls;
  tls::TlsSessionOptions tls_session;
  // AUTH PLAIN with these when set; the server must offer it.
  std::optional<std::pair<std::string, std::string>> user_password;
  // Send MAIL, RCPT and DATA together when the server offers PIPELINING.
  bool pipelining = true;
  absl::Duration connect_timeout = absl::Seconds(30);
  // The longest wait for each reply, and for the one to the final dot
  // (RFC 5321 4.5.3.2 suggests 5 and 10 minutes).
  absl::Duration reply_timeout = absl::Minutes(5);
  absl::Duration final_reply_timeout = absl::Minutes(10);
  // Limits on a reply: bytes in one line (without CRLF) and lines.
  size_t reply_line_bytes_max = 4096;
  size_t reply_lines_max = 64;
};

enum class SmtpOutcome { kSent, kRejected, kUnconfirmed, kFailed };
std::string_view SmtpOutcomeName(SmtpOutcome outcome);

struct SmtpRecipientResult {
  std::string address;
  SmtpReply reply;
  bool accepted() const { return reply.positive(); }
};

struct SmtpSendResult {
  SmtpOutcome outcome = SmtpOutcome::kFailed;
  absl::Status status;
  std::optional<SmtpReply> reply;
  std::vector<SmtpRecipientResult> recipients;
  bool tls = false;  // The message went (or would have gone) under TLS.
};

using SmtpSendCallback = absl::AnyInvocable<void(SmtpSendResult result)>;

// Connects to `host:port` and sends `message`; `done` is called exactly
// once, from the loop. Returns kInvalidArgument for a message without
// recipients or with an address holding "<", ">", CR, LF or a space, and
// Reactor::Connect's errors; then `done` is never called.
absl::Status SendMail(Reactor& reactor, std::string_view host, uint16_t port,
                      SmtpMessage message, SmtpClientOptions options,
                      SmtpSendCallback done);

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_SMTP_SMTP_CLIENT_H_
