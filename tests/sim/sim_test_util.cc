#include "tests/sim/sim_test_util.h"

#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "sim/random.h"

namespace ember::sim::testing {

SimOptions Options(uint64_t seed, FaultPlan plan) {
  SimOptions options;
  options.seed = seed;
  options.plan = std::move(plan);
  return options;
}

bool PumpUntil(SimNetwork& net, const std::function<bool()>& done,
               absl::Duration budget, int polls_max) {
  const absl::Time deadline = net.Now() + budget;
  for (int i = 0; i < polls_max; ++i) {
    if (done()) return true;
    if (net.Now() >= deadline) break;
    absl::StatusOr<int> polled = net.Poll(deadline);
    if (!polled.ok()) {
      ADD_FAILURE() << "Poll failed: " << polled.status();
      return false;
    }
  }
  return done();
}

void PumpFor(SimNetwork& net, absl::Duration duration) {
  const absl::Time until = net.Now() + duration;
  while (net.Now() < until) {
    absl::StatusOr<int> polled = net.Poll(until);
    if (!polled.ok()) {
      ADD_FAILURE() << "Poll failed: " << polled.status();
      return;
    }
  }
}

void MakePair(SimNetwork& net, const io::Address& listen_at, Pair* pair,
              const io::ConnectOptions& options) {
  absl::StatusOr<std::unique_ptr<io::Listener>> listener =
      net.Listen(listen_at, io::ListenOptions{});
  ASSERT_TRUE(listener.ok()) << listener.status();
  pair->listener = std::move(*listener);
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> client =
      net.Connect(pair->listener->LocalAddress(), options);
  ASSERT_TRUE(client.ok()) << client.status();
  pair->client = std::move(*client);
  FnWatcher accept_watcher([&](uint32_t) {
    if (pair->server != nullptr) return;
    absl::StatusOr<std::unique_ptr<io::StreamSocket>> accepted =
        pair->listener->Accept();
    if (accepted.ok() && *accepted != nullptr) {
      pair->server = std::move(*accepted);
      pair->listener->SetInterest(0);
    }
  });
  pair->listener->SetWatcher(&accept_watcher);
  pair->listener->SetInterest(io::kReadable);
  const bool accepted = PumpUntil(net, [&] { return pair->server != nullptr; });
  pair->listener->SetInterest(0);
  pair->listener->SetWatcher(nullptr);
  ASSERT_TRUE(accepted);
  absl::Status connected = AwaitConnect(net, *pair->client);
  ASSERT_TRUE(connected.ok()) << connected;
}

absl::Status AwaitConnect(SimNetwork& net, io::StreamSocket& socket,
                          absl::Duration budget) {
  bool finished = false;
  FnWatcher watcher([&](uint32_t) { finished = true; });
  socket.SetWatcher(&watcher);
  socket.SetInterest(io::kWritable);
  PumpUntil(
      net, [&] { return finished; }, budget);
  socket.SetInterest(0);
  socket.SetWatcher(nullptr);
  if (!finished) return absl::DeadlineExceededError("connect did not finish");
  return socket.FinishConnect();
}

std::string ReadNow(io::StreamSocket& socket, io::IoResult* last) {
  std::string out;
  char buf[1500];
  while (true) {
    io::IoResult r = socket.Read(buf, sizeof(buf));
    if (r.code != io::IoResult::Code::kOk) {
      if (last != nullptr) *last = r;
      return out;
    }
    out.append(buf, r.bytes);
  }
}

size_t WriteNow(io::StreamSocket& socket, std::string_view data) {
  size_t written = 0;
  while (written < data.size()) {
    io::ConstBuffer b{data.data() + written, data.size() - written};
    io::IoResult r = socket.Write(&b, 1);
    if (r.code != io::IoResult::Code::kOk) break;
    written += r.bytes;
  }
  return written;
}

std::string ReadFor(SimNetwork& net, io::StreamSocket& socket, size_t bytes,
                    io::IoResult* last, absl::Duration budget) {
  std::string out;
  io::IoResult end = io::IoResult::WouldBlock();
  auto done = [&] {
    return out.size() >= bytes || end.code != io::IoResult::Code::kWouldBlock;
  };
  auto read_some = [&] {
    if (done()) return;
    io::IoResult r;
    out += ReadNow(socket, &r);
    end = r;
  };
  read_some();
  FnWatcher watcher([&](uint32_t) { read_some(); });
  socket.SetWatcher(&watcher);
  socket.SetInterest(io::kReadable);
  PumpUntil(net, done, budget);
  socket.SetInterest(0);
  socket.SetWatcher(nullptr);
  if (last != nullptr) *last = end;
  return out;
}

std::string Pattern(size_t size, uint64_t seed) {
  Random r(seed);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(r.Next() >> 56);
  return s;
}

}  // namespace ember::sim::testing
