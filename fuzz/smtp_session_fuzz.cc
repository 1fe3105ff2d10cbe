// Fuzz target for the SMTP server session and its command parser. The first
// input byte picks the options (STARTTLS and AUTH offered, TLS or AUTH
// required, the line, size and recipient limits, whether the application
// answers messages at once or later); the rest is what a client sends.
// Properties: the replies and the messages the application sees are the
// same whole, byte by byte and at random cuts (up to a STARTTLS, after
// which the bytes of the same read are dropped); every reply line is a code
// and a separator; every message handed over is canonical (CRLF lines) and
// within the size limit, with at most the recipient limit; nothing is sent
// after the session closed. Against SMTP smuggling: no more messages
// complete than the input holds <CRLF>.<CRLF>; a "521" (bare LF) is the
// last reply and closes the session; and nothing after the first bare LF
// is acted on (the input cut right after it gives the same replies and
// events as the whole input).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "io/check.h"
#include "protocols/smtp/smtp_command.h"
#include "protocols/smtp/smtp_server_session.h"

namespace ember::fuzz {
namespace {

using protocols::SmtpCompletion;
using protocols::SmtpCredentials;
using protocols::SmtpEnvelope;
using protocols::SmtpReply;
using protocols::SmtpServerHandler;
using protocols::SmtpServerSession;
using protocols::SmtpServerTransport;
using protocols::SmtpSessionInfo;
using protocols::SmtpSessionOptions;

struct Record {
  std::string out;
  std::vector<std::string> events;
  bool closed = false;
  // Where STARTTLS began: what a client sent after the command in the same
  // read is dropped (as it must be), so what follows depends on the cut.
  size_t tls_out = std::string::npos;
  size_t tls_events = std::string::npos;
};

class Transport : public SmtpServerTransport {
 public:
  explicit Transport(Record* record) : record_(record) {}
  void Send(std::string_view bytes) override {
    EMBER_CHECK_MSG(!record_->closed, "sent after close");
    record_->out.append(bytes);
  }
  bool StartTls() override {
    if (record_->tls_out == std::string::npos) {
      record_->tls_out = record_->out.size();
      record_->tls_events = record_->events.size();
    }
    return true;
  }
  void Close() override { record_->closed = true; }
  void ScheduleContinue() override { continue_asked = true; }
  bool continue_asked = false;

 private:
  Record* record_;
};

class Handler : public SmtpServerHandler {
 public:
  Handler(Record* record, const SmtpSessionOptions& options, bool async)
      : record_(record), options_(options), async_(async) {}
  SmtpReply OnAuth(const SmtpSessionInfo&, const SmtpCredentials& c) override {
    record_->events.push_back(absl::StrCat("auth ", c.mechanism, " ", c.user));
    if (c.password == "pw") return {235, "ok"};
    return {535, "no"};
  }
  SmtpReply OnRcptTo(const SmtpSessionInfo&, const SmtpEnvelope&,
                     const std::string& r) override {
    if (!r.empty() && r[0] == 'x') return {550, "no"};
    return {250, "ok"};
  }
  std::optional<SmtpReply> OnMessageData(std::string_view d) override {
    data_.append(d);
    if (data_.find("REJECT") != std::string::npos) {
      return SmtpReply{554, "rejected"};
    }
    return std::nullopt;
  }
  void OnMessageComplete(const SmtpSessionInfo& info, const SmtpEnvelope& env,
                         SmtpCompletion done) override {
    EMBER_CHECK_MSG(protocols::IsCanonicalMessage(data_), "not canonical");
    EMBER_CHECK_MSG(data_.size() <= options_.message_bytes_max, "too large");
    EMBER_CHECK_MSG(!env.recipients.empty() &&
                        env.recipients.size() <= options_.recipients_max,
                    "recipient count");
    EMBER_CHECK_MSG(!options_.require_tls || info.tls, "TLS bypassed");
    EMBER_CHECK_MSG(!options_.require_auth || !info.user.empty(),
                    "AUTH bypassed");
    record_->events.push_back(absl::StrCat("message from ", env.from, " to ",
                                           env.recipients.size(), ": ", data_));
    data_.clear();
    if (async_) {
      pending = done;
      return;
    }
    done.Reply({250, "kept"});
  }
  void OnMessageAborted() override {
    record_->events.push_back("aborted");
    data_.clear();
  }
  SmtpCompletion pending;

 private:
  Record* record_;
  const SmtpSessionOptions& options_;
  bool async_;
  std::string data_;
};

void CheckReplies(std::string_view out) {
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find("\r\n", pos);
    EMBER_CHECK_MSG(end != std::string_view::npos, "reply without CRLF");
    const std::string_view line = out.substr(pos, end - pos);
    EMBER_CHECK_MSG(line.size() >= 4, "short reply line");
    for (int i = 0; i < 3; ++i) {
      EMBER_CHECK_MSG(line[i] >= '0' && line[i] <= '9', "reply code");
    }
    EMBER_CHECK_MSG(line[3] == ' ' || line[3] == '-', "reply separator");
    pos = end + 2;
  }
}

bool EndsWithBareLfReply(std::string_view out) {
  constexpr std::string_view kReply =
      "521 5.5.2 Bare <LF> received, closing connection\r\n";
  return out.size() >= kReply.size() &&
         out.substr(out.size() - kReply.size()) == kReply &&
         (out.size() == kReply.size() ||
          out[out.size() - kReply.size() - 1] == '\n');
}

Record Run(std::string_view input, const std::vector<std::string_view>& cut,
           const SmtpSessionOptions& options, bool async) {
  Record record;
  Transport transport(&record);
  Handler handler(&record, options, async);
  SmtpServerSession session(&transport, &handler, options);
  session.Start();
  for (std::string_view piece : cut) {
    session.Feed(piece);
    // Answer held messages, then let the session go on, until it is idle.
    while (handler.pending.pending()) {
      handler.pending.Reply({250, "later"});
      EMBER_CHECK(transport.continue_asked);
      transport.continue_asked = false;
      session.Continue();
    }
  }
  session.Finish();
  CheckReplies(record.out);
  // A 521 (the only one is for a bare LF) is the last reply, and closes.
  // Searched at reply starts only: an EHLO reply echoes the client's text.
  for (size_t at = 0; at < record.out.size();
       at = record.out.find("\r\n", at) + 2) {
    if (record.out.compare(at, 4, "521 ") == 0) {
      EMBER_CHECK_MSG(record.out.find("\r\n", at) + 2 == record.out.size(),
                      "reply after 521");
      EMBER_CHECK_MSG(record.closed, "521 without close");
    }
  }
  return record;
}

}  // namespace
}  // namespace ember::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  if (size < 1) return 0;
  const uint8_t config = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (input.size() > 64 * 1024) return 0;

  // Every line through the parser alone: it must not fail, and a known verb
  // must be recognised again from its own name.
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    const auto command = ember::protocols::ParseCommand(input.substr(pos, end - pos));
    if (command.verb != ember::protocols::SmtpVerb::kUnknown) {
      const std::string name(ember::protocols::SmtpVerbName(command.verb));
      EMBER_CHECK(ember::protocols::ParseCommand(name).verb == command.verb);
    }
    pos = end + 1;
  }

  SmtpSessionOptions options;
  options.offer_starttls = config & 1;
  options.offer_auth = config & 2;
  options.auth_requires_tls = config & 4;
  options.require_tls = (config & 8) && options.offer_starttls;
  options.require_auth = (config & 16) && options.offer_auth;
  options.line_bytes_max = (config & 32) ? 40 : 1000;
  options.message_bytes_max = (config & 64) ? 100 : 100000;
  options.recipients_max = (config & 64) ? 2 : 100;
  options.data_chunk_bytes = 32;
  const bool async = config & 128;

  uint64_t seed = 0;
  for (char c : input.substr(0, 8)) seed = seed * 131 + static_cast<uint8_t>(c);
  const auto cuts = Cuts(input, seed);
  const Record whole = Run(input, cuts[0], options, async);

  // Every message needs a real end of data: count (overlapping) <CRLF>.<CRLF>.
  size_t ends = 0;
  for (size_t at = input.find("\r\n.\r\n"); at != std::string_view::npos;
       at = input.find("\r\n.\r\n", at + 1)) {
    ++ends;
  }
  size_t messages = 0;
  for (const std::string& event : whole.events) {
    if (event.rfind("message from ", 0) == 0) ++messages;
  }
  EMBER_CHECK_MSG(messages <= ends, "a message ended without <CRLF>.<CRLF>");

  // The first bare LF: when the session answers it with 521, nothing after
  // it in the input changes anything.
  size_t lf = 0;
  while (lf < input.size() &&
         !(input[lf] == '\n' && (lf == 0 || input[lf - 1] != '\r'))) {
    ++lf;
  }
  if (lf < input.size()) {
    const std::vector<std::string_view> head_cut = {input.substr(0, lf + 1)};
    const Record head = Run(input.substr(0, lf + 1), head_cut, options, async);
    if (EndsWithBareLfReply(head.out)) {
      EMBER_CHECK_MSG(whole.out == head.out, "replies after a bare LF");
      EMBER_CHECK_MSG(whole.events == head.events, "events after a bare LF");
    }
  }
  for (size_t i = 1; i < cuts.size(); ++i) {
    Record other = Run(input, cuts[i], options, async);
    EMBER_CHECK_MSG(other.tls_out == whole.tls_out, "STARTTLS depends on the cut");
    if (whole.tls_out != std::string::npos) {
      // Compare up to the STARTTLS only.
      other.out.resize(whole.tls_out);
      other.events.resize(whole.tls_events);
      Record head = whole;
      head.out.resize(whole.tls_out);
      head.events.resize(whole.tls_events);
      EMBER_CHECK_MSG(other.out == head.out, "replies depend on the cut");
      EMBER_CHECK_MSG(other.events == head.events, "events depend on the cut");
      continue;
    }
    EMBER_CHECK_MSG(other.out == whole.out, "replies depend on the cut");
    EMBER_CHECK_MSG(other.events == whole.events, "events depend on the cut");
    EMBER_CHECK(other.closed == whole.closed);
  }
  return 0;
}
