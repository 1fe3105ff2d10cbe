// Goal: over many seeds and fault plans (ideal, LAN, WAN, swarm, hostile),
// SendMail and SmtpServer never lose or duplicate a message and never
// misreport one:
//   - a message is stored exactly once if and only if the server answered
//     250 to its DATA (the sweep's store keeps a message in the same step
//     as it answers, as a real store answers after its fsync);
//   - a client that saw the 250 reports kSent, and the stored bytes are
//     the ones it sent;
//   - a client whose connection broke after its final dot reports
//     kUnconfirmed, never kSent or kFailed; a client that reports kFailed
//     never sent its final dot, so nothing of it is stored;
//   - rejections (a refused recipient, a 451 to the dot) are reported as
//     kRejected and store nothing;
//   - when the plan can neither break a stream nor partition the network,
//     every message that is not rejected on purpose is sent.
// Messages go pipelined or not, a quarter of them over STARTTLS (required
// by the client, verified against a test CA), with bodies whose lines start
// with dots, and the store answers at once or after a delay.
//
// Seeds: EMBER_SEED=<n> replays one, EMBER_SEEDS=<count> widens the sweep,
// and Bazel's shard_count splits it. A failure prints the replay command.

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/smtp/smtp_client.h"
#include "protocols/smtp/smtp_server.h"
#include "reactor/reactor.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "sim/sim_network.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::protocols {
namespace {

constexpr uint16_t kPort = 25;
constexpr int kMessages = 40;

int g_messages = 0;
int g_sent = 0;
int g_unconfirmed = 0;
int g_failed = 0;
int g_rejected = 0;

bool UsesTls(int id) { return id % 4 == 2; }

// Certificates valid for ten years either side of the simulator's start, so
// that the plans' wall clock jumps never expire them; made once per process
// (their keys differ between processes, their sizes do not).
struct Credentials {
  Credentials()
      : ca("Ember SMTP Sweep CA", Start() - absl::Hours(24 * 3650),
           Start() + absl::Hours(24 * 3650)) {
    tls::testing::CertSpec spec =
        tls::testing::ServerSpec(Start(), {"localhost"}, {"127.0.0.1"});
    spec.not_before = Start() - absl::Hours(24 * 3650);
    spec.not_after = Start() + absl::Hours(24 * 3650);
    server = ca.Issue(spec);
  }
  static absl::Time Start() { return sim::SimOptions().wall_start; }
  tls::testing::TestCa ca;
  tls::TlsCertificate server;
};

const Credentials& Creds() {
  static const Credentials* creds = new Credentials();
  return *creds;
}

// Contexts are made for each run: a context kept across runs would carry
// its session cache from one run into the next (resumption), and the same
// seed would then take a different course.
struct RunContexts {
  RunContexts() {
    // Handshakes may take as long as any stall a plan causes: only broken
    // streams fail messages.
    tls::TlsOptions server_options;
    server_options.handshake_timeout = absl::Hours(1);
    server_options.certificates.push_back(Creds().server);
    server = *tls::TlsContext::Create(tls::TlsRole::kServer, server_options);
    tls::TlsOptions client_options;
    client_options.handshake_timeout = absl::Hours(1);
    client_options.ca_pem = Creds().ca.cert_pem();
    client = *tls::TlsContext::Create(tls::TlsRole::kClient, client_options);
  }
  std::shared_ptr<const tls::TlsContext> server;
  std::shared_ptr<const tls::TlsContext> client;
};

bool RefusedRecipient(int id) { return id % 7 == 3; }
bool RefusedAtTheDot(int id) { return id % 11 == 5; }

std::string ContentOf(int id) {
  std::string body;
  for (int line = 0; line < id % 9; ++line) {
    absl::StrAppend(&body, line % 3 == 0 ? "." : "", "line ", line, " of ",
                    id, line % 4 == 1 ? "\r\n.\r\n" : "\r\n");
  }
  body.append(static_cast<size_t>(id * 131 % 4000), 'a' + id % 26);
  body.append("\r\n");
  return ComposeMessage({{"X-Id", absl::StrCat(id)}}, body);
}

int IdOf(std::string_view content) {
  int id = -1;
  if (content.substr(0, 6) != "X-Id: ") return -1;
  const size_t end = content.find("\r\n");
  if (!absl::SimpleAtoi(AbslView(content.substr(6, end - 6)), &id)) return -1;
  return id;
}

struct Store {
  std::vector<int> stored;         // Times each id was stored.
  std::vector<bool> answered_250;  // The server answered 250.
  std::vector<std::string> bytes;  // What was stored.
  int timers = 0;                  // Delayed answers still to come.
  std::string error;
};

class StoreHandler : public SmtpServerHandler {
 public:
  StoreHandler(Reactor& reactor, Store* store)
      : reactor_(reactor), store_(store) {}
  SmtpReply OnRcptTo(const SmtpSessionInfo&, const SmtpEnvelope&,
                     const std::string& r) override {
    if (r.rfind("refuse", 0) == 0) return {550, "5.1.1 No such user"};
    return {250, "2.1.5 OK"};
  }
  std::optional<SmtpReply> OnMessageData(std::string_view d) override {
    data_.append(d);
    return std::nullopt;
  }
  void OnMessageAborted() override { data_.clear(); }
  void OnMessageComplete(const SmtpSessionInfo&, const SmtpEnvelope&,
                         SmtpCompletion done) override {
    const int id = IdOf(data_);
    std::string data = std::move(data_);
    data_.clear();
    if (id < 0 || id >= static_cast<int>(store_->stored.size())) {
      store_->error = "a message without a valid X-Id";
      done.Reply({554, "5.6.0 No id"});
      return;
    }
    if (RefusedAtTheDot(id)) {
      done.Reply({451, "4.3.0 Not now"});
      return;
    }
    auto keep = [store = store_, id, data = std::move(data), done]() mutable {
      // Kept and answered in one step: stored iff answered 250.
      if (!done.pending()) return;
      store->stored[id]++;
      store->answered_250[id] = true;
      store->bytes[id] = std::move(data);
      done.Reply({250, "2.0.0 Kept"});
    };
    if (id % 3 == 0) {
      keep();
      return;
    }
    store_->timers++;
    auto timer = reactor_.AddTimer(
        absl::Milliseconds(id % 40), [store = store_, keep]() mutable {
          store->timers--;
          keep();
        });
    EMBER_CHECK(timer.ok());
  }

 private:
  Reactor& reactor_;
  Store* store_;
  std::string data_;
};

struct Outcome {
  int calls = 0;
  SmtpSendResult result;
};

absl::Status RunOne(Reactor& reactor, sim::SimNetwork& net) {
  Store store;
  store.stored.assign(kMessages, 0);
  store.answered_250.assign(kMessages, false);
  store.bytes.assign(kMessages, "");
  std::vector<Outcome> outcomes(kMessages);

  const RunContexts contexts;
  SmtpServerOptions server_options;
  // Far beyond any stall a plan causes: only broken streams fail messages.
  server_options.command_timeout = absl::Hours(1);
  server_options.data_timeout = absl::Hours(1);
  server_options.tls = contexts.server;
  auto server = std::make_unique<SmtpServer>(reactor, server_options, [&] {
    return std::make_unique<StoreHandler>(reactor, &store);
  });
  EMBER_RETURN_IF_ERROR(server->Listen("127.0.0.1", kPort).status());

  absl::Status issue_error;
  for (int id = 0; id < kMessages; ++id) {
    auto timer = reactor.AddTimer(absl::Milliseconds(7 * id), [&, id] {
      SmtpMessage message;
      message.from = absl::StrCat("sender", id, "@x.test");
      message.to = {absl::StrCat("r", id, "@y.test")};
      if (RefusedRecipient(id)) {
        message.to = {absl::StrCat("refuse", id, "@y.test")};
      } else if (id % 5 == 1) {
        message.to.push_back(absl::StrCat("refuse-also", id, "@y.test"));
      }
      message.content = ContentOf(id);
      SmtpClientOptions options;
      options.pipelining = id % 2 == 0;
      if (UsesTls(id)) {
        options.tls = contexts.client;
        options.tls_mode = SmtpTlsMode::kRequired;
      } else {
        options.tls_mode = SmtpTlsMode::kNever;
      }
      options.connect_timeout = absl::Minutes(5);
      options.reply_timeout = absl::Minutes(20);
      options.final_reply_timeout = absl::Minutes(20);
      absl::Status status = SendMail(
          reactor, "127.0.0.1", kPort, std::move(message), options,
          [&outcomes, id](SmtpSendResult r) {
            outcomes[id].calls++;
            outcomes[id].result = std::move(r);
          });
      if (!status.ok()) issue_error = status;
    });
    EMBER_RETURN_IF_ERROR(timer.status());
  }
  auto all_called = [&] {
    for (const Outcome& o : outcomes) {
      if (o.calls == 0) return false;
    }
    return store.timers == 0;
  };
  absl::Status waited = sim::RunUntil(reactor, all_called, absl::Hours(3));
  if (!waited.ok() && waited.code() != absl::StatusCode::kDeadlineExceeded) {
    return waited;
  }
  EMBER_RETURN_IF_ERROR(issue_error);
  if (!store.error.empty()) return absl::InternalError(store.error);

  const bool lossless =
      !net.plan().BreaksStreams() && net.plan().partition_probability == 0;
  for (int id = 0; id < kMessages; ++id) {
    const Outcome& o = outcomes[id];
    const std::string who = absl::StrCat("message ", id);
    if (o.calls != 1) {
      return absl::InternalError(
          absl::StrCat(who, ": ", o.calls, " callbacks, not 1"));
    }
    const SmtpSendResult& r = o.result;
    const std::string what = absl::StrCat(
        who, " (", AbslView(SmtpOutcomeName(r.outcome)), ", ", r.status.ToString(), ")");
    if (store.stored[id] > 1) {
      return absl::InternalError(absl::StrCat(what, ": stored ",
                                              store.stored[id], " times"));
    }
    if ((store.stored[id] == 1) != store.answered_250[id]) {
      return absl::InternalError(
          absl::StrCat(what, ": stored without a 250, or a 250 unstored"));
    }
    if (store.answered_250[id] && r.outcome != SmtpOutcome::kSent &&
        r.outcome != SmtpOutcome::kUnconfirmed) {
      return absl::InternalError(
          absl::StrCat(what, ": the server answered 250"));
    }
    switch (r.outcome) {
      case SmtpOutcome::kSent:
        g_sent++;
        if (r.tls != UsesTls(id)) {
          return absl::InternalError(absl::StrCat(what, ": TLS ", r.tls));
        }
        if (!r.status.ok() || !store.answered_250[id] ||
            store.bytes[id] != ContentOf(id)) {
          return absl::InternalError(
              absl::StrCat(what, ": reported sent, but stored ",
                           store.stored[id], " times, ",
                           store.bytes[id].size(), " bytes of ",
                           ContentOf(id).size()));
        }
        if (id % 5 == 1 && (r.recipients.size() != 2 ||
                            !r.recipients[0].accepted() ||
                            r.recipients[1].reply.code != 550)) {
          return absl::InternalError(
              absl::StrCat(what, ": per-recipient results wrong"));
        }
        break;
      case SmtpOutcome::kRejected:
        g_rejected++;
        if (!RefusedRecipient(id) && !RefusedAtTheDot(id)) {
          return absl::InternalError(absl::StrCat(what, ": not refused"));
        }
        if (store.stored[id] != 0) {
          return absl::InternalError(absl::StrCat(what, ": stored"));
        }
        if (r.status.code() !=
            (RefusedRecipient(id) ? absl::StatusCode::kFailedPrecondition
                                  : absl::StatusCode::kUnavailable)) {
          return absl::InternalError(absl::StrCat(what, ": wrong status"));
        }
        break;
      case SmtpOutcome::kUnconfirmed:
        g_unconfirmed++;
        if (r.status.code() != absl::StatusCode::kUnknown) {
          return absl::InternalError(absl::StrCat(what, ": wrong status"));
        }
        if (lossless) {
          return absl::InternalError(
              absl::StrCat(what, ": unconfirmed on a lossless plan"));
        }
        break;
      case SmtpOutcome::kFailed:
        g_failed++;
        if (store.stored[id] != 0) {
          return absl::InternalError(
              absl::StrCat(what, ": failed before its dot, but stored"));
        }
        if (r.status.code() != absl::StatusCode::kUnavailable &&
            r.status.code() != absl::StatusCode::kDeadlineExceeded) {
          return absl::InternalError(absl::StrCat(what, ": wrong status"));
        }
        if (lossless) {
          return absl::InternalError(
              absl::StrCat(what, ": failed on a lossless plan"));
        }
        break;
    }
    if (lossless && !RefusedRecipient(id) && !RefusedAtTheDot(id) &&
        r.outcome != SmtpOutcome::kSent) {
      return absl::InternalError(absl::StrCat(what, ": not sent"));
    }
  }
  g_messages += kMessages;
  server.reset();
  return sim::RunUntil(
      reactor, [&] { return reactor.ConnectionCount() == 0; },
      absl::Minutes(30));
}

void Sweep(const char* plan_name, uint64_t first, uint64_t count) {
  g_messages = g_sent = g_unconfirmed = g_failed = g_rejected = 0;
  const sim::SweepSummary summary =
      sim::Sweep(plan_name, first, count, RunOne);
  std::cout << plan_name << ": " << summary.runs << " seeds, " << g_messages
            << " messages: " << g_sent << " sent, " << g_rejected
            << " rejected, " << g_unconfirmed << " unconfirmed, " << g_failed
            << " failed\n";
}

TEST(SmtpSimSweepTest, Ideal) { Sweep("ideal", 1, 4); }
TEST(SmtpSimSweepTest, Lan) { Sweep("lan", 100, 60); }
TEST(SmtpSimSweepTest, Wan) { Sweep("wan", 200, 60); }
TEST(SmtpSimSweepTest, Swarm) { Sweep("swarm", 1000, 200); }
TEST(SmtpSimSweepTest, Hostile) { Sweep("hostile", 5000, 40); }

TEST(SmtpSimSweepTest, OneSeedReplaysExactly) {
  // Goal: the same seed and plan give the same run, event for event.
  sim::SimOptions options;
  options.seed = 77;
  options.plan = sim::FaultPlan::Wan();
  absl::Status status = sim::CheckDeterministic(options, RunOne);
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace ember::protocols
