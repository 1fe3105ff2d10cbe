// Connecting to a host name the way modern clients do: Happy Eyeballs
// (RFC 8305). Internal to the reactor.
//
// `Reactor::Connect` with a host name resolves it, then hands the addresses
// (RFC 6724 order from the backend, families interleaved as RFC 8305 section
// 4 says) to a `ConnectRace` owned by the connection. The race starts the
// first attempt; while earlier attempts are still pending it starts the next
// one every `ReactorOptions::connection_attempt_delay` (250 ms), and at once
// when an attempt fails. The first attempt to connect wins: its socket
// becomes the connection's, every other attempt is closed without a
// callback, and the connection completes as any other (ConnectionCompleted,
// PeerName() is the winner). When every attempt has failed the connection
// ends with one unbind whose status keeps each address's error. The
// connection's pending-connect timeout covers the whole race.
//
// Everything runs from the loop: attempts are ordinary sockets watched by
// the race, the delay is an internal reactor timer, and every attempt and
// failure is folded into the reactor's trace, so a race under the simulator
// replays from its seed.

#ifndef EMBER_REACTOR_CONNECT_RACE_H_
#define EMBER_REACTOR_CONNECT_RACE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "reactor/timer_queue.h"

namespace ember {

class Connection;

class ConnectRace {
 public:
  // `addresses` (with ports) in the order to try them; not empty. `bind`, if
  // set, is the local address every attempt binds to. `host` and `port` name
  // the target in messages.
  ConnectRace(Connection* owner, std::string host, uint16_t port,
              std::vector<io::Address> addresses,
              std::optional<io::Address> bind, absl::Duration attempt_delay);
  ~ConnectRace();
  ConnectRace(const ConnectRace&) = delete;
  ConnectRace& operator=(const ConnectRace&) = delete;

  // Starts the first attempt (and the next ones at once while attempts fail
  // immediately). May end the connection (MarkClosed) when all fail.
  void Start();

  // Closes every pending attempt and cancels the delay timer; nothing from
  // this race reaches the connection afterwards. Idempotent.
  void Abandon();

  // Each address and how it stands: "[::1]:80 pending, 127.0.0.1:80 failed
  // (...), [::2]:80 not tried".
  std::string Describe() const;

 private:
  struct Attempt final : io::IoWatcher {
    ConnectRace* race = nullptr;
    size_t index = 0;  // Into addresses_.
    std::unique_ptr<io::StreamSocket> socket;
    void OnIoReady(uint32_t readiness) override;
  };

  // Starts attempts until one is pending or no address is left; ends the
  // connection when nothing is pending and nothing is left.
  void StartNext();
  void OnAttemptReady(Attempt* attempt);
  void Win(Attempt* attempt);
  void Fail(size_t index, absl::Status status);
  // The status for a race every attempt of which failed.
  absl::Status FailureStatus() const;
  void CancelTimer();

  Connection* const owner_;
  const std::string host_;
  const uint16_t port_;
  const std::vector<io::Address> addresses_;
  const std::optional<io::Address> bind_;
  const absl::Duration attempt_delay_;
  size_t next_ = 0;  // The next address to try.
  bool abandoned_ = false;
  TimerId timer_ = 0;
  std::vector<std::unique_ptr<Attempt>> pending_;
  // Attempts that ended, kept until the race is destroyed: one may be
  // ending from inside its own callback.
  std::vector<std::unique_ptr<Attempt>> ended_;
  std::vector<std::optional<absl::Status>> results_;  // Per address.
};

}  // namespace ember

#endif  // EMBER_REACTOR_CONNECT_RACE_H_
