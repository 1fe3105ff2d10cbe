// Idle HTTP connections on the simulator: how many one process holds, and
// their memory.
//
// Opens --connections keep-alive connections to an HttpServer over the
// simulated network, in batches; each sends one request, reads its response
// and stays open. It reports the heap in use (mallinfo2) per connection once
// all are idle, then lets the keep-alive timeout pass and checks that every
// connection was closed by it. With --bare the server is a plain echo
// Connection, which sends the request's bytes back (the same traffic), so the
// difference between the two runs is what the HTTP server keeps per
// connection beyond a bare one; both runs include the client's connection and
// the simulator's two sockets (with their buffers) for each.
//
//   bazel run --config=opt //bench:idle_http_sim -- --connections=1000000
//   bazel run --config=opt //bench:idle_http_sim -- --connections=1000000 --bare

#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "protocols/http/http_server.h"
#include "reactor/connection.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"

ABSL_FLAG(int64_t, connections, 100000, "idle connections to open");
ABSL_FLAG(int64_t, batch, 2000,
          "connections opened per batch (within the listen backlog, 4,096, so "
          "that no connect waits for a SYN retransmission)");
ABSL_FLAG(bool, bare, false,
          "serve with a bare Connection instead of HttpServer (baseline)");

namespace {

using ember::Connection;
using ember::Reactor;

int64_t HeapInUse() { return static_cast<int64_t>(mallinfo2().uordblks); }

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: sim\r\n\r\n";

class Echo : public Connection {
  void ReceiveData(std::string_view data) override {
    SendData(data).IgnoreError();
  }
};

// Sends one request when connected and counts the response's end: the
// 2-byte body "ok", or for the echo server the request coming back whole.
class IdleClient : public Connection {
 public:
  IdleClient(int64_t* ready, int64_t* closed, bool bare)
      : ready_(ready), closed_(closed), bare_(bare) {}
  void ConnectionCompleted() override { SendData(kRequest).IgnoreError(); }
  void ReceiveData(std::string_view data) override {
    for (char c : data) {
      ++received_;
      if (bare_ ? received_ == kRequest.size() : (c == 'k' && last_ == 'o')) {
        ++*ready_;
      }
      last_ = c;
    }
  }
  void Unbind(const ember::UnbindReason&) override { ++*closed_; }

 private:
  int64_t* const ready_;
  int64_t* const closed_;
  const bool bare_;
  char last_ = 0;
  size_t received_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t n = absl::GetFlag(FLAGS_connections);
  const int64_t batch = absl::GetFlag(FLAGS_batch);
  const bool bare = absl::GetFlag(FLAGS_bare);

  ember::sim::SimOptions sim_options;
  sim_options.descriptors_per_host_max = static_cast<int>(4 * n + 16);
  ember::sim::SimNetwork net(sim_options);
  ember::ReactorOptions reactor_options;
  Reactor reactor(net, reactor_options);

  ember::protocols::HttpServerOptions options;
  // Long enough that the first connections are still idle, not timed out,
  // when the last one has been answered.
  options.keep_alive_idle_timeout = absl::Minutes(10);
  std::unique_ptr<ember::protocols::HttpServer> server;
  constexpr uint16_t kPort = 8080;
  if (bare) {
    auto started = reactor.StartServer(
        "127.0.0.1", kPort, [] { return std::make_unique<Echo>(); });
    if (!started.ok()) return 1;
  } else {
    server = std::make_unique<ember::protocols::HttpServer>(
        reactor, options,
        [](ember::protocols::HttpRequest&&,
           ember::protocols::HttpResponder responder) {
          static const auto* const kOk = [] {
            auto* r = new ember::protocols::HttpResponse;
            r->body = "ok";
            return r;
          }();
          responder.Send(*kOk).IgnoreError();
        });
    if (!server->Listen("127.0.0.1", kPort).ok()) return 1;
  }

  int64_t ready = 0;
  int64_t closed = 0;
  const int64_t heap_before = HeapInUse();
  const absl::Time wall_start = absl::Now();
  const absl::Time virtual_start = reactor.Now();
  for (int64_t opened = 0; opened < n;) {
    const int64_t target = std::min(n, opened + batch);
    for (; opened < target; ++opened) {
      auto c = reactor.Connect("127.0.0.1", kPort,
                               std::make_unique<IdleClient>(&ready, &closed, bare));
      if (!c.ok()) {
        std::fprintf(stderr, "connect %lld: %s\n", static_cast<long long>(opened),
                     c.status().ToString().c_str());
        return 1;
      }
    }
    while (ready < opened) {
      if (!reactor.RunOnce(absl::InfiniteFuture()).ok()) {
        std::fprintf(stderr, "the simulation stopped with %lld of %lld ready\n",
                     static_cast<long long>(ready),
                     static_cast<long long>(opened));
        return 1;
      }
    }
  }
  const int64_t heap_idle = HeapInUse();
  const size_t open = reactor.ConnectionCount();
  if (open != static_cast<size_t>(2 * n)) {
    std::fprintf(stderr, "only %zu of %lld connections (both ends) are open\n",
                 open, static_cast<long long>(2 * n));
    return 1;
  }
  const double per = static_cast<double>(heap_idle - heap_before) / n;
  std::printf(
      "%s: %lld idle connections in %.1f s (%s of virtual time); heap %.1f "
      "MiB -> %.1f MiB: %.0f bytes per connection (client, server and both "
      "simulated sockets)\n",
      bare ? "bare server" : "HttpServer", static_cast<long long>(n),
      absl::ToDoubleSeconds(absl::Now() - wall_start),
      absl::FormatDuration(reactor.Now() - virtual_start).c_str(),
      heap_before / 1048576.0, heap_idle / 1048576.0, per);
  if (bare) return 0;

  // The keep-alive timeout closes them all, and nothing else does first.
  const absl::Time idle_since = reactor.Now();
  while (closed < n) {
    // Waits (in virtual time) for the next event.
    if (!reactor.RunOnce(absl::InfiniteFuture()).ok()) break;
  }
  const absl::Duration took = reactor.Now() - idle_since;
  std::printf("all %lld closed by the idle timeout after %s of virtual time "
              "(%llu idle timeouts counted)\n",
              static_cast<long long>(closed), absl::FormatDuration(took).c_str(),
              static_cast<unsigned long long>(server->stats().idle_timeouts));
  return closed == n && server->stats().idle_timeouts ==
                            static_cast<uint64_t>(n)
             ? 0
             : 1;
}
