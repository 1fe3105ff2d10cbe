// The chat server under the simulator, for people: simulated clients join,
// talk and leave for a simulated duration under a fault plan, and a report
// says what happened and whether every check held.
//
//   ./bazelw run -c opt //examples/chat:sim --
//       --clients=50 --duration=168h --faults=wan --seed=1 [--server=coro]
//
// The same flags give the same report, line for line, apart from the wall
// time and the speed-up; `trace hash:` identifies the run. The exit status is
// 0 when there was no violation and everything drained, 1 otherwise, 2 for
// bad flags.

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/chat/chat_simulation.h"
#include "examples/common/flags.h"
#include "reactor/reactor.h"
#include "sim/fault_plan.h"
#include "sim/random.h"
#include "sim/sim_network.h"

ABSL_FLAG(uint64_t, seed, 1, "the seed every random choice derives from");
ABSL_FLAG(int, clients, 50, "simulated clients");
ABSL_FLAG(int, witnesses, 4,
          "clients that join at the start and never leave (at most "
          "--clients)");
ABSL_FLAG(absl::Duration, duration, absl::Hours(24),
          "simulated time to run, e.g. 90m, 24h, 168h");
ABSL_FLAG(
    std::string, faults, "wan",
    "fault plan: ideal, lan, wan, hostile or swarm (drawn from the seed)");
ABSL_FLAG(std::string, server, "callback",
          "which chat server runs: callback (chat_server.h) or coro "
          "(coro_chat_server.h, written with coroutines)");
ABSL_FLAG(absl::Duration, progress, absl::Hours(24),
          "simulated time between progress lines on stderr; 0 for none");

namespace {

using ember::examples::ChatSimulation;
using ember::examples::ChatSimulationOptions;
using ember::examples::ChatSimulationReport;
using ember::examples::ResourceSample;

// The real clock, for wall time and speed-up only: nothing simulated reads it.
absl::Time RealNow() {
  return absl::Now();  // tidy: allow the report's wall time
}

std::string Thousands(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

int Run() {
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int clients = absl::GetFlag(FLAGS_clients);
  const int witnesses = absl::GetFlag(FLAGS_witnesses);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration progress = absl::GetFlag(FLAGS_progress);
  const std::string faults = absl::GetFlag(FLAGS_faults);
  if (clients < 1 || clients > ChatSimulation::kClientsMax) {
    std::fprintf(stderr, "--clients must be 1..%d, not %d\n",
                 ChatSimulation::kClientsMax, clients);
    return 2;
  }
  if (witnesses < 0) {
    std::fprintf(stderr, "--witnesses must not be negative\n");
    return 2;
  }
  if (duration <= absl::ZeroDuration() ||
      duration == absl::InfiniteDuration()) {
    std::fprintf(stderr, "--duration must be positive and finite\n");
    return 2;
  }
  absl::StatusOr<ember::sim::FaultPlan> plan =
      ember::sim::FaultPlan::ByName(faults, seed);
  if (!plan.ok()) {
    std::fprintf(stderr, "--faults: %s\n",
                 std::string(plan.status().message()).c_str());
    return 2;
  }

  absl::StatusOr<ember::examples::ChatServerKind> server =
      ember::examples::ParseChatServerKind(absl::GetFlag(FLAGS_server));
  if (!server.ok()) {
    std::fprintf(stderr, "--server: %s\n",
                 std::string(server.status().message()).c_str());
    return 2;
  }

  ChatSimulationOptions options;
  options.server = *server;
  options.clients = clients;
  options.witnesses = std::min(witnesses, clients);
  ember::sim::SimOptions sim_options;
  sim_options.seed = seed;
  sim_options.plan = *plan;

  std::printf("chat simulation: seed %" PRIu64
              ", %d clients (%d witnesses), %s simulated, plan %s, server "
              "%s\n",
              seed, options.clients, options.witnesses,
              absl::FormatDuration(duration).c_str(), faults.c_str(),
              std::string(ember::examples::ChatServerKindName(*server))
                  .c_str());
  std::printf("plan: %s\n", plan->ToString().c_str());
  std::fflush(stdout);

  ember::sim::SimNetwork network(sim_options);
  ember::Reactor reactor(network);
  ChatSimulation simulation(reactor, network, options);
  const absl::Time wall_start = RealNow();

  absl::Status status = simulation.Start();
  if (status.ok()) {
    status = simulation.RunFor(duration, [&](const ResourceSample& s) {
      if (progress <= absl::ZeroDuration() ||
          s.elapsed % progress != absl::ZeroDuration()) {
        return;
      }
      const ChatSimulationReport r = simulation.report();
      const double wall = absl::ToDoubleSeconds(RealNow() - wall_start);
      std::fprintf(
          stderr,
          "[%s of %s] wall %.1f s, %.0fx; lines %s sent, %s "
          "delivered; connections %zu, timers %zu; violations %" PRIu64 "\n",
          absl::FormatDuration(s.elapsed).c_str(),
          absl::FormatDuration(duration).c_str(), wall,
          wall > 0 ? absl::ToDoubleSeconds(s.elapsed) / wall : 0.0,
          Thousands(r.lines_sent).c_str(), Thousands(r.lines_delivered).c_str(),
          s.connections, s.timers, r.violations);
    });
  }
  if (status.ok()) status = simulation.Finish();
  const absl::Duration wall = RealNow() - wall_start;
  if (!status.ok()) {
    std::fprintf(stderr, "simulation failed: %s\n", status.ToString().c_str());
    return 1;
  }

  const ChatSimulationReport report = simulation.report();
  const ember::sim::SimStats stats = network.stats();
  const uint64_t reactor_hash = reactor.trace().hash();
  const uint64_t sim_hash = network.trace_hash();
  const uint64_t events = stats.events_processed + reactor.trace().count();
  const double wall_seconds = absl::ToDoubleSeconds(wall);

  std::string faults_injected;
  for (const auto& [kind, count] : stats.faults) {
    absl::StrAppend(&faults_injected, faults_injected.empty() ? "" : ", ", kind,
                    " ", Thousands(count));
  }
  std::printf("simulated time: %s\n",
              absl::FormatDuration(report.simulated).c_str());
  std::printf("wall time: %.2f s\n", wall_seconds);
  std::printf(
      "speed-up: %.0fx real time, %.0f events/s\n",
      wall_seconds > 0 ? absl::ToDoubleSeconds(report.simulated) / wall_seconds
                       : 0.0,
      wall_seconds > 0 ? static_cast<double>(events) / wall_seconds : 0.0);
  std::printf("events: %s (%s simulator, %s reactor)\n",
              Thousands(events).c_str(),
              Thousands(stats.events_processed).c_str(),
              Thousands(reactor.trace().count()).c_str());
  std::printf("faults injected: %s\n",
              faults_injected.empty() ? "none" : faults_injected.c_str());
  std::printf(
      "connections: %s opened, %s accepted, %s refused, %s timed "
      "out, %s reset\n",
      Thousands(stats.connections_opened).c_str(),
      Thousands(stats.connections_accepted).c_str(),
      Thousands(stats.connections_refused).c_str(),
      Thousands(stats.connections_timed_out).c_str(),
      Thousands(stats.connections_reset).c_str());
  std::printf(
      "bytes: %s written, %s delivered, %s discarded by resets and "
      "closes\n",
      Thousands(stats.bytes_written).c_str(),
      Thousands(stats.bytes_delivered).c_str(),
      Thousands(stats.bytes_discarded).c_str());
  std::printf("%s", report.ToString().c_str());
  std::printf("simulator invariant checks: %s\n",
              Thousands(stats.invariant_checks).c_str());
  std::printf("trace hashes: reactor %016" PRIx64 ", simulator %016" PRIx64
              "\n",
              reactor_hash, sim_hash);
  std::printf("trace hash: %016" PRIx64 "\n",
              ember::sim::Mix64(reactor_hash ^ ember::sim::Mix64(sim_hash)));
  std::fflush(stdout);
  return report.violations == 0 && report.drained ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ember::examples::ParseExampleFlags(
      argc, argv,
      "The chat server under the simulator.\n  sim [--clients=N] "
      "[--duration=D] [--faults=PLAN] [--seed=S]");
  return Run();
}
