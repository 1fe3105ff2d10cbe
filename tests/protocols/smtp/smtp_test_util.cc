#include "tests/protocols/smtp/smtp_test_util.h"

#include <cstdlib>
#include <string>
#include <vector>

namespace ember::protocols::testing {

std::vector<int> RecordingTransport::Codes() const {
  std::vector<int> codes;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\r\n", pos);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(pos, end - pos);
    // A reply's last line has a space (or nothing) after the code.
    if (line.size() >= 3 && (line.size() == 3 || line[3] == ' ')) {
      codes.push_back(std::atoi(line.substr(0, 3).c_str()));
    }
    pos = end + 2;
  }
  return codes;
}

SmtpReply ScriptedHandler::OnAuth(const SmtpSessionInfo& info,
                                  const SmtpCredentials& c) {
  credentials.push_back(c);
  if (c.user == "user" && c.password == "secret") {
    return {235, "2.7.0 Authentication successful"};
  }
  return SmtpServerHandler::OnAuth(info, c);
}

SmtpReply ScriptedHandler::OnMailFrom(const SmtpSessionInfo& info,
                                      const SmtpEnvelope& envelope) {
  if (mail) return *mail;
  return SmtpServerHandler::OnMailFrom(info, envelope);
}

SmtpReply ScriptedHandler::OnRcptTo(const SmtpSessionInfo& info,
                                    const SmtpEnvelope& envelope,
                                    const std::string& recipient) {
  if (rcpt) return rcpt(recipient);
  return SmtpServerHandler::OnRcptTo(info, envelope, recipient);
}

std::optional<SmtpReply> ScriptedHandler::OnMessageData(std::string_view d) {
  chunks.emplace_back(d);
  data.append(d);
  return data_reject;
}

void ScriptedHandler::OnMessageComplete(const SmtpSessionInfo& info,
                                        const SmtpEnvelope& envelope,
                                        SmtpCompletion done) {
  messages.push_back(data);
  envelopes.push_back(envelope);
  data.clear();
  if (async) {
    pending = done;
    return;
  }
  done.Reply({250, "2.0.0 Stored"});
}

}  // namespace ember::protocols::testing
