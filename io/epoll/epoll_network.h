// The real `io::Network`: Linux epoll, non-blocking sockets, the system
// clocks, and host name resolution on a worker thread.
//
// `EpollNetwork` is the backend Ember ships to production; `main()` creates
// one and hands it to the reactor, which sees only `io::Network`. It follows
// the interface's contract exactly (level-triggered readiness, callbacks only
// from inside `Poll`, handles destroyable at any time, `Wake` thread-safe,
// `Resolve` never blocking). The choices the interface leaves to a backend:
//
// - Sockets are non-blocking and close-on-exec. IPv6 sockets are IPv6 only
//   (IPV6_V6ONLY on), so `[::]:80` does not also take IPv4 connections as
//   `::ffff:a.b.c.d` peers, an IPv4 and an IPv6 listener can share a port,
//   and an address's family always says what traffic a socket carries.
// - Writes use sendmsg/sendto with MSG_NOSIGNAL, so a write to a reset peer
//   returns kind kReset instead of raising SIGPIPE; the process's signal
//   dispositions are left alone.
// - ListenOptions::reuse_address and reuse_port apply to IP listeners; Unix
//   listeners ignore them. A Unix listener replaces a stale socket file (one
//   nobody accepts on: connecting to it is refused) and fails with
//   kAddressInUse while another listener is live, or when the path is not a
//   socket. Destroying the listener removes its socket file, unless the file
//   was replaced since.
// - An unnamed Unix socket (the usual client end) has the unspecified
//   `Address()` as its local or peer address.
// - A connect that fails at once (a Unix connect never waits) is still
//   reported through kWritable readiness and `FinishConnect`, like every
//   refusal: kRefused when nobody listens (also for a missing Unix socket
//   file), kNoResources when a Unix listener's backlog is full.
// - Accepted sockets keep the kernel's defaults (Nagle on, no keepalive).
// - `Offload` runs work on a pool of `Options::offload_threads` worker
//   threads, started on first use, with at most `offload_jobs_max` jobs
//   outstanding.
// - Host names are resolved with getaddrinfo on one worker thread, started on
//   first use; numeric literals and names under ".invalid" (RFC 6761) are
//   answered without it. Every result is delivered from a later `Poll`.
// - `Poll` waits with millisecond resolution, rounding the timeout up so that
//   it never returns before its deadline only because of rounding.
//
// Interest changes cost an epoll_ctl call only when the registered mask
// changes; a handle with interest 0 (or no watcher) is not registered at all.
// Steady-state `Poll`, `Read` and `Write` do not allocate.

#ifndef EMBER_IO_EPOLL_EPOLL_NETWORK_H_
#define EMBER_IO_EPOLL_EPOLL_NETWORK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"

struct epoll_event;

namespace ember::io {

namespace epoll_internal {
class Resolver;
class WorkPool;
}  // namespace epoll_internal

class EpollRegistration;

class EpollNetwork final : public Network {
 public:
  struct Options {
    // The most events one epoll_wait returns; the rest stay ready for the
    // next `Poll` (readiness is level-triggered, so none is lost).
    int events_per_poll_max = 256;
    // Name lookups (not literals, nor the names io/resolve.h answers)
    // started and not yet delivered. Past it,
    // `Resolve` fails the request with kind kNoResources, delivered from a
    // later Poll like any result.
    size_t lookups_pending_max = 1024;
    // Offload: worker threads, and jobs queued, running or finished and
    // not yet delivered. Past the limit Offload fails (kResourceExhausted).
    int offload_threads = 4;
    size_t offload_jobs_max = 1024;
    // Poll fetches each ready watcher's hot bytes (IoWatcher::HotBytes)
    // into the cache one event ahead while the registered watchers' hot
    // bytes come to more than this: with fewer, they mostly stay in a
    // core's cache and the prefetches cost more than they save. The
    // default, 256 KiB, is about 350 HTTP server connections or 1,200
    // plain ones. 0 prefetches always; SIZE_MAX never.
    size_t prefetch_above_bytes = 256 * 1024;
  };

  // Creates the epoll instance and the wake eventfd. Fails with the OS error
  // (for example kNoResources when out of descriptors).
  static absl::StatusOr<std::unique_ptr<EpollNetwork>> Create();
  static absl::StatusOr<std::unique_ptr<EpollNetwork>> Create(
      const Options& options);

  // Raises the soft limit on open descriptors (RLIMIT_NOFILE) to `wanted`, or
  // as far as the hard limit allows; never lowers it. Returns the soft limit
  // now in force, which the caller compares with what it needs.
  // kInvalidArgument when `wanted` is not positive; the OS error if
  // getrlimit/setrlimit fail.
  static absl::StatusOr<int> RaiseDescriptorLimit(int wanted);

  // Every handle must have been destroyed. Pending resolutions are dropped.
  ~EpollNetwork() override;

  EpollNetwork(const EpollNetwork&) = delete;
  EpollNetwork& operator=(const EpollNetwork&) = delete;

  // CLOCK_MONOTONIC, as absl::UnixEpoch() plus the time since boot.
  absl::Time Now() override;
  // CLOCK_REALTIME.
  absl::Time WallNow() override;
  // From getrandom().
  uint64_t RandomSeed() override;

  absl::StatusOr<int> Poll(absl::Time deadline) override;
  void Wake() override;

  absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Address& address, const ListenOptions& options) override;
  absl::StatusOr<std::unique_ptr<StreamSocket>> Connect(
      const Address& remote, const ConnectOptions& options) override;
  // IP addresses only: a Unix address fails with kAddressInvalid.
  absl::StatusOr<std::unique_ptr<DatagramSocket>> OpenDatagram(
      const Address& local) override;
  void Resolve(std::string_view host, ResolveCallback done) override;
  absl::Status Offload(absl::AnyInvocable<void()> work,
                       absl::AnyInvocable<void()> done) override;

  // Live handles (for tests and leak checks).
  size_t handle_count() const { return slots_.size() - free_slots_.size(); }

  // For a backend layered on this one (io/uring runs its listeners,
  // datagrams, connects, lookups and jobs here and moves connected streams
  // to io_uring): the epoll instance, which is readable while a Poll has
  // events to dispatch; whether a Poll has work no event announces
  // (answers given without a lookup); and the descriptor of a stream socket
  // this backend made, which the socket keeps owning and closes.
  int epoll_fd() const { return epoll_fd_; }
  bool HasWorkWithoutEvents() const { return !resolves_done_.empty(); }
  static int StreamSocketFd(const StreamSocket& socket);

 private:
  friend class EpollRegistration;

  // One entry per live handle. epoll_event.data.u64 carries the slot index in
  // its low 32 bits and the slot's generation in its high 32 bits; releasing
  // a slot bumps its generation, so an event fetched for a handle destroyed
  // earlier in the same batch (or for whatever reused its slot) is skipped.
  // 24 bytes: a server has one per connection.
  struct Slot {
    IoWatcher* watcher = nullptr;
    uint32_t generation = 0;
    int fd = -1;
    uint8_t interest = 0;
    uint8_t registered_events = 0;  // EPOLLIN|EPOLLOUT; 0 = not registered.
    bool in_use = false;
    // The cache lines the watcher's HotBytes() span from its address (at
    // least one, at most kHotLinesMax): what Poll prefetches.
    uint8_t hot_lines = 0;
  };
  static_assert(sizeof(Slot) == 24);
  static constexpr size_t kHotLinesMax = 32;
  static constexpr size_t kCacheLine = 64;

  // Starts fetching the hot lines of ready event `i`'s watcher into the
  // cache.
  void PrefetchWatcher(int i) const;

  struct ResolveDone {
    uint64_t id = 0;
    absl::StatusOr<std::vector<Address>> result;
  };

  EpollNetwork(const Options& options, int epoll_fd, int wake_fd);

  uint32_t AcquireSlot(int fd);
  void ReleaseSlot(uint32_t index);
  void SetSlotWatcher(uint32_t index, IoWatcher* watcher);
  void SetSlotInterest(uint32_t index, uint32_t interest);
  // Brings the epoll registration of slot `index` in line with its watcher
  // and interest, with at most one epoll_ctl call.
  void UpdateRegistration(uint32_t index);
  int TimeoutMs(absl::Time deadline);
  // Runs the callbacks of every resolution answered before this call.
  int RunResolveCallbacks(bool woken);

  const Options options_;
  const int epoll_fd_;
  const int wake_fd_;
  // Set by the first Wake after the eventfd was drained, so that a burst of
  // wakes costs one write and one read.
  std::atomic<bool> wake_pending_{false};
  bool polling_ = false;
  // An epoll_ctl failure from SetInterest, which cannot return it; the next
  // Poll does.
  absl::Status backend_error_;

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  // The sum of the slots' hot_lines.
  size_t hot_lines_total_ = 0;
  std::unique_ptr<epoll_event[]> events_;

  // Resolution: callbacks stay on this thread, keyed by request id.
  uint64_t next_resolve_id_ = 1;
  std::map<uint64_t, ResolveCallback> resolve_callbacks_;
  size_t lookups_pending_ = 0;  // Sent to the resolver, not yet delivered.
  std::vector<ResolveDone> resolves_done_;     // Answered without lookup.
  std::vector<ResolveDone> resolves_running_;  // Being delivered by Poll.
  std::unique_ptr<epoll_internal::Resolver> resolver_;  // Made on first use.

  // Runs the `done` of offloaded jobs finished before this call.
  int RunOffloadCallbacks(bool woken);
  std::unique_ptr<epoll_internal::WorkPool> pool_;  // Made on first use.
};

}  // namespace ember::io

#endif  // EMBER_IO_EPOLL_EPOLL_NETWORK_H_
