#include "reactor/connect_race.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "io/check.h"
#include "io/error.h"
#include "reactor/connection.h"
#include "reactor/reactor.h"

namespace ember {

ConnectRace::ConnectRace(Connection* owner, std::string host, uint16_t port,
                         std::vector<io::Address> addresses,
                         std::optional<io::Address> bind,
                         absl::Duration attempt_delay)
    : owner_(owner),
      host_(std::move(host)),
      port_(port),
      addresses_(std::move(addresses)),
      bind_(std::move(bind)),
      attempt_delay_(attempt_delay),
      results_(addresses_.size()) {
  EMBER_CHECK_MSG(!addresses_.empty(), "a connect race needs an address");
}

ConnectRace::~ConnectRace() { Abandon(); }

void ConnectRace::Start() {
  EMBER_CHECK(next_ == 0 && !abandoned_);
  StartNext();
}

void ConnectRace::Abandon() {
  if (abandoned_) return;
  abandoned_ = true;
  CancelTimer();
  // Destroying a socket closes it; its watcher hears nothing more.
  for (auto& attempt : pending_) {
    attempt->socket.reset();
    ended_.push_back(std::move(attempt));
  }
  pending_.clear();
}

void ConnectRace::CancelTimer() {
  if (timer_ == 0) return;
  owner_->reactor_->timers_.Cancel(timer_);
  timer_ = 0;
}

void ConnectRace::StartNext() {
  Reactor& reactor = *owner_->reactor_;
  while (next_ < addresses_.size()) {
    const size_t index = next_++;
    reactor.trace_.Record(reactor.loop_time_, TraceKind::kConnectAttempt,
                          owner_->id_, index);
    io::ConnectOptions options;
    options.bind = bind_ ? &*bind_ : nullptr;
    absl::StatusOr<std::unique_ptr<io::StreamSocket>> socket =
        reactor.network_.Connect(addresses_[index], options);
    if (!socket.ok()) {
      // Refused at once, no route, no descriptor: on to the next address.
      Fail(index, socket.status());
      continue;
    }
    auto attempt = std::make_unique<Attempt>();
    attempt->race = this;
    attempt->index = index;
    attempt->socket = std::move(*socket);
    attempt->socket->SetWatcher(attempt.get());
    attempt->socket->SetInterest(io::kWritable);
    pending_.push_back(std::move(attempt));
    if (next_ < addresses_.size()) {
      // RFC 8305 section 5: the next attempt starts after the delay if
      // this one has not finished by then (or at once if it fails).
      timer_ = reactor.AddInternalTimer(attempt_delay_, [this] {
        timer_ = 0;
        StartNext();
      });
    }
    return;
  }
  if (pending_.empty()) {
    // Every address was tried and none is pending: all failed.
    EMBER_CHECK(next_ == addresses_.size() && timer_ == 0);
    owner_->Fail(FailureStatus());
  }
}

void ConnectRace::Attempt::OnIoReady(uint32_t readiness) {
  race->owner_->reactor_->StampDispatchTime();
  // The race may destroy nothing here: this attempt moves to `ended_`.
  race->OnAttemptReady(this);
}

void ConnectRace::OnAttemptReady(Attempt* attempt) {
  if (abandoned_) return;
  absl::Status status = attempt->socket->FinishConnect();
  // Not finished after all (a spurious wake-up): keep waiting.
  if (status.code() == absl::StatusCode::kFailedPrecondition) return;
  if (status.ok()) {
    Win(attempt);
    return;
  }
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [attempt](const auto& a) { return a.get() == attempt; });
  EMBER_CHECK(it != pending_.end());
  attempt->socket.reset();
  ended_.push_back(std::move(*it));
  pending_.erase(it);
  Fail(attempt->index, std::move(status));
  // A failed attempt does not wait for the delay: the next one starts now.
  CancelTimer();
  StartNext();
}

void ConnectRace::Fail(size_t index, absl::Status status) {
  EMBER_CHECK(index < next_ && !results_[index].has_value() && !status.ok());
  Reactor& reactor = *owner_->reactor_;
  reactor.trace_.Record(reactor.loop_time_, TraceKind::kConnectAttemptFailed,
                        owner_->id_,
                        index << 8 | static_cast<uint64_t>(io::KindOf(status)));
  results_[index] = std::move(status);
}

void ConnectRace::Win(Attempt* winner) {
  EMBER_CHECK(!abandoned_ && !results_[winner->index].has_value());
  EMBER_CHECK(owner_->socket_ == nullptr &&
              owner_->state_ == Connection::Lifecycle::kConnecting);
  results_[winner->index] = absl::OkStatus();
  std::unique_ptr<io::StreamSocket> socket = std::move(winner->socket);
  // Closes the losers, without callbacks, and the timer.
  Abandon();
  Connection* c = owner_;
  c->socket_ = std::move(socket);
  c->socket_->SetWatcher(c);
  c->interest_ = io::kWritable;  // What the attempt asked of the socket.
  // The race is over: the reactor destroys it at the end of the turn, since
  // this call is running inside it.
  c->reactor_->retired_races_.push_back(std::move(c->race_));
  c->FinishConnecting();
}

absl::Status ConnectRace::FailureStatus() const {
  std::vector<const absl::Status*> failures;
  for (const auto& r : results_) {
    if (r.has_value() && !r->ok()) failures.push_back(&*r);
  }
  EMBER_CHECK(!failures.empty());
  if (failures.size() == 1) return *failures.front();
  // The most telling kind: a refusal means the host was reached (nobody
  // listens), a timeout that nothing answered, then resets and missing
  // routes; otherwise the kind of the most preferred address's error.
  io::ErrorKind kind = io::KindOf(*failures.front());
  for (io::ErrorKind k :
       {io::ErrorKind::kUnreachable, io::ErrorKind::kReset,
        io::ErrorKind::kTimedOut, io::ErrorKind::kRefused}) {
    for (const absl::Status* s : failures) {
      if (io::KindOf(*s) == k) kind = k;
    }
  }
  std::vector<std::string> each;
  for (const absl::Status* s : failures) {
    each.push_back(std::string(s->message()));
  }
  return io::MakeError(
      kind, absl::StrCat("connect \"", host_, "\" port ", port_),
      absl::StrCat("all ", failures.size(),
                   " addresses failed: ", absl::StrJoin(each, "; ")));
}

std::string ConnectRace::Describe() const {
  std::vector<std::string> parts;
  for (size_t i = 0; i < addresses_.size(); ++i) {
    std::string state;
    if (results_[i].has_value()) {
      state = results_[i]->ok()
                  ? "connected"
                  : absl::StrCat("failed (", results_[i]->message(), ")");
    } else {
      state = i < next_ ? "no answer yet" : "not tried";
    }
    parts.push_back(absl::StrCat(addresses_[i].ToString(), " ", state));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace ember
