// TLS on coroutine streams, over the simulator: a client and a server
// written as tasks upgrade their streams (from the first byte and mid-stream,
// after a plaintext STARTTLS exchange), await the handshake, and exchange
// plaintext; a certificate for another name fails the handshake await with
// the TLS failure; awaiting a handshake without TLS is refused.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_failure.h"
#include "protocols/tls/tls_stream.h"
#include "reactor/coro/stream.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::tls {
namespace {

using testing::ServerSpec;
using testing::TestCa;

constexpr uint16_t kPort = 4443;

class TlsCoroTest : public ::testing::Test {
 protected:
  TlsCoroTest()
      : wall_(net_.WallNow()),
        ca_("Ember Coro CA", wall_ - absl::Hours(48),
            wall_ + absl::Hours(24 * 365)) {}

  std::shared_ptr<const TlsContext> Server(std::vector<std::string> names) {
    TlsOptions options;
    options.certificates.push_back(ca_.Issue(ServerSpec(wall_, names, {})));
    auto context = TlsContext::Create(TlsRole::kServer, std::move(options));
    EXPECT_TRUE(context.ok()) << context.status();
    return *context;
  }

  std::shared_ptr<const TlsContext> Client() {
    TlsOptions options;
    options.ca_pem = ca_.cert_pem();
    auto context = TlsContext::Create(TlsRole::kClient, std::move(options));
    EXPECT_TRUE(context.ok()) << context.status();
    return *context;
  }

  // Serves one stream: reads "STARTTLS\n" in plaintext when `starttls`,
  // answers "GO\n", upgrades, then echoes one line.
  Task<absl::Status> Serve(std::shared_ptr<const TlsContext> context,
                           bool starttls) {
    absl::StatusOr<Listener> listener =
        Listener::Listen(reactor_, "127.0.0.1", kPort);
    if (!listener.ok()) co_return listener.status();
    absl::StatusOr<Stream> stream = co_await listener->Accept();
    if (!stream.ok()) co_return stream.status();
    if (starttls) {
      absl::StatusOr<std::string> hello = co_await stream->ReadExactly(9);
      if (!hello.ok()) co_return hello.status();
      if (*hello != "STARTTLS\n") co_return absl::InternalError(*hello);
      EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("GO\n"));
    }
    EMBER_CO_RETURN_IF_ERROR(StartTls(*stream, context));
    absl::Status handshake = co_await stream->Handshake();
    server_handshake_ = handshake;
    if (!handshake.ok()) co_return handshake;
    absl::StatusOr<std::string> line = co_await stream->ReadExactly(6);
    if (!line.ok()) co_return line.status();
    EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("echo:" + *line));
    absl::StatusOr<std::string> rest = co_await stream->Read();
    co_return rest.status().code() == absl::StatusCode::kOutOfRange
        ? absl::OkStatus()
        : rest.status();
  }

  Task<absl::Status> Talk(std::string host, bool starttls) {
    absl::StatusOr<Stream> stream = co_await Connect("127.0.0.1", kPort);
    if (!stream.ok()) co_return stream.status();
    // Nothing to wait for before TLS is started.
    absl::Status early = co_await stream->Handshake();
    if (early.code() != absl::StatusCode::kFailedPrecondition) {
      co_return absl::InternalError("Handshake without TLS was not refused");
    }
    if (starttls) {
      EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("STARTTLS\n"));
      absl::StatusOr<std::string> go = co_await stream->ReadExactly(3);
      if (!go.ok()) co_return go.status();
    }
    TlsSessionOptions session;
    session.server_name = host;
    EMBER_CO_RETURN_IF_ERROR(StartTls(*stream, Client(), session));
    absl::Status handshake = co_await stream->Handshake();
    client_handshake_ = handshake;
    if (!handshake.ok()) co_return handshake;
    EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("hello\n"));
    absl::StatusOr<std::string> reply = co_await stream->ReadExactly(11);
    if (!reply.ok()) co_return reply.status();
    reply_ = *reply;
    stream->CloseAfterWriting();
    co_return absl::OkStatus();
  }

  // Runs a server and a client task to their ends.
  void RunBoth(std::shared_ptr<const TlsContext> server, std::string host,
               bool starttls) {
    TaskGroup group(reactor_);
    ASSERT_TRUE(group
                    .Spawn(Serve(std::move(server), starttls),
                           [&](absl::Status s) { server_done_ = s; })
                    .ok());
    ASSERT_TRUE(group
                    .Spawn(Talk(std::move(host), starttls),
                           [&](absl::Status s) { client_done_ = s; })
                    .ok());
    const absl::Time until = reactor_.Now() + absl::Minutes(1);
    while ((!server_done_ || !client_done_) && reactor_.Now() < until) {
      ASSERT_TRUE(reactor_.RunOnce(until).ok());
    }
    ASSERT_TRUE(server_done_.has_value() && client_done_.has_value());
  }

  sim::SimNetwork net_;
  Reactor reactor_{net_};
  absl::Time wall_;
  TestCa ca_;
  std::optional<absl::Status> server_done_, client_done_;
  absl::Status server_handshake_, client_handshake_;
  std::string reply_;
};

TEST_F(TlsCoroTest, TasksUpgradeFromTheFirstByte) {
  RunBoth(Server({"localhost"}), "localhost", /*starttls=*/false);
  EXPECT_TRUE(client_done_->ok()) << *client_done_;
  EXPECT_TRUE(server_done_->ok()) << *server_done_;
  EXPECT_EQ(reply_, "echo:hello\n");
}

TEST_F(TlsCoroTest, TasksUpgradeMidStreamAfterStarttls) {
  RunBoth(Server({"localhost"}), "localhost", /*starttls=*/true);
  EXPECT_TRUE(client_done_->ok()) << *client_done_;
  EXPECT_TRUE(server_done_->ok()) << *server_done_;
  EXPECT_EQ(reply_, "echo:hello\n");
}

TEST_F(TlsCoroTest, AFailedHandshakeEndsTheAwaitWithTheTlsFailure) {
  // Goal: the server's certificate is for another name: the client's
  // Handshake await ends with the name mismatch, and nothing hangs.
  RunBoth(Server({"other.example"}), "localhost", /*starttls=*/false);
  EXPECT_FALSE(client_handshake_.ok());
  EXPECT_EQ(TlsFailureOf(client_handshake_), TlsFailure::kNameMismatch)
      << client_handshake_;
  EXPECT_FALSE(server_done_->ok());
  EXPECT_TRUE(reply_.empty());
}

}  // namespace
}  // namespace ember::tls
