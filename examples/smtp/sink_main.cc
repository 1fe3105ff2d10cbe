// An SMTP sink that keeps every message in a Maildir folder:
//   ./bazelw run //examples/smtp:sink -- --port=2525 --maildir=/tmp/mail
// then `swaks --server 127.0.0.1:2525 --to you@example.org` delivers one.
// With --tls_cert=FILE --tls_key=FILE it offers STARTTLS.
//
// Each message is written to tmp/, fsync'd, renamed into new/, and new/ is
// fsync'd; only then does the client get its 250. So no partial message is
// ever in new/, and a message that got a 250 is on disk even if the sink is
// killed right after. The file I/O runs through io::Network::Offload: the
// real backend runs it on its worker pool, so one slow fsync does not stall
// every other connection; the answer waits for the work to finish. A
// message is held in memory until then, so --max_message_bytes bounds the
// memory a connection takes.

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/common/flags.h"
#include "examples/common/server_program.h"
#include "examples/common/tls_flags.h"
#include "examples/smtp/maildir.h"
#include "protocols/smtp/smtp_server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 2525, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, maildir, "", "Maildir folder to deliver into");
ABSL_FLAG(int64_t, max_message_bytes, 10 << 20, "largest message accepted");

namespace ember::examples {
namespace {

using protocols::SmtpCompletion;
using protocols::SmtpEnvelope;
using protocols::SmtpReply;
using protocols::SmtpServerHandler;
using protocols::SmtpSessionInfo;

class SinkHandler : public SmtpServerHandler {
 public:
  SinkHandler(Reactor& reactor, std::string maildir, uint64_t* counter)
      : reactor_(reactor), maildir_(std::move(maildir)), counter_(counter) {}

  std::optional<SmtpReply> OnMessageData(std::string_view data) override {
    data_.append(data);
    return std::nullopt;
  }
  void OnMessageAborted() override { data_.clear(); }

  void OnMessageComplete(const SmtpSessionInfo&, const SmtpEnvelope& envelope,
                         SmtpCompletion done) override {
    // Maildir's unique name: time, process and a per-process counter.
    const std::string name = absl::StrCat(
        absl::ToUnixSeconds(reactor_.WallNow()), ".P", ::getpid(), "Q",
        ++*counter_, ".ember");
    std::string message =
        absl::StrCat("Return-Path: <", envelope.from, ">\r\n", data_);
    data_.clear();
    auto result = std::make_shared<absl::StatusOr<std::string>>(
        absl::UnknownError("not run"));
    absl::Status offloaded = reactor_.network().Offload(
        [result, root = maildir_, name, message = std::move(message)] {
          *result = DeliverToMaildir(root, name, message);
        },
        [result, done, name]() mutable {
          if (result->ok()) {
            done.Reply({250, absl::StrCat("2.0.0 Stored as ", name)});
          } else {
            std::fprintf(stderr, "sink: %s\n",
                         result->status().ToString().c_str());
            done.Reply({451, "4.3.0 Could not store the message"});
          }
        });
    if (!offloaded.ok()) done.Reply({451, "4.3.0 Busy, try again later"});
  }

 private:
  Reactor& reactor_;
  const std::string maildir_;
  uint64_t* counter_;
  std::string data_;
};

}  // namespace
}  // namespace ember::examples

int main(int argc, char** argv) {
  using namespace ember;
  examples::ParseExampleFlags(
      argc, argv,
      "An SMTP sink delivering every message into a Maildir folder.\n"
      "  sink --maildir=DIR [--host=H] [--port=P] [--max_message_bytes=N] "
      "[--tls_cert=FILE --tls_key=FILE]");
  const std::string maildir = absl::GetFlag(FLAGS_maildir);
  if (maildir.empty()) {
    std::fprintf(stderr, "sink: --maildir is required\n");
    return 2;
  }
  if (absl::Status s = examples::PrepareMaildir(maildir); !s.ok()) {
    std::fprintf(stderr, "sink: %s\n", s.ToString().c_str());
    return 2;
  }
  auto tls = examples::ServerTlsFromFlags();
  if (!tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().ToString().c_str());
    return 2;
  }
  auto program = examples::ServerProgram::Create(absl::GetFlag(FLAGS_port));
  if (!program.ok()) {
    std::fprintf(stderr, "%s\n", program.status().ToString().c_str());
    return 2;
  }
  Reactor& reactor = (*program)->reactor();
  protocols::SmtpServerOptions options;
  options.tls = *tls;
  options.session.hostname = "ember-sink";
  options.session.message_bytes_max =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_message_bytes));
  uint64_t counter = 0;
  protocols::SmtpServer server(reactor, options, [&] {
    return std::make_unique<examples::SinkHandler>(reactor, maildir, &counter);
  });
  return (*program)->Run(*tls != nullptr ? "smtp sink (STARTTLS)" : "smtp sink",
                         server.Listen(absl::GetFlag(FLAGS_host),
                                       (*program)->port()));
}
