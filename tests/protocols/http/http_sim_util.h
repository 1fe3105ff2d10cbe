// Helpers for tests of the HTTP server and client over the simulator: run a
// reactor until a condition holds (on the backend's clock, never a sleep), a
// raw client connection that records what it receives, and a reader that
// turns recorded bytes back into responses.

#ifndef EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_UTIL_H_
#define EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "protocols/http/http_message.h"
#include "reactor/reactor.h"

namespace ember::protocols::testing {

// Runs `reactor` turn by turn until `done()` holds, `limit` of backend time
// has passed, or the reactor is stopping. Returns whether `done()` held.
bool RunUntil(Reactor& reactor, const std::function<bool()>& done,
              absl::Duration limit = absl::Minutes(10));
// Runs `reactor` for `duration` of backend time.
void RunFor(Reactor& reactor, absl::Duration duration);

// What a RawClient saw; outlives the connection.
struct RawRecord {
  std::string received;
  bool connected = false;
  bool eof = false;
  bool unbound = false;
  UnbindReason reason;
};

// A client connection that sends what it is told and records everything.
class RawClient : public Connection {
 public:
  explicit RawClient(RawRecord* record) : record_(record) {}
  void ConnectionCompleted() override { record_->connected = true; }
  void ReceiveData(std::string_view data) override {
    record_->received.append(data.data(), data.size());
  }
  void ReceiveEof() override {
    record_->eof = true;
    Connection::ReceiveEof();
  }
  // The client stands for the outside world: a graceful shutdown of the
  // reactor (which the simulated server shares) does not close it.
  void ShutdownRequested() override {}
  void Unbind(const UnbindReason& reason) override {
    record_->unbound = true;
    record_->reason = reason;
  }

 private:
  RawRecord* record_;
};

// Responses parsed from `bytes`, answering requests of `methods` in order
// (interim 1xx responses included, as their own entries). `*error` (if not
// null) gets the parse error, or stays empty; `eof` finishes the stream.
std::vector<HttpResponse> ReadResponses(std::string_view bytes,
                                        const std::vector<std::string>& methods,
                                        bool eof, std::string* error = nullptr);

}  // namespace ember::protocols::testing

#endif  // EMBER_TESTS_PROTOCOLS_HTTP_HTTP_SIM_UTIL_H_
