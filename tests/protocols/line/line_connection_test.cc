// LineConnection over the simulator: Pause() inside ReceiveLine holds back
// the rest of the read that brought the line, and Resume() delivers it from
// the loop, in order, before anything read later.

#include "protocols/line/line_connection.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember::protocols {
namespace {

constexpr uint16_t kPort = 7100;

// Pauses on "pause", resumes from a timer a second later.
class Pausing : public LineConnection {
 public:
  explicit Pausing(std::vector<std::string>* log) : log_(log) {}
  void ReceiveLine(std::string_view line) override {
    log_->push_back(std::string(line));
    if (line != "pause") return;
    Pause();
    ASSERT_TRUE(reactor()
                    .AddTimer(absl::Seconds(1),
                              [this] {
                                log_->push_back("(resume)");
                                Resume();
                                log_->push_back("(resumed)");
                              })
                    .ok());
  }

 private:
  std::vector<std::string>* log_;
};

class Writer : public Connection {
 public:
  void ConnectionCompleted() override {
    // One write: every line arrives in one read.
    ASSERT_TRUE(SendData("one\npause\ntwo\nthree\n").ok());
    ASSERT_TRUE(reactor()
                    .AddTimer(absl::Milliseconds(1500),
                              [this] { SendData("four\n").IgnoreError(); })
                    .ok());
  }
};

TEST(LineConnectionTest, PauseInsideReceiveLineTakesEffectAtOnce) {
  sim::SimNetwork net;
  Reactor reactor(net);
  std::vector<std::string> log;
  ASSERT_TRUE(reactor
                  .StartServer("127.0.0.1", kPort,
                               [&] { return std::make_unique<Pausing>(&log); })
                  .ok());
  ASSERT_TRUE(
      reactor.Connect("127.0.0.1", kPort, std::make_unique<Writer>()).ok());
  const absl::Time start = reactor.Now();
  const absl::Time half = start + absl::Milliseconds(500);
  while (reactor.Now() < half) ASSERT_TRUE(reactor.RunOnce(half).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"one", "pause"}));
  const absl::Time end = start + absl::Seconds(3);
  while (reactor.Now() < end) ASSERT_TRUE(reactor.RunOnce(end).ok());
  // The held lines come after Resume returned (from the loop), in order,
  // and before the line written later.
  EXPECT_EQ(log, (std::vector<std::string>{"one", "pause", "(resume)",
                                           "(resumed)", "two", "three",
                                           "four"}));
}

}  // namespace
}  // namespace ember::protocols
