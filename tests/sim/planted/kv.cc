#include "tests/sim/planted/kv.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reactor/connection.h"
#include "sim/harness/scenario.h"
#include "sim/random.h"

namespace ember::planted {
namespace {

// The bug-free client's reply timeout: longer than any stall a plan makes,
// and then it treats the connection as broken (it never assumes success).
constexpr absl::Duration kPatientTimeout = absl::Minutes(2);
// The planted bug's: enough on a LAN, not across a WAN with a stall.
constexpr absl::Duration kShortTimeout = absl::Milliseconds(250);

struct KvServer {
  KvBug bug = KvBug::kNone;
  std::map<std::string, std::string> store;
  std::map<uint64_t, int> sessions;  // connection id -> requests served
  int live = 0;                      // connections now
  int overflow_drops = 0;
  int malformed = 0;
};

class KvServerConnection final : public Connection {
 public:
  explicit KvServerConnection(KvServer& server) : s_(server) {}

  void PostInit() override {
    ++s_.live;
    s_.sessions[id()] = 0;
    OutboundLimits limits;
    limits.high_water_bytes = kServerHighWaterBytes;
    limits.low_water_bytes = kServerLowWaterBytes;
    limits.max_bytes = kServerOutboundMaxBytes;
    limits.close_on_overflow = true;
    SetOutboundLimits(limits);
  }

  void ReceiveData(std::string_view data) override {
    in_.append(data);
    Process();
  }

  void OutboundLowWater() override {
    if (paused()) {
      Resume();
      Process();
    }
  }

  void Unbind(const UnbindReason& reason) override {
    --s_.live;
    if (reason.kind == UnbindKind::kOutboundOverflow) ++s_.overflow_drops;
    // The bug: only a clean end is thought to end a session.
    if (s_.bug == KvBug::kLeakOnReset && reason.is_error()) return;
    s_.sessions.erase(id());
  }

 private:
  void Process() {
    size_t start = 0;
    while (!closing()) {
      if (s_.bug != KvBug::kIgnoreBackpressure &&
          OutboundDataSize() >= kServerHighWaterBytes) {
        // Backpressure: stop taking requests until the replies drain
        // (OutboundLowWater resumes).
        Pause();
        break;
      }
      const size_t nl = in_.find('\n', start);
      if (nl == in_.npos) break;
      Handle(std::string_view(in_).substr(start, nl - start));
      start = nl + 1;
    }
    in_.erase(0, start);
    if (s_.bug == KvBug::kWholeMessagePerRead && !paused() && !closing() &&
        !in_.empty()) {
      // The bug: a read is taken to end where a request ends, so the
      // rest of the read is a request too.
      Handle(in_);
      in_.clear();
    }
    if (!paused() && in_.size() > kLineBytesMax) {
      // A line longer than the limit: refuse it and hang up.
      ++s_.malformed;
      (void)SendData("ERR line too long\n");
      CloseAfterWriting();
    }
  }

  void Handle(std::string_view line) {
    auto it = s_.sessions.find(id());
    if (it != s_.sessions.end()) ++it->second;
    std::string reply;
    if (line.substr(0, 4) == "PUT ") {
      const std::string_view rest = line.substr(4);
      const size_t sp = rest.find(' ');
      if (sp == rest.npos) {
        ++s_.malformed;
        reply = "ERR PUT needs a value\n";
      } else {
        const std::string key(rest.substr(0, sp));
        s_.store[key] = std::string(rest.substr(sp + 1));
        reply = absl::StrCat("OK ", key, "\n");
      }
    } else if (line.substr(0, 4) == "GET ") {
      const std::string key(line.substr(4));
      auto found = s_.store.find(key);
      reply = found == s_.store.end()
                  ? absl::StrCat("NONE ", key, "\n")
                  : absl::StrCat("VAL ", key, " ", found->second, "\n");
    } else {
      ++s_.malformed;
      reply = "ERR unknown request\n";
    }
    // With close_on_overflow a refused SendData closes the connection;
    // Unbind counts it.
    (void)SendData(reply);
  }

  KvServer& s_;
  std::string in_;  // bytes of requests not yet handled
};

struct Request {
  std::string line;    // with its newline
  std::string expect;  // the reply, without its newline
  std::string key;
  bool get = false;
  // Sent again after a reconnect: a GET may then see a value PUT after it
  // was first sent (the first copy may have been served before the PUT).
  bool resent = false;
};

class KvClient;

class KvClientConnection final : public Connection {
 public:
  explicit KvClientConnection(KvClient& client) : c_(client) {}
  void ConnectionCompleted() override;
  void ReceiveData(std::string_view data) override;
  void Unbind(const UnbindReason& reason) override;

 private:
  KvClient& c_;
};

class KvClient {
 public:
  KvClient(Reactor& reactor, const KvWorkload& w, int index,
           std::function<uint64_t(uint64_t)> choose)
      : reactor_(reactor),
        w_(w),
        index_(index),
        choose_(std::move(choose)),
        bind_(absl::StrCat("10.0.1.", index)) {}

  void Connect() {
    auto conn = std::make_unique<KvClientConnection>(*this);
    KvClientConnection* raw = conn.get();
    absl::StatusOr<Connection*> c =
        reactor_.BindConnect(bind_, 0, "10.0.0.1", 7000, std::move(conn));
    if (!c.ok()) {
      Fail(absl::InternalError(absl::StrCat(
          "client ", index_, " cannot connect: ", c.status().ToString())));
      return;
    }
    conn_ = raw;
  }

  void Connected() {
    attempt_ = 0;
    last_progress_ = reactor_.Now();
    // Unanswered requests go again, in order, on the new connection.
    for (Request& r : pending_) r.resent = true;
    if (w_.bug == KvBug::kResendWithoutClearing) {
      // The bug: the old entries stay in the queue as well.
      const std::deque<Request> again = pending_;
      for (const Request& r : again) {
        if (!error_.ok()) break;
        Send(r);
      }
    } else {
      std::deque<Request> again;
      again.swap(pending_);
      for (const Request& r : again) Send(r);
    }
    Fill();
  }

  void Data(std::string_view data) {
    in_.append(data);
    size_t start = 0;
    while (error_.ok() && !done_) {
      const size_t nl = in_.find('\n', start);
      if (nl == in_.npos) break;
      Reply(std::string_view(in_).substr(start, nl - start));
      start = nl + 1;
    }
    in_.erase(0, start);
  }

  void Ended(const UnbindReason& reason) {
    conn_ = nullptr;
    in_.clear();
    if (done_ || stopping_ || !error_.ok()) return;
    // The connection broke (reset, refused, timed out): try again later.
    ++reconnects_;
    const absl::Duration backoff =
        std::min(absl::Milliseconds(100) * (1 << std::min(attempt_, 6)),
                 absl::Seconds(5));
    ++attempt_;
    (void)reactor_.AddTimer(backoff, [this] {
      if (!stopping_ && !done_ && error_.ok()) Connect();
    });
  }

  void Stop() { stopping_ = true; }
  bool finished() const { return done_ && conn_ == nullptr; }
  const absl::Status& error() const { return error_; }
  int reconnects() const { return reconnects_; }

 private:
  void Send(const Request& r) {
    // The client's own invariant, checked where it could break: never more
    // requests in flight than the pipeline allows (the pending queue's
    // limit).
    if (pending_.size() >= static_cast<size_t>(w_.pipeline)) {
      Fail(absl::FailedPreconditionError(absl::StrCat(
          "client ", index_, ": ", pending_.size() + 1,
          " requests in flight, the pipeline allows ", w_.pipeline)));
      return;
    }
    if (pending_.empty()) last_progress_ = reactor_.Now();
    pending_.push_back(r);
    (void)conn_->SendData(r.line);
    ArmTimer();
  }

  void Fill() {
    while (conn_ != nullptr && conn_->connected() && !conn_->closing() &&
           pending_.size() < static_cast<size_t>(w_.pipeline) &&
           issued_ < w_.ops_per_client) {
      Send(Next());
    }
  }

  Request Next() {
    const int op = issued_++;
    const std::string key = absl::StrCat("c", index_, "k", choose_(4));
    if (choose_(2) == 0) {
      std::string value = absl::StrCat(index_, ":", op, ":");
      const size_t size =
          1 + choose_(static_cast<uint64_t>(w_.value_bytes_max));
      while (value.size() < size)
        value.push_back(static_cast<char>('a' + value.size() % 26));
      model_[key] = value;
      history_[key].insert(value);
      return {absl::StrCat("PUT ", key, " ", value, "\n"),
              absl::StrCat("OK ", key), key};
    }
    auto it = model_.find(key);
    return {absl::StrCat("GET ", key, "\n"),
            it == model_.end() ? absl::StrCat("NONE ", key)
                               : absl::StrCat("VAL ", key, " ", it->second),
            key, /*get=*/true};
  }

  // Whether `line` answers `r`: exactly the model's reply, or for a GET
  // sent again, a value this client PUT to the key.
  bool Matches(const Request& r, std::string_view line) const {
    if (line == r.expect) return true;
    if (!r.get || !r.resent) return false;
    const std::string prefix = absl::StrCat("VAL ", r.key, " ");
    if (line.substr(0, prefix.size()) != prefix) return false;
    auto it = history_.find(r.key);
    return it != history_.end() &&
           it->second.count(std::string(line.substr(prefix.size()))) > 0;
  }

  void Reply(std::string_view line) {
    if (pending_.empty()) {
      Fail(absl::DataLossError(absl::StrCat(
          "client ", index_, ": a reply with no request pending: \"",
          std::string(line.substr(0, 40)), "\"")));
      return;
    }
    const Request& r = pending_.front();
    if (!Matches(r, line)) {
      Fail(absl::DataLossError(
          absl::StrCat("client ", index_, ": request \"", r.line.substr(0, 24),
                       "...\" got \"", std::string(line.substr(0, 40)),
                       "\", expected \"", r.expect.substr(0, 40), "\"")));
      return;
    }
    pending_.pop_front();
    Acked();
  }

  void Acked() {
    ++acked_;
    last_progress_ = reactor_.Now();
    if (acked_ >= w_.ops_per_client) {
      done_ = true;
      if (conn_ != nullptr) conn_->CloseAfterWriting();
      return;
    }
    Fill();
  }

  void ArmTimer() {
    if (timer_armed_) return;
    timer_armed_ = true;
    const absl::Duration limit =
        w_.bug == KvBug::kShortTimeout ? kShortTimeout : kPatientTimeout;
    const absl::Duration wait = std::max(
        absl::Milliseconds(1), limit - (reactor_.Now() - last_progress_));
    (void)reactor_.AddTimer(wait, [this, limit] {
      timer_armed_ = false;
      if (stopping_ || done_ || !error_.ok() || conn_ == nullptr ||
          pending_.empty()) {
        return;
      }
      if (reactor_.Now() - last_progress_ >= limit) {
        if (w_.bug == KvBug::kShortTimeout) {
          // The bug: no reply in time is taken as success.
          pending_.pop_front();
          ++timeouts_;
          Acked();
          if (done_) return;
        } else {
          // Silence this long means the connection is gone: start over.
          conn_->CloseConnection();
          return;
        }
      }
      ArmTimer();
    });
  }

  void Fail(absl::Status status) {
    if (!error_.ok()) return;
    error_ = std::move(status);
    if (conn_ != nullptr) conn_->CloseConnection();
  }

  Reactor& reactor_;
  const KvWorkload& w_;
  const int index_;
  std::function<uint64_t(uint64_t)> choose_;
  const std::string bind_;
  KvClientConnection* conn_ = nullptr;
  std::deque<Request> pending_;               // sent, not answered, in order
  std::map<std::string, std::string> model_;  // key -> last value PUT
  std::map<std::string, std::set<std::string>> history_;  // every value PUT
  std::string in_;
  int issued_ = 0;
  int acked_ = 0;
  int attempt_ = 0;
  int reconnects_ = 0;
  int timeouts_ = 0;
  bool done_ = false;
  bool stopping_ = false;
  bool timer_armed_ = false;
  absl::Time last_progress_;
  absl::Status error_;
};

void KvClientConnection::ConnectionCompleted() { c_.Connected(); }
void KvClientConnection::ReceiveData(std::string_view data) { c_.Data(data); }
void KvClientConnection::Unbind(const UnbindReason& reason) {
  c_.Ended(reason);
}

}  // namespace

std::string_view KvBugName(KvBug bug) {
  switch (bug) {
    case KvBug::kNone:
      return "none";
    case KvBug::kWholeMessagePerRead:
      return "whole_message_per_read";
    case KvBug::kResendWithoutClearing:
      return "resend_without_clearing";
    case KvBug::kLeakOnReset:
      return "leak_on_reset";
    case KvBug::kShortTimeout:
      return "short_timeout";
    case KvBug::kIgnoreBackpressure:
      return "ignore_backpressure";
  }
  return "?";
}

absl::Status RunKv(Reactor& reactor, sim::SimNetwork& net,
                   const KvWorkload& w) {
  net.AddHost("kv", {*io::Address::ParseIp("10.0.0.1", 0)});
  for (int i = 0; i < w.clients; ++i) {
    net.AddHost(absl::StrCat("client", i + 1),
                {*io::Address::ParseIp(absl::StrCat("10.0.1.", i + 1), 0)});
  }
  KvServer server;
  server.bug = w.bug;
  absl::StatusOr<ServerId> listening = reactor.StartServer(
      "10.0.0.1", 7000,
      [&server] { return std::make_unique<KvServerConnection>(server); });
  if (!listening.ok()) return listening.status();

  sim::Random rng(net.RandomSeed());
  auto choose = [&](uint64_t n) -> uint64_t {
    return w.choices != nullptr ? w.choices->Choose(n) : rng.Below(n);
  };
  std::vector<std::unique_ptr<KvClient>> clients;
  for (int i = 0; i < w.clients; ++i) {
    clients.push_back(std::make_unique<KvClient>(reactor, w, i + 1, choose));
  }
  for (auto& c : clients) c->Connect();

  auto any_error = [&] {
    for (auto& c : clients) {
      if (!c->error().ok()) return true;
    }
    return server.overflow_drops > 0;
  };
  absl::Status status = sim::RunUntil(
      reactor,
      [&] {
        if (any_error()) return true;
        for (auto& c : clients) {
          if (!c->finished()) return false;
        }
        return server.live == 0;
      },
      w.budget);
  for (auto& c : clients) {
    if (status.ok() && !c->error().ok()) status = c->error();
  }
  if (status.ok() && server.overflow_drops > 0) {
    status = absl::ResourceExhaustedError(
        absl::StrCat("the server dropped ", server.overflow_drops,
                     " client(s) at its outbound limit of ",
                     kServerOutboundMaxBytes, " bytes"));
  }
  if (status.ok() && !server.sessions.empty()) {
    status = absl::InternalError(
        absl::StrCat("every client left, but the server still holds ",
                     server.sessions.size(), " session(s)"));
  }
  // Tear down: no more reconnects; the reactor closes what is left.
  for (auto& c : clients) c->Stop();
  reactor.Stop();
  const absl::Status run = reactor.Run();
  if (status.ok() && !run.ok()) status = run;
  return status;
}

}  // namespace ember::planted
