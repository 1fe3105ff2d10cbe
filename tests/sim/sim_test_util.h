// Small helpers for driving a SimNetwork directly through io::Network in
// tests: a watcher that runs a function, pumping Poll until a condition
// holds, making a connected pair, and reading or writing what is possible
// now. Everything waits on the virtual clock only.

#ifndef EMBER_TESTS_SIM_SIM_TEST_UTIL_H_
#define EMBER_TESTS_SIM_SIM_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"

namespace ember::sim::testing {

class FnWatcher final : public io::IoWatcher {
 public:
  FnWatcher() = default;
  explicit FnWatcher(std::function<void(uint32_t)> fn) : fn_(std::move(fn)) {}
  void OnIoReady(uint32_t readiness) override {
    ++calls_;
    seen_ |= readiness;
    if (fn_) fn_(readiness);
  }
  int calls() const { return calls_; }
  uint32_t seen() const { return seen_; }
  void Clear() {
    calls_ = 0;
    seen_ = 0;
  }

 private:
  std::function<void(uint32_t)> fn_;
  int calls_ = 0;
  uint32_t seen_ = 0;
};

SimOptions Options(uint64_t seed, FaultPlan plan);

// Polls until `done()` or until `budget` of virtual time has passed (or
// `polls_max` polls). Reports a Poll error as a test failure. Returns
// whether `done()` held.
bool PumpUntil(SimNetwork& net, const std::function<bool()>& done,
               absl::Duration budget = absl::Minutes(10),
               int polls_max = 1'000'000);

// Polls with deadline `until` until the clock reaches it (or it fails).
void PumpFor(SimNetwork& net, absl::Duration duration);

struct Pair {
  std::unique_ptr<io::Listener> listener;
  std::unique_ptr<io::StreamSocket> client;
  std::unique_ptr<io::StreamSocket> server;
};

// Listens on `listen_at`, connects and accepts; on return both ends are
// established (or the test has failed). No watchers or interest are left.
void MakePair(SimNetwork& net, const io::Address& listen_at, Pair* pair,
              const io::ConnectOptions& options = {});

// Waits for the connect of `socket` to finish and returns FinishConnect.
absl::Status AwaitConnect(SimNetwork& net, io::StreamSocket& socket,
                          absl::Duration budget = absl::Minutes(10));

// Reads what is available now; `last` gets the result that ended it
// (kWouldBlock, kEndOfStream or kError).
std::string ReadNow(io::StreamSocket& socket, io::IoResult* last = nullptr);

// Writes as much of `data` as the socket takes now; returns the count.
size_t WriteNow(io::StreamSocket& socket, std::string_view data);

// Pumps until `socket` has delivered `bytes` bytes, end of stream or an
// error; returns what was read.
std::string ReadFor(SimNetwork& net, io::StreamSocket& socket, size_t bytes,
                    io::IoResult* last = nullptr,
                    absl::Duration budget = absl::Minutes(10));

// Bytes that differ at every offset, drawn from `seed`.
std::string Pattern(size_t size, uint64_t seed = 7);

}  // namespace ember::sim::testing

#endif  // EMBER_TESTS_SIM_SIM_TEST_UTIL_H_
