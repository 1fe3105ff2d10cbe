#include "io/epoll/epoll_network.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "io/epoll/internal/resolver.h"
#include "io/epoll/internal/sockaddr.h"
#include "io/epoll/internal/work_pool.h"
#include "io/error.h"
#include "io/resolve.h"

namespace ember::io {

using epoll_internal::DomainOf;
using epoll_internal::FromSocketAddress;
using epoll_internal::Resolver;
using epoll_internal::WorkPool;
using epoll_internal::SocketAddress;
using epoll_internal::ToSocketAddress;

namespace {

// epoll_event.data.u64 of the wake eventfd; no slot index reaches it.
constexpr uint64_t kWakeToken = ~uint64_t{0};
constexpr size_t kSlotsMax = 0xFFFFFFF0u;

// Accept gives up after skipping this many connections that died in the
// queue, so one call stays short; readiness reports the rest.
constexpr int kAcceptSkipsMax = 16;

// The calls made for every event enter the kernel through syscall(2)
// rather than glibc's wrappers. Those are cancellation points: in a process
// with more than one thread (a resolver, a signal thread, a reactor group)
// each wraps its system call in two calls that switch asynchronous
// cancellation on and off, about 30 instructions, as many as the rest of a
// read. A reactor thread is never to be cancelled in the middle of a
// dispatch (Reactor::Stop ends a loop), so it gives nothing up. Results and
// errno are as from the wrappers.
ssize_t RecvNoCancel(int fd, void* buf, size_t len) {
  return syscall(SYS_recvfrom, fd, buf, len, 0, nullptr, nullptr);
}
ssize_t SendNoCancel(int fd, const void* buf, size_t len, int flags) {
  return syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}
ssize_t SendmsgNoCancel(int fd, const msghdr* msg, int flags) {
  return syscall(SYS_sendmsg, fd, msg, flags);
}
int EpollWaitNoCancel(int epfd, epoll_event* events, int max, int timeout) {
  // epoll_pwait with no mask is epoll_wait (which not every architecture
  // has); the last argument is the kernel's signal set size.
  return static_cast<int>(syscall(SYS_epoll_pwait, epfd, events, max, timeout,
                                  nullptr, sizeof(uint64_t)));
}

std::string Describe(std::string_view operation, const Address& address) {
  return absl::StrCat(AbslView(operation), " ", address.ToString());
}

absl::Time ClockTime(clockid_t clock) {
  timespec ts{};
  int rc = clock_gettime(clock, &ts);
  // Only EINVAL or EFAULT can fail it, both bugs here.
  EMBER_CHECK(rc == 0);
  // Nanoseconds fit an int64_t until 2262. FromUnixNanos is inline, where
  // TimeFromTimespec is two calls into Abseil's library: this runs at least
  // twice a turn.
  return absl::FromUnixNanos(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

uint32_t ReadinessOf(uint32_t epoll_events) {
  uint32_t readiness = 0;
  // An error or hang-up is reported both ways, so that whichever call the
  // watcher makes returns it.
  if (epoll_events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
    readiness |= kReadable;
  }
  if (epoll_events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) readiness |= kWritable;
  return readiness;
}

// Closes a descriptor unless released; keeps the error paths of the socket
// factories short.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) close(fd_);
  }
  OwnedFd(OwnedFd&& other) : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::Status SetIntOption(int fd, int level, int name, int value,
                          std::string_view what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return ErrnoError(errno, what);
  }
  return absl::OkStatus();
}

// A non-blocking, close-on-exec socket for `address`'s family.
absl::StatusOr<OwnedFd> OpenSocket(const Address& address, int type,
                                   std::string_view operation) {
  int domain = DomainOf(address.family());
  if (domain < 0) {
    return MakeError(ErrorKind::kAddressInvalid, Describe(operation, address),
                     "not a socket address");
  }
  OwnedFd fd(socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError(errno, Describe(operation, address));
  if (domain == AF_INET6) {
    // See the header: an IPv6 address means IPv6 traffic only.
    EMBER_RETURN_IF_ERROR(SetIntOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1,
                                       Describe(operation, address)));
  }
  return fd;
}

absl::StatusOr<Address> SocketName(int fd, bool peer, std::string_view what) {
  SocketAddress sa;
  sa.length = sizeof(sa.storage);
  int rc = peer ? getpeername(fd, sa.get(), &sa.length)
                : getsockname(fd, sa.get(), &sa.length);
  if (rc != 0) return ErrnoError(errno, what);
  return FromSocketAddress(sa.get(), sa.length);
}

// When `path` is a socket file that refuses connections (its listener is
// gone), removes it and returns true. A live listener's file, or anything
// that is not a socket, is left alone.
bool RemoveStaleUnixSocket(const SocketAddress& sa, const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  OwnedFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return false;
  if (connect(probe.get(), sa.get(), sa.length) == 0) return false;
  if (errno != ECONNREFUSED) return false;
  return unlink(path.c_str()) == 0;
}

}  // namespace

// Ties a descriptor to a slot of its network's table for the lifetime of a
// handle: claims the slot, forwards watcher and interest to it, and on
// destruction releases the slot (so no event reaches the watcher again) and
// closes the descriptor.
class EpollRegistration {
 public:
  EpollRegistration(EpollNetwork* network, int fd)
      : network_(network), fd_(fd), slot_(network->AcquireSlot(fd)) {}
  ~EpollRegistration() {
    network_->ReleaseSlot(slot_);
    close(fd_);
  }
  EpollRegistration(const EpollRegistration&) = delete;
  EpollRegistration& operator=(const EpollRegistration&) = delete;

  EpollNetwork* network() const { return network_; }
  int fd() const { return fd_; }
  void SetWatcher(IoWatcher* watcher) {
    network_->SetSlotWatcher(slot_, watcher);
  }
  void SetInterest(uint32_t interest) {
    network_->SetSlotInterest(slot_, interest);
  }

 private:
  EpollNetwork* const network_;
  const int fd_;
  const uint32_t slot_;
};

namespace {

// The part every handle shares: its registration.
template <typename Interface>
class EpollHandle : public Interface {
 public:
  EpollHandle(EpollNetwork* network, int fd) : registration_(network, fd) {}

  void SetWatcher(IoWatcher* watcher) final {
    registration_.SetWatcher(watcher);
  }
  void SetInterest(uint32_t interest) final {
    registration_.SetInterest(interest);
  }

 protected:
  EpollNetwork* network() const { return registration_.network(); }
  int fd() const { return registration_.fd(); }

 private:
  EpollRegistration registration_;
};

class EpollStreamSocket final : public EpollHandle<StreamSocket> {
 public:
  enum class State : uint8_t { kConnecting, kConnected, kFailed };

  // `remote` names the peer in error messages. For kFailed, `error` is the
  // connect's failure.
  EpollStreamSocket(EpollNetwork* network, int fd, Address::Family family,
                    Address remote, State state,
                    absl::Status error = absl::OkStatus())
      : EpollHandle(network, fd),
        remote_ip_(remote.ip_bytes()),
        remote_port_(remote.port()),
        remote_family_(remote.family()),
        family_(family),
        state_(state) {
    if (remote.is_unix() && !remote.path().empty()) {
      Rare().remote_path = remote.path();
    }
    if (!error.ok()) Rare().connect_error = std::move(error);
  }

  int native_fd() const { return fd(); }

  absl::Status FinishConnect() override {
    switch (state_) {
      case State::kConnected:
        return absl::OkStatus();
      case State::kFailed:
        return ConnectError();
      case State::kConnecting:
        break;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error == 0) {
      // SO_ERROR is 0 both once connected and while still connecting.
      SocketAddress peer;
      peer.length = sizeof(peer.storage);
      if (getpeername(fd(), peer.get(), &peer.length) == 0) {
        state_ = State::kConnected;
        return absl::OkStatus();
      }
      if (errno == ENOTCONN) {
        return absl::FailedPreconditionError(
            absl::StrCat(Describe("connect", Remote()),
                         ": still in progress (wait for kWritable)"));
      }
      error = errno;
    }
    Fail(ErrnoError(error, Describe("connect", Remote())));
    return ConnectError();
  }

  IoResult Read(char* buf, size_t len) override {
    EMBER_CHECK(len > 0);
    if (state_ == State::kFailed) return IoResult::Error(ConnectError());
    while (true) {
      ssize_t n = RecvNoCancel(fd(), buf, len);
      if (n > 0) return IoResult::Ok(static_cast<size_t>(n));
      if (n == 0) return IoResult::EndOfStream();
      if (errno != EINTR) return IoFailed(errno, "read");
    }
  }

  IoResult Write(const ConstBuffer* buffers, size_t count) override {
    EMBER_CHECK(count <= kWriteBuffersMax);
    if (state_ == State::kFailed) return IoResult::Error(ConnectError());
    // One buffer (the usual case: a small queue is one block) goes through
    // send, which spares the kernel copying in a message header and a
    // vector, and this call building them.
    if (count == 1) return WriteOne(buffers[0]);
    iovec iov[kWriteBuffersMax];
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
      iov[i].iov_base = const_cast<char*>(buffers[i].data);
      iov[i].iov_len = buffers[i].size;
      total += buffers[i].size;
    }
    if (total == 0) return IoResult::Ok(0);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    while (true) {
      // MSG_NOSIGNAL: a reset peer gives EPIPE here, not SIGPIPE.
      ssize_t n = SendmsgNoCancel(fd(), &msg, MSG_NOSIGNAL);
      if (n >= 0) return IoResult::Ok(static_cast<size_t>(n));
      if (errno != EINTR) return IoFailed(errno, "write");
    }
  }

  absl::Status ShutdownWrite() override {
    if (state_ == State::kFailed) return ConnectError();
    if (shutdown(fd(), SHUT_WR) != 0) {
      return ErrnoError(errno, Describe("shutdown", Remote()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Address> LocalAddress() const override {
    return SocketName(fd(), /*peer=*/false, "getsockname");
  }

  absl::StatusOr<Address> PeerAddress() const override {
    return SocketName(fd(), /*peer=*/true, Describe("getpeername", Remote()));
  }

  absl::Status SetNoDelay(bool on) override {
    if (family_ == Address::Family::kUnix) return absl::OkStatus();
    return SetIntOption(fd(), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0,
                        "setsockopt TCP_NODELAY");
  }

  absl::Status SetKeepAlive(const KeepAliveOptions& options) override {
    if (family_ == Address::Family::kUnix) return absl::OkStatus();
    if (!options.enabled) {
      return SetIntOption(fd(), SOL_SOCKET, SO_KEEPALIVE, 0,
                          "setsockopt SO_KEEPALIVE");
    }
    EMBER_ASSIGN_OR_RETURN(KeepAliveSeconds kernel,
                           KeepAliveForKernel(options));
    EMBER_RETURN_IF_ERROR(SetIntOption(fd(), IPPROTO_TCP, TCP_KEEPIDLE,
                                       kernel.idle, "setsockopt TCP_KEEPIDLE"));
    EMBER_RETURN_IF_ERROR(SetIntOption(fd(), IPPROTO_TCP, TCP_KEEPINTVL,
                                       kernel.interval,
                                       "setsockopt TCP_KEEPINTVL"));
    EMBER_RETURN_IF_ERROR(SetIntOption(fd(), IPPROTO_TCP, TCP_KEEPCNT,
                                       kernel.probes, "setsockopt TCP_KEEPCNT"));
    return SetIntOption(fd(), SOL_SOCKET, SO_KEEPALIVE, 1,
                        "setsockopt SO_KEEPALIVE");
  }

 private:
  // Write's usual case: one buffer, through send.
  IoResult WriteOne(const ConstBuffer& buffer) {
    if (buffer.size == 0) return IoResult::Ok(0);
    while (true) {
      // MSG_NOSIGNAL: a reset peer gives EPIPE here, not SIGPIPE.
      ssize_t n = SendNoCancel(fd(), buffer.data, buffer.size, MSG_NOSIGNAL);
      if (n >= 0) return IoResult::Ok(static_cast<size_t>(n));
      if (errno != EINTR) return IoFailed(errno, "write");
    }
  }

  // The result of a read or write that failed with `os_errno` (not EINTR).
  IoResult IoFailed(int os_errno, std::string_view operation) {
    if (os_errno == EAGAIN || os_errno == EWOULDBLOCK) {
      return IoResult::WouldBlock();
    }
    return IoResult::Error(StreamError(os_errno, operation));
  }

  void Fail(absl::Status error) {
    state_ = State::kFailed;
    Rare().connect_error = std::move(error);
  }

  // What few sockets need, out of line: a server holds one socket per
  // client, so the socket itself is kept to 56 bytes.
  struct RareParts {
    std::string remote_path;     // A Unix peer's path.
    absl::Status connect_error;  // Once kFailed.
  };
  RareParts& Rare() {
    if (rare_ == nullptr) rare_ = std::make_unique<RareParts>();
    return *rare_;
  }
  absl::Status ConnectError() const {
    return rare_ != nullptr ? rare_->connect_error
                            : absl::UnknownError("connect failed");
  }
  // The peer's address, for error messages.
  Address Remote() const {
    switch (remote_family_) {
      case Address::Family::kIpv4:
        return Address::Ipv4(
            {remote_ip_[0], remote_ip_[1], remote_ip_[2], remote_ip_[3]},
            remote_port_);
      case Address::Family::kIpv6:
        return Address::Ipv6(remote_ip_, remote_port_);
      case Address::Family::kUnix: {
        auto unix_address =
            Address::Unix(rare_ != nullptr ? rare_->remote_path : "");
        return unix_address.ok() ? *unix_address : Address();
      }
      case Address::Family::kUnspecified:
        break;
    }
    return Address();
  }

  // The status for a failed read or write. While connecting, the error is
  // the connect's own (reading it consumes SO_ERROR), so FinishConnect must
  // report it too.
  absl::Status StreamError(int os_errno, std::string_view operation) {
    absl::Status status = ErrnoError(os_errno, Describe(operation, Remote()));
    if (state_ == State::kConnecting) Fail(status);
    return status;
  }

  std::unique_ptr<RareParts> rare_;
  const std::array<uint8_t, 16> remote_ip_;
  const uint16_t remote_port_;
  const Address::Family remote_family_;
  const Address::Family family_;
  State state_;
};

class EpollListener final : public EpollHandle<Listener> {
 public:
  EpollListener(EpollNetwork* network, int fd, Address local)
      : EpollHandle(network, fd), local_(std::move(local)) {}

  ~EpollListener() override {
    // Remove the socket file, but only if it is still the one this listener
    // bound: another listener may have replaced it meanwhile.
    if (!owns_unix_file_) return;
    struct stat st {};
    if (lstat(local_.path().c_str(), &st) == 0 && st.st_dev == unix_device_ &&
        st.st_ino == unix_inode_) {
      unlink(local_.path().c_str());
    }
  }

  absl::Status StartListening(int backlog) {
    if (listen(fd(), backlog) != 0) {
      return ErrnoError(errno, Describe("listen", local_));
    }
    return absl::OkStatus();
  }

  // Records the identity of the socket file just bound at `local_`.
  void TakeUnixFile() {
    struct stat st {};
    if (lstat(local_.path().c_str(), &st) != 0) return;
    owns_unix_file_ = true;
    unix_device_ = st.st_dev;
    unix_inode_ = st.st_ino;
  }

  absl::StatusOr<std::unique_ptr<StreamSocket>> Accept() override {
    for (int skip = 0; skip < kAcceptSkipsMax; ++skip) {
      SocketAddress peer;
      peer.length = sizeof(peer.storage);
      int fd = accept4(this->fd(), peer.get(), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        return std::unique_ptr<StreamSocket>(
            new EpollStreamSocket(network(), fd, local_.family(),
                                  FromSocketAddress(peer.get(), peer.length),
                                  EpollStreamSocket::State::kConnected));
      }
      switch (errno) {
        case EAGAIN:
          return nullptr;
        // A connection that died in the queue, or (Linux passes them on)
        // a pending network error of one: skip it.
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
          continue;
        default:
          // EMFILE, ENFILE, ENOBUFS, ENOMEM are kNoResources; the connection
          // stays queued.
          return ErrnoError(errno, Describe("accept", local_));
      }
    }
    return nullptr;
  }

  Address LocalAddress() const override { return local_; }

 private:
  const Address local_;
  bool owns_unix_file_ = false;
  dev_t unix_device_ = 0;
  ino_t unix_inode_ = 0;
};

class EpollDatagramSocket final : public EpollHandle<DatagramSocket> {
 public:
  EpollDatagramSocket(EpollNetwork* network, int fd, Address local)
      : EpollHandle(network, fd), local_(std::move(local)) {}

  IoResult SendTo(const Address& to, const char* data, size_t len) override {
    absl::StatusOr<SocketAddress> sa = ToSocketAddress(to);
    if (!sa.ok()) return IoResult::Error(std::move(sa).status());
    while (true) {
      ssize_t n = sendto(fd(), data, len, MSG_NOSIGNAL, sa->get(), sa->length);
      if (n >= 0) return IoResult::Ok(static_cast<size_t>(n));
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return IoResult::WouldBlock();
      }
      return IoResult::Error(ErrnoError(errno, Describe("sendto", to)));
    }
  }

  IoResult ReceiveFrom(char* buf, size_t len, Address* from,
                       bool* truncated) override {
    SocketAddress sender;
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_name = &sender.storage;
    msg.msg_namelen = sizeof(sender.storage);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    while (true) {
      ssize_t n = recvmsg(fd(), &msg, 0);
      if (n >= 0) {
        if (from != nullptr)
          *from = FromSocketAddress(sender.get(), msg.msg_namelen);
        if (truncated != nullptr) *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
        return IoResult::Ok(static_cast<size_t>(n));
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return IoResult::WouldBlock();
      }
      return IoResult::Error(ErrnoError(errno, Describe("recvmsg", local_)));
    }
  }

  Address LocalAddress() const override { return local_; }

 private:
  const Address local_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EpollNetwork>> EpollNetwork::Create() {
  return Create(Options());
}

absl::StatusOr<std::unique_ptr<EpollNetwork>> EpollNetwork::Create(
    const Options& options) {
  if (options.events_per_poll_max < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("events_per_poll_max must be at least 1, not ",
                     options.events_per_poll_max));
  }
  OwnedFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd.get() < 0) return ErrnoError(errno, "epoll_create1");
  OwnedFd wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake_fd.get() < 0) return ErrnoError(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0) {
    return ErrnoError(errno, "epoll_ctl add eventfd");
  }
  return std::unique_ptr<EpollNetwork>(
      new EpollNetwork(options, epoll_fd.release(), wake_fd.release()));
}

EpollNetwork::EpollNetwork(const Options& options, int epoll_fd, int wake_fd)
    : options_(options),
      epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      events_(new epoll_event[options.events_per_poll_max]) {}

EpollNetwork::~EpollNetwork() {
  EMBER_CHECK_MSG(handle_count() == 0,
                  "every handle must be destroyed before its EpollNetwork");
  // The resolver's worker writes to wake_fd_ (through Wake) until the
  // resolver is stopped; only then may the descriptor close.
  resolver_.reset();
  pool_.reset();  // Waits for running jobs, which Wake through wake_fd_.
  close(wake_fd_);
  close(epoll_fd_);
}

absl::StatusOr<int> EpollNetwork::RaiseDescriptorLimit(int wanted) {
  if (wanted <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("descriptor limit must be positive, not ", wanted));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return ErrnoError(errno, "getrlimit RLIMIT_NOFILE");
  }
  const rlim_t target = limit.rlim_max == RLIM_INFINITY
                            ? static_cast<rlim_t>(wanted)
                            : std::min<rlim_t>(wanted, limit.rlim_max);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return ErrnoError(errno, absl::StrCat("setrlimit RLIMIT_NOFILE ",
                                            static_cast<uint64_t>(target)));
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > INT_MAX) {
    return INT_MAX;
  }
  return static_cast<int>(limit.rlim_cur);
}

int EpollNetwork::StreamSocketFd(const StreamSocket& socket) {
  const auto* epoll = dynamic_cast<const EpollStreamSocket*>(&socket);
  EMBER_CHECK_MSG(epoll != nullptr, "not a stream socket of EpollNetwork");
  return epoll->native_fd();
}

absl::Time EpollNetwork::Now() { return ClockTime(CLOCK_MONOTONIC); }

absl::Time EpollNetwork::WallNow() { return ClockTime(CLOCK_REALTIME); }

uint64_t EpollNetwork::RandomSeed() {
  uint64_t seed = 0;
  size_t filled = 0;
  while (filled < sizeof(seed)) {
    ssize_t n = getrandom(reinterpret_cast<char*>(&seed) + filled,
                          sizeof(seed) - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  if (filled < sizeof(seed)) {
    // No getrandom (a kernel before 3.17 or a seccomp filter): the clocks
    // still differ between processes, which is all a seed needs here.
    seed ^= static_cast<uint64_t>(absl::ToUnixNanos(WallNow())) *
                0x9E3779B97F4A7C15ull ^
            static_cast<uint64_t>(absl::ToUnixNanos(Now())) ^
            static_cast<uint64_t>(getpid()) << 32;
  }
  return seed;
}

uint32_t EpollNetwork::AcquireSlot(int fd) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    EMBER_CHECK(slots_.size() < kSlotsMax);
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  EMBER_CHECK(!slot.in_use);
  EMBER_CHECK(slot.registered_events == 0);
  slot.in_use = true;
  slot.fd = fd;
  return index;
}

void EpollNetwork::ReleaseSlot(uint32_t index) {
  EMBER_CHECK(index < slots_.size());
  Slot& slot = slots_[index];
  EMBER_CHECK(slot.in_use);
  if (slot.registered_events != 0) {
    // Closing would unregister too, but only once no other process holds
    // the file (a forked child might); until then events would keep coming.
    int rc = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot.fd, nullptr);
    EMBER_CHECK_MSG(rc == 0, "epoll_ctl del of a registered descriptor");
  }
  hot_lines_total_ -= slot.hot_lines;
  // A new generation: events already fetched for this slot are now stale.
  slot = Slot{.generation = slot.generation + 1};
  free_slots_.push_back(index);
}

void EpollNetwork::SetSlotWatcher(uint32_t index, IoWatcher* watcher) {
  Slot& slot = slots_[index];
  slot.watcher = watcher;
  hot_lines_total_ -= slot.hot_lines;
  slot.hot_lines = 0;
  if (watcher != nullptr) {
    // Counted here, once, from where the watcher lies in its lines.
    const uintptr_t begin = reinterpret_cast<uintptr_t>(watcher);
    const size_t bytes = std::max<size_t>(
        std::min(watcher->HotBytes(), kHotLinesMax * kCacheLine), 1);
    const size_t lines =
        (begin + bytes - 1) / kCacheLine - begin / kCacheLine + 1;
    slot.hot_lines = static_cast<uint8_t>(std::min(lines, kHotLinesMax));
    hot_lines_total_ += slot.hot_lines;
  }
  UpdateRegistration(index);
}

// Forced inline: GCC takes a function whose only effect is prefetching for
// one without effects, and drops calls to it that are not inlined.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void EpollNetwork::PrefetchWatcher(
    int i) const {
  const uint32_t index = static_cast<uint32_t>(events_[i].data.u64);
  if (index >= slots_.size()) return;  // The wake token, or stale.
  const Slot& slot = slots_[index];
  const uintptr_t first =
      reinterpret_cast<uintptr_t>(slot.watcher) & ~(kCacheLine - 1);
  for (unsigned line = 0; line < slot.hot_lines; ++line) {
    __builtin_prefetch(
        reinterpret_cast<const void*>(first + line * kCacheLine));
  }
}

void EpollNetwork::SetSlotInterest(uint32_t index, uint32_t interest) {
  EMBER_CHECK_MSG((interest & ~(kReadable | kWritable)) == 0,
                  "interest has bits other than kReadable and kWritable");
  slots_[index].interest = static_cast<uint8_t>(interest);
  UpdateRegistration(index);
}

void EpollNetwork::UpdateRegistration(uint32_t index) {
  Slot& slot = slots_[index];
  EMBER_CHECK(slot.in_use);
  const uint32_t wanted = slot.watcher == nullptr ? 0 : slot.interest;
  const uint32_t events = ((wanted & kReadable) ? EPOLLIN : 0u) |
                          ((wanted & kWritable) ? EPOLLOUT : 0u);
  if (events == slot.registered_events) return;
  // With interest 0 the descriptor leaves the epoll set altogether: epoll
  // always reports errors and hang-ups, which would wake every Poll for a
  // handle nobody watches.
  const int op = slot.registered_events == 0 ? EPOLL_CTL_ADD
                 : events == 0               ? EPOLL_CTL_DEL
                                             : EPOLL_CTL_MOD;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (static_cast<uint64_t>(slot.generation) << 32) | index;
  if (epoll_ctl(epoll_fd_, op, slot.fd, &ev) != 0) {
    // Only ENOMEM or ENOSPC (max_user_watches) are expected: the backend
    // cannot watch this handle, which the next Poll reports.
    if (backend_error_.ok()) backend_error_ = ErrnoError(errno, "epoll_ctl");
    return;
  }
  static_assert((EPOLLIN | EPOLLOUT) <= UINT8_MAX);
  slot.registered_events = static_cast<uint8_t>(events);
}

int EpollNetwork::TimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfinitePast()) return 0;
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  // A longer wait ends early, which Poll's contract allows.
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

absl::StatusOr<int> EpollNetwork::Poll(absl::Time deadline) {
  EMBER_CHECK_MSG(!polling_, "Poll called from inside a Poll callback");
  if (!backend_error_.ok()) return backend_error_;
  // Resolutions answered without a lookup are ready now: do not wait.
  const int timeout_ms = resolves_done_.empty() ? TimeoutMs(deadline) : 0;
  int n = EpollWaitNoCancel(epoll_fd_, events_.get(),
                            options_.events_per_poll_max, timeout_ms);
  if (n < 0) {
    if (errno != EINTR) return ErrnoError(errno, "epoll_wait");
    n = 0;  // A signal: return as if woken.
  }
  polling_ = true;
  int callbacks = 0;
  bool woken = false;
  // With many connections their state is rarely in the cache, and the
  // loads of one connection's slot, object and fields, one after another,
  // would stall each event. So the slots of the whole batch are fetched
  // first, and each watcher's hot bytes one event ahead, while the event
  // before it (its system calls) runs. Prefetches are hints: a stale or
  // freed address costs nothing but the fetch. When all the watchers'
  // hot bytes fit in a core's cache they mostly stay there, and the
  // prefetches would cost more than they save.
  const bool prefetch =
      hot_lines_total_ > options_.prefetch_above_bytes / kCacheLine;
  if (prefetch) {
    for (int i = 0; i < n; ++i) {
      const uint32_t index = static_cast<uint32_t>(events_[i].data.u64);
      if (index < slots_.size()) __builtin_prefetch(&slots_[index]);
    }
    if (n > 0) PrefetchWatcher(0);
  }
  for (int i = 0; i < n; ++i) {
    if (prefetch && i + 1 < n) PrefetchWatcher(i + 1);
    const uint64_t token = events_[i].data.u64;
    if (token == kWakeToken) {
      woken = true;
      continue;
    }
    const uint32_t index = static_cast<uint32_t>(token);
    const uint32_t generation = static_cast<uint32_t>(token >> 32);
    // A callback may add slots (reallocating the table) or release them:
    // look the slot up afresh for every event and hold no reference across
    // a callback.
    if (index >= slots_.size()) continue;
    const Slot& slot = slots_[index];
    if (!slot.in_use || slot.generation != generation ||
        slot.watcher == nullptr) {
      continue;  // Destroyed (and perhaps reused) earlier in this batch.
    }
    const uint32_t readiness = ReadinessOf(events_[i].events) & slot.interest;
    if (readiness == 0) continue;  // Interest cleared earlier in this batch.
    slot.watcher->OnIoReady(readiness);
    ++callbacks;
  }
  // Lookups and offloaded jobs end with a wake; answers given without a
  // lookup wait in resolves_done_. Most polls have neither.
  if (woken || !resolves_done_.empty()) {
    callbacks += RunResolveCallbacks(woken);
    callbacks += RunOffloadCallbacks(woken);
  }
  polling_ = false;
  return callbacks;
}

void EpollNetwork::Wake() {
  // Only the first wake since the last drain writes; the rest coalesce.
  if (wake_pending_.exchange(true)) return;
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow, which needs 2^64 - 1 writes
  // without a read.
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;
}

int EpollNetwork::RunResolveCallbacks(bool woken) {
  // Deliver what was answered before this call; a callback that resolves
  // again adds to the fresh `resolves_done_`, delivered by the next Poll.
  resolves_running_.swap(resolves_done_);
  if (woken) {
    uint64_t count = 0;
    ssize_t n = read(wake_fd_, &count, sizeof(count));
    (void)n;  // EAGAIN when another Poll drained it first; either is fine.
    // Clear the flag after draining and before collecting results: a result
    // queued after the collection wakes the next Poll with a fresh write.
    wake_pending_.store(false);
    if (resolver_ != nullptr) {
      std::vector<Resolver::Completion> finished;
      resolver_->TakeCompleted(&finished);
      for (Resolver::Completion& c : finished) {
        EMBER_CHECK(lookups_pending_ > 0);
        --lookups_pending_;
        resolves_running_.push_back({c.id, std::move(c.result)});
      }
    }
  }
  int callbacks = 0;
  for (ResolveDone& done : resolves_running_) {
    auto it = resolve_callbacks_.find(done.id);
    EMBER_CHECK(it != resolve_callbacks_.end());
    ResolveCallback callback = std::move(it->second);
    resolve_callbacks_.erase(it);
    callback(std::move(done.result));
    ++callbacks;
  }
  resolves_running_.clear();
  return callbacks;
}

absl::Status EpollNetwork::Offload(absl::AnyInvocable<void()> work,
                                   absl::AnyInvocable<void()> done) {
  if (pool_ == nullptr) {
    pool_ = std::make_unique<WorkPool>(options_.offload_threads,
                                       options_.offload_jobs_max,
                                       [this] { Wake(); });
  }
  return pool_->Submit(std::move(work), std::move(done));
}

int EpollNetwork::RunOffloadCallbacks(bool woken) {
  // A finished job wakes the Poll (after RunResolveCallbacks cleared the
  // wake flag, a job finishing now wakes the next one).
  if (!woken || pool_ == nullptr) return 0;
  std::vector<WorkPool::Work> finished;
  pool_->TakeFinished(&finished);
  for (WorkPool::Work& done : finished) done();
  return static_cast<int>(finished.size());
}

void EpollNetwork::Resolve(std::string_view host, ResolveCallback done) {
  const uint64_t id = next_resolve_id_++;
  resolve_callbacks_.emplace(id, std::move(done));
  // Literals, RFC 6761's special names (localhost, .invalid) and invalid
  // names never reach getaddrinfo, whatever /etc/hosts says.
  if (auto answer = AnswerWithoutLookup(host)) {
    resolves_done_.push_back({id, *std::move(answer)});
    return;
  }
  if (lookups_pending_ >= options_.lookups_pending_max) {
    resolves_done_.push_back(
        {id, MakeError(
                 ErrorKind::kNoResources,
                 absl::StrCat("resolve \"", AbslView(host), "\""),
                 absl::StrCat(lookups_pending_, " lookups already pending"))});
    return;
  }
  if (resolver_ == nullptr) {
    resolver_ = std::make_unique<Resolver>([this] { Wake(); });
  }
  absl::Status started = resolver_->Start(id, std::string(host));
  if (!started.ok()) {
    resolves_done_.push_back({id, std::move(started)});
    return;
  }
  ++lookups_pending_;
}

absl::StatusOr<std::unique_ptr<Listener>> EpollNetwork::Listen(
    const Address& address, const ListenOptions& options) {
  if (options.backlog < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen backlog must be at least 1, not ", options.backlog));
  }
  EMBER_ASSIGN_OR_RETURN(SocketAddress sa, ToSocketAddress(address));
  EMBER_ASSIGN_OR_RETURN(OwnedFd fd,
                         OpenSocket(address, SOCK_STREAM, "listen"));
  if (address.is_ip()) {
    if (options.reuse_address) {
      EMBER_RETURN_IF_ERROR(SetIntOption(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1,
                                         Describe("listen", address)));
    }
    if (options.reuse_port) {
      EMBER_RETURN_IF_ERROR(SetIntOption(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1,
                                         Describe("listen", address)));
    }
  }
  int rc = bind(fd.get(), sa.get(), sa.length);
  if (rc != 0 && errno == EADDRINUSE && address.is_unix() &&
      RemoveStaleUnixSocket(sa, address.path())) {
    rc = bind(fd.get(), sa.get(), sa.length);
  }
  if (rc != 0) return ErrnoError(errno, Describe("bind", address));
  Address local = address;
  if (address.is_ip()) {
    EMBER_ASSIGN_OR_RETURN(local, SocketName(fd.get(), /*peer=*/false,
                                             Describe("listen", address)));
  }
  // Own the descriptor (and the socket file) before listen() can fail.
  auto listener = std::make_unique<EpollListener>(this, fd.release(), local);
  if (address.is_unix()) listener->TakeUnixFile();
  EMBER_RETURN_IF_ERROR(listener->StartListening(options.backlog));
  return std::unique_ptr<Listener>(std::move(listener));
}

absl::StatusOr<std::unique_ptr<StreamSocket>> EpollNetwork::Connect(
    const Address& remote, const ConnectOptions& options) {
  EMBER_ASSIGN_OR_RETURN(SocketAddress sa, ToSocketAddress(remote));
  EMBER_ASSIGN_OR_RETURN(OwnedFd fd,
                         OpenSocket(remote, SOCK_STREAM, "connect"));
  if (options.bind != nullptr) {
    const Address& local = *options.bind;
    if (local.family() != remote.family()) {
      return MakeError(ErrorKind::kAddressInvalid, Describe("connect", remote),
                       absl::StrCat("cannot bind to ", local.ToString(),
                                    ", of another family"));
    }
    EMBER_ASSIGN_OR_RETURN(SocketAddress local_sa, ToSocketAddress(local));
    if (local.is_ip() && local.port() == 0) {
      // Choose the port at connect time, from the 4-tuple, rather than
      // reserving one for every remote at bind time. Best effort.
      int on = 1;
      setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
                 sizeof(on));
    }
    if (bind(fd.get(), local_sa.get(), local_sa.length) != 0) {
      return ErrnoError(errno, Describe("bind", local));
    }
  }
  using State = EpollStreamSocket::State;
  State state = State::kConnected;
  absl::Status error;
  if (connect(fd.get(), sa.get(), sa.length) != 0) {
    const int e = errno;
    switch (e) {
      case EINPROGRESS:
      case EINTR:  // The connect goes on in the background.
        state = State::kConnecting;
        break;
      // Failures that concern the peer or the path to it are reported
      // through readiness and FinishConnect, like asynchronous ones.
      case ECONNREFUSED:
      case ECONNRESET:
      case ETIMEDOUT:
      case ENETUNREACH:
      case EHOSTUNREACH:
      case ENETDOWN:
      case EHOSTDOWN:
        state = State::kFailed;
        error = ErrnoError(e, Describe("connect", remote));
        break;
      case ENOENT:
        if (!remote.is_unix())
          return ErrnoError(e, Describe("connect", remote));
        state = State::kFailed;
        error = MakeError(ErrorKind::kRefused, Describe("connect", remote),
                          "no socket file (ENOENT)");
        break;
      case EAGAIN:
        if (!remote.is_unix())
          return ErrnoError(e, Describe("connect", remote));
        state = State::kFailed;
        error = MakeError(ErrorKind::kNoResources, Describe("connect", remote),
                          "listener backlog full (EAGAIN)");
        break;
      default:
        return ErrnoError(e, Describe("connect", remote));
    }
  }
  return std::unique_ptr<StreamSocket>(new EpollStreamSocket(
      this, fd.release(), remote.family(), remote, state, std::move(error)));
}

absl::StatusOr<std::unique_ptr<DatagramSocket>> EpollNetwork::OpenDatagram(
    const Address& local) {
  if (!local.is_ip()) {
    return MakeError(ErrorKind::kAddressInvalid, Describe("bind", local),
                     "datagram sockets take an IPv4 or IPv6 address");
  }
  EMBER_ASSIGN_OR_RETURN(SocketAddress sa, ToSocketAddress(local));
  EMBER_ASSIGN_OR_RETURN(OwnedFd fd, OpenSocket(local, SOCK_DGRAM, "bind"));
  if (bind(fd.get(), sa.get(), sa.length) != 0) {
    return ErrnoError(errno, Describe("bind", local));
  }
  EMBER_ASSIGN_OR_RETURN(Address bound, SocketName(fd.get(), /*peer=*/false,
                                                   Describe("bind", local)));
  return std::unique_ptr<DatagramSocket>(
      new EpollDatagramSocket(this, fd.release(), std::move(bound)));
}

}  // namespace ember::io
