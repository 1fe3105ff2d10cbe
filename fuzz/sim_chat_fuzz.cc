// The chat server (examples/chat) under a fault schedule chosen by the
// fuzzer's bytes (fuzz/sim_fuzz_util.h): a small room of simulated people
// talking for a simulated minute while the input decides which writes are
// split or cut short, which connections reset and when links clog or
// partition. Property: the chat simulation's own checks (no line lost
// between witnesses that stayed connected, duplicated, reordered, corrupted
// or misdelivered; everything drains back to the baseline).

#include <cstddef>
#include <cstdint>

#include "examples/chat/chat_simulation.h"
#include "fuzz/sim_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  examples::ChatSimulationOptions options;
  options.clients = 5;
  options.witnesses = 2;
  options.talk_gap_min = absl::Milliseconds(100);
  options.talk_gap_max = absl::Seconds(2);
  options.lifetime_min = absl::Seconds(5);
  options.lifetime_max = absl::Seconds(40);
  options.pause_min = absl::Seconds(1);
  options.pause_max = absl::Seconds(10);
  options.sample_interval = absl::Seconds(10);
  fuzz::RunFuzzedSchedule(
      data, size, "sim_chat", [&](Reactor& reactor, sim::SimNetwork& net) {
        absl::Status status;
        examples::RunChatSimulation(reactor, net, options, absl::Minutes(1),
                                    &status);
        return status;
      });
  return 0;
}
