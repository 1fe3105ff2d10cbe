#include "io/epoll/internal/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/epoll/internal/sockaddr.h"
#include "io/error.h"

namespace ember::io::epoll_internal {
namespace {

std::string What(std::string_view host) {
  return absl::StrCat("resolve \"", AbslView(host), "\"");
}

}  // namespace

ErrorKind KindForGaiError(int rc) {
  switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      return ErrorKind::kNameNotFound;
    case EAI_AGAIN:
    case EAI_FAIL:
      return ErrorKind::kNameLookupFailed;
    case EAI_MEMORY:
      return ErrorKind::kNoResources;
    default:
      return ErrorKind::kOther;
  }
}

absl::StatusOr<std::vector<Address>> ResolveBlocking(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  // One entry per address instead of one per socket type. No AI_ADDRCONFIG:
  // on a host whose only interface is loopback it hides "localhost".
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    if (rc == EAI_SYSTEM) return ErrnoError(errno, What(host));
    return MakeError(KindForGaiError(rc), What(host), gai_strerror(rc));
  }
  std::vector<Address> addresses;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Address a = FromSocketAddress(ai->ai_addr, ai->ai_addrlen);
    if (!a.is_ip()) continue;
    if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) {
      addresses.push_back(std::move(a));
    }
  }
  freeaddrinfo(list);
  if (addresses.empty()) {
    return MakeError(ErrorKind::kNameNotFound, What(host),
                     "no IPv4 or IPv6 address");
  }
  return addresses;
}

struct Resolver::Shared {
  explicit Shared(absl::AnyInvocable<void()> notify_fn)
      : notify(std::move(notify_fn)) {}

  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu.
  std::deque<std::pair<uint64_t, std::string>> requests;
  std::vector<Completion> completed;
  bool stopping = false;
  bool busy = false;  // The worker is inside getaddrinfo.
  // Called with mu held, never once stopping is set.
  absl::AnyInvocable<void()> notify;
};

Resolver::Resolver(absl::AnyInvocable<void()> notify)
    : shared_(std::make_shared<Shared>(std::move(notify))) {}

Resolver::~Resolver() {
  bool busy = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopping = true;
    shared_->requests.clear();
    shared_->completed.clear();
    busy = shared_->busy;
  }
  shared_->cv.notify_all();
  if (!worker_.joinable()) return;
  // An idle worker exits as soon as it sees `stopping`, so joining is quick.
  // A busy one may sit in getaddrinfo for the resolver's whole timeout; it
  // holds its own reference to the shared state and exits when done.
  if (busy) {
    worker_.detach();
  } else {
    worker_.join();
  }
}

absl::Status Resolver::Start(uint64_t id, std::string host) {
  if (!worker_.joinable()) {
    // std::thread reports failure (out of threads or memory) only by
    // throwing; that is the operating system's doing, not a bug, so it
    // becomes an error for this request.
    try {
      worker_ = std::thread(&Resolver::WorkerMain, shared_);
    } catch (const std::system_error& e) {
      return MakeError(
          ErrorKind::kNoResources, What(host),
          absl::StrCat("cannot start the resolver thread: ", e.what()));
    }
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->requests.emplace_back(id, std::move(host));
  }
  shared_->cv.notify_one();
  return absl::OkStatus();
}

void Resolver::TakeCompleted(std::vector<Completion>* out) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  for (Completion& c : shared_->completed) out->push_back(std::move(c));
  shared_->completed.clear();
}

void Resolver::WorkerMain(std::shared_ptr<Shared> shared) {
  std::unique_lock<std::mutex> lock(shared->mu);
  while (true) {
    shared->cv.wait(
        lock, [&] { return shared->stopping || !shared->requests.empty(); });
    if (shared->stopping) return;
    auto [id, host] = std::move(shared->requests.front());
    shared->requests.pop_front();
    shared->busy = true;
    lock.unlock();
    absl::StatusOr<std::vector<Address>> result = ResolveBlocking(host);
    lock.lock();
    shared->busy = false;
    if (shared->stopping) return;
    shared->completed.push_back(Completion{id, std::move(result)});
    shared->notify();
  }
}

}  // namespace ember::io::epoll_internal
