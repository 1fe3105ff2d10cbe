#include "io/uring/uring_network.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "io/check.h"
#include "io/error.h"

namespace ember::io {
namespace uring_internal {

// What a completion is for: the low bits of its user_data. Streams are
// allocated with `new`, so at least 8-aligned, which leaves those bits free.
enum Op : uint64_t {
  kRecv = 1,    // a stream's multishot receive
  kSend = 2,    // a stream's send
  kCancel = 3,  // a cancel request (no stream: it may be gone by then)
  kEpoll = 4,   // the poll of the inner epoll descriptor (no stream)
};
constexpr uint64_t kOpMask = 7;
constexpr int kBufferGroup = 0;

// The ring and its provided receive buffers.
class Ring {
 public:
  static absl::StatusOr<std::unique_ptr<Ring>> Create(
      const UringNetwork::Options& options) {
    auto ring = std::unique_ptr<Ring>(new Ring(options));
    absl::Status status = ring->Init(options);
    if (!status.ok()) return status;
    return ring;
  }

  ~Ring() {
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (buffers_ != nullptr) munmap(buffers_, buffers_size_);
    std::free(buffer_ring_);
  }

  io_uring* get() { return &ring_; }

  // Completions are run only when the loop waits or asks for them.
  bool deferred() const { return deferred_; }

  // Binds a ring made disabled to the calling thread; once.
  absl::Status Enable() {
    if (!deferred_ || enabled_) return absl::OkStatus();
    // liburing 2.3 declares io_uring_enable_rings but does not export it.
    if (syscall(__NR_io_uring_register, ring_.ring_fd,
                IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
      return ErrnoError(errno, "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
    }
    enabled_ = true;
    return absl::OkStatus();
  }

  // The next free submission entry; submits what is queued if none is.
  io_uring_sqe* Sqe() {
    for (;;) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe != nullptr) return sqe;
      // A ring not yet enabled cannot take submissions: the first Poll
      // will submit everything (SUBMIT_ALL needs no room for more).
      if (deferred_ && !enabled_) Enable().IgnoreError();
      io_uring_submit(&ring_);
    }
  }

  const char* buffer(unsigned id) const {
    return buffers_ + size_t{id} * buffer_bytes_;
  }

  // Gives buffer `id` back to the kernel.
  void Recycle(unsigned id) {
    io_uring_buf_ring_add(buffer_ring_, buffers_ + size_t{id} * buffer_bytes_,
                          static_cast<unsigned>(buffer_bytes_),
                          static_cast<unsigned short>(id), mask_, 0);
    io_uring_buf_ring_advance(buffer_ring_, 1);
  }

 private:
  explicit Ring(const UringNetwork::Options& options)
      : buffer_count_(options.receive_buffers),
        buffer_bytes_(options.receive_buffer_bytes),
        mask_(io_uring_buf_ring_mask(options.receive_buffers)) {}

  absl::Status Init(const UringNetwork::Options& options) {
    if (buffer_count_ == 0 || buffer_count_ > 32768 ||
        (buffer_count_ & (buffer_count_ - 1)) != 0 || buffer_bytes_ == 0 ||
        buffer_bytes_ > (size_t{1} << 31)) {
      return MakeError(ErrorKind::kOther, "UringNetwork::Create",
                       "receive_buffers must be a power of two up to 32768 "
                       "and receive_buffer_bytes positive");
    }
    // Best: DEFER_TASKRUN (6.1 on) runs completions only when the loop
    // asks for them, in one batch per wait. It needs SINGLE_ISSUER, which
    // binds the ring to the thread that enables it, so the ring starts
    // disabled and the first Poll enables it: a network may be made on
    // one thread and run on another. Next: COOP_TASKRUN runs them when
    // the loop enters the kernel, not by interrupting it, and
    // TASKRUN_FLAG marks the ring when some wait, so that liburing's
    // submit enters even with nothing to submit. Last, a kernel before
    // 5.19 runs them as they come.
    const unsigned tries[] = {
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int error = -EINVAL;
    for (unsigned flags : tries) {
      if (!options.defer_completions &&
          (flags & IORING_SETUP_DEFER_TASKRUN) != 0) {
        continue;
      }
      io_uring_params params{};
      params.flags = IORING_SETUP_CQSIZE | flags;
      params.cq_entries = options.completion_entries;
      error = io_uring_queue_init_params(options.submission_entries, &ring_,
                                         &params);
      if (error != -EINVAL) {
        deferred_ = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
        break;
      }
    }
    if (error < 0) {
      return ErrnoError(-error,
                        "io_uring_queue_init_params (io_uring may be "
                        "disabled: see /proc/sys/kernel/io_uring_disabled, "
                        "or a seccomp filter)");
    }
    ring_ready_ = true;
    // The buffer ring, page-aligned and registered; liburing 2.3 has no
    // io_uring_setup_buf_ring.
    void* ring_memory = nullptr;
    if (posix_memalign(&ring_memory, 4096,
                       buffer_count_ * sizeof(io_uring_buf)) != 0) {
      return ErrnoError(ENOMEM, "allocating the io_uring buffer ring");
    }
    buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
    io_uring_buf_ring_init(buffer_ring_);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<uintptr_t>(buffer_ring_);
    registration.ring_entries = buffer_count_;
    registration.bgid = kBufferGroup;
    error = io_uring_register_buf_ring(&ring_, &registration, 0);
    if (error < 0) {
      return ErrnoError(-error,
                        "io_uring_register_buf_ring (provided buffer rings "
                        "need Linux 5.19 or later)");
    }
    // Populated now: the kernel takes buffers in turn round the ring, so
    // even a quiet server touches every one before long. Paying it at
    // Create keeps the process's memory flat afterwards.
    buffers_size_ = size_t{buffer_count_} * buffer_bytes_;
    void* buffers = mmap(nullptr, buffers_size_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buffers == MAP_FAILED) {
      buffers_size_ = 0;
      return ErrnoError(errno, "mmap of the io_uring receive buffers");
    }
    buffers_ = static_cast<char*>(buffers);
    for (unsigned i = 0; i < buffer_count_; ++i) {
      io_uring_buf_ring_add(buffer_ring_, buffers_ + size_t{i} * buffer_bytes_,
                            static_cast<unsigned>(buffer_bytes_),
                            static_cast<unsigned short>(i), mask_,
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffer_count_));
    return absl::OkStatus();
  }

  const unsigned buffer_count_;
  const size_t buffer_bytes_;
  const int mask_;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool deferred_ = false;
  bool enabled_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  char* buffers_ = nullptr;
  size_t buffers_size_ = 0;
};

// One stream: what its handle and its operations in flight share. Owned by
// its handle while the handle lives; after that by the network, until no
// operation of it is in flight and nothing queued is left to send.
struct Stream {
  UringNetwork* network = nullptr;
  // The epoll backend's socket: owns the descriptor, connects, and answers
  // addresses and options. Destroying it closes the descriptor.
  std::unique_ptr<StreamSocket> inner;
  int fd = -1;
  IoWatcher* watcher = nullptr;   // Null once the handle is destroyed.
  uint32_t interest = 0;
  bool on_ring = false;          // Connected, and its I/O on the ring.
  bool queued = false;           // In the network's ready list.
  bool recv_armed = false;       // The multishot receive is in flight.
  bool recv_cancel_sent = false;
  bool recv_paused = false;      // Stopped at receive_queue_bytes_max.
  bool starved = false;          // Waiting to be armed again (no buffers).
  bool eof = false;
  bool send_in_flight = false;
  bool write_shut = false;       // ShutdownWrite was called.
  bool shutdown_pending = false;  // ... and waits for the queue to drain.
  bool closing = false;          // The handle is gone; sending what's left.
  size_t closing_index = 0;      // In the network's all_closing_.
  absl::Status error;            // The first receive or send error.
  // Received bytes not yet read: those of one ring buffer still held
  // (`held` is its id, -1 for none; read from held_begin on), or, once a
  // Poll ends with them unread or more arrive, copied into `in` (read from
  // in_begin on). Never both at once.
  int held = -1;
  uint32_t held_begin = 0;
  uint32_t held_end = 0;
  std::string in;
  size_t in_begin = 0;
  std::string out;               // Taken by Write, not yet handed over.
  std::string sending;           // The send in flight; sent from `sent`.
  size_t sent = 0;

  size_t unread() const {
    return in.size() - in_begin + (held_end - held_begin);
  }
  size_t queued_bytes() const { return out.size() + sending.size() - sent; }
};

namespace {

uint64_t Tag(Stream* stream, Op op) {
  return reinterpret_cast<uintptr_t>(stream) | op;
}

// Above this a drained buffer gives its memory back, so that an idle
// stream does not keep what one burst needed.
constexpr size_t kKeptCapacityMax = 64 * 1024;

ABSL_ATTRIBUTE_NOINLINE void ShrinkBuffer(std::string& buffer) {
  buffer.shrink_to_fit();
}

inline void ClearBuffer(std::string& buffer) {
  buffer.clear();
  if (ABSL_PREDICT_FALSE(buffer.capacity() > kKeptCapacityMax)) {
    ShrinkBuffer(buffer);
  }
}

}  // namespace
}  // namespace uring_internal

using uring_internal::Op;
using uring_internal::Stream;
using uring_internal::Tag;

// The bits of `interest` a stream is ready for: readable while bytes wait
// (or end of stream), writable while its send queue has room, both after
// an error. Only what `interest` asks about is looked at: the check runs
// for every completion and dispatch.
inline uint32_t ReadyFor(const Stream& s, uint32_t interest,
                         size_t send_queue_bytes_max) {
  if (!s.error.ok()) return interest & (kReadable | kWritable);
  uint32_t readiness = 0;
  if ((interest & kReadable) != 0 && (s.unread() > 0 || s.eof)) {
    readiness |= kReadable;
  }
  if ((interest & kWritable) != 0 &&
      s.queued_bytes() < send_queue_bytes_max) {
    readiness |= kWritable;
  }
  return readiness;
}

// Called for every completion and dispatch, mostly to find nothing to do:
// inline, with the queueing out of line.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void UringNetwork::NoteReady(Stream* s) {
  // A destroyed handle has no watcher.
  const uint32_t interest = s->interest;
  if (interest == 0 || s->queued || s->watcher == nullptr || !s->on_ring) {
    return;
  }
  if (ReadyFor(*s, interest, options_.send_queue_bytes_max) == 0) return;
  Enqueue(s);
}

void UringNetwork::Enqueue(Stream* s) {
  s->queued = true;
  ready_.push_back(s);
}

// The rest of the stream's operations, with the network's state at hand.
struct UringNetwork::StreamOps {
  // Receiving stops at receive_queue_bytes_max unread (recv_paused), and
  // only Read, having taken the queue down to half, starts it again.
  static bool WantsReceive(const Stream& s) {
    return s.on_ring && !s.closing && !s.eof && s.error.ok() &&
           !s.recv_paused && !s.recv_armed && !s.starved;
  }

  static void ArmReceive(UringNetwork& n, Stream* s) {
    io_uring_sqe* sqe = n.ring_->Sqe();
    io_uring_prep_recv_multishot(sqe, s->fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = uring_internal::kBufferGroup;
    io_uring_sqe_set_data64(sqe, Tag(s, Op::kRecv));
    s->recv_armed = true;
    s->recv_cancel_sent = false;
  }

  // Asks the kernel to cancel the operation tagged `target`; the cancel's
  // own completion carries no stream, which may be gone by then.
  static void Cancel(UringNetwork& n, uint64_t target) {
    io_uring_sqe* sqe = n.ring_->Sqe();
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, Op::kCancel);
  }

  static void CancelReceive(UringNetwork& n, Stream* s) {
    if (!s->recv_armed || s->recv_cancel_sent) return;
    Cancel(n, Tag(s, Op::kRecv));
    s->recv_cancel_sent = true;
  }

  // Hands the queue to the kernel; nothing may be in flight. The rest of a
  // short send goes first; once it is all sent, what queued meanwhile
  // (`out`) becomes the next send, trading buffers so neither allocates.
  static void StartSend(UringNetwork& n, Stream* s) {
    EMBER_CHECK(!s->send_in_flight);
    if (s->sent == s->sending.size()) {
      s->sending.clear();
      s->sent = 0;
      std::swap(s->sending, s->out);
    }
    if (s->sending.empty()) return;
    io_uring_sqe* sqe = n.ring_->Sqe();
    // MSG_NOSIGNAL: a reset peer gives EPIPE, not SIGPIPE.
    io_uring_prep_send(sqe, s->fd, s->sending.data() + s->sent,
                       s->sending.size() - s->sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Tag(s, Op::kSend));
    s->send_in_flight = true;
  }

  // A closing stream with nothing in flight and nothing to send is done:
  // its descriptor is closed and it waits to be freed.
  static void MaybeFinish(UringNetwork& n, Stream* s) {
    if (!s->closing) return;
    if (!s->send_in_flight && s->error.ok() && s->queued_bytes() > 0) {
      StartSend(n, s);
    }
    if (s->recv_armed || s->send_in_flight) return;
    s->inner.reset();
    Stream* last = n.all_closing_.back();
    n.all_closing_[s->closing_index] = last;
    last->closing_index = s->closing_index;
    n.all_closing_.pop_back();
    s->closing = false;
    n.finished_.push_back(s);
  }

  // Copies what is unread of a held buffer into `in` and gives the buffer
  // back.
  static void Unhold(UringNetwork& n, Stream* s) {
    if (s->held < 0) return;
    s->in.append(n.ring_->buffer(static_cast<unsigned>(s->held)) +
                     s->held_begin,
                 s->held_end - s->held_begin);
    Release(n, s);
  }

  // Gives a held buffer back, read or not.
  static void Release(UringNetwork& n, Stream* s) {
    if (s->held < 0) return;
    n.ring_->Recycle(static_cast<unsigned>(s->held));
    s->held = -1;
    s->held_begin = s->held_end = 0;
  }

  static void OnReceive(UringNetwork& n, Stream* s, const io_uring_cqe& cqe) {
    bool id_taken = false;
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) s->recv_armed = false;
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
      if (cqe.res > 0 && !s->closing) {
        if (s->unread() == 0) {
          // The usual case: read from the ring's buffer itself, in this
          // Poll's dispatch, with no copy in between.
          s->held = static_cast<int>(id);
          s->held_begin = 0;
          s->held_end = static_cast<uint32_t>(cqe.res);
          n.holding_.push_back(s);
          id_taken = true;
        } else {
          Unhold(n, s);
          s->in.append(n.ring_->buffer(id), static_cast<size_t>(cqe.res));
        }
      }
      if (!id_taken) n.ring_->Recycle(id);
    }
    if (cqe.res == 0) {
      s->eof = true;
    } else if (cqe.res == -ENOBUFS) {
      // Every buffer was taken when this one arrived; armed again once
      // this batch has given them back.
      if (!s->recv_armed && !s->closing) {
        s->starved = true;
        n.starved_.push_back(s);
      }
    } else if (cqe.res < 0 && cqe.res != -ECANCELED) {
      if (s->error.ok()) s->error = ErrnoError(-cqe.res, "read");
    }
    if (s->closing) {
      MaybeFinish(n, s);
      return;
    }
    // Paused at the limit whatever else is going on (a cancel of an earlier
    // pause may still be on its way): only Read resumes it.
    if (s->unread() >= n.options_.receive_queue_bytes_max) {
      s->recv_paused = true;
      CancelReceive(n, s);
    }
    if (WantsReceive(*s)) ArmReceive(n, s);
    n.NoteReady(s);
  }

  static void OnSend(UringNetwork& n, Stream* s, const io_uring_cqe& cqe) {
    s->send_in_flight = false;
    if (cqe.res < 0) {
      if (s->error.ok()) s->error = ErrnoError(-cqe.res, "write");
      s->out.clear();
      s->sending.clear();
      s->sent = 0;
      s->shutdown_pending = false;
    } else {
      s->sent += static_cast<size_t>(cqe.res);
      if (s->sent == s->sending.size()) {
        s->sent = 0;
        uring_internal::ClearBuffer(s->sending);
      }
      if (s->queued_bytes() > 0) {
        StartSend(n, s);
      } else if (s->shutdown_pending) {
        s->shutdown_pending = false;
        absl::Status status = s->inner->ShutdownWrite();
        if (!status.ok() && s->error.ok()) s->error = std::move(status);
      }
    }
    if (s->closing) {
      MaybeFinish(n, s);
      return;
    }
    n.NoteReady(s);
  }

  static void StartOnRing(UringNetwork& n, Stream* s) {
    s->on_ring = true;
    if (WantsReceive(*s)) ArmReceive(n, s);
    n.NoteReady(s);
  }
};

// A stream socket: on the inner backend until connected, then on the ring.
class UringNetwork::UringStreamSocket final : public StreamSocket {
 public:
  explicit UringStreamSocket(Stream* stream) : s_(stream) {}

  ~UringStreamSocket() override { s_->network->Release(s_); }

  void SetWatcher(IoWatcher* watcher) override {
    s_->watcher = watcher;
    if (!s_->on_ring) {
      s_->inner->SetWatcher(watcher);
      return;
    }
    s_->network->NoteReady(s_);
  }

  void SetInterest(uint32_t interest) override {
    s_->interest = interest;
    if (!s_->on_ring) {
      s_->inner->SetInterest(interest);
      return;
    }
    s_->network->NoteReady(s_);
  }

  absl::Status FinishConnect() override {
    if (s_->on_ring) return absl::OkStatus();
    absl::Status status = s_->inner->FinishConnect();
    if (status.ok()) {
      // Connected: the inner socket stops watching; the ring takes over.
      s_->inner->SetInterest(0);
      s_->inner->SetWatcher(nullptr);
      StreamOps::StartOnRing(*s_->network, s_);
    }
    return status;
  }

  IoResult Read(char* buf, size_t len) override {
    EMBER_CHECK(len > 0);
    Stream& s = *s_;
    if (!s.on_ring) return s.inner->Read(buf, len);
    const size_t unread = s.unread();
    if (unread > 0) {
      UringNetwork& network = *s.network;
      const size_t n = std::min(len, unread);
      if (s.held >= 0) {
        std::memcpy(buf,
                    network.ring_->buffer(static_cast<unsigned>(s.held)) +
                        s.held_begin,
                    n);
        s.held_begin += static_cast<uint32_t>(n);
        if (s.held_begin == s.held_end) StreamOps::Release(network, s_);
      } else {
        std::memcpy(buf, s.in.data() + s.in_begin, n);
        s.in_begin += n;
        if (s.in_begin == s.in.size()) {
          s.in_begin = 0;
          uring_internal::ClearBuffer(s.in);
        }
      }
      if (s.recv_paused &&
          s.unread() <= network.options_.receive_queue_bytes_max / 2) {
        s.recv_paused = false;
        if (StreamOps::WantsReceive(s)) {
          StreamOps::ArmReceive(network, s_);
        }
      }
      return IoResult::Ok(n);
    }
    if (!s.error.ok()) return IoResult::Error(s.error);
    if (s.eof) return IoResult::EndOfStream();
    return IoResult::WouldBlock();
  }

  IoResult Write(const ConstBuffer* buffers, size_t count) override {
    EMBER_CHECK(count <= kWriteBuffersMax);
    Stream& s = *s_;
    if (!s.on_ring) return s.inner->Write(buffers, count);
    if (!s.error.ok()) return IoResult::Error(s.error);
    if (s.write_shut) {
      return IoResult::Error(ErrnoError(EPIPE, "write"));
    }
    UringNetwork& network = *s.network;
    const size_t queued = s.queued_bytes();
    const size_t max = network.options_.send_queue_bytes_max;
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) total += buffers[i].size;
    if (total == 0) return IoResult::Ok(0);
    if (queued >= max) return IoResult::WouldBlock();
    size_t room = max - queued;
    // With no send in flight, nothing is left of the last one (a short send
    // is sent on at once): the bytes go straight into the next send.
    std::string& into = s.send_in_flight ? s.out : s.sending;
    size_t taken = 0;
    for (size_t i = 0; i < count && room > 0; ++i) {
      const size_t n = std::min(room, buffers[i].size);
      into.append(buffers[i].data, n);
      taken += n;
      room -= n;
    }
    if (!s.send_in_flight) StreamOps::StartSend(network, s_);
    return IoResult::Ok(taken);
  }

  absl::Status ShutdownWrite() override {
    Stream& s = *s_;
    if (!s.on_ring || !s.error.ok()) return s.inner->ShutdownWrite();
    if (s.write_shut) return absl::OkStatus();
    s.write_shut = true;
    if (s.queued_bytes() > 0) {
      s.shutdown_pending = true;
      return absl::OkStatus();
    }
    return s.inner->ShutdownWrite();
  }

  absl::StatusOr<Address> LocalAddress() const override {
    return s_->inner->LocalAddress();
  }
  absl::StatusOr<Address> PeerAddress() const override {
    return s_->inner->PeerAddress();
  }
  absl::Status SetNoDelay(bool on) override {
    return s_->inner->SetNoDelay(on);
  }
  absl::Status SetKeepAlive(const KeepAliveOptions& options) override {
    return s_->inner->SetKeepAlive(options);
  }

 private:
  Stream* const s_;
};

// A listener of the inner backend whose accepted streams go on the ring.
class UringNetwork::UringListener final : public Listener {
 public:
  UringListener(UringNetwork* network, std::unique_ptr<Listener> inner)
      : network_(network), inner_(std::move(inner)) {}

  void SetWatcher(IoWatcher* watcher) override { inner_->SetWatcher(watcher); }
  void SetInterest(uint32_t interest) override {
    inner_->SetInterest(interest);
  }

  absl::StatusOr<std::unique_ptr<StreamSocket>> Accept() override {
    absl::StatusOr<std::unique_ptr<StreamSocket>> accepted = inner_->Accept();
    if (!accepted.ok() || *accepted == nullptr) return accepted;
    return network_->Wrap(std::move(*accepted), /*connected=*/true);
  }

  Address LocalAddress() const override { return inner_->LocalAddress(); }

 private:
  UringNetwork* const network_;
  const std::unique_ptr<Listener> inner_;
};

absl::StatusOr<std::unique_ptr<UringNetwork>> UringNetwork::Create() {
  return Create(Options());
}

absl::StatusOr<std::unique_ptr<UringNetwork>> UringNetwork::Create(
    const Options& options) {
  absl::StatusOr<std::unique_ptr<EpollNetwork>> epoll =
      EpollNetwork::Create(options.epoll);
  if (!epoll.ok()) return epoll.status();
  absl::StatusOr<std::unique_ptr<uring_internal::Ring>> ring =
      uring_internal::Ring::Create(options);
  if (!ring.ok()) return ring.status();
  return std::unique_ptr<UringNetwork>(
      new UringNetwork(options, std::move(*epoll), std::move(*ring)));
}

UringNetwork::UringNetwork(const Options& options,
                           std::unique_ptr<EpollNetwork> epoll,
                           std::unique_ptr<uring_internal::Ring> ring)
    : options_(options), epoll_(std::move(epoll)), ring_(std::move(ring)) {}

UringNetwork::~UringNetwork() {
  // Every handle is gone; streams still sending give up, and the network
  // waits for the kernel to be done with their buffers.
  for (Stream* s : all_closing_) {
    if (s->error.ok()) s->error = MakeError(ErrorKind::kClosed, "write",
                                            "the network was destroyed");
    s->out.clear();
    StreamOps::CancelReceive(*this, s);
    if (s->send_in_flight) StreamOps::Cancel(*this, Tag(s, Op::kSend));
  }
  while (!all_closing_.empty()) {
    if (io_uring_submit_and_wait(ring_->get(), 1) < 0) break;
    ReapCompletions();
  }
  for (Stream* s : finished_) delete s;
  finished_.clear();
  // A stream the kernel could not be waited for (the ring refused this
  // thread, say) is left allocated, since a send of it may still read its
  // bytes; its socket is closed.
  for (Stream* s : all_closing_) s->inner.reset();
  all_closing_.clear();
  ring_.reset();
  epoll_.reset();
}

size_t UringNetwork::closing_stream_count() const {
  return all_closing_.size();
}

absl::Time UringNetwork::Now() { return epoll_->Now(); }
absl::Time UringNetwork::WallNow() { return epoll_->WallNow(); }
uint64_t UringNetwork::RandomSeed() { return epoll_->RandomSeed(); }
void UringNetwork::Wake() { epoll_->Wake(); }

void UringNetwork::Resolve(std::string_view host, ResolveCallback done) {
  epoll_->Resolve(host, std::move(done));
}

absl::Status UringNetwork::Offload(absl::AnyInvocable<void()> work,
                                   absl::AnyInvocable<void()> done) {
  return epoll_->Offload(std::move(work), std::move(done));
}

absl::StatusOr<std::unique_ptr<Listener>> UringNetwork::Listen(
    const Address& address, const ListenOptions& options) {
  absl::StatusOr<std::unique_ptr<Listener>> inner =
      epoll_->Listen(address, options);
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<Listener>(new UringListener(this, std::move(*inner)));
}

absl::StatusOr<std::unique_ptr<StreamSocket>> UringNetwork::Connect(
    const Address& remote, const ConnectOptions& options) {
  absl::StatusOr<std::unique_ptr<StreamSocket>> inner =
      epoll_->Connect(remote, options);
  if (!inner.ok()) return inner.status();
  return Wrap(std::move(*inner), /*connected=*/false);
}

absl::StatusOr<std::unique_ptr<DatagramSocket>> UringNetwork::OpenDatagram(
    const Address& local) {
  return epoll_->OpenDatagram(local);
}

std::unique_ptr<StreamSocket> UringNetwork::Wrap(
    std::unique_ptr<StreamSocket> inner, bool connected) {
  auto* s = new Stream;
  s->network = this;
  s->fd = EpollNetwork::StreamSocketFd(*inner);
  s->inner = std::move(inner);
  auto handle = std::make_unique<UringStreamSocket>(s);
  if (connected) StreamOps::StartOnRing(*this, s);
  return handle;
}

void UringNetwork::Release(Stream* s) {
  s->watcher = nullptr;
  s->interest = 0;
  if (!s->on_ring) {
    s->inner.reset();
    finished_.push_back(s);
    return;
  }
  // Unread bytes are dropped; taken ones are still sent.
  StreamOps::Release(*this, s);
  s->in.clear();
  s->in_begin = 0;
  s->shutdown_pending = false;
  s->closing = true;
  s->closing_index = all_closing_.size();
  all_closing_.push_back(s);
  StreamOps::CancelReceive(*this, s);
  StreamOps::MaybeFinish(*this, s);
}

void UringNetwork::ReapCompletions() {
  io_uring* ring = ring_->get();
  for (;;) {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      const uint64_t op = data & uring_internal::kOpMask;
      Stream* s = reinterpret_cast<Stream*>(data & ~uring_internal::kOpMask);
      switch (op) {
        case Op::kRecv:
          StreamOps::OnReceive(*this, s, *cqe);
          break;
        case Op::kSend:
          StreamOps::OnSend(*this, s, *cqe);
          break;
        case Op::kEpoll:
          epoll_poll_armed_ = false;
          epoll_ready_ = true;
          break;
        default:
          break;  // A cancel's own completion.
      }
    }
    if (seen == 0) break;
    io_uring_cq_advance(ring, seen);
  }
  // Buffers went back as their bytes were copied: arm the starved again.
  for (Stream* s : starved_) {
    s->starved = false;
    if (StreamOps::WantsReceive(*s)) StreamOps::ArmReceive(*this, s);
  }
  starved_.clear();
}

void UringNetwork::FreeFinished() {
  size_t kept = 0;
  for (Stream* s : finished_) {
    if (s->queued) {
      finished_[kept++] = s;  // Still listed for the next dispatch.
    } else {
      delete s;
    }
  }
  finished_.resize(kept);
}

absl::StatusOr<int> UringNetwork::Poll(absl::Time deadline) {
  EMBER_CHECK_MSG(!polling_, "Poll called from inside a Poll callback");
  if (!backend_error_.ok()) return backend_error_;
  io_uring* ring = ring_->get();
  if (absl::Status enabled = ring_->Enable(); !enabled.ok()) {
    backend_error_ = std::move(enabled);
    return backend_error_;
  }
  if (!epoll_poll_armed_) {
    io_uring_sqe* sqe = ring_->Sqe();
    io_uring_prep_poll_add(sqe, epoll_->epoll_fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, Op::kEpoll);
    epoll_poll_armed_ = true;
  }
  const bool now = !ready_.empty() || epoll_ready_ ||
                   epoll_->HasWorkWithoutEvents() ||
                   deadline == absl::InfinitePast();
  int result;
  if (now && !ring_->deferred()) {
    result = io_uring_submit(ring);
  } else if (now || deadline == absl::InfiniteFuture()) {
    // A zero timeout does not wait, but asks for the deferred completions.
    __kernel_timespec zero{};
    io_uring_cqe* cqe = nullptr;
    result = now ? io_uring_submit_and_wait_timeout(ring, &cqe, 1, &zero,
                                                    nullptr)
                 : io_uring_submit_and_wait(ring, 1);
  } else {
    const absl::Duration left = deadline - Now();
    const int64_t nanos =
        left <= absl::ZeroDuration()
            ? 0
            : absl::ToInt64Nanoseconds(absl::Ceil(left, absl::Nanoseconds(1)));
    __kernel_timespec ts{};
    ts.tv_sec = nanos / 1000000000;
    ts.tv_nsec = nanos % 1000000000;
    io_uring_cqe* cqe = nullptr;
    result = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nullptr);
  }
  if (result < 0 && result != -EINTR && result != -ETIME &&
      result != -EBUSY && result != -EAGAIN) {
    backend_error_ = ErrnoError(-result, "io_uring_enter");
    return backend_error_;
  }
  polling_ = true;
  ReapCompletions();
  int callbacks = 0;
  if (epoll_ready_ || epoll_->HasWorkWithoutEvents()) {
    epoll_ready_ = false;
    absl::StatusOr<int> inner = epoll_->Poll(absl::InfinitePast());
    if (!inner.ok()) {
      polling_ = false;
      backend_error_ = inner.status();
      return backend_error_;
    }
    callbacks += *inner;
  }
  dispatching_.swap(ready_);
  for (Stream* s : dispatching_) {
    s->queued = false;
    if (s->watcher == nullptr || !s->on_ring) {
      continue;
    }
    const uint32_t readiness =
        ReadyFor(*s, s->interest, options_.send_queue_bytes_max);
    if (readiness == 0) continue;
    s->watcher->OnIoReady(readiness);
    ++callbacks;
    // Level-triggered: still ready, it is reported again by the next Poll.
    NoteReady(s);
  }
  dispatching_.clear();
  // Buffers are lent to the kernel again by the end of the Poll that
  // received into them: what was not read is copied.
  for (Stream* s : holding_) StreamOps::Unhold(*this, s);
  holding_.clear();
  FreeFinished();
  polling_ = false;
  return callbacks;
}

}  // namespace ember::io
