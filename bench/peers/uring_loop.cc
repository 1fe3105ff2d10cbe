#include "bench/peers/uring_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/peers/peer_flags.h"

namespace ember::bench {
namespace {

// Submission queue size; the completion queue is larger, since every
// connection's multishot recv can complete many times per batch.
constexpr unsigned kSubmissionEntries = 1024;
constexpr unsigned kCompletionEntries = 16384;

// The provided buffers: 1,024 of 64 KiB (64 MiB), in buffer group 0. A
// recv fills at most one buffer (liburing 2.3 has no bundles), so 64 KiB
// lets one read take as much as the epoll loop's one recv does.
// With DEFER_TASKRUN the kernel takes buffers only while the loop waits,
// so at most one batch of completions holds them; 1,024 leaves room for a
// batch with a recv from each of 1,000 connections.
constexpr unsigned kBufferCount = 1024;
constexpr unsigned kBufferBytes = 64 * 1024;
constexpr int kBufferGroup = 0;

// A connection with more than this queued (in `out` and the send in
// flight) stops receiving until its queue has drained.
constexpr size_t kQueuedBytesMax = 1024 * 1024;

// What a completion is for: the low bits of its user_data. Connections are
// allocated with `new`, so at least 8-aligned, which leaves them free.
enum Op : uint64_t {
  kAccept = 1,  // the multishot accept (no connection)
  kRecv = 2,    // a connection's multishot recv
  kSend = 3,    // a connection's send
  kCancel = 4,  // a cancel request (no connection: it may be gone by then)
};
constexpr uint64_t kOpMask = 7;
static_assert(alignof(UringConnection) >= 8);

uint64_t Tag(UringConnection* connection, Op op) {
  return reinterpret_cast<uintptr_t>(connection) | op;
}

class UringLoop {
 public:
  UringLoop(bool no_delay, UringOnRead on_read)
      : no_delay_(no_delay), on_read_(on_read) {}

  // Sets up the ring and the provided buffers. Returns false, with the
  // reason on stderr, if the kernel refuses.
  bool Init();

  // Arms the accept on `listen_fd` and handles completions forever.
  // Returns 1 if waiting for completions fails.
  int Run(int listen_fd);

 private:
  // The next free submission entry; submits what is queued if none is.
  io_uring_sqe* Sqe();

  void ArmAccept();
  void ArmRecv(UringConnection* connection);
  // Arms the recv again if the connection wants it: open, not receiving,
  // and its queue at most kQueuedBytesMax.
  void MaybeArmRecv(UringConnection* connection);
  // Sends `out` if no send is in flight.
  void StartSend(UringConnection* connection);
  void SendRest(UringConnection* connection);
  // Marks the connection closing and cancels what it has in flight; it is
  // closed and freed once nothing is (MaybeFree).
  void BeginClose(UringConnection* connection);
  void MaybeFree(UringConnection* connection);

  void OnAccept(const io_uring_cqe& cqe);
  void OnRecv(UringConnection* connection, const io_uring_cqe& cqe);
  void OnSend(UringConnection* connection, const io_uring_cqe& cqe);
  // Gives a buffer back to the ring.
  void Recycle(unsigned buffer_id);

  const bool no_delay_;
  const UringOnRead on_read_;
  io_uring ring_{};
  io_uring_buf_ring* buffer_ring_ = nullptr;
  char* buffers_ = nullptr;
  int listen_fd_ = -1;
};

bool UringLoop::Init() {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
                 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = kCompletionEntries;
  int error = io_uring_queue_init_params(kSubmissionEntries, &ring_, &params);
  if (error == -EINVAL) {
    // A kernel before 6.1 has no DEFER_TASKRUN: run completions as they come.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCompletionEntries;
    error = io_uring_queue_init_params(kSubmissionEntries, &ring_, &params);
  }
  if (error < 0) {
    std::fprintf(stderr,
                 "io_uring_queue_init_params: %s (io_uring may be disabled: "
                 "see /proc/sys/kernel/io_uring_disabled, or a seccomp "
                 "filter)\n",
                 std::strerror(-error));
    return false;
  }

  // The buffer ring: page-aligned, registered, then filled with every
  // buffer. liburing 2.3 has no io_uring_setup_buf_ring, so this is the
  // allocation it would do.
  void* ring_memory = nullptr;
  if (posix_memalign(&ring_memory, 4096,
                     kBufferCount * sizeof(io_uring_buf)) != 0) {
    std::fprintf(stderr, "cannot allocate the buffer ring\n");
    return false;
  }
  buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_ring_init(buffer_ring_);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<uintptr_t>(buffer_ring_);
  registration.ring_entries = kBufferCount;
  registration.bgid = kBufferGroup;
  error = io_uring_register_buf_ring(&ring_, &registration, 0);
  if (error < 0) {
    std::fprintf(stderr,
                 "io_uring_register_buf_ring: %s (provided buffer rings "
                 "need Linux 5.19 or later)\n",
                 std::strerror(-error));
    return false;
  }
  // Populated here, at start-up, so that the pool is a fixed cost in the
  // server's RSS rather than growing as the ring cycles through it (which
  // would show as memory per connection in compare.sh's idle workloads).
  void* buffers = mmap(nullptr, size_t{kBufferCount} * kBufferBytes,
                       PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buffers == MAP_FAILED) {
    std::perror("mmap of the receive buffers");
    return false;
  }
  buffers_ = static_cast<char*>(buffers);
  const int mask = io_uring_buf_ring_mask(kBufferCount);
  for (unsigned i = 0; i < kBufferCount; ++i) {
    io_uring_buf_ring_add(buffer_ring_, buffers_ + size_t{i} * kBufferBytes,
                          kBufferBytes, static_cast<unsigned short>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buffer_ring_, kBufferCount);
  return true;
}

io_uring_sqe* UringLoop::Sqe() {
  for (;;) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    // The submission queue is full: hand it to the kernel and go on.
    io_uring_submit(&ring_);
  }
}

void UringLoop::ArmAccept() {
  io_uring_sqe* sqe = Sqe();
  // Blocking sockets: io_uring tries each operation without blocking first
  // and waits with its own poll, so O_NONBLOCK would only add a syscall.
  io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr,
                                 SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAccept);
}

void UringLoop::ArmRecv(UringConnection* connection) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv_multishot(sqe, connection->fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, Tag(connection, kRecv));
  connection->recv_armed = true;
}

void UringLoop::MaybeArmRecv(UringConnection* connection) {
  if (connection->closing || connection->recv_armed) return;
  const size_t queued =
      connection->out.size() + connection->sending.size() - connection->sent;
  if (queued <= kQueuedBytesMax) ArmRecv(connection);
}

void UringLoop::StartSend(UringConnection* connection) {
  if (connection->send_in_flight || connection->out.empty()) return;
  // `sending` must stay put until the kernel has taken it all; new answers
  // go to `out` meanwhile. Swapping keeps both strings' capacity.
  connection->sending.clear();
  connection->sending.swap(connection->out);
  connection->sent = 0;
  SendRest(connection);
}

void UringLoop::SendRest(UringConnection* connection) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_send(sqe, connection->fd,
                     connection->sending.data() + connection->sent,
                     connection->sending.size() - connection->sent,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Tag(connection, kSend));
  connection->send_in_flight = true;
}

void UringLoop::BeginClose(UringConnection* connection) {
  if (connection->closing) return;
  connection->closing = true;
  if (connection->recv_armed || connection->send_in_flight) {
    // Cancels the recv and the send, if any; each still completes (with
    // -ECANCELED or its result), and the last one frees the connection.
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel_fd(sqe, connection->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, kCancel);
  }
  MaybeFree(connection);
}

void UringLoop::MaybeFree(UringConnection* connection) {
  if (!connection->closing || connection->recv_armed ||
      connection->send_in_flight) {
    return;
  }
  close(connection->fd);
  delete connection;
}

void UringLoop::Recycle(unsigned buffer_id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_ + size_t{buffer_id} * kBufferBytes,
                        kBufferBytes, static_cast<unsigned short>(buffer_id),
                        io_uring_buf_ring_mask(kBufferCount), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void UringLoop::OnAccept(const io_uring_cqe& cqe) {
  if (!(cqe.flags & IORING_CQE_F_MORE)) ArmAccept();  // it stopped: rearm
  if (cqe.res < 0) {
    // Out of descriptors and the like: this connection waits in the
    // backlog for the next try.
    if (cqe.res != -EMFILE && cqe.res != -ENFILE && cqe.res != -ECONNABORTED) {
      std::fprintf(stderr, "accept: %s\n", std::strerror(-cqe.res));
    }
    return;
  }
  const int fd = cqe.res;
  if (no_delay_) SetNoDelay(fd);
  auto* connection = new UringConnection;
  connection->fd = fd;
  ArmRecv(connection);
}

void UringLoop::OnRecv(UringConnection* connection, const io_uring_cqe& cqe) {
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (!more) {
    connection->recv_armed = false;
    connection->recv_cancel_pending = false;
  }
  if (cqe.res > 0) {
    // Data: the buffer goes back to the ring once the callback has it.
    const unsigned buffer_id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    const bool keep =
        connection->closing ||
        on_read_(*connection,
                 std::string_view(buffers_ + size_t{buffer_id} * kBufferBytes,
                                  static_cast<size_t>(cqe.res)));
    Recycle(buffer_id);
    if (!keep) {
      BeginClose(connection);
      return;
    }
    if (connection->closing) {
      MaybeFree(connection);
      return;
    }
    StartSend(connection);
    const size_t queued =
        connection->out.size() + connection->sending.size() - connection->sent;
    if (connection->recv_armed && !connection->recv_cancel_pending &&
        queued > kQueuedBytesMax) {
      // Too much waits for the peer to read it: stop receiving until it has.
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_cancel64(sqe, Tag(connection, kRecv), 0);
      io_uring_sqe_set_data64(sqe, kCancel);
      connection->recv_cancel_pending = true;
    }
    MaybeArmRecv(connection);  // if the recv stopped by itself
    return;
  }
  if (connection->closing) {
    MaybeFree(connection);  // cancelled, or ended on its own meanwhile
    return;
  }
  if (cqe.res == -ENOBUFS || cqe.res == -ECANCELED) {
    // The ring ran out of buffers for a moment, or the recv was paused:
    // receive again (MaybeArmRecv waits while too much is queued).
    MaybeArmRecv(connection);
    return;
  }
  // 0 is the end of the stream; anything else is an error.
  if (cqe.res != 0 && cqe.res != -ECONNRESET) {
    std::fprintf(stderr, "recv: %s\n", std::strerror(-cqe.res));
  }
  BeginClose(connection);
}

void UringLoop::OnSend(UringConnection* connection, const io_uring_cqe& cqe) {
  connection->send_in_flight = false;
  if (connection->closing) {
    MaybeFree(connection);
    return;
  }
  if (cqe.res <= 0) {
    // An error (EPIPE, ECONNRESET, ...); 0 bytes of a non-empty send would
    // loop forever, so it closes too.
    if (cqe.res != -EPIPE && cqe.res != -ECONNRESET) {
      std::fprintf(stderr, "send: %s\n",
                   cqe.res == 0 ? "sent nothing" : std::strerror(-cqe.res));
    }
    BeginClose(connection);
    return;
  }
  connection->sent += static_cast<size_t>(cqe.res);
  if (connection->sent < connection->sending.size()) {
    SendRest(connection);  // a short send: the rest, from where it stopped
    return;
  }
  StartSend(connection);     // what queued during this send, if anything
  MaybeArmRecv(connection);  // if it was paused
}

int UringLoop::Run(int listen_fd) {
  listen_fd_ = listen_fd;
  ArmAccept();
  for (;;) {
    // Submits everything queued while handling the last batch and waits
    // for at least one completion.
    const int submitted = io_uring_submit_and_wait(&ring_, 1);
    if (submitted < 0 && submitted != -EINTR && submitted != -EAGAIN &&
        submitted != -EBUSY) {
      std::fprintf(stderr, "io_uring_submit_and_wait: %s\n",
                   std::strerror(-submitted));
      return 1;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      auto* connection =
          reinterpret_cast<UringConnection*>(static_cast<uintptr_t>(data & ~kOpMask));
      switch (data & kOpMask) {
        case kAccept:
          OnAccept(*cqe);
          break;
        case kRecv:
          OnRecv(connection, *cqe);
          break;
        case kSend:
          OnSend(connection, *cqe);
          break;
        default:  // kCancel: its targets report for themselves
          break;
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }
}

}  // namespace

int RunUringServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, UringOnRead on_read) {
  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
          0 ||
      listen(listen_fd, kListenBacklog) != 0) {
    std::perror("listen");
    return 1;
  }
  // The loop lives as long as the process; it is never destroyed.
  auto* loop = new UringLoop(no_delay, on_read);
  if (!loop->Init()) return 1;
  PrintListening(what, host, BoundPort(listen_fd));
  return loop->Run(listen_fd);
}

}  // namespace ember::bench
