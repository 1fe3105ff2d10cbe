// Test doubles for SmtpServerSession: a transport that records what the
// session sends, and a handler whose answers each test sets.

#ifndef EMBER_TESTS_PROTOCOLS_SMTP_SMTP_TEST_UTIL_H_
#define EMBER_TESTS_PROTOCOLS_SMTP_SMTP_TEST_UTIL_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/smtp/smtp_server_session.h"

namespace ember::protocols::testing {

class RecordingTransport : public SmtpServerTransport {
 public:
  void Send(std::string_view bytes) override { out.append(bytes); }
  bool StartTls() override {
    ++tls_starts;
    return tls_ok;
  }
  void Close() override { closed = true; }
  void ScheduleContinue() override { ++continues; }

  // The reply codes sent so far (the last line of each reply), in order.
  std::vector<int> Codes() const;
  // Forgets what was sent.
  std::string Take() {
    std::string taken = std::move(out);
    out.clear();
    return taken;
  }

  std::string out;
  bool closed = false;
  bool tls_ok = true;
  int tls_starts = 0;
  int continues = 0;
};

// Everything a handler saw, as a flat log, with answers the test chooses.
class ScriptedHandler : public SmtpServerHandler {
 public:
  SmtpReply OnAuth(const SmtpSessionInfo& info,
                   const SmtpCredentials& credentials) override;
  SmtpReply OnMailFrom(const SmtpSessionInfo& info,
                       const SmtpEnvelope& envelope) override;
  SmtpReply OnRcptTo(const SmtpSessionInfo& info, const SmtpEnvelope& envelope,
                     const std::string& recipient) override;
  std::optional<SmtpReply> OnMessageData(std::string_view data) override;
  void OnMessageComplete(const SmtpSessionInfo& info,
                         const SmtpEnvelope& envelope,
                         SmtpCompletion done) override;
  void OnMessageAborted() override {
    ++aborted;
    data.clear();
  }

  // Answers the test sets (nullopt: the default).
  std::function<SmtpReply(const std::string&)> rcpt;
  std::optional<SmtpReply> mail;
  std::optional<SmtpReply> data_reject;
  bool async = false;  // Keep `pending` instead of answering 250.

  std::string data;                   // Current message's data so far.
  std::vector<std::string> messages;  // Completed messages' data.
  std::vector<SmtpEnvelope> envelopes;
  std::vector<SmtpCredentials> credentials;
  std::vector<std::string> chunks;  // Every OnMessageData piece.
  SmtpCompletion pending;
  int aborted = 0;
};

}  // namespace ember::protocols::testing

#endif  // EMBER_TESTS_PROTOCOLS_SMTP_SMTP_TEST_UTIL_H_
