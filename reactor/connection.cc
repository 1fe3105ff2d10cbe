#include "reactor/connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "io/hash.h"
#include "reactor/connect_race.h"
#include "reactor/reactor.h"

namespace ember {

using reactor_internal::CompactDuration;
using reactor_internal::CompactTime;

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
    case UnbindKind::kTls: return "tls";
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
  // A copy: a filter's callbacks below may set other limits.
  const OutboundLimits limits = outbound_limits();
  const size_t queued = OutboundDataSize();
  if (queued > limits.max_bytes || data.size() > limits.max_bytes - queued) {
    absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
        "connection ", id_, ": queueing ", data.size(), " bytes on top of ",
        queued, " would pass the outbound limit of ", limits.max_bytes,
        " bytes; nothing queued"));
    if (limits.close_on_overflow) {
      MarkClosed(UnbindKind::kOutboundOverflow, status);
    }
    return status;
  }
  if (filter_ != nullptr) {
    // Traced as plaintext when queued: the trace never sees wire bytes
    // (their sizes and bytes are the filter's business, and its own
    // randomness makes them differ from run to run).
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kWrite, id_,
                            data.size(), reactor_->trace_.ContentDigest(data));
    // Before the filter starts (not connected yet) or finishes its
    // handshake, it keeps the plaintext.
    absl::Status status = filter_->WritePlain(data);
    if (!status.ok()) {
      FailFilter(status);
      return status;
    }
    DrainFilterWire();
  } else {
    outbound_.Append(data);
    EMBER_CHECK(outbound_.size() <= limits.max_bytes);
    ScheduleFlush();
  }
  NoteHighWater(OutboundDataSize(), limits.high_water_bytes);
  return absl::OkStatus();
}

void Connection::NoteHighWater(size_t queued, size_t high_water_bytes) {
  if (!above_high_water_ && queued >= high_water_bytes) {
    // Heard from the loop at the end of this turn, even if the queue drains
    // before then (then OutboundLowWater follows).
    above_high_water_ = true;
    high_water_pending_ = true;
    ScheduleFlush();
  }
}

bool Connection::TrySendData(std::string_view data) {
  // Connected implies adopted (reactor_ set); without a filter the queue
  // is all that counts against the limits.
  if (state_ != Lifecycle::kConnected ||
      (close_after_connect_ | write_shutdown_requested_) ||
      filter_ != nullptr || data.empty()) {
    return false;
  }
  // outbound_limits() less its case without a reactor, which Connected
  // rules out; the two limits read once.
  const OutboundLimits& limits =
      limits_ != nullptr ? *limits_ : reactor_->options_.outbound_limits;
  const size_t max_bytes = limits.max_bytes;
  const size_t high_water_bytes = limits.high_water_bytes;
  const size_t queued = outbound_.size();
  // One compare: the sum of two in-memory sizes does not overflow.
  if (queued + data.size() > max_bytes) return false;
  outbound_.Append(data);
  if (!flush_scheduled_) ScheduleFlush();
  NoteHighWater(outbound_.size(), high_water_bytes);
  return true;
}

absl::Status Connection::StartFilter(std::unique_ptr<StreamFilter> filter) {
  EMBER_CHECK(filter != nullptr);
  if (filter_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connection ", id_, " already has a stream filter"));
  }
  if (reactor_ != nullptr && closing()) {
    return absl::FailedPreconditionError(
        absl::StrCat("connection ", id_, " is closing"));
  }
  if (write_shutdown_requested_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connection ", id_, " has closed its write side"));
  }
  filter_ = std::move(filter);
  if (reactor_ != nullptr && state_ == Lifecycle::kConnected) {
    StartFilterNow();
  }
  return absl::OkStatus();
}

void Connection::StartFilterNow() {
  if (filter_ == nullptr || filter_started_ || state_ == Lifecycle::kClosed) {
    return;
  }
  filter_started_ = true;
  const absl::Duration timeout = filter_->handshake_timeout();
  if (timeout > absl::ZeroDuration()) {
    handshake_timer_ = reactor_->AddInternalTimer(timeout, [this] {
      handshake_timer_ = 0;
      if (state_ == Lifecycle::kClosed || filter_->established()) return;
      MarkClosed(UnbindKind::kTimedOut, filter_->HandshakeTimeoutError());
    });
  }
  absl::Status status = filter_->Start();
  if (!status.ok()) {
    FailFilter(std::move(status));
    return;
  }
  DrainFilterWire();
  CheckHandshake();
}

void Connection::DrainFilterWire() {
  bool any = false;
  filter_->TakeWire([&](std::string_view bytes) {
    outbound_.Append(bytes);
    any = any || !bytes.empty();
  });
  if (any) ScheduleFlush();
}

void Connection::FailFilter(absl::Status status) {
  if (state_ == Lifecycle::kClosed) return;
  if (socket_ != nullptr && reactor_ != nullptr &&
      state_ != Lifecycle::kConnecting && state_ != Lifecycle::kResolving) {
    // Best effort: the alert explaining the failure, after what is queued,
    // if the socket takes it all now. Not traced: wire bytes never are.
    filter_->TakeWire([&](std::string_view bytes) { outbound_.Append(bytes); });
    io::ConstBuffer* const buffers = reactor_->write_buffers_;
    const size_t n =
        outbound_.Gather(buffers, io::StreamSocket::kWriteBuffersMax);
    if (n > 0) socket_->Write(buffers, n);
  }
  MarkClosed(UnbindKind::kTls, std::move(status));
}

void Connection::CheckHandshake() {
  if (handshake_reported_ || state_ == Lifecycle::kClosed ||
      !filter_->established()) {
    return;
  }
  handshake_reported_ = true;
  if (handshake_timer_ != 0) {
    reactor_->timers_.Cancel(handshake_timer_);
    handshake_timer_ = 0;
  }
  DrainFilterWire();  // Plaintext kept for the handshake, now encrypted.
  reactor_->Guard(this, [this] { HandshakeCompleted(); });
}

bool Connection::DeliverFilterPlain() {
  char* buffer = reactor_->read_buffer();
  const size_t chunk = reactor_->options_.read_chunk_bytes;
  while (!paused_ && !eof_received_ && state_ != Lifecycle::kClosed) {
    absl::StatusOr<size_t> n = filter_->ReadPlain(buffer, chunk);
    DrainFilterWire();
    if (!n.ok()) {
      FailFilter(n.status());
      return false;
    }
    if (*n == 0) {
      if (filter_->peer_closed()) DeliverEof();
      break;
    }
    DeliverData(std::string_view(buffer, *n));
  }
  return state_ != Lifecycle::kClosed;
}

bool Connection::FilterFlushed() const {
  return filter_ == nullptr || !filter_started_ ||
         (filter_->pending_plain_bytes() == 0 && filter_close_sent_);
}

void Connection::MaybeCloseFilter() {
  if (filter_ == nullptr || !filter_started_ || filter_close_sent_) return;
  if (state_ != Lifecycle::kClosing && !write_shutdown_requested_) return;
  if (filter_->pending_plain_bytes() != 0) return;  // Wait for the handshake.
  filter_close_sent_ = true;
  absl::Status status = filter_->CloseWrite();
  if (!status.ok()) {
    FailFilter(std::move(status));
    return;
  }
  DrainFilterWire();
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
  if (filter_ != nullptr && filter_started_) {
    ScheduleFlush();  // Flush sends close_notify, then closes.
    return;
  }
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
  if (filter_ != nullptr && filter_started_ && !filter_drain_scheduled_ &&
      filter_->HasBufferedPlain()) {
    // Plaintext left inside the filter when the handler paused: no socket
    // readiness will come for it, so deliver it from the loop (dropped if
    // the connection ends first).
    filter_drain_scheduled_ = true;
    NextTick([this] {
      filter_drain_scheduled_ = false;
      DeliverFilterPlain();
    });
  }
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

TimerId Connection::StartTimer(absl::Duration delay,
                              absl::AnyInvocable<void()> callback) {
  EMBER_CHECK_MSG(reactor_ != nullptr,
                  "Connection::StartTimer before the reactor adopted it");
  return reactor_->AddInternalTimer(delay, std::move(callback), id_);
}

bool Connection::CancelTimer(TimerId id) {
  return reactor_ != nullptr && reactor_->CancelTimer(id);
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
  return reactor_->Now() - last_activity_.get();
}

void Connection::SetOutboundLimits(const OutboundLimits& limits) {
  EMBER_CHECK_MSG(limits.low_water_bytes <= limits.high_water_bytes &&
                      limits.high_water_bytes <= limits.max_bytes,
                  "OutboundLimits need low <= high <= max");
  limits_ = std::make_unique<OutboundLimits>(limits);
}

const OutboundLimits& Connection::outbound_limits() const {
  static const OutboundLimits kDefaults;
  if (limits_ != nullptr) return *limits_;
  return reactor_ != nullptr ? reactor_->options_.outbound_limits : kDefaults;
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
  inactivity_timeout_ = CompactDuration(std::max(timeout, absl::ZeroDuration()));
  if (reactor_ == nullptr || state_ == Lifecycle::kClosed) return;
  if (inactivity_timer_ != 0) {
    reactor_->timers_.Cancel(inactivity_timer_);
    inactivity_timer_ = 0;
  }
  if (inactivity_timeout() > absl::ZeroDuration()) ArmInactivityTimer();
}

void Connection::SetPendingConnectTimeout(absl::Duration timeout) {
  pending_connect_timeout_ =
      CompactDuration(std::max(timeout, absl::ZeroDuration()));
  connect_timeout_set_ = true;
  if (reactor_ == nullptr) return;
  if (state_ != Lifecycle::kResolving && state_ != Lifecycle::kConnecting) return;
  if (connect_timer_ != 0) reactor_->timers_.Cancel(connect_timer_);
  ArmConnectTimer();
}

void Connection::ArmConnectTimer() {
  connect_timer_ = reactor_->AddInternalTimer(pending_connect_timeout(), [this] {
    connect_timer_ = 0;
    if (state_ != Lifecycle::kResolving && state_ != Lifecycle::kConnecting) return;
    MarkClosed(UnbindKind::kTimedOut,
               absl::DeadlineExceededError(absl::StrCat(
                   "connect not completed within ",
                   absl::FormatDuration(pending_connect_timeout()),
                   race_ != nullptr ? absl::StrCat(" (", race_->Describe(), ")")
                   : state_ == Lifecycle::kResolving ? " (still resolving)"
                                                     : "")));
  });
}

void Connection::ArmInactivityTimer() {
  const absl::Time deadline = last_activity_.get() + inactivity_timeout();
  inactivity_timer_ = reactor_->AddInternalTimer(
      deadline - reactor_->loop_time_, [this] { OnInactivityTimer(); });
}

void Connection::OnInactivityTimer() {
  inactivity_timer_ = 0;
  if (state_ == Lifecycle::kClosed || inactivity_timeout() <= absl::ZeroDuration()) {
    return;
  }
  // The timer is armed once and re-armed lazily, so activity costs nothing.
  const absl::Duration idle = reactor_->loop_time_ - last_activity_.get();
  if (idle >= inactivity_timeout()) {
    MarkClosed(UnbindKind::kTimedOut,
               absl::DeadlineExceededError(absl::StrCat(
                   "no activity for ", absl::FormatDuration(idle),
                   " (inactivity timeout ",
                   absl::FormatDuration(inactivity_timeout()), ")")));
    return;
  }
  ArmInactivityTimer();
}

void Connection::Touch() { last_activity_ = reactor_->LoopStamp(); }

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
  if (handshake_timer_ != 0) reactor_->timers_.Cancel(handshake_timer_);
  connect_timer_ = inactivity_timer_ = handshake_timer_ = 0;
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
  reactor_->StampDispatchTime();
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
    FlushAfterEvent();
  }
}

void Connection::FlushAfterEvent() {
  // What this connection's own callbacks queued goes out now, in one write,
  // rather than after every other event of the poll has been handled: an
  // answer then waits for no other connection's work (with a thousand
  // connections ready at once, that wait was the tail of the latency).
  // Only when this connection was queued last, as it nearly always is; one
  // queued before or after it keeps its place in the turn's flush.
  std::vector<Connection*>& queued = reactor_->flush_list_;
  if (!flush_scheduled_ || queued.empty() || queued.back() != this) return;
  queued.pop_back();
  flush_scheduled_ = false;
  Flush();
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
  if (inactivity_timeout() > absl::ZeroDuration() && inactivity_timer_ == 0) {
    ArmInactivityTimer();
  }
  StartFilterNow();
  if (state_ == Lifecycle::kClosed) return;
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

void Connection::DeliverData(std::string_view data) {
  reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kRead, id_,
                          data.size(), reactor_->trace_.ContentDigest(data));
  reactor_->Guard(this, [&] { ReceiveData(data); });
}

void Connection::DeliverEof() {
  eof_received_ = true;
  reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kEof, id_, 0);
  UpdateInterest();
  reactor_->Guard(this, [this] { ReceiveEof(); });
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
        if (filter_ != nullptr) {
          // Wire bytes go into the filter (which copies them), so the
          // buffer is free again for the plaintext coming out.
          absl::Status status =
              filter_->ReceiveWire(std::string_view(buffer, r.bytes));
          DrainFilterWire();
          if (!status.ok()) {
            FailFilter(std::move(status));
            return;
          }
          CheckHandshake();
          if (state_ == Lifecycle::kClosed) return;
          if (!DeliverFilterPlain()) return;
          if (r.bytes < chunk) return;
          break;
        }
        DeliverData(std::string_view(buffer, r.bytes));
        if (r.bytes < chunk) return;  // Drained; spare the extra read call.
        break;
      case io::IoResult::Code::kWouldBlock:
        return;
      case io::IoResult::Code::kEndOfStream:
        if (filter_ != nullptr && filter_started_) {
          // Orderly only after the filter's own close (close_notify).
          absl::Status status = filter_->EndOfInput();
          if (!status.ok()) {
            MarkClosed(UnbindKind::kTls, std::move(status));
            return;
          }
          if (eof_received_) return;  // ReceiveEof already ran.
        }
        DeliverEof();
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
                            OutboundDataSize());
    reactor_->Guard(this, [this] { OutboundHighWater(); });
    if (state_ == Lifecycle::kClosed) return false;
  }
  if (above_high_water_ && OutboundDataSize() <= outbound_limits().low_water_bytes) {
    above_high_water_ = false;
    reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kLowWater, id_,
                            OutboundDataSize());
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
  // Closing with a filter: its close (close_notify) goes after everything
  // queued, once no plaintext waits for the handshake.
  if (filter_ != nullptr) {
    MaybeCloseFilter();
    if (state_ == Lifecycle::kClosed) return false;
  }
  io::ConstBuffer* const buffers = reactor_->write_buffers_;
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
    EMBER_CHECK_MSG(r.bytes <= offered, "a write took more than offered");
    if (filter_ == nullptr) {
      // With a filter the plaintext was traced when queued (SendData).
      reactor_->trace_.Record(reactor_->loop_time_, TraceKind::kWrite, id_,
                              r.bytes,
                              reactor_->trace_.content()
                                  ? WrittenDigest(buffers, n, r.bytes)
                                  : 0);
    }
    outbound_.Consume(r.bytes);
    Touch();
    if (r.bytes < offered) break;  // The socket is full.
  }
  // Most flushes cross no water mark: the two flags first, inline.
  if ((high_water_pending_ | above_high_water_) && !NotifyWaterMarks()) {
    return false;
  }
  if (outbound_.empty() && FilterFlushed()) {
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
  return io::Mix64(address ^ reactor_->trace_.ContentDigest(data));
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
  reactor_->StampDispatchTime();
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
