// Channel<T>: publish/subscribe on one reactor (EventMachine's
// EM::Channel, bounded).
//
//   ember::Channel<std::string> news(reactor);
//   auto id = news.Subscribe([](const std::string& m) { ... });
//   news.Push("hello").IgnoreError();   // every subscriber, next turn
//   news.Unsubscribe(*id);
//
// Delivery: a message goes to every subscriber subscribed when it was
// pushed and still subscribed when it is delivered, in the order
// subscribed, from the loop on a later turn (never inside Push). Messages
// are delivered in the order pushed. A subscriber removed (by Unsubscribe,
// also from inside a delivery) gets nothing more, not even messages pushed
// before it left.
//
// Tasks consume through a Queue: subscribe with a callback that pushes into
// a `Queue<T>` and `co_await queue.Pop()`; the queue's capacity is the
// subscriber's mailbox, and a full mailbox refuses (the callback decides:
// drop, count, or Unsubscribe the slow reader).
//
// Limits: at most `subscribers_max` subscribers (Subscribe fails with
// kResourceExhausted beyond it) and `pending_max` messages pushed and not
// yet delivered (Push fails with kResourceExhausted and keeps nothing).
// Destroying the channel drops undelivered messages; callbacks never run
// after it. The reactor must outlive the channel. Not thread-safe.

#ifndef EMBER_REACTOR_CORO_CHANNEL_H_
#define EMBER_REACTOR_CORO_CHANNEL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "reactor/reactor.h"

namespace ember {

struct ChannelOptions {
  size_t subscribers_max = 1024;
  size_t pending_max = 1024;
};

template <typename T>
class Channel {
 public:
  using SubscriptionId = uint64_t;
  using Subscriber = absl::AnyInvocable<void(const T&)>;

  explicit Channel(Reactor& reactor, ChannelOptions options = {})
      : reactor_(reactor),
        options_(options),
        alive_(std::make_shared<Channel*>(this)) {}
  ~Channel() { *alive_ = nullptr; }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  absl::StatusOr<SubscriptionId> Subscribe(Subscriber subscriber) {
    if (subscribers_.size() >= options_.subscribers_max) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the channel has ", subscribers_.size(),
          " subscribers, its limit"));
    }
    const SubscriptionId id = next_id_++;
    subscribers_.emplace(id, std::move(subscriber));
    return id;
  }

  // False when `id` is not subscribed. Nothing reaches it after this.
  bool Unsubscribe(SubscriptionId id) { return subscribers_.erase(id) != 0; }

  absl::Status Push(T message) {
    if (pending_.size() >= options_.pending_max) {
      return absl::ResourceExhaustedError(absl::StrCat(
          pending_.size(), " messages wait for delivery, the channel's limit"));
    }
    // Subscribers with ids below `next_id_` were subscribed at this push.
    pending_.push_back(Pending{std::move(message), next_id_});
    if (!delivery_scheduled_) {
      delivery_scheduled_ = true;
      std::weak_ptr<Channel*> weak = alive_;
      reactor_.NextTick([weak] {
        std::shared_ptr<Channel*> self = weak.lock();
        if (self != nullptr && *self != nullptr) (*self)->Deliver();
      });
    }
    return absl::OkStatus();
  }

  size_t subscriber_count() const { return subscribers_.size(); }
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    T message;
    SubscriptionId bound;  // Deliver to ids below this.
  };

  void Deliver() {
    delivery_scheduled_ = false;
    std::weak_ptr<Channel*> weak = alive_;
    // Messages pushed during delivery wait for the next turn.
    std::deque<Pending> batch;
    batch.swap(pending_);
    for (Pending& p : batch) {
      SubscriptionId next = 0;
      for (;;) {
        auto it = subscribers_.lower_bound(next);
        if (it == subscribers_.end() || it->first >= p.bound) break;
        const SubscriptionId id = it->first;
        next = id + 1;
        // Called out of the map, so it may unsubscribe itself.
        Subscriber subscriber = std::move(it->second);
        subscriber(p.message);
        if (weak.expired()) return;  // The subscriber destroyed the channel.
        auto again = subscribers_.find(id);
        if (again != subscribers_.end()) again->second = std::move(subscriber);
      }
    }
  }

  Reactor& reactor_;
  const ChannelOptions options_;
  std::map<SubscriptionId, Subscriber> subscribers_;
  std::deque<Pending> pending_;
  SubscriptionId next_id_ = 1;
  bool delivery_scheduled_ = false;
  std::shared_ptr<Channel*> alive_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_CHANNEL_H_
