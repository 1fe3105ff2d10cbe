// A third real backend: connected streams over Linux io_uring.
//
// `UringNetwork` is the epoll backend with its connected stream sockets
// moved onto an io_uring instance. Per connection the kernel keeps one
// multishot receive armed, whose data lands in buffers the backend provides
// through a registered buffer ring, and takes the backend's sends as
// submissions. The loop makes one system call per turn (submit what the
// turn queued, then wait) where the epoll backend makes one per read and
// one per write.
//
// Everything else (listeners, datagram sockets, connects until they finish,
// lookups, offloaded jobs, Wake) runs on an inner `EpollNetwork`, whose
// epoll descriptor the ring watches; so the two backends accept, refuse and
// name the same things.
//
// The readiness model of io/network.h holds as on epoll, level-triggered:
// a stream is readable while received bytes wait in it (or end of stream,
// or an error), and writable while its send queue has room.
// - `Read` copies from the bytes received. At `receive_queue_bytes_max`
//   unread bytes the backend stops receiving until the reader has taken
//   half of them, so a reader that stops reading pushes back on its peer
//   through TCP, as on epoll.
// - `Write` copies into the stream's send queue and returns the bytes
//   taken; at `send_queue_bytes_max` queued it takes fewer, down to none
//   (kWouldBlock), and the stream is writable again once sends drain it.
//   Bytes taken go out in the order given, one send in flight at a time.
// - `ShutdownWrite` takes effect after the queued bytes have gone.
// - Destroying a stream does not drop what `Write` took: the backend sends
//   it first, then closes the socket (as close(2) does with a socket's
//   buffer). Received bytes not yet read are dropped, and the socket closes
//   with a FIN, where epoll's close would reset it.
//
// Needs Linux 6.0 or later (multishot receive, buffer rings) with io_uring
// enabled (/proc/sys/kernel/io_uring_disabled 0, no seccomp filter against
// it); `Create` says so when the kernel refuses.

#ifndef EMBER_IO_URING_URING_NETWORK_H_
#define EMBER_IO_URING_URING_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/epoll/epoll_network.h"
#include "io/network.h"

namespace ember::io {

namespace uring_internal {
class Ring;
struct Stream;
}  // namespace uring_internal

class UringNetwork final : public Network {
 public:
  struct Options {
    // The inner epoll backend's options.
    EpollNetwork::Options epoll;
    // Submission and completion queue entries. A full submission queue is
    // submitted early; completions past the queue wait in the kernel.
    unsigned submission_entries = 1024;
    unsigned completion_entries = 16384;
    // The receive buffers provided to the kernel: count (a power of two,
    // at most 32,768) and size; 16 MiB by default, allocated and touched
    // at Create, a fixed cost of each network. A stream reads from the buffer its bytes landed in; by the end
    // of the Poll that received them, whatever it has not read is copied
    // into its receive queue and the buffer goes back to the kernel. When
    // one Poll receives on more streams than there are buffers, the rest
    // are armed again for the next.
    unsigned receive_buffers = 1024;
    size_t receive_buffer_bytes = 16 * 1024;
    // Per stream: unread bytes at which receiving stops, and queued bytes
    // past which Write takes no more (see above).
    size_t receive_queue_bytes_max = 256 * 1024;
    size_t send_queue_bytes_max = 256 * 1024;
    // Have the kernel run completions only when Poll asks for them
    // (IORING_SETUP_DEFER_TASKRUN, Linux 6.1 on), in one batch per wait.
    // Where the kernel lacks it, or with false, they run whenever the
    // loop's thread enters the kernel (COOP_TASKRUN, 5.19 on), or as they
    // come (older kernels). The tests run both.
    bool defer_completions = true;
  };

  // Creates the inner epoll backend and the ring. Fails with the OS error
  // when the kernel refuses io_uring (kind kOther, naming the reason).
  static absl::StatusOr<std::unique_ptr<UringNetwork>> Create();
  static absl::StatusOr<std::unique_ptr<UringNetwork>> Create(
      const Options& options);

  // Every handle must have been destroyed. Sends still owed by destroyed
  // streams are dropped and their sockets closed.
  ~UringNetwork() override;

  UringNetwork(const UringNetwork&) = delete;
  UringNetwork& operator=(const UringNetwork&) = delete;

  absl::Time Now() override;
  absl::Time WallNow() override;
  uint64_t RandomSeed() override;

  absl::StatusOr<int> Poll(absl::Time deadline) override;
  void Wake() override;

  absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Address& address, const ListenOptions& options) override;
  absl::StatusOr<std::unique_ptr<StreamSocket>> Connect(
      const Address& remote, const ConnectOptions& options) override;
  absl::StatusOr<std::unique_ptr<DatagramSocket>> OpenDatagram(
      const Address& local) override;
  void Resolve(std::string_view host, ResolveCallback done) override;
  absl::Status Offload(absl::AnyInvocable<void()> work,
                       absl::AnyInvocable<void()> done) override;

  // Streams destroyed whose queued bytes are still being sent (for tests).
  size_t closing_stream_count() const;

 private:
  class UringStreamSocket;
  class UringListener;
  struct StreamOps;

  UringNetwork(const Options& options, std::unique_ptr<EpollNetwork> epoll,
               std::unique_ptr<uring_internal::Ring> ring);

  // Wraps a connected (accepted) or connecting stream of the inner backend.
  std::unique_ptr<StreamSocket> Wrap(std::unique_ptr<StreamSocket> inner,
                                     bool connected);

  // The handle of `stream` is being destroyed.
  void Release(uring_internal::Stream* stream);
  // Queues `stream` for the next dispatch if it is ready for its interest.
  void NoteReady(uring_internal::Stream* stream);
  void Enqueue(uring_internal::Stream* stream);
  // Handles every completion the ring holds.
  void ReapCompletions();
  // Frees streams finished while no dispatch could still reach them.
  void FreeFinished();

  const Options options_;
  std::unique_ptr<EpollNetwork> epoll_;
  std::unique_ptr<uring_internal::Ring> ring_;
  bool polling_ = false;
  bool epoll_poll_armed_ = false;
  bool epoll_ready_ = false;
  absl::Status backend_error_;

  // Streams to dispatch in the next Poll, and the ones being dispatched.
  std::vector<uring_internal::Stream*> ready_;
  std::vector<uring_internal::Stream*> dispatching_;
  // Streams that may hold a receive buffer, to be copied out at the end
  // of the Poll.
  std::vector<uring_internal::Stream*> holding_;
  // Streams whose receive ran out of buffers, to arm again.
  std::vector<uring_internal::Stream*> starved_;
  // Destroyed streams still sending, and finished ones waiting to be freed.
  std::vector<uring_internal::Stream*> all_closing_;
  std::vector<uring_internal::Stream*> finished_;
};

}  // namespace ember::io

#endif  // EMBER_IO_URING_URING_NETWORK_H_
