// Goal: on the real backend, a TLS server's handshake timeout counts from
// the accept, even when the server's loop had been waiting in Poll for
// longer than the timeout before the connection arrived (inside a Poll
// dispatch the reactor's loop time is the time the wait began; the timer
// once counted from there and fired at once). The server runs its reactor
// on a thread, idle for 3 s of its clock (the client waits on a timer, not
// a sleep), with a 2 s handshake timeout; the handshake must succeed.

#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "io/epoll/epoll_network.h"
#include "protocols/tls/tls_connection.h"
#include "reactor/reactor.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"
#include "tests/protocols/tls/tls_test_peers.h"

namespace ember::tls {
namespace {

TEST(TlsEpollTest, HandshakeTimeoutCountsFromTheAcceptNotAnIdlePoll) {
  auto server_net = io::EpollNetwork::Create();
  auto client_net = io::EpollNetwork::Create();
  ASSERT_TRUE(server_net.ok() && client_net.ok());
  const absl::Time now = (*client_net)->WallNow();
  testing::TestCa ca("CA", now - absl::Hours(1), now + absl::Hours(100));
  TlsOptions server_options;
  server_options.certificates.push_back(ca.Issue(testing::ServerSpec(now)));
  server_options.handshake_timeout = absl::Seconds(2);
  auto server_context = TlsContext::Create(TlsRole::kServer, server_options);
  ASSERT_TRUE(server_context.ok());
  TlsOptions client_options;
  client_options.ca_pem = ca.cert_pem();
  auto client_context = TlsContext::Create(TlsRole::kClient, client_options);
  ASSERT_TRUE(client_context.ok());

  testing::PeerRecord server, client;
  Reactor server_reactor(**server_net);
  auto listening = server_reactor.StartServer(
      "127.0.0.1", 0, TlsServerFactory(*server_context, [&] {
        return std::make_unique<testing::EchoConnection>(&server);
      }));
  ASSERT_TRUE(listening.ok());
  const uint16_t port = server_reactor.ServerAddress(*listening)->port();
  std::thread server_thread([&] { EXPECT_TRUE(server_reactor.Run().ok()); });

  Reactor client_reactor(**client_net);
  ASSERT_TRUE(client_reactor
                  .AddTimer(absl::Seconds(3),
                            [&] {
                              auto c = ConnectTls(
                                  client_reactor, "127.0.0.1", port,
                                  std::make_unique<testing::ProbeConnection>(
                                      &client, "after a long wait"),
                                  *client_context, {"localhost"});
                              EXPECT_TRUE(c.ok()) << c.status();
                            })
                  .ok());
  EXPECT_TRUE(protocols::testing::RunUntil(
      client_reactor, [&] { return client.done(); }, absl::Seconds(20)));
  server_reactor.Stop();
  server_thread.join();
  EXPECT_EQ(client.handshakes, 1)
      << (client.unbind ? client.unbind->ToString() : "");
  EXPECT_EQ(client.received, "after a long wait");
  EXPECT_EQ(server.handshakes, 1)
      << (server.unbind ? server.unbind->ToString() : "");
}

}  // namespace
}  // namespace ember::tls
