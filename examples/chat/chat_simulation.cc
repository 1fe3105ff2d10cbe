#include "examples/chat/chat_simulation.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/line/line_connection.h"

namespace ember::examples {
namespace {

constexpr std::string_view kSays = " says: ";
constexpr int kChecksumDigits = 16;
// A relayed line is at most about 200 bytes; anything near this is damage.
constexpr size_t kReceivedLineBytesMax = 16 << 10;

// FNV-1a through SplitMix64's finaliser: a fixed 64-bit checksum.
uint64_t Checksum(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return sim::Mix64(h);
}

void AppendHex(uint64_t value, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[kChecksumDigits];
  for (int i = kChecksumDigits - 1; i >= 0; --i) {
    buf[i] = kDigits[value & 15];
    value >>= 4;
  }
  out->append(buf, kChecksumDigits);
}

// A decimal number without sign or leading junk, or false.
bool ParseNumber(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

bool ParseHex(std::string_view text, uint64_t* out) {
  if (text.size() != kChecksumDigits) return false;
  uint64_t n = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    n = (n << 4) | static_cast<uint64_t>(digit);
  }
  *out = n;
  return true;
}

// Cuts `text` at the first ':'; false when there is none.
bool NextField(std::string_view* text, std::string_view* field) {
  const size_t colon = text->find(':');
  if (colon == std::string_view::npos) return false;
  *field = text->substr(0, colon);
  text->remove_prefix(colon + 1);
  return true;
}

std::string Shorten(std::string_view text) {
  constexpr size_t kShown = 120;
  if (text.size() <= kShown) return std::string(text);
  return absl::StrCat(AbslView(text.substr(0, kShown)), "...(", text.size(),
                      " bytes)");
}

}  // namespace

// ---------------------------------------------------------------- Sessions

// One connection of a simulated client: matches the prompt byte for byte,
// then hands complete lines to its client. The reactor owns it; the client
// points at it until Unbind, and detaches it when the simulation goes away.
class ChatSimulation::Session final : public protocols::LineConnection {
 public:
  explicit Session(Client* client)
      : LineConnection(Framing()), client_(client) {}

  void Detach() { client_ = nullptr; }

  void ReceiveData(std::string_view data) override;
  void ReceiveLine(std::string_view line) override;
  void ReceiveLineError(const absl::Status& status) override;
  void Unbind(const UnbindReason& reason) override;

 private:
  static protocols::LineFramer::Options Framing() {
    protocols::LineFramer::Options options;
    options.line_bytes_max = kReceivedLineBytesMax;
    return options;
  }

  Client* client_;
  size_t prompt_bytes_ = 0;  // Of kChatPrompt, matched so far.
};

// ----------------------------------------------------------------- Clients

// A simulated person: joins, talks, leaves, comes back, and checks every
// line it receives.
class ChatSimulation::Client {
 public:
  enum class State : uint8_t {
    kOffline,     // No session; a timer may bring it back.
    kConnecting,  // Connecting, or waiting for the prompt.
    kNamed,       // Sent its name; talking.
    kLeaving,     // Asked to go (gracefully or abruptly); awaiting Unbind.
  };

  Client(ChatSimulation* sim, int index, bool witness, io::Address bind,
         sim::Random rng)
      : sim_(sim),
        index_(index),
        witness_(witness),
        name_(absl::StrCat("c", index)),
        bind_(std::move(bind)),
        rng_(rng) {}

  ~Client() { Detach(); }

  int index() const { return index_; }
  bool witness() const { return witness_; }
  const std::string& name() const { return name_; }
  State state() const { return state_; }
  uint32_t session() const { return session_; }
  uint64_t seq() const { return seq_; }
  uint32_t talk_session() const { return talk_session_; }
  uint64_t first_talk_seq() const { return first_talk_seq_; }

  // What this client heard from one sender in its current session.
  struct Heard {
    uint32_t session = 0;  // 0: nothing yet.
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
  };
  const Heard& heard(int sender) const { return heard_[sender]; }

  // Cancels its timers and forgets its connection (which is closed, and
  // whose callbacks no longer reach this client).
  void Detach() {
    CancelTimers();
    if (conn_ != nullptr) {
      conn_->Detach();
      conn_->CloseConnection();
      conn_ = nullptr;
    }
  }

  void ScheduleJoin(absl::Duration delay) {
    Cancel(&life_timer_);
    life_timer_ = sim_->After(delay, [this] {
      life_timer_ = 0;
      Join();
    });
  }

  // The settle is over: a witness starts talking and remembers where, so the
  // end can check that the others heard all of it.
  void BeginTalking() {
    if (witness_) {
      if (state_ == State::kNamed) {
        talk_session_ = session_;
        first_talk_seq_ = seq_ + 1;
        ScheduleTalk();
      }
    } else {
      ScheduleJoin(
          rng_.DurationBetween(absl::ZeroDuration(), sim_->options_.pause_max));
    }
  }

  // Finish began: no more lines, no new sessions.
  void StopTalking() {
    Cancel(&talk_timer_);
    if (state_ == State::kOffline || state_ == State::kNamed) {
      Cancel(&life_timer_);
    }
  }

  // Finish: leave now, gracefully when named.
  void LeaveForGood() {
    CancelTimers();
    if (conn_ == nullptr) return;
    if (state_ == State::kNamed) {
      Leave(/*abrupt=*/false);
    } else if (state_ == State::kConnecting) {
      state_ = State::kLeaving;
      conn_->CloseConnection();
    }
  }

  void Join() {
    if (sim_->stopping_ || conn_ != nullptr) return;
    state_ = State::kConnecting;
    ++session_;
    if (heard_.empty()) heard_.resize(sim_->clients_.size());
    std::fill(heard_.begin(), heard_.end(), Heard{});
    auto session = std::make_unique<Session>(this);
    conn_ = session.get();
    absl::StatusOr<Connection*> c = sim_->reactor_.ConnectTo(
        sim_->server_address_, std::move(session), &bind_);
    if (!c.ok()) {
      // Only arguments that can never work come back here.
      conn_ = nullptr;
      state_ = State::kOffline;
      sim_->Violation(
          absl::StrCat(name_, " cannot connect: ", c.status().ToString()));
    }
  }

  // The whole prompt arrived: give the name, start talking.
  void OnPrompt() {
    if (!conn_->SendData(absl::StrCat(name_, "\n")).ok()) return;
    state_ = State::kNamed;
    failures_in_row_ = 0;
    ++sim_->report_.joins;
    if (sim_->stopping_) return;
    if (sim_->talking_) ScheduleTalk();
    if (!witness_) {
      life_timer_ = sim_->After(
          rng_.DurationBetween(sim_->options_.lifetime_min,
                               sim_->options_.lifetime_max),
          [this] {
            life_timer_ = 0;
            Leave(rng_.Chance(sim_->options_.abrupt_leave_probability));
          });
    }
  }

  void OnBadPrompt(std::string_view data) {
    sim_->Violation(absl::StrCat(name_, " session ", session_,
                                 ": expected the prompt, got \"", Shorten(data),
                                 "\""));
  }

  void OnBadLine(const absl::Status& status) {
    sim_->Violation(absl::StrCat(name_, " session ", session_,
                                 ": unframable input: ", status.ToString()));
  }

  void CountBytes(size_t n) { sim_->report_.bytes_received += n; }

  // Checks one relayed line: "<from> says: <name>:<session>:<seq>:<payload>:
  // <checksum>".
  void OnLine(std::string_view line) {
    ChatSimulationReport& report = sim_->report_;
    ++report.checks;
    const size_t says = line.find(kSays);
    if (says == std::string_view::npos) {
      return Bad("a line that is not a relay", line);
    }
    const std::string_view from = line.substr(0, says);
    std::string_view body = line.substr(says + kSays.size());
    const size_t last_colon = body.rfind(':');
    uint64_t checksum = 0;
    if (last_colon == std::string_view::npos ||
        !ParseHex(body.substr(last_colon + 1), &checksum) ||
        Checksum(body.substr(0, last_colon)) != checksum) {
      return Bad("a corrupted line (checksum)", line);
    }
    std::string_view signed_part = body.substr(0, last_colon);
    std::string_view name, session_text, seq_text;
    uint64_t session = 0, seq = 0;
    if (!NextField(&signed_part, &name) ||
        !NextField(&signed_part, &session_text) ||
        !NextField(&signed_part, &seq_text) ||
        !ParseNumber(session_text, &session) || !ParseNumber(seq_text, &seq)) {
      return Bad("a malformed line", line);
    }
    if (name != from) return Bad("a line relayed under another name", line);
    const int sender = sim_->ClientIndex(name);
    if (sender < 0) return Bad("a line from a client that never existed", line);
    if (sender == index_) return Bad("its own line back", line);
    const Client& s = *sim_->clients_[sender];
    if (seq == 0 || seq > s.seq_ || session == 0 || session > s.session_) {
      return Bad("a line that was never sent", line);
    }
    Heard& h = heard_[sender];
    if (h.session == 0 || session > h.session) {
      if (h.session != 0 && seq <= h.last_seq) {
        return Bad(absl::StrCat("a line numbered ", seq, " after ", h.last_seq,
                                " from an earlier session"),
                   line);
      }
      h.session = static_cast<uint32_t>(session);
      h.first_seq = seq;
      h.last_seq = seq;
    } else if (session < h.session) {
      return Bad(absl::StrCat("a line of session ", session,
                              " after one of session ", h.session),
                 line);
    } else if (seq != h.last_seq + 1) {
      return Bad(absl::StrCat(seq <= h.last_seq ? "a duplicated or reordered"
                                                : "a gap before a",
                              " line: ", seq, " after ", h.last_seq),
                 line);
    } else {
      h.last_seq = seq;
    }
    ++report.lines_delivered;
  }

  void OnUnbind(const UnbindReason& reason) {
    conn_ = nullptr;
    CancelTimers();
    if (state_ == State::kLeaving) {
      state_ = State::kOffline;
      if (!sim_->stopping_) {
        ScheduleJoin(rng_.DurationBetween(sim_->options_.pause_min,
                                          sim_->options_.pause_max));
      }
      return;
    }
    state_ = State::kOffline;
    ++sim_->report_.failures[std::string(UnbindKindName(reason.kind))];
    if (sim_->stopping_) return;
    ++sim_->report_.reconnects;
    ++failures_in_row_;
    absl::Duration ceiling = sim_->options_.backoff_min;
    for (int i = 1;
         i < failures_in_row_ && ceiling < sim_->options_.backoff_max; ++i) {
      ceiling *= 2;
    }
    ceiling = std::min(ceiling, sim_->options_.backoff_max);
    ScheduleJoin(rng_.DurationBetween(sim_->options_.backoff_min, ceiling));
  }

 private:
  void Bad(std::string_view what, std::string_view line) {
    sim_->Violation(absl::StrCat(name_, " session ", session_, " received ",
                                 AbslView(what), ": \"", Shorten(line), "\""));
  }

  void ScheduleTalk() {
    Cancel(&talk_timer_);
    talk_timer_ = sim_->After(rng_.DurationBetween(sim_->options_.talk_gap_min,
                                                   sim_->options_.talk_gap_max),
                              [this] {
                                talk_timer_ = 0;
                                if (state_ != State::kNamed || sim_->stopping_)
                                  return;
                                SendLine();
                                ScheduleTalk();
                              });
  }

  void SendLine() {
    line_.clear();
    absl::StrAppend(&line_, name_, ":", session_, ":", seq_ + 1, ":");
    const size_t payload =
        static_cast<size_t>(rng_.Below(sim_->options_.payload_bytes_max + 1));
    for (size_t i = 0; i < payload; ++i) {
      line_.push_back(static_cast<char>('a' + rng_.Below(26)));
    }
    const uint64_t checksum = Checksum(line_);
    line_.push_back(':');
    AppendHex(checksum, &line_);
    line_.push_back('\n');
    if (!conn_->SendData(line_).ok()) return;
    ++seq_;
    ++sim_->report_.lines_sent;
  }

  void Leave(bool abrupt) {
    Cancel(&talk_timer_);
    Cancel(&life_timer_);
    state_ = State::kLeaving;
    ++sim_->report_.leaves;
    if (abrupt) {
      ++sim_->report_.abrupt_leaves;
      conn_->CloseConnection();
    } else {
      // Half-close: the server reads to our end of stream, closes after
      // writing what it queued for us, and we read all of it.
      conn_->CloseWrite();
    }
  }

  void Cancel(TimerId* timer) {
    if (*timer != 0) {
      sim_->reactor_.CancelTimer(*timer);
      *timer = 0;
    }
  }

  void CancelTimers() {
    Cancel(&talk_timer_);
    Cancel(&life_timer_);
  }

  ChatSimulation* sim_;
  const int index_;
  const bool witness_;
  const std::string name_;
  io::Address bind_;
  sim::Random rng_;

  State state_ = State::kOffline;
  Session* conn_ = nullptr;  // Owned by the reactor; valid until Unbind.
  uint32_t session_ = 0;     // Sessions begun; the current one's number.
  uint64_t seq_ = 0;         // Lines sent, over all sessions.
  int failures_in_row_ = 0;
  TimerId talk_timer_ = 0;
  TimerId life_timer_ = 0;  // Leave, rejoin or reconnect.

  uint32_t talk_session_ = 0;  // A witness's session at the settle, or 0.
  uint64_t first_talk_seq_ = 0;

  std::vector<Heard> heard_;  // By sender index, this session.
  std::string line_;          // Scratch for SendLine.
};

void ChatSimulation::Session::ReceiveData(std::string_view data) {
  if (client_ == nullptr) return;
  client_->CountBytes(data.size());
  if (prompt_bytes_ < kChatPrompt.size()) {
    const size_t n = std::min(data.size(), kChatPrompt.size() - prompt_bytes_);
    if (data.substr(0, n) != kChatPrompt.substr(prompt_bytes_, n)) {
      client_->OnBadPrompt(data);
      CloseConnection();
      return;
    }
    prompt_bytes_ += n;
    data.remove_prefix(n);
    if (prompt_bytes_ < kChatPrompt.size()) return;
    client_->OnPrompt();
    if (data.empty()) return;
  }
  LineConnection::ReceiveData(data);
}

void ChatSimulation::Session::ReceiveLine(std::string_view line) {
  if (client_ != nullptr) client_->OnLine(line);
}

void ChatSimulation::Session::ReceiveLineError(const absl::Status& status) {
  if (client_ != nullptr) client_->OnBadLine(status);
  CloseConnection();
}

void ChatSimulation::Session::Unbind(const UnbindReason& reason) {
  if (client_ != nullptr) client_->OnUnbind(reason);
}

// -------------------------------------------------------------- Simulation

ChatSimulation::ChatSimulation(Reactor& reactor, sim::SimNetwork& network,
                               ChatSimulationOptions options)
    : reactor_(reactor),
      network_(network),
      options_(std::move(options)),
      exactly_once_(!network.plan().BreaksStreams()),
      // Apart from the simulator's own stream, which starts from the seed.
      rng_(network.options().seed ^ 0x4348'4154'5349'4d00ull) {
  EMBER_CHECK(options_.clients >= 1 && options_.clients <= kClientsMax);
  EMBER_CHECK(options_.witnesses >= 0 &&
              options_.witnesses <= options_.clients);
  EMBER_CHECK(options_.talk_gap_min > absl::ZeroDuration() &&
              options_.talk_gap_min <= options_.talk_gap_max);
  EMBER_CHECK(options_.lifetime_min <= options_.lifetime_max);
  EMBER_CHECK(options_.pause_min <= options_.pause_max);
  EMBER_CHECK(options_.backoff_min > absl::ZeroDuration() &&
              options_.backoff_min <= options_.backoff_max);
  EMBER_CHECK(options_.sample_interval > absl::ZeroDuration());
  const size_t n = static_cast<size_t>(options_.clients);
  // Each client has at most one connection, the server its end of it, and
  // possibly the end of an earlier session it has not yet seen close.
  connections_max_ =
      options_.connections_max != 0 ? options_.connections_max : 3 * n + 8;
  // Two per client (talk, and leave or rejoin), a connect timer per
  // connection, and a few of the reactor's own.
  timers_max_ = options_.timers_max != 0 ? options_.timers_max : 4 * n + 16;
  // Lines are small and clients read at once: 64 KiB each is far above
  // what a working server queues even across a partition.
  outbound_bytes_max_ = options_.outbound_bytes_max != 0
                            ? options_.outbound_bytes_max
                            : n * (64 << 10);
  open_handles_max_ =
      options_.open_handles_max != 0 ? options_.open_handles_max : 3 * n + 8;
}

ChatSimulation::~ChatSimulation() {
  if (settle_timer_ != 0) reactor_.CancelTimer(settle_timer_);
  for (auto& client : clients_) client->Detach();
  if (started_) {
    network_.SetRestartHook(server_host_, nullptr);
    for (sim::HostId host : client_hosts_) {
      network_.SetRestartHook(host, nullptr);
    }
  }
  // The server's connections point at the server: if any are left (Finish
  // was not called or did not drain), close them through the reactor before
  // the server goes. Stop then Run closes every connection and returns.
  if (reactor_.stats().connections > 0) {
    reactor_.Stop();
    reactor_.Run().IgnoreError();
  }
}

TimerId ChatSimulation::After(absl::Duration delay,
                              absl::AnyInvocable<void()> callback) {
  absl::StatusOr<TimerId> id = reactor_.AddTimer(delay, std::move(callback));
  if (!id.ok()) {
    Violation(absl::StrCat("cannot add a timer: ", id.status().ToString()));
    return 0;
  }
  return *id;
}

int ChatSimulation::ClientIndex(std::string_view name) const {
  uint64_t index = 0;
  if (name.size() < 2 || name[0] != 'c' ||
      (name.size() > 2 && name[1] == '0') ||
      !ParseNumber(name.substr(1), &index) || index >= clients_.size()) {
    return -1;
  }
  return static_cast<int>(index);
}

void ChatSimulation::Violation(std::string what) {
  ++report_.violations;
  if (report_.first_violation.empty()) {
    report_.first_violation = absl::StrCat(
        "at ", absl::FormatDuration(reactor_.Now() - start_), ": ", what);
  }
}

absl::Status ChatSimulation::Start() {
  EMBER_CHECK(!started_);
  started_ = true;
  start_ = reactor_.Now();
  next_sample_ = start_ + options_.sample_interval;

  absl::StatusOr<io::Address> server_ip =
      io::Address::ParseIp(options_.server_ip, 0);
  if (!server_ip.ok()) return server_ip.status();
  server_address_ = server_ip->WithPort(options_.port);
  server_host_ = network_.AddHost("chat-server", {*server_ip});
  chat_ = MakeChatServer(options_.server, reactor_, options_.chat);
  absl::StatusOr<io::Address> listening =
      chat_->Listen(server_ip->HostString(), options_.port);
  if (!listening.ok()) return listening.status();
  network_.SetRestartHook(server_host_, [this] { Relisten(); });
  report_.baseline = Sample();

  for (int i = 0; i < options_.clients; ++i) {
    const uint32_t n = static_cast<uint32_t>(i) + 1;
    const io::Address ip = io::Address::Ipv4(
        {10, 1, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n & 255)},
        0);
    const sim::HostId host =
        network_.AddHost(absl::StrCat("chat-client-", i), {ip});
    client_hosts_.push_back(host);
    // The clients notice the resets and reconnect: nothing to restart.
    if (options_.crash_client_hosts) network_.SetRestartHook(host, [] {});
    clients_.push_back(std::make_unique<Client>(this, i, i < options_.witnesses,
                                                ip, rng_.Fork()));
  }
  for (auto& client : clients_) {
    if (client->witness()) client->Join();
  }
  CheckSettled();
  return absl::OkStatus();
}

void ChatSimulation::Relisten() {
  // The reactor stops a server whose listener died, and the address is free
  // since the crash; forget the old server in case no accept noticed yet.
  chat_->StopListening();
  absl::StatusOr<io::Address> listening =
      chat_->Listen(server_address_.HostString(), server_address_.port());
  if (!listening.ok()) {
    Violation(absl::StrCat("the server cannot listen again after a crash: ",
                           listening.status().ToString()));
  }
}

void ChatSimulation::CheckSettled() {
  settle_timer_ = 0;
  if (talking_ || stopping_) return;
  bool settled =
      chat_->stats().joined >= static_cast<uint64_t>(options_.witnesses);
  for (auto& client : clients_) {
    if (client->witness() && client->state() != Client::State::kNamed) {
      settled = false;
    }
  }
  if (!settled && reactor_.Now() - start_ < options_.settle_max) {
    settle_timer_ = After(absl::Milliseconds(100), [this] { CheckSettled(); });
    return;
  }
  if (!settled && exactly_once_) {
    Violation(absl::StrCat("the witnesses had not all joined after ",
                           absl::FormatDuration(options_.settle_max)));
  }
  BeginTalking();
}

void ChatSimulation::BeginTalking() {
  talking_ = true;
  for (auto& client : clients_) client->BeginTalking();
}

ResourceSample ChatSimulation::Sample() const {
  const Reactor::Stats stats = reactor_.stats();
  ResourceSample s;
  s.elapsed = reactor_.Now() - start_;
  s.connections = stats.connections;
  s.timers = stats.timers;
  s.outbound_bytes = stats.outbound_bytes;
  s.open_handles = network_.open_handles();
  s.chat_clients = chat_ != nullptr ? chat_->client_count() : 0;
  return s;
}

void ChatSimulation::CheckSample(const ResourceSample& s) {
  ++report_.samples;
  ++report_.checks;
  ResourceSample& m = report_.max;
  m.elapsed = s.elapsed;
  m.connections = std::max(m.connections, s.connections);
  m.timers = std::max(m.timers, s.timers);
  m.outbound_bytes = std::max(m.outbound_bytes, s.outbound_bytes);
  m.open_handles = std::max(m.open_handles, s.open_handles);
  m.chat_clients = std::max(m.chat_clients, s.chat_clients);
  auto check = [this](const char* what, size_t value, size_t bound) {
    if (value > bound) {
      Violation(absl::StrCat(what, " ", value, " above the bound ", bound));
    }
  };
  check("connections", s.connections, connections_max_);
  check("timers", s.timers, timers_max_);
  check("outbound bytes", s.outbound_bytes, outbound_bytes_max_);
  check("open handles", s.open_handles, open_handles_max_);
  // Every server-side connection is a reactor connection too.
  check("chat clients", s.chat_clients, s.connections);
}

absl::Status ChatSimulation::RunFor(
    absl::Duration duration,
    const std::function<void(const ResourceSample&)>& on_sample) {
  EMBER_CHECK(started_ && !finished_);
  const absl::Time end = reactor_.Now() + duration;
  while (reactor_.Now() < end) {
    const absl::Time slice_end = std::min(end, next_sample_);
    while (reactor_.Now() < slice_end) {
      EMBER_RETURN_IF_ERROR(reactor_.RunOnce(slice_end));
    }
    if (reactor_.Now() >= next_sample_) {
      const ResourceSample s = Sample();
      CheckSample(s);
      if (on_sample) on_sample(s);
      next_sample_ += options_.sample_interval;
    }
  }
  return absl::OkStatus();
}

bool ChatSimulation::RunUntil(const std::function<bool()>& done,
                              absl::Duration limit, absl::Status* error) {
  const absl::Time end = reactor_.Now() + limit;
  while (!done()) {
    if (reactor_.Now() >= end) return false;
    absl::Status status =
        reactor_.RunOnce(std::min(end, reactor_.Now() + absl::Seconds(1)));
    if (!status.ok()) {
      *error = status;
      return false;
    }
  }
  return true;
}

bool ChatSimulation::WitnessesComplete(bool record) {
  bool complete = true;
  for (auto& s : clients_) {
    if (!s->witness()) continue;
    const bool sender_stayed = s->talk_session() != 0 &&
                               s->session() == s->talk_session() &&
                               s->state() == Client::State::kNamed;
    for (auto& r : clients_) {
      if (!r->witness() || r == s) continue;
      const bool receiver_stayed = r->talk_session() != 0 &&
                                   r->session() == r->talk_session() &&
                                   r->state() == Client::State::kNamed;
      if (!sender_stayed || !receiver_stayed) {
        if (record) ++report_.witness_pairs_skipped;
        continue;
      }
      const Client::Heard& h = r->heard(s->index());
      const bool said_nothing = s->seq() < s->first_talk_seq();
      const bool ok =
          said_nothing
              ? h.session == 0
              : h.session == s->session() && h.last_seq == s->seq() &&
                    (!exactly_once_ || h.first_seq == s->first_talk_seq());
      if (record) {
        ++report_.witness_pairs_checked;
        ++report_.checks;
        if (h.session != 0) {
          report_.witness_lines_verified += h.last_seq - h.first_seq + 1;
        }
        if (!ok) {
          Violation(absl::StrCat("witness ", r->name(), " heard ", s->name(),
                                 "'s lines ", h.first_seq, "..", h.last_seq,
                                 " of session ", h.session, "; it sent ",
                                 s->first_talk_seq(), "..", s->seq(),
                                 " in session ", s->session()));
        }
      }
      complete = complete && ok;
    }
  }
  if (record && exactly_once_) {
    for (auto& c : clients_) {
      if (c->witness() &&
          (c->talk_session() == 0 || c->session() != c->talk_session() ||
           c->state() != Client::State::kNamed)) {
        Violation(absl::StrCat("witness ", c->name(),
                               " did not stay connected, on a plan that "
                               "never breaks a stream"));
      }
    }
  }
  return complete;
}

bool ChatSimulation::Drained() {
  const ResourceSample s = Sample();
  const ResourceSample& b = report_.baseline;
  return s.connections == b.connections && s.chat_clients == 0 &&
         s.timers == b.timers && s.outbound_bytes == b.outbound_bytes &&
         s.open_handles == b.open_handles && network_.HostIsUp(server_host_);
}

absl::Status ChatSimulation::Finish() {
  EMBER_CHECK(started_ && !finished_);
  finished_ = true;
  stopping_ = true;
  if (settle_timer_ != 0) {
    reactor_.CancelTimer(settle_timer_);
    settle_timer_ = 0;
  }
  for (auto& client : clients_) client->StopTalking();

  // Quiet: no new lines; the ones in flight reach the witnesses.
  absl::Status error;
  report_.exactly_once = exactly_once_;
  RunUntil([this] { return WitnessesComplete(/*record=*/false); },
           options_.drain_max, &error);
  EMBER_RETURN_IF_ERROR(error);
  WitnessesComplete(/*record=*/true);

  // Everyone leaves; everything must close and come back to the baseline.
  for (auto& client : clients_) client->LeaveForGood();
  const bool drained =
      RunUntil([this] { return Drained(); }, options_.drain_max, &error);
  EMBER_RETURN_IF_ERROR(error);
  report_.final = Sample();
  report_.drained = drained;
  ++report_.checks;
  if (!drained) {
    const ResourceSample& f = report_.final;
    Violation(absl::StrFormat(
        "did not return to the baseline within %s: connections %d, chat "
        "clients %d, timers %d, outbound bytes %d, open handles %d, server "
        "host %s",
        absl::FormatDuration(options_.drain_max), f.connections, f.chat_clients,
        f.timers, f.outbound_bytes, f.open_handles,
        network_.HostIsUp(server_host_) ? "up" : "down"));
  }
  end_ = reactor_.Now();
  return absl::OkStatus();
}

ChatSimulationReport ChatSimulation::report() const {
  ChatSimulationReport r = report_;
  r.simulated = (finished_ ? end_ : reactor_.Now()) - start_;
  if (chat_ != nullptr) r.chat = chat_->stats();
  return r;
}

std::string ChatSimulationReport::ToString() const {
  std::string out;
  absl::StrAppend(&out, "lines: ", lines_sent, " sent, ", lines_delivered,
                  " delivered and checked (", bytes_received,
                  " bytes received by clients)\n");
  absl::StrAppend(&out, "sessions: ", joins, " joins, ", leaves, " leaves (",
                  abrupt_leaves, " abrupt), ", reconnects, " reconnects\n");
  std::string failure_list;
  for (const auto& [kind, count] : failures) {
    absl::StrAppend(&failure_list, failure_list.empty() ? "" : ", ", kind, " ",
                    count);
  }
  absl::StrAppend(&out, "session failures: ",
                  failure_list.empty() ? "none" : failure_list, "\n");
  absl::StrAppend(
      &out, "witnesses: ", witness_pairs_checked, " pairs checked (",
      exactly_once ? "exactly once, in order" : "contiguous, to the end", "), ",
      witness_pairs_skipped, " skipped (reconnected), ", witness_lines_verified,
      " lines\n");
  absl::StrAppend(&out, "resources (max of ", samples,
                  " samples): connections ", max.connections, ", timers ",
                  max.timers, ", outbound bytes ", max.outbound_bytes,
                  ", sim handles ", max.open_handles, ", chat clients ",
                  max.chat_clients, "\n");
  absl::StrAppend(
      &out, "after drain: connections ", final.connections, ", chat clients ",
      final.chat_clients, ", timers ", final.timers, ", outbound bytes ",
      final.outbound_bytes, ", sim handles ", final.open_handles, " (baseline ",
      baseline.connections, "/0/", baseline.timers, "/",
      baseline.outbound_bytes, "/", baseline.open_handles,
      "): ", drained ? "back to baseline" : "NOT back to baseline", "\n");
  absl::StrAppend(&out, "server: ", chat.joined, " joined, ", chat.lines,
                  " lines in, ", chat.deliveries, " relayed, ", chat.too_slow,
                  " too slow, ", chat.overlong, " overlong\n");
  absl::StrAppend(&out, "invariant checks: ", checks, "\n");
  absl::StrAppend(&out, "violations: ", violations);
  if (!first_violation.empty()) {
    absl::StrAppend(&out, " (first ", first_violation, ")");
  }
  absl::StrAppend(&out, "\n");
  return out;
}

ChatSimulationReport RunChatSimulation(Reactor& reactor,
                                       sim::SimNetwork& network,
                                       const ChatSimulationOptions& options,
                                       absl::Duration duration,
                                       absl::Status* status) {
  ChatSimulation simulation(reactor, network, options);
  absl::Status result = simulation.Start();
  if (result.ok()) result = simulation.RunFor(duration);
  if (result.ok()) result = simulation.Finish();
  if (status != nullptr) *status = result;
  return simulation.report();
}

}  // namespace ember::examples
