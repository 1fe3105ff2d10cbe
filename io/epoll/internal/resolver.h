// Host name resolution off the network's thread, for the epoll backend.
//
// `getaddrinfo` blocks, sometimes for seconds, so `Resolver` runs it on one
// worker thread, started on the first request. Results go into a queue guarded
// by a mutex; after each result the worker calls a `notify` function (the
// network's `Wake`), and the network's thread collects the results with
// `TakeCompleted` from inside `Poll` and runs the callbacks there. Callbacks
// never leave the network's thread: the resolver only sees request ids.
//
// Destroying a `Resolver` drops every request not yet delivered. The worker's
// state is shared with it, so a worker still inside `getaddrinfo` finishes
// that call, sees that it was stopped, and exits without touching anything
// the network owned; the destructor waits for an idle worker and detaches a
// busy one so that it never blocks on a slow lookup.

#ifndef EMBER_IO_EPOLL_INTERNAL_RESOLVER_H_
#define EMBER_IO_EPOLL_INTERNAL_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/address.h"
#include "io/error.h"

namespace ember::io::epoll_internal {

// Resolves `host` now, blocking: the addresses `getaddrinfo` finds (port 0,
// in its order, which is RFC 6724's with the machine's source addresses,
// without duplicates). A name that does not exist (EAI_NONAME, EAI_NODATA)
// is kind kNameNotFound; a failure that may pass (EAI_AGAIN, EAI_FAIL) is
// kNameLookupFailed; out of memory is kNoResources. Names that need no
// lookup are answered before this (see io/resolve.h).
absl::StatusOr<std::vector<Address>> ResolveBlocking(const std::string& host);

// The error kind for a `getaddrinfo` result code (not 0).
ErrorKind KindForGaiError(int rc);

class Resolver {
 public:
  struct Completion {
    uint64_t id = 0;
    absl::StatusOr<std::vector<Address>> result;
  };

  // `notify` is called on the worker thread after each result is queued,
  // while the resolver's lock is held, and never after the destructor has
  // started; it must be thread-safe and must not call back into the
  // resolver.
  explicit Resolver(absl::AnyInvocable<void()> notify);
  ~Resolver();

  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Queues a lookup of `host` under `id`. The caller bounds how many are
  // outstanding. Fails with kind kNoResources, queueing nothing, when the
  // worker thread cannot be started.
  absl::Status Start(uint64_t id, std::string host);

  // Moves every finished lookup, oldest first, to the end of `out`.
  void TakeCompleted(std::vector<Completion>* out);

 private:
  struct Shared;
  static void WorkerMain(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  std::thread worker_;
};

}  // namespace ember::io::epoll_internal

#endif  // EMBER_IO_EPOLL_INTERNAL_RESOLVER_H_
