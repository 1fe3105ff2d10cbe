#include "reactor/connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "io/hash.h"
#include "reactor/connect_race.h"
#include "reactor/reactor.h"

namespace ember {

std::string_view UnbindKindName(UnbindKind kind) {
  switch (kind) {
    case UnbindKind::kClosedLocally: return "closed locally";
    case UnbindKind::kClosedByPeer: return "closed by peer";
    case UnbindKind::kRefused: return "refused";
    case UnbindKind::kTimedOut: return "timed out";
    case UnbindKind::kReset: return "reset";
    case UnbindKind::kUnreachable: return "unreachable";
    case UnbindKind::kNameNotFound: return "name not found";
    case UnbindKind::kNameLookupFailed: return "name lookup failed";
    case UnbindKind::kHandlerError: return "handler error";
    case UnbindKind::kOutboundOverflow: return "outbound overflow";
    case UnbindKind::kShutdown: return "shutdown";
    case UnbindKind::kReactorStopped: return "reactor stopped";
    case UnbindKind::kError: return "error";
  }
  return "unknown";
}

std::string UnbindReason::ToString() const {
  std::string out(UnbindKindName(kind));
  if (!status.ok()) absl::StrAppend(&out, " (", status.ToString(), ")");
  return out;
}

UnbindKind UnbindKindFor(const absl::Status& status) {
  switch (io::KindOf(status)) {
    case io::ErrorKind::kRefused: return UnbindKind::kRefused;
    case io::ErrorKind::kReset: return UnbindKind::kReset;
    case io::ErrorKind::kTimedOut: return UnbindKind::kTimedOut;
    case io::ErrorKind::kUnreachable: return UnbindKind::kUnreachable;
    case io::ErrorKind::kNameNotFound: return UnbindKind::kNameNotFound;
    case io::ErrorKind::kNameLookupFailed: return UnbindKind::kNameLookupFailed;
    default: return UnbindKind::kError;
  }
}

// ---------------------------------------------------------------- Connection

Connection::Connection() = default;
Connection::~Connection() = default;

absl::Status Connection::SendData(std::string_view data) {
  if (reactor_ == nullptr) {
    return absl::FailedPreconditionError(
        "SendData on a connection the reactor has not adopted yet");
  }
  if (closing() || close_after_connect_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connection ", id_, " is closing; ", data.size(), " bytes not sent"));
  }
  if (write_shutdown_requested_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connection ", id_, " has closed its write side; ", data.size(),
        " bytes not sent"));
  }
  if (data.empty()) return absl::OkStatus();
  if (data.size() > limits_.max_bytes - outbound_.size()) {
    absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
        "connection ", id_, ": queueing ", data.size(), " bytes on top of ",
        outbound_.size(), " would pass the outbound limit of ",
        limits_.max_bytes, " bytes; nothing queued"));
    if (limits_.close_on_overflow) {
      MarkClosed(UnbindKind::kOutboundOverflow, status);
    }
    return status;
  }
  outbound_.Append(data);
  EMBER_CHECK(outbound_.size() <= limits_.max_bytes);
  if (!above_high_water_ && outbound_.size() >= limits_.high_water_bytes) {
    // Heard from the loop at the end of this turn, even if the queue drains
    // before then (then OutboundLowWater follows).
    above_high_water_ = true;
    high_water_pending_ = true;
  }
  ScheduleFlush();
  return absl::OkStatus();
}

void Connection::ScheduleFlush() {
  if (flush_scheduled_ || reactor_ == nullptr) return;
  // Before the connect completes a flush has nothing to write; it is still
  // scheduled to deliver a high-water mark crossed meanwhile.
  if (state_ != Lifecycle::kConnected && state_ != Lifecycle::kClosing &&
      !high_water_pending_) {
    return;
  }
  EMBER_CHECK(state_ != Lifecycle::kClosed);
  flush_scheduled_ = true;
  reactor_->flush_list_.push_back(this);
}

void Connection::CloseConnection() {
  if (reactor_ == nullptr || state_ == Lifecycle::kClosed) return;
  MarkClosed(UnbindKind::kClosedLocally, absl::OkStatus());
}

void Connection::CloseAfterWriting() {
  if (reactor_ == nullptr || closing()) return;
  if (state_ != Lifecycle::kConnected) {
    // Still resolving or connecting: write what is queued once connected.
    close_after_connect_ = true;
    return;
  }
  state_ = Lifecycle::kClosing;
  if (outbound_.empty()) {
    MarkClosed(eof_received_ ? UnbindKind::kClosedByPeer
                             : UnbindKind::kClosedLocally,
               absl::OkStatus());
    return;
  }
  ScheduleFlush();
}

void Connection::CloseWrite() {
  if (reactor_ == nullptr || closing() || write_shutdown_requested_) return;
  write_shutdown_requested_ = true;
  ScheduleFlush();
}

void Connection::Pause() {
  if (!paused_ && reactor_ != nullptr) {
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kPause, id_, 0);
  }
  paused_ = true;
  UpdateInterest();
}

void Connection::Resume() {
  if (!paused_) return;
  paused_ = false;
  if (reactor_ == nullptr) return;
  reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kResume, id_, 0);
  UpdateInterest();
  if (!outbound_.empty() || write_shutdown_requested_) ScheduleFlush();
  ReadingResumed();
}

TickId Connection::NextTick(absl::AnyInvocable<void()> callback) {
  EMBER_CHECK_MSG(reactor_ != nullptr,
                  "Connection::NextTick before the reactor adopted it");
  Reactor* reactor = reactor_;
  const uint64_t id = id_;
  return reactor->NextTick([reactor, id, callback = std::move(callback)]() mutable {
    auto it = reactor->connections_.find(id);
    if (it == reactor->connections_.end() ||
        it->second->state_ == Lifecycle::kClosed) {
      return;  // The connection ended first.
    }
    reactor->Guard(it->second.get(), [&] { callback(); });
  });
}

absl::StatusOr<io::Address> Connection::PeerName() const {
  if (socket_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("connection ", id_, " has no socket (not connected)"));
  }
  return socket_->PeerAddress();
}

absl::StatusOr<io::Address> Connection::LocalName() const {
  if (socket_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("connection ", id_, " has no socket (not connected)"));
  }
  return socket_->LocalAddress();
}

absl::Duration Connection::IdleTime() const {
  if (reactor_ == nullptr) return absl::ZeroDuration();
  return reactor_->Now() - last_activity_;
}

void Connection::SetOutboundLimits(const OutboundLimits& limits) {
  EMBER_CHECK_MSG(limits.low_water_bytes <= limits.high_water_bytes &&
                      limits.high_water_bytes <= limits.max_bytes,
                  "OutboundLimits need low <= high <= max");
  limits_ = limits;
}

absl::Status Connection::SetNoDelay(bool on) {
  if (socket_ == nullptr) {
    return absl::FailedPreconditionError("no socket yet (still resolving or connecting)");
  }
  return socket_->SetNoDelay(on);
}

absl::Status Connection::SetKeepAlive(const io::KeepAliveOptions& options) {
  if (socket_ == nullptr) {
    return absl::FailedPreconditionError("no socket yet (still resolving or connecting)");
  }
  return socket_->SetKeepAlive(options);
}

void Connection::SetInactivityTimeout(absl::Duration timeout) {
  inactivity_timeout_ = std::max(timeout, absl::ZeroDuration());
  if (reactor_ == nullptr || state_ == Lifecycle::kClosed) return;
  if (inactivity_timer_ != 0) {
    reactor_->timers_.Cancel(inactivity_timer_);
    inactivity_timer_ = 0;
  }
  if (inactivity_timeout_ > absl::ZeroDuration()) ArmInactivityTimer();
}

void Connection::SetPendingConnectTimeout(absl::Duration timeout) {
  pending_connect_timeout_ = std::max(timeout, absl::ZeroDuration());
  if (reactor_ == nullptr) return;
  if (state_ != Lifecycle::kResolving && state_ != Lifecycle::kConnecting) return;
  if (connect_timer_ != 0) reactor_->timers_.Cancel(connect_timer_);
  ArmConnectTimer();
}

void Connection::ArmConnectTimer() {
  connect_timer_ = reactor_->AddInternalTimer(pending_connect_timeout_, [this] {
    connect_timer_ = 0;
    if (state_ != Lifecycle::kResolving && state_ != Lifecycle::kConnecting) return;
    MarkClosed(UnbindKind::kTimedOut,
               absl::DeadlineExceededError(absl::StrCat(
                   "connect not completed within ",
                   absl::FormatDuration(pending_connect_timeout_),
                   race_ != nullptr ? absl::StrCat(" (", race_->Describe(), ")")
                   : state_ == Lifecycle::kResolving ? " (still resolving)"
                                                     : "")));
  });
}

void Connection::ArmInactivityTimer() {
  const absl::Time deadline = last_activity_ + inactivity_timeout_;
  inactivity_timer_ = reactor_->AddInternalTimer(
      deadline - reactor_->loop_time_, [this] { OnInactivityTimer(); });
}

void Connection::OnInactivityTimer() {
  inactivity_timer_ = 0;
  if (state_ == Lifecycle::kClosed || inactivity_timeout_ <= absl::ZeroDuration()) {
    return;
  }
  // The timer is armed once and re-armed lazily, so activity costs nothing.
  const absl::Duration idle = reactor_->loop_time_ - last_activity_;
  if (idle >= inactivity_timeout_) {
    MarkClosed(UnbindKind::kTimedOut,
               absl::DeadlineExceededError(absl::StrCat(
                   "no activity for ", absl::FormatDuration(idle),
                   " (inactivity timeout ",
                   absl::FormatDuration(inactivity_timeout_), ")")));
    return;
  }
  ArmInactivityTimer();
}

void Connection::Touch() { last_activity_ = reactor_->loop_time_; }

void Connection::UpdateInterest() {
  if (socket_ == nullptr || state_ == Lifecycle::kClosed) return;
  EMBER_CHECK_MSG(state_ != Lifecycle::kResolving,
                  "a resolving connection has no socket");
  uint32_t want = 0;
  if (state_ == Lifecycle::kConnecting) {
    want = io::kWritable;
  } else {
    if (!paused_ && !eof_received_) want |= io::kReadable;
    if (!outbound_.empty()) want |= io::kWritable;
  }
  // Never read while paused, after end of stream, or before connecting.
  EMBER_CHECK(!(want & io::kReadable) ||
              (!paused_ && !eof_received_ && state_ != Lifecycle::kConnecting));
  if (want != interest_) {
    interest_ = want;
    socket_->SetInterest(want);
  }
}

void Connection::MarkClosed(UnbindKind kind, absl::Status status) {
  EMBER_CHECK_MSG(reactor_ != nullptr, "closing a connection not adopted");
  if (state_ == Lifecycle::kClosed) return;
  // Orderly ends carry no error; every other kind says what went wrong.
  EMBER_CHECK((kind == UnbindKind::kClosedLocally ||
               kind == UnbindKind::kClosedByPeer) == status.ok() ||
              kind == UnbindKind::kReactorStopped ||
              kind == UnbindKind::kShutdown);
  state_ = Lifecycle::kClosed;
  reason_ = UnbindReason{kind, std::move(status)};
  if (connect_timer_ != 0) reactor_->timers_.Cancel(connect_timer_);
  if (inactivity_timer_ != 0) reactor_->timers_.Cancel(inactivity_timer_);
  connect_timer_ = inactivity_timer_ = 0;
  if (race_ != nullptr) {
    // Closes every pending attempt now; the race itself may be running this
    // call, so the reactor destroys it at the end of the turn.
    race_->Abandon();
    reactor_->retired_races_.push_back(std::move(race_));
  }
  if (socket_ != nullptr && interest_ != 0) {
    interest_ = 0;
    socket_->SetInterest(0);
  }
  EMBER_CHECK(race_ == nullptr && connect_timer_ == 0 &&
              inactivity_timer_ == 0);
  reactor_->closed_list_.push_back(this);
}

void Connection::Fail(absl::Status status) {
  const UnbindKind kind = UnbindKindFor(status);
  MarkClosed(kind, std::move(status));
}

void Connection::OnIoReady(uint32_t readiness) {
  if (state_ == Lifecycle::kClosed) return;
  if (readiness & io::kWritable) {
    if (state_ == Lifecycle::kConnecting) {
      FinishConnecting();
    } else {
      Flush();
    }
  }
  if ((readiness & io::kReadable) && state_ != Lifecycle::kClosed &&
      state_ != Lifecycle::kConnecting) {
    HandleReadable();
  }
}

void Connection::FinishConnecting() {
  EMBER_CHECK(state_ == Lifecycle::kConnecting && socket_ != nullptr &&
              race_ == nullptr);
  absl::Status status = socket_->FinishConnect();
  if (!status.ok()) {
    Fail(status);
    return;
  }
  state_ = Lifecycle::kConnected;
  if (connect_timer_ != 0) {
    reactor_->timers_.Cancel(connect_timer_);
    connect_timer_ = 0;
  }
  Touch();
  reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kConnected, id_, 0);
  if (inactivity_timeout_ > absl::ZeroDuration() && inactivity_timer_ == 0) {
    ArmInactivityTimer();
  }
  reactor_->Guard(this, [this] { ConnectionCompleted(); });
  if (state_ == Lifecycle::kClosed) return;
  if (close_after_connect_) {
    close_after_connect_ = false;
    CloseAfterWriting();
    if (state_ == Lifecycle::kClosed) return;
  }
  if (!outbound_.empty() || write_shutdown_requested_) {
    Flush();
  } else {
    UpdateInterest();
  }
}

void Connection::HandleReadable() {
  EMBER_CHECK(socket_ != nullptr && (state_ == Lifecycle::kConnected ||
                                     state_ == Lifecycle::kClosing));
  char* buffer = reactor_->read_buffer();
  const size_t chunk = reactor_->options_.read_chunk_bytes;
  for (int i = 0; i < reactor_->options_.reads_per_event; ++i) {
    if (paused_ || eof_received_ || state_ == Lifecycle::kClosed) return;
    io::IoResult r = socket_->Read(buffer, chunk);
    switch (r.code) {
      case io::IoResult::Code::kOk:
        Touch();
        reactor_->trace_.Record(
            reactor_->loop_time_, TraceKind::kRead, id_, r.bytes,
            reactor_->trace_.content()
                ? io::HashBytes(std::string_view(buffer, r.bytes))
                : 0);
        reactor_->Guard(this, [&] {
          ReceiveData(std::string_view(buffer, r.bytes));
        });
        if (r.bytes < chunk) return;  // Drained; spare the extra read call.
        break;
      case io::IoResult::Code::kWouldBlock:
        return;
      case io::IoResult::Code::kEndOfStream:
        eof_received_ = true;
        reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kEof, id_, 0);
        UpdateInterest();
        reactor_->Guard(this, [this] { ReceiveEof(); });
        return;
      case io::IoResult::Code::kError:
        Fail(r.error);
        return;
    }
  }
}

namespace {

// The digest of the first `written` bytes of `buffers`, for the trace.
uint64_t WrittenDigest(const io::ConstBuffer* buffers, size_t count,
                       size_t written) {
  uint64_t h = written;
  for (size_t i = 0; i < count && written > 0; ++i) {
    const size_t take = std::min(written, buffers[i].size);
    h = io::Mix64(h ^ io::HashBytes(std::string_view(buffers[i].data, take)));
    written -= take;
  }
  return h;
}

}  // namespace

bool Connection::NotifyWaterMarks() {
  // From the loop, never from inside SendData: a mark crossed by SendData
  // is heard here even when this flush drained the queue again.
  if (high_water_pending_) {
    high_water_pending_ = false;
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kHighWater, id_,
                            outbound_.size());
    reactor_->Guard(this, [this] { OutboundHighWater(); });
    if (state_ == Lifecycle::kClosed) return false;
  }
  if (above_high_water_ && outbound_.size() <= limits_.low_water_bytes) {
    above_high_water_ = false;
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kLowWater, id_,
                            outbound_.size());
    reactor_->Guard(this, [this] { OutboundLowWater(); });
  }
  return state_ != Lifecycle::kClosed;
}

bool Connection::Flush() {
  if (state_ == Lifecycle::kClosed) return false;
  if (state_ != Lifecycle::kConnected && state_ != Lifecycle::kClosing) {
    // Not connected yet: only a water mark to tell.
    return NotifyWaterMarks();
  }
  io::ConstBuffer buffers[io::StreamSocket::kWriteBuffersMax];
  while (!outbound_.empty()) {
    const size_t n =
        outbound_.Gather(buffers, io::StreamSocket::kWriteBuffersMax);
    size_t offered = 0;
    for (size_t i = 0; i < n; ++i) offered += buffers[i].size;
    io::IoResult r = socket_->Write(buffers, n);
    if (r.code == io::IoResult::Code::kWouldBlock) break;
    if (r.code != io::IoResult::Code::kOk) {
      Fail(r.error);
      return false;
    }
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kWrite, id_,
                            r.bytes,
                            reactor_->trace_.content()
                                ? WrittenDigest(buffers, n, r.bytes)
                                : 0);
    EMBER_CHECK_MSG(r.bytes <= offered, "a write took more than offered");
    outbound_.Consume(r.bytes);
    Touch();
    if (r.bytes < offered) break;  // The socket is full.
  }
  if (!NotifyWaterMarks()) return false;
  if (outbound_.empty()) {
    if (state_ == Lifecycle::kClosing) {
      MarkClosed(eof_received_ ? UnbindKind::kClosedByPeer
                               : UnbindKind::kClosedLocally,
                 absl::OkStatus());
      return false;
    }
    if (write_shutdown_requested_ && !write_shutdown_done_) {
      write_shutdown_done_ = true;
      absl::Status status = socket_->ShutdownWrite();
      if (!status.ok()) {
        Fail(status);
        return false;
      }
    }
  }
  UpdateInterest();
  return true;
}

// -------------------------------------------------------- DatagramConnection

uint64_t DatagramConnection::DatagramDigest(std::string_view data,
                                            const io::Address& peer) const {
  const uint64_t address = TraceDigest(peer);
  if (!reactor_->trace_.content()) return address;
  return io::Mix64(address ^ io::HashBytes(data));
}

DatagramConnection::DatagramConnection() = default;
DatagramConnection::~DatagramConnection() = default;

absl::Status DatagramConnection::SendDatagram(std::string_view data,
                                              const io::Address& to) {
  if (reactor_ == nullptr || closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("datagram socket ", id_, " is closed"));
  }
  if (data.size() > kDatagramBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("datagram of ", data.size(), " bytes is longer than ",
                     kDatagramBytesMax));
  }
  if (queue_.empty()) {
    io::IoResult r = socket_->SendTo(to, data.data(), data.size());
    if (r.ok()) {
      reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kDatagramOut,
                              id_, data.size(), DatagramDigest(data, to));
      return absl::OkStatus();
    }
    if (r.code == io::IoResult::Code::kError) return r.error;
  }
  if (data.size() > kQueuedBytesMax - queued_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "datagram socket ", id_, ": send queue full (", queued_bytes_,
        " bytes); datagram not sent"));
  }
  queue_.push_back(Queued{to, std::string(data)});
  queued_bytes_ += data.size();
  socket_->SetInterest(io::kReadable | io::kWritable);
  return absl::OkStatus();
}

absl::Status DatagramConnection::Reply(std::string_view data) {
  if (current_sender_ == nullptr) {
    return absl::FailedPreconditionError(
        "Reply is only possible inside ReceiveDatagram");
  }
  return SendDatagram(data, *current_sender_);
}

void DatagramConnection::CloseConnection() {
  if (reactor_ == nullptr) return;
  MarkClosed(UnbindKind::kClosedLocally, absl::OkStatus());
}

void DatagramConnection::MarkClosed(UnbindKind kind, absl::Status status) {
  if (closed_) return;
  closed_ = true;
  reason_ = UnbindReason{kind, std::move(status)};
  socket_->SetInterest(0);
  reactor_->closed_datagrams_.push_back(this);
}

io::Address DatagramConnection::LocalName() const {
  return socket_ != nullptr ? socket_->LocalAddress() : io::Address();
}

void DatagramConnection::FlushQueue() {
  while (!queue_.empty()) {
    Queued& q = queue_.front();
    io::IoResult r = socket_->SendTo(q.to, q.data.data(), q.data.size());
    if (r.code == io::IoResult::Code::kWouldBlock) return;
    // A datagram that cannot be sent (for example to an unreachable
    // address) is dropped, as the network would; the rest still go.
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kDatagramOut,
                            id_, r.ok() ? q.data.size() : 0,
                            DatagramDigest(q.data, q.to));
    queued_bytes_ -= q.data.size();
    queue_.pop_front();
  }
  socket_->SetInterest(io::kReadable);
}

void DatagramConnection::OnIoReady(uint32_t readiness) {
  if (closed_) return;
  if (readiness & io::kWritable) FlushQueue();
  if (!(readiness & io::kReadable)) return;
  char* buffer = reactor_->read_buffer();
  for (int i = 0; i < reactor_->options_.reads_per_event && !closed_; ++i) {
    io::Address from;
    bool truncated = false;
    io::IoResult r =
        socket_->ReceiveFrom(buffer, kDatagramBytesMax, &from, &truncated);
    if (r.code == io::IoResult::Code::kWouldBlock) return;
    if (r.code == io::IoResult::Code::kError) {
      // Errors reported on an unconnected UDP socket (an ICMP port
      // unreachable for an earlier send, say) concern one datagram, not the
      // socket; keep receiving.
      continue;
    }
    if (r.code != io::IoResult::Code::kOk) return;
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kDatagramIn, id_,
                            r.bytes,
                            DatagramDigest(std::string_view(buffer, r.bytes),
                                           from));
    current_sender_ = &from;
    reactor_->GuardDatagram(this, [&] {
      ReceiveDatagram(std::string_view(buffer, r.bytes), from);
    });
    current_sender_ = nullptr;
  }
}

}  // namespace ember
