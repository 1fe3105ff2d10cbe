// Goal: the chat server relays complete lines however they are cut, to every
// other named client and only to them, survives clients leaving at any
// moment, and answers an over-long line with an error and a close. Runs on
// the real backend over loopback; the simulator runs it too. Every case runs
// against both servers: the callback one and the one written with
// coroutines (coro_chat_server.h).

#include "examples/chat/chat_server.h"
#include "examples/chat/coro_chat_server.h"

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "io/epoll/epoll_network.h"
#include "reactor/reactor.h"
#include "tests/reactor/reactor_conformance.h"

namespace ember::examples {
namespace {

using testing_support::Backend;

class ChatClient : public Connection {
 public:
  explicit ChatClient(std::string* received, bool* unbound = nullptr,
                      UnbindReason* reason = nullptr)
      : received_(received), unbound_(unbound), reason_(reason) {}
  void ReceiveData(std::string_view data) override { received_->append(data); }
  void Unbind(const UnbindReason& reason) override {
    if (unbound_ != nullptr) *unbound_ = true;
    if (reason_ != nullptr) *reason_ = reason;
  }

 private:
  std::string* received_;
  bool* unbound_;
  UnbindReason* reason_;
};

class ChatServerTest
    : public ::testing::TestWithParam<std::tuple<Backend, ChatServerKind>> {
 protected:
  void SetUp() override {
    network_ = std::get<0>(GetParam()).make();
    reactor_ = std::make_unique<Reactor>(*network_);
    chat_ = MakeChatServer(std::get<1>(GetParam()), *reactor_);
    auto address = chat_->Listen("127.0.0.1", 0);
    ASSERT_TRUE(address.ok()) << address.status();
    port_ = address->port();
  }

  Connection* Join(std::string* received, bool* unbound = nullptr,
                   UnbindReason* reason = nullptr) {
    auto c = reactor_->Connect(
        "127.0.0.1", port_,
        std::make_unique<ChatClient>(received, unbound, reason));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }

  // Runs `steps` one after another, `gap` apart, then waits until `done`
  // holds (checked every millisecond of backend time) and stops.
  void Script(std::vector<std::function<void()>> steps,
              std::function<bool()> done) {
    absl::Duration at = absl::Milliseconds(20);
    for (auto& step : steps) {
      ASSERT_TRUE(reactor_->AddTimer(at, std::move(step)).ok());
      at += absl::Milliseconds(20);
    }
    bool finished = false;
    ASSERT_TRUE(reactor_->AddPeriodicTimer(absl::Milliseconds(1), [&, done] {
      if (reactor_->Now() > start_ + at && done()) {
        finished = true;
        reactor_->Stop();
      }
    }).ok());
    ASSERT_TRUE(reactor_->AddTimer(absl::Seconds(20), [&] {
      reactor_->Stop();
    }).ok());
    start_ = reactor_->Now();
    ASSERT_TRUE(reactor_->Run().ok());
    EXPECT_TRUE(finished) << "scenario did not complete";
  }

  std::unique_ptr<io::Network> network_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<ChatService> chat_;
  uint16_t port_ = 0;
  absl::Time start_;
};

const std::string kPrompt(kChatPrompt);

TEST_P(ChatServerTest, RelaysLinesCutAnywhereToOthersOnly) {
  std::string alice, bob, carol;
  Connection *a = nullptr, *b = nullptr, *c = nullptr;
  Script(
      {
          [&] {
            a = Join(&alice);
            b = Join(&bob);
            c = Join(&carol);
          },
          [&] {
            ASSERT_TRUE(a->SendData("ali").ok());
            ASSERT_TRUE(b->SendData("bob\r\n").ok());
            ASSERT_TRUE(c->SendData("carol\n").ok());
          },
          [&] { ASSERT_TRUE(a->SendData("ce\nhel").ok()); },
          [&] { ASSERT_TRUE(a->SendData("lo\r\none\ntwo\n").ok()); },
          [&] { ASSERT_TRUE(b->SendData("hi alice\n").ok()); },
      },
      [&] {
        return bob.find("alice says: two\n") != std::string::npos &&
               alice.find("bob says: hi alice\n") != std::string::npos &&
               carol.find("bob says: hi alice\n") != std::string::npos;
      });
  EXPECT_EQ(bob, kPrompt +
                     "alice says: hello\n"
                     "alice says: one\n"
                     "alice says: two\n");
  EXPECT_EQ(carol, kPrompt +
                       "alice says: hello\n"
                       "alice says: one\n"
                       "alice says: two\n"
                       "bob says: hi alice\n");
  EXPECT_EQ(alice, kPrompt + "bob says: hi alice\n");
  EXPECT_EQ(chat_->stats().joined, 3u);
}

TEST_P(ChatServerTest, UnnamedClientsReceiveNothingAndEmptyNamesReprompt) {
  std::string alice, shy;
  Connection *a = nullptr, *s = nullptr;
  Script(
      {
          [&] {
            a = Join(&alice);
            s = Join(&shy);
          },
          [&] {
            ASSERT_TRUE(a->SendData("alice\n").ok());
            ASSERT_TRUE(s->SendData("\n").ok());
          },
          [&] { ASSERT_TRUE(a->SendData("anyone?\n").ok()); },
      },
      [&] { return shy.size() >= 2 * kPrompt.size(); });
  EXPECT_EQ(shy, kPrompt + kPrompt);
}

TEST_P(ChatServerTest, ClientsLeavingAtAnyMomentDoNotDisturbOthers) {
  std::string alice, bob, quitter1, quitter2;
  size_t clients_at_end = 0;
  Connection *a = nullptr, *b = nullptr, *q1 = nullptr, *q2 = nullptr;
  Script(
      {
          [&] {
            a = Join(&alice);
            b = Join(&bob);
            q1 = Join(&quitter1);
            q2 = Join(&quitter2);
          },
          [&] {
            ASSERT_TRUE(a->SendData("alice\n").ok());
            ASSERT_TRUE(b->SendData("bob\n").ok());
            ASSERT_TRUE(q1->SendData("q1\nhalf a li").ok());
            q2->CloseConnection();  // Leaves before giving a name.
          },
          [&] { q1->CloseConnection(); },  // Leaves mid-line.
          [&] { ASSERT_TRUE(a->SendData("still here\n").ok()); },
      },
      [&] {
        clients_at_end = chat_->client_count();
        return bob.find("still here") != std::string::npos;
      });
  EXPECT_EQ(bob, kPrompt + "alice says: still here\n");
  EXPECT_EQ(alice, kPrompt);
  EXPECT_EQ(clients_at_end, 2u);
}

TEST_P(ChatServerTest, OverlongLineGetsAnErrorAndAClose) {
  std::string alice, bob;
  bool bob_unbound = false;
  UnbindReason reason;
  Connection *a = nullptr, *b = nullptr;
  Script(
      {
          [&] {
            a = Join(&alice);
            b = Join(&bob, &bob_unbound, &reason);
          },
          [&] {
            ASSERT_TRUE(a->SendData("alice\n").ok());
            ASSERT_TRUE(b->SendData("bob\n").ok());
          },
          [&] { ASSERT_TRUE(b->SendData(std::string(5000, 'x')).ok()); },
      },
      [&] { return bob_unbound; });
  EXPECT_EQ(bob, kPrompt + "ERROR: line longer than 4096 bytes; closing\n");
  EXPECT_EQ(reason.kind, UnbindKind::kClosedByPeer) << reason.ToString();
  EXPECT_EQ(alice, kPrompt);
  EXPECT_EQ(chat_->stats().overlong, 1u);
}

Backend EpollBackend() {
  return Backend{"Epoll",
                 [] {
                   auto n = io::EpollNetwork::Create();
                   EXPECT_TRUE(n.ok()) << n.status();
                   return std::unique_ptr<io::Network>(std::move(*n));
                 }};
}

INSTANTIATE_TEST_SUITE_P(
    Epoll, ChatServerTest,
    ::testing::Combine(::testing::Values(EpollBackend()),
                       ::testing::Values(ChatServerKind::kCallback,
                                         ChatServerKind::kCoro)),
    [](const ::testing::TestParamInfo<std::tuple<Backend, ChatServerKind>>&
           info) {
      return std::get<0>(info.param).name + "_" +
             std::string(ChatServerKindName(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace ember::examples
