// Goal: the Maildir sink (//examples/smtp:sink) never stores a partial
// message and never loses one it answered 250, even when killed with
// SIGKILL at any moment. A client streams messages (four at a time, sizes
// from a few bytes to 200 KB) while the sink is killed at a seeded random
// moment; the sink is restarted on the same folder for the next round.
// After every round: each file in new/ is exactly one whole message
// (Return-Path line and the content sent), no message is there twice, and
// every message the client saw accepted (kSent) is there.
//
// EMBER_SEED=<n> picks the seed (default 1): it decides the sizes, how many
// answers the sink gives before the kill and the extra delay. The kill time
// is real time, so a seed does not replay exactly; the property holds for
// every moment.

#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "protocols/smtp/smtp_client.h"
#include "reactor/reactor.h"
#include "sim/random.h"
#include "tests/common/subprocess.h"

namespace ember::protocols {
namespace {

using testing_support::ChildProcess;

constexpr int kRounds = 6;
constexpr int kInFlight = 4;

using sim::SplitMix64;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Sent {
  std::string stored_form;  // What the sink's file must hold.
  std::optional<SmtpOutcome> outcome;
};

TEST(SmtpSinkKillTest, NothingPartialAndNothingAcceptedIsLost) {
  uint64_t seed = 1;
  if (const char* s = std::getenv("EMBER_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(s, &seed)) << s;
  }
  SplitMix64 random(seed);
  const std::string maildir =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/maildir");
  const std::string sink = absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                                        std::getenv("TEST_WORKSPACE"),
                                        "/examples/smtp/sink");
  std::map<std::string, Sent> messages;  // By X-Msg id.
  int totals[4] = {0, 0, 0, 0};

  for (int round = 0; round < kRounds; ++round) {
    auto child =
        ChildProcess::Start({sink, "--port=0", "--maildir=" + maildir});
    ASSERT_TRUE(child.ok()) << child.status();
    auto line = (*child)->ReadLine(absl::Seconds(20));
    ASSERT_TRUE(line.ok()) << line.status();
    const size_t colon = line->find("127.0.0.1:");
    ASSERT_NE(colon, std::string::npos) << *line;
    const std::string rest = line->substr(colon + 10);
    int port = 0;
    ASSERT_TRUE(
        absl::SimpleAtoi(AbslView(rest.substr(0, rest.find(' '))), &port));

    auto network = io::EpollNetwork::Create();
    ASSERT_TRUE(network.ok()) << network.status();
    Reactor reactor(**network);

    const uint64_t kill_after = random.Next() % 24;
    const int64_t extra_us = static_cast<int64_t>(random.Next() % 3000);
    uint64_t answered = 0;
    int in_flight = 0;
    int next = 0;
    bool killed = false;
    std::function<void()> send_one;
    send_one = [&] {
      const std::string id = absl::StrCat(round, "-", next++);
      const size_t size = random.Next() % 4 == 0
                              ? random.Next() % 200000
                              : random.Next() % 2000;
      std::string body;
      while (body.size() < size) {
        absl::StrAppend(&body, body.size() % 7 == 0 ? "." : "",
                        "line of ", id, " at ", body.size(), "\r\n");
      }
      SmtpMessage message;
      message.from = absl::StrCat("sender-", id, "@x.test");
      message.to = {"sink@y.test"};
      message.content = ComposeMessage({{"X-Msg", id}}, body);
      messages[id].stored_form =
          absl::StrCat("Return-Path: <", message.from, ">\r\n",
                       message.content);
      SmtpClientOptions options;
      options.reply_timeout = absl::Seconds(30);
      options.final_reply_timeout = absl::Seconds(30);
      ++in_flight;
      absl::Status status = SendMail(
          reactor, "127.0.0.1", static_cast<uint16_t>(port),
          std::move(message), options, [&, id](SmtpSendResult r) {
            --in_flight;
            messages[id].outcome = r.outcome;
            totals[static_cast<int>(r.outcome)]++;
            if (r.outcome == SmtpOutcome::kSent &&
                ++answered == kill_after + 1) {
              // The kill comes a little after this answer, in real time.
              auto timer = reactor.AddTimer(
                  absl::Microseconds(extra_us), [&] {
                    ::kill((*child)->pid(), SIGKILL);
                    killed = true;
                  });
              EXPECT_TRUE(timer.ok());
            }
            if (!killed && next < 400) send_one();
          });
      ASSERT_TRUE(status.ok()) << status;
    };
    for (int i = 0; i < kInFlight; ++i) send_one();
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while ((!killed || in_flight > 0) && absl::Now() < deadline) {
      ASSERT_TRUE(reactor.RunOnce(absl::Now() + absl::Milliseconds(50)).ok());
    }
    ASSERT_TRUE(killed) << "round " << round << ": the kill never came";
    ASSERT_EQ(in_flight, 0) << "round " << round << ": results missing";
    child->reset();  // Reaps the killed sink.

    // The folder after the kill.
    std::map<std::string, int> found;
    for (const auto& entry :
         std::filesystem::directory_iterator(maildir + "/new")) {
      const std::string content = ReadFile(entry.path());
      const size_t at = content.find("\r\nX-Msg: ");
      ASSERT_NE(at, std::string::npos) << entry.path();
      const size_t end = content.find("\r\n", at + 9);
      const std::string id = content.substr(at + 9, end - at - 9);
      ASSERT_EQ(messages.count(id), 1u) << "unknown message " << id;
      EXPECT_EQ(content, messages[id].stored_form)
          << "message " << id << " stored partially or altered";
      found[id]++;
    }
    for (const auto& [id, sent] : messages) {
      EXPECT_LE(found[id], 1) << "message " << id << " stored twice";
      if (sent.outcome == SmtpOutcome::kSent) {
        EXPECT_EQ(found[id], 1) << "message " << id << " got 250 but is lost";
      }
      if (sent.outcome == SmtpOutcome::kRejected ||
          sent.outcome == SmtpOutcome::kFailed) {
        EXPECT_EQ(found[id], 0) << "message " << id << " stored, yet "
                                << "reported as not sent";
      }
    }
  }
  std::cout << "seed " << seed << ": " << messages.size() << " messages over "
            << kRounds << " kills: " << totals[0] << " sent, " << totals[1]
            << " rejected, " << totals[2] << " unconfirmed, " << totals[3]
            << " failed\n";
  EXPECT_GT(totals[0], kRounds);
}

}  // namespace
}  // namespace ember::protocols
