// A server whose host crashes under the simulator: the reactor stops the
// dead listener instead of retrying it forever, the simulation goes idle,
// and a restart hook can listen on the same address again without
// StopServer.

#include <memory>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "io/address.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

constexpr uint16_t kPort = 9000;

class Quiet : public Connection {};

class Client : public Connection {
 public:
  explicit Client(bool* completed) : completed_(completed) {}
  void ConnectionCompleted() override {
    *completed_ = true;
    CloseConnection();
  }

 private:
  bool* completed_;
};

TEST(ServerCrashTest, ADeadListenerIsStoppedNotRetriedForever) {
  sim::SimNetwork net;
  const sim::HostId server_host =
      net.AddHost("server", {*io::Address::ParseIp("10.0.0.1", 0)});
  Reactor reactor(net);
  auto factory = [] { return std::make_unique<Quiet>(); };
  auto first = reactor.StartServer("10.0.0.1", kPort, factory);
  ASSERT_TRUE(first.ok());
  int listens = 0;
  net.SetRestartHook(server_host, [&] {
    ++listens;
    EXPECT_TRUE(reactor.StartServer("10.0.0.1", kPort, factory).ok());
  });

  net.CrashHost(server_host);
  const uint64_t events_before = reactor.trace().count();
  const absl::Time minute = reactor.Now() + absl::Minutes(1);
  while (reactor.Now() < minute) ASSERT_TRUE(reactor.RunOnce(minute).ok());
  // Before: an accept back-off timer every 100 ms, about 1,200 events a
  // simulated minute, and a server that never went away.
  EXPECT_EQ(reactor.stats().servers, 0u);
  EXPECT_EQ(reactor.stats().timers, 0u);
  EXPECT_LE(reactor.trace().count() - events_before, 2u);
  EXPECT_EQ(net.scheduled_events(), 0u);
  EXPECT_EQ(reactor.StopServer(*first).code(), absl::StatusCode::kNotFound);

  net.RestartHost(server_host);
  EXPECT_EQ(listens, 1);
  bool completed = false;
  ASSERT_TRUE(reactor
                  .Connect("10.0.0.1", kPort,
                           std::make_unique<Client>(&completed))
                  .ok());
  const absl::Time later = reactor.Now() + absl::Seconds(1);
  while (reactor.Now() < later) ASSERT_TRUE(reactor.RunOnce(later).ok());
  EXPECT_TRUE(completed);
}

}  // namespace
}  // namespace ember
