// The HTTP server and client (protocols/http) talking over the simulator
// under a fault schedule chosen by the fuzzer's bytes (fuzz/sim_fuzz_util.h).
// Property: every request gets exactly one callback, every response that
// arrives is its request's, no request is handled twice, and failures are
// only the ones a broken stream explains
// (tests/protocols/http/http_sim_scenario.h).

#include <cstddef>
#include <cstdint>

#include "fuzz/sim_fuzz_util.h"
#include "tests/protocols/http/http_sim_scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::fuzz::RunFuzzedSchedule(
      data, size, "sim_http",
      [](ember::Reactor& reactor, ember::sim::SimNetwork& net) {
        return ember::protocols::RunHttpExchange(reactor, net);
      });
  return 0;
}
