#include "tests/sim/workload.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "io/address.h"
#include "io/error.h"
#include "io/network.h"
#include "sim/random.h"

namespace ember::sim::testing {
namespace {

using io::IoResult;

constexpr uint16_t kPort = 7;
constexpr size_t kEchoPendingMax = 16 * 1024;
constexpr size_t kIoBytes = 4096;
constexpr int64_t kPollsMax = 20'000'000;
constexpr absl::Duration kDatagramGap = absl::Milliseconds(10);

io::Address Ip(const char* literal, uint16_t port) {
  return *io::Address::ParseIp(literal, port);
}

// What every part of the workload shares.
struct Env {
  SimNetwork& net;
  WorkloadResult& result;
  Random rng;
  // Resolve callbacks hold a weak reference, so a callback arriving after
  // the workload has ended does nothing.
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  void Violation(std::string what) {
    if (result.violation.empty()) result.violation = std::move(what);
  }
};

// One accepted connection at the echo server: reads into a bounded buffer,
// writes it back, half-closes after end of stream, then closes.
class EchoConn final : public io::IoWatcher {
 public:
  explicit EchoConn(std::unique_ptr<io::StreamSocket> socket)
      : socket_(std::move(socket)) {
    socket_->SetWatcher(this);
    UpdateInterest();
  }

  bool dead() const { return dead_; }

  void OnIoReady(uint32_t readiness) override {
    if (readiness & io::kReadable) ReadSome();
    if (!dead_) WriteSome();
    if (dead_) return;
    if (eof_ && pending_.empty()) {
      // Everything echoed and end of stream read: nothing is left unread,
      // so closing is clean.
      (void)socket_->ShutdownWrite();
      Die();
      return;
    }
    UpdateInterest();
  }

 private:
  void ReadSome() {
    char buf[kIoBytes];
    while (!eof_ && pending_.size() < kEchoPendingMax) {
      const size_t want =
          std::min(sizeof(buf), kEchoPendingMax - pending_.size());
      IoResult r = socket_->Read(buf, want);
      switch (r.code) {
        case IoResult::Code::kOk:
          pending_.append(buf, r.bytes);
          break;
        case IoResult::Code::kEndOfStream:
          eof_ = true;
          return;
        case IoResult::Code::kWouldBlock:
          return;
        case IoResult::Code::kError:
          Die();
          return;
      }
    }
  }

  void WriteSome() {
    while (!pending_.empty()) {
      io::ConstBuffer b{pending_.data(), pending_.size()};
      IoResult r = socket_->Write(&b, 1);
      if (r.code == IoResult::Code::kWouldBlock) return;
      if (r.code != IoResult::Code::kOk) {
        Die();
        return;
      }
      pending_.erase(0, r.bytes);
    }
  }

  void UpdateInterest() {
    uint32_t interest = 0;
    if (!eof_ && pending_.size() < kEchoPendingMax) interest |= io::kReadable;
    if (!pending_.empty()) interest |= io::kWritable;
    socket_->SetInterest(interest);
  }

  void Die() {
    dead_ = true;
    socket_->SetInterest(0);
  }

  std::unique_ptr<io::StreamSocket> socket_;
  std::string pending_;
  bool eof_ = false;
  bool dead_ = false;
};

// The TCP and UDP echo services on the server host.
class EchoServer {
 public:
  explicit EchoServer(Env& env) : env_(env) {}
  ~EchoServer() {
    conns_.clear();
    listener_.reset();
    udp_.reset();
  }

  // Listens (again, after a restart).
  void Start() {
    listener_.reset();
    udp_.reset();
    listener_dead_ = udp_dead_ = false;
    io::ListenOptions options;
    options.backlog = 16;
    auto listener = env_.net.Listen(Ip("10.0.0.1", kPort), options);
    if (listener.ok()) {
      listener_ = std::move(*listener);
      listener_->SetWatcher(&listener_watcher_);
      listener_->SetInterest(io::kReadable);
    } else {
      env_.Violation(
          absl::StrCat("server cannot listen: ", listener.status().ToString()));
    }
    auto udp = env_.net.OpenDatagram(Ip("10.0.0.1", kPort));
    if (udp.ok()) {
      udp_ = std::move(*udp);
      udp_->SetWatcher(&udp_watcher_);
      udp_->SetInterest(io::kReadable);
    }
  }

  // Runs after each Poll: drops finished connections and dead sockets.
  void Sweep() {
    conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                                [](const std::unique_ptr<EchoConn>& c) {
                                  return c->dead();
                                }),
                 conns_.end());
    if (listener_dead_) listener_.reset();
    if (udp_dead_) udp_.reset();
  }

  absl::Time wake_at() const { return accept_resume_at_; }

  void Tick(absl::Time now) {
    if (now >= accept_resume_at_) {
      accept_resume_at_ = absl::InfiniteFuture();
      if (listener_ != nullptr && !listener_dead_) {
        listener_->SetInterest(io::kReadable);
      }
    }
  }

 private:
  class Watcher final : public io::IoWatcher {
   public:
    Watcher(EchoServer* server, bool udp) : server_(server), udp_(udp) {}
    void OnIoReady(uint32_t) override {
      if (udp_) {
        server_->OnDatagram();
      } else {
        server_->OnAccept();
      }
    }

   private:
    EchoServer* server_;
    bool udp_;
  };

  void OnAccept() {
    if (listener_dead_) return;
    for (int i = 0; i < 16; ++i) {
      absl::StatusOr<std::unique_ptr<io::StreamSocket>> a = listener_->Accept();
      if (!a.ok()) {
        if (io::KindOf(a.status()) == io::ErrorKind::kNoResources) {
          // Back off, as a server out of descriptors should.
          listener_->SetInterest(0);
          accept_resume_at_ = env_.net.Now() + absl::Milliseconds(10);
          return;
        }
        listener_dead_ = true;  // its host crashed
        listener_->SetInterest(0);
        return;
      }
      if (*a == nullptr) return;
      conns_.push_back(std::make_unique<EchoConn>(std::move(*a)));
    }
  }

  void OnDatagram() {
    if (udp_dead_) return;
    char buf[2048];
    for (int i = 0; i < 64; ++i) {
      io::Address from;
      bool truncated = false;
      IoResult r = udp_->ReceiveFrom(buf, sizeof(buf), &from, &truncated);
      if (r.code == IoResult::Code::kWouldBlock) return;
      if (r.code != IoResult::Code::kOk) {
        udp_dead_ = true;
        udp_->SetInterest(0);
        return;
      }
      (void)udp_->SendTo(from, buf, r.bytes);  // best effort, as UDP is
    }
  }

  Env& env_;
  Watcher listener_watcher_{this, false};
  Watcher udp_watcher_{this, true};
  std::unique_ptr<io::Listener> listener_;
  std::unique_ptr<io::DatagramSocket> udp_;
  bool listener_dead_ = false;
  bool udp_dead_ = false;
  absl::Time accept_resume_at_ = absl::InfiniteFuture();
  std::vector<std::unique_ptr<EchoConn>> conns_;
};

// A stream client: resolve, connect, send its bytes, half-close, check the
// echo; on any error start again after a backoff.
class EchoClient final : public io::IoWatcher {
 public:
  enum class State { kWaiting, kResolving, kConnecting, kRunning, kDone };

  EchoClient(Env& env, int id, std::string data, int attempts_max,
             absl::Time start_at)
      : env_(env),
        id_(id),
        data_(std::move(data)),
        attempts_max_(attempts_max),
        retry_at_(start_at) {}

  bool finished() const { return state_ == State::kDone; }
  absl::Time wake_at() const {
    return state_ == State::kWaiting ? retry_at_ : absl::InfiniteFuture();
  }

  void Tick(absl::Time now) {
    if (state_ == State::kWaiting && now >= retry_at_) StartAttempt();
  }

  void OnIoReady(uint32_t readiness) override {
    if (state_ == State::kConnecting) {
      absl::Status s = socket_->FinishConnect();
      if (!s.ok()) {
        Fail();
        return;
      }
      state_ = State::kRunning;
    }
    if (state_ != State::kRunning) return;
    ReadSome();
    if (state_ != State::kRunning) return;
    WriteSome();
    if (state_ != State::kRunning) return;
    socket_->SetInterest(io::kReadable |
                         (sent_ < data_.size() ? io::kWritable : 0));
  }

 private:
  void StartAttempt() {
    ++attempts_;
    state_ = State::kResolving;
    std::weak_ptr<int> alive = env_.alive;
    env_.net.Resolve(
        "server",
        [this, alive](absl::StatusOr<std::vector<io::Address>> result) {
          if (alive.expired()) return;
          OnResolved(std::move(result));
        });
  }

  void OnResolved(absl::StatusOr<std::vector<io::Address>> result) {
    if (!result.ok() || result->empty()) {
      Fail();
      return;
    }
    auto socket = env_.net.Connect(result->front().WithPort(kPort), {});
    if (!socket.ok()) {
      Fail();
      return;
    }
    socket_ = std::move(*socket);
    sent_ = received_ = 0;
    shut_ = false;
    state_ = State::kConnecting;
    socket_->SetWatcher(this);
    socket_->SetInterest(io::kWritable);
  }

  void ReadSome() {
    char buf[kIoBytes];
    while (true) {
      const size_t want = static_cast<size_t>(env_.rng.Between(1, kIoBytes));
      IoResult r = socket_->Read(buf, want);
      if (r.code == IoResult::Code::kWouldBlock) return;
      if (r.code == IoResult::Code::kError) {
        Fail();
        return;
      }
      if (r.code == IoResult::Code::kEndOfStream) {
        if (received_ != data_.size()) {
          env_.Violation(absl::StrCat("client ", id_, ": end of stream after ",
                                      received_, " of ", data_.size(),
                                      " echoed bytes, without a reset"));
          GiveUp();
          return;
        }
        Done();
        return;
      }
      if (received_ + r.bytes > sent_ ||
          std::string_view(buf, r.bytes) !=
              std::string_view(data_).substr(received_, r.bytes)) {
        env_.Violation(absl::StrCat("client ", id_, ": echo differs at byte ",
                                    received_, " (", r.bytes, " bytes read, ",
                                    sent_, " sent)"));
        GiveUp();
        return;
      }
      received_ += r.bytes;
      env_.result.bytes_verified += r.bytes;
    }
  }

  void WriteSome() {
    while (sent_ < data_.size()) {
      const size_t size =
          std::min<size_t>(data_.size() - sent_,
                           static_cast<size_t>(env_.rng.Between(1, kIoBytes)));
      io::ConstBuffer b{data_.data() + sent_, size};
      IoResult r = socket_->Write(&b, 1);
      if (r.code == IoResult::Code::kWouldBlock) return;
      if (r.code != IoResult::Code::kOk) {
        Fail();
        return;
      }
      sent_ += r.bytes;
    }
    if (!shut_) {
      shut_ = true;
      if (!socket_->ShutdownWrite().ok()) Fail();
    }
  }

  void Fail() {
    ++env_.result.attempts_failed;
    socket_.reset();
    if (attempts_ >= attempts_max_) {
      GiveUp();
      return;
    }
    state_ = State::kWaiting;
    retry_at_ =
        env_.net.Now() + absl::Milliseconds(250) * std::min(attempts_, 20);
  }

  void GiveUp() {
    socket_.reset();
    state_ = State::kDone;
    ++env_.result.clients_gave_up;
  }

  void Done() {
    socket_.reset();
    state_ = State::kDone;
    ++env_.result.clients_completed;
  }

  Env& env_;
  const int id_;
  const std::string data_;
  const int attempts_max_;
  State state_ = State::kWaiting;
  absl::Time retry_at_;
  int attempts_ = 0;
  std::unique_ptr<io::StreamSocket> socket_;
  size_t sent_ = 0;
  size_t received_ = 0;
  bool shut_ = false;
};

// Sends numbered datagrams to the UDP echo and checks what comes back.
class Pinger final : public io::IoWatcher {
 public:
  Pinger(Env& env, int count) : env_(env), count_(count), seen_(count) {
    auto socket = env_.net.OpenDatagram(Ip("10.0.0.2", 0));
    if (!socket.ok()) {
      env_.Violation(absl::StrCat("pinger: ", socket.status().ToString()));
      count_ = 0;
      return;
    }
    socket_ = std::move(*socket);
    socket_->SetWatcher(this);
    socket_->SetInterest(io::kReadable);
    next_send_at_ = env_.net.Now();
  }

  // Sending is over, and the last echo has had time to come back.
  bool finished(absl::Time now) const {
    return next_seq_ >= count_ && now >= next_send_at_ + absl::Seconds(5);
  }
  absl::Time wake_at() const {
    return next_seq_ < count_ ? next_send_at_ : absl::InfiniteFuture();
  }
  int echoed() const {
    return static_cast<int>(std::count(seen_.begin(), seen_.end(), true));
  }

  void Tick(absl::Time now) {
    while (next_seq_ < count_ && now >= next_send_at_) {
      const std::string d = Payload(next_seq_);
      (void)socket_->SendTo(Ip("10.0.0.1", kPort), d.data(), d.size());
      ++next_seq_;
      next_send_at_ += kDatagramGap;
    }
  }

  void OnIoReady(uint32_t) override {
    char buf[2048];
    while (true) {
      bool truncated = false;
      IoResult r = socket_->ReceiveFrom(buf, sizeof(buf), nullptr, &truncated);
      if (r.code != IoResult::Code::kOk) return;
      Check(std::string_view(buf, r.bytes));
    }
  }

 private:
  static std::string Payload(int seq) {
    std::string d = "D";
    for (int shift = 24; shift >= 0; shift -= 8) {
      d.push_back(static_cast<char>((seq >> shift) & 0xff));
    }
    Random r(static_cast<uint64_t>(seq) * 7919 + 1);
    for (int i = 0; i < 20 + seq % 100; ++i) {
      d.push_back(static_cast<char>(r.Next() >> 56));
    }
    return d;
  }

  void Check(std::string_view got) {
    if (got.empty()) return;  // truncated to nothing
    if (got[0] != 'D') {
      env_.Violation("pinger: a datagram that was never sent came back");
      return;
    }
    if (got.size() < 5) return;  // too short to tell which one
    uint32_t seq = 0;
    for (int i = 1; i < 5; ++i) seq = (seq << 8) | static_cast<uint8_t>(got[i]);
    if (seq >= static_cast<uint32_t>(count_)) {
      env_.Violation(absl::StrCat("pinger: unknown datagram ", seq));
      return;
    }
    const std::string sent = Payload(static_cast<int>(seq));
    if (got.size() > sent.size() ||
        got != std::string_view(sent).substr(0, got.size())) {
      env_.Violation(
          absl::StrCat("pinger: datagram ", seq, " came back altered"));
      return;
    }
    if (got.size() == sent.size()) seen_[seq] = true;
  }

  Env& env_;
  int count_;
  std::vector<bool> seen_;
  std::unique_ptr<io::DatagramSocket> socket_;
  int next_seq_ = 0;
  absl::Time next_send_at_;
};

std::string ClientBytes(uint64_t seed, int id, size_t size) {
  Random r(Mix64(seed) ^
           (static_cast<uint64_t>(id) + 1) * 0x9e3779b97f4a7c15ull);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(r.Next() >> 56);
  return s;
}

}  // namespace

std::string WorkloadResult::ToString() const {
  return absl::StrCat(
      "completed=", clients_completed, " gave_up=", clients_gave_up,
      " attempts_failed=", attempts_failed, " bytes_verified=", bytes_verified,
      " datagrams_echoed=", datagrams_echoed, " idle=", idle,
      " out_of_time=", out_of_time, " elapsed=", absl::FormatDuration(elapsed),
      violation.empty() ? "" : " violation: ", violation);
}

WorkloadResult RunEchoWorkload(SimNetwork& net,
                               const WorkloadOptions& options) {
  WorkloadResult result;
  const HostId server_host = net.AddHost("server", {Ip("10.0.0.1", 0)});
  const HostId client_host = net.AddHost("client", {Ip("10.0.0.2", 0)});
  net.SetDefaultHost(client_host);
  Env env{net, result, Random(options.seed)};

  EchoServer server(env);
  server.Start();
  net.SetRestartHook(server_host, [&server] { server.Start(); });

  const absl::Time start = net.Now();
  const absl::Time end = start + options.budget;
  std::vector<std::unique_ptr<EchoClient>> clients;
  for (int i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_unique<EchoClient>(
        env, i, ClientBytes(options.seed, i, options.bytes_per_client),
        options.attempts_max, start + absl::Milliseconds(10) * i));
  }
  Pinger pinger(env, options.datagrams);

  for (int64_t polls = 0;; ++polls) {
    const absl::Time now = net.Now();
    server.Tick(now);
    for (auto& c : clients) c->Tick(now);
    pinger.Tick(now);
    const bool clients_done =
        std::all_of(clients.begin(), clients.end(),
                    [](const auto& c) { return c->finished(); });
    if (clients_done && pinger.finished(now)) break;
    if (!result.violation.empty()) break;
    if (now >= end || polls >= kPollsMax) {
      result.out_of_time = true;
      break;
    }
    absl::Time wake = std::min(server.wake_at(), pinger.wake_at());
    for (auto& c : clients) wake = std::min(wake, c->wake_at());
    if (clients_done) wake = std::min(wake, now + absl::Seconds(5));
    absl::StatusOr<int> polled = net.Poll(wake);
    if (!polled.ok()) {
      result.idle = true;
      break;
    }
    server.Sweep();
  }
  result.elapsed = net.Now() - start;
  result.datagrams_echoed = pinger.echoed();
  net.SetRestartHook(server_host, nullptr);
  return result;
}

}  // namespace ember::sim::testing
