// Goal: coroutine streams (reactor/coro/stream.h), line reads
// (protocols/line/line_reader.h) and HTTP awaits
// (protocols/http/http_client_await.h) behave as documented over the
// simulator: connect by name, accept, read some / exactly / a line, write
// with backpressure, errors as statuses, bounded buffers; and a scenario
// cancelled (softly, or by destroying its group) at its 1st, 2nd, ... Nth
// suspension always ends with nothing left behind and nothing run after
// the cancellation.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocols/http/http_client.h"
#include "protocols/http/http_client_await.h"
#include "protocols/http/http_server.h"
#include "protocols/line/line_reader.h"
#include "reactor/coro/awaitables.h"
#include "reactor/coro/stream.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"
#include "sim/fault_plan.h"
#include "sim/sim_network.h"

namespace ember {
namespace {

using protocols::LineReader;

template <typename F>
bool RunUntil(Reactor& reactor, F done,
              absl::Duration limit = absl::Hours(1)) {
  const absl::Time end = reactor.Now() + limit;
  while (!done()) {
    if (reactor.Now() >= end) return false;
    if (!reactor.RunOnce(end).ok()) return false;
  }
  return true;
}

void RunFor(Reactor& reactor, absl::Duration d) {
  const absl::Time end = reactor.Now() + d;
  while (reactor.Now() < end) {
    if (!reactor.RunOnce(end).ok()) return;
  }
}

// A line echo server written with coroutines: "ECHO <line>" per line,
// "BYE" and a close on the line "quit".
class EchoServer {
 public:
  explicit EchoServer(Reactor& reactor) : reactor_(reactor), group_(reactor) {}

  absl::Status Listen(std::string_view host, uint16_t port) {
    absl::StatusOr<Listener> listener = Listener::Listen(reactor_, host, port);
    if (!listener.ok()) return listener.status();
    listener_ = std::make_unique<Listener>(std::move(*listener));
    return group_.Spawn(AcceptLoop()).status();
  }

  TaskGroup& group() { return group_; }
  int served = 0;

 private:
  Task<absl::Status> AcceptLoop() {
    for (;;) {
      absl::StatusOr<Stream> stream = co_await listener_->Accept();
      if (!stream.ok()) co_return stream.status();
      (void)group_.Spawn(Serve(std::move(*stream)));
    }
  }

  Task<absl::Status> Serve(Stream stream) {
    ++served;
    LineReader reader(stream);
    for (;;) {
      absl::StatusOr<std::string> line = co_await reader.ReadLine();
      if (!line.ok()) break;
      if (*line == "quit") {
        EMBER_CO_RETURN_IF_ERROR(co_await stream.Write("BYE\n"));
        break;
      }
      EMBER_CO_RETURN_IF_ERROR(
          co_await stream.Write(absl::StrCat("ECHO ", *line, "\n")));
    }
    co_return absl::OkStatus();
  }

  Reactor& reactor_;
  TaskGroup group_;
  std::unique_ptr<Listener> listener_;
};

class StreamTest : public ::testing::Test {
 protected:
  StreamTest() {
    server_host_ = net_.AddHost("echo.test",
                                {*io::Address::ParseIp("10.0.0.1", 0)});
  }
  sim::SimNetwork net_;
  Reactor reactor_{net_};
  sim::HostId server_host_;
};

TEST_F(StreamTest, ConnectByNameWriteAndReadLinesExactlyAndSome) {
  EchoServer server(reactor_);
  ASSERT_TRUE(server.Listen("10.0.0.1", 7).ok());
  TaskGroup group(reactor_);
  std::vector<std::string> got;
  std::optional<absl::Status> done;
  auto client = [&]() -> Task<absl::Status> {
    absl::StatusOr<Stream> stream = co_await Connect("echo.test", 7);
    if (!stream.ok()) co_return stream.status();
    EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("one\ntwo\nthree\n"));
    LineReader reader(*stream);
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::string> line = co_await reader.ReadLine();
      if (!line.ok()) co_return line.status();
      got.push_back(*line);
    }
    // The third reply, raw: its bytes stayed in the stream.
    absl::StatusOr<std::string> exact = co_await stream->ReadExactly(6);
    if (!exact.ok()) co_return exact.status();
    got.push_back(*exact);
    absl::StatusOr<std::string> some = co_await stream->Read();
    if (!some.ok()) co_return some.status();
    got.push_back(*some);
    EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("quit\n"));
    absl::StatusOr<std::string> bye = co_await reader.ReadLine();
    if (!bye.ok()) co_return bye.status();
    got.push_back(*bye);
    // The server closes: the end of the stream.
    absl::StatusOr<std::string> end = co_await reader.ReadLine();
    co_return end.status();
  };
  ASSERT_TRUE(group.Spawn(client(), [&](absl::Status s) { done = s; }).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return done.has_value(); }));
  EXPECT_EQ(done->code(), absl::StatusCode::kOutOfRange) << *done;
  EXPECT_EQ(got, (std::vector<std::string>{"ECHO one", "ECHO two", "ECHO t",
                                           "hree\n", "BYE"}));
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return reactor_.stats().connections == 0;
  }));
  EXPECT_EQ(server.group().size(), 1u);  // Only the accept loop.
}

TEST_F(StreamTest, TheReactorStoppingWithTasksMidReadLeavesNothing) {
  // Goal: Run returning while tasks wait on live connections (both ends
  // coroutines) destroys the tasks, closes every connection and frees
  // every simulated handle; the groups work again on the next run.
  EchoServer server(reactor_);
  ASSERT_TRUE(server.Listen("10.0.0.1", 7).ok());
  TaskGroup group(reactor_);
  int reads_returned = 0;
  auto client = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("echo.test", 7);
    if (!stream.ok()) co_return;
    (void)co_await stream->Read();
    ++reads_returned;
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(group.Spawn(client()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return server.served == 3; }));
  EXPECT_EQ(reactor_.stats().connections, 6u);
  ASSERT_TRUE(reactor_.AddTimer(absl::Seconds(1), [&] {
    reactor_.Stop();
  }).ok());
  ASSERT_TRUE(reactor_.Run().ok());
  EXPECT_EQ(reads_returned, 0);
  EXPECT_EQ(group.size(), 0u);
  EXPECT_EQ(server.group().size(), 0u);
  EXPECT_EQ(group.stats().destroyed, 3u);
  EXPECT_EQ(reactor_.stats().connections, 0u);
  EXPECT_EQ(reactor_.stats().timers, 0u);
  EXPECT_EQ(net_.open_handles(), 0u);
}

TEST_F(StreamTest, ConnectErrorsAreStatuses) {
  TaskGroup group(reactor_);
  std::vector<absl::Status> seen;
  auto client = [&]() -> Task<void> {
    // Nobody listens on the server host's port 9: refused.
    seen.push_back((co_await Connect("10.0.0.1", 9)).status());
    seen.push_back((co_await Connect("nowhere.test", 9)).status());
    seen.push_back((co_await Connect("", 9)).status());
    // A host nobody owns never answers: the connect timeout ends it.
    StreamConnectOptions options;
    options.connect_timeout = absl::Seconds(3);
    seen.push_back((co_await Connect("10.9.9.9", 9, options)).status());
  };
  ASSERT_TRUE(group.Spawn(client()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].code(), absl::StatusCode::kUnavailable) << seen[0];
  EXPECT_EQ(seen[1].code(), absl::StatusCode::kNotFound) << seen[1];
  EXPECT_EQ(seen[2].code(), absl::StatusCode::kInvalidArgument) << seen[2];
  EXPECT_EQ(seen[3].code(), absl::StatusCode::kDeadlineExceeded) << seen[3];
  EXPECT_EQ(reactor_.stats().connections, 0u);
  EXPECT_EQ(net_.open_handles(), 0u);
}

TEST_F(StreamTest, AResetEndsAWaitingReadWithUnavailable) {
  EchoServer server(reactor_);
  ASSERT_TRUE(server.Listen("10.0.0.1", 7).ok());
  TaskGroup group(reactor_);
  std::optional<absl::Status> read;
  auto client = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 7);
    if (!stream.ok()) co_return;
    read = (co_await stream->Read()).status();
  };
  ASSERT_TRUE(group.Spawn(client()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return server.served == 1; }));
  RunFor(reactor_, absl::Seconds(1));
  net_.CrashHost(server_host_);  // Resets every connection of the server.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return read.has_value(); }));
  EXPECT_EQ(read->code(), absl::StatusCode::kUnavailable) << *read;
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return reactor_.stats().connections == 0;
  }));
}

TEST_F(StreamTest, ATaskOwnedByTheConnectionIsCancelledWhenItEnds) {
  // Goal: a task that never touches the stream (a heartbeat) still ends
  // when the connection it belongs to does, with the connection's status.
  EchoServer server(reactor_);
  ASSERT_TRUE(server.Listen("10.0.0.1", 7).ok());
  TaskGroup group(reactor_);
  std::unique_ptr<Stream> stream;
  std::vector<absl::Status> beats;
  auto heartbeat = [&]() -> Task<void> {
    for (;;) {
      absl::Status slept = co_await Sleep(absl::Seconds(1));
      beats.push_back(slept);
      if (!slept.ok()) co_return;
    }
  };
  auto client = [&]() -> Task<void> {
    absl::StatusOr<Stream> s = co_await Connect("10.0.0.1", 7);
    if (!s.ok()) co_return;
    stream = std::make_unique<Stream>(std::move(*s));
    absl::StatusOr<TaskId> beat = group.Spawn(heartbeat());
    if (!beat.ok()) co_return;
    EXPECT_TRUE(stream->CancelOnEnd(group.Handle(*beat)).ok());
  };
  ASSERT_TRUE(group.Spawn(client()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return beats.size() >= 3; }));
  net_.CrashHost(server_host_);
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  EXPECT_EQ(beats.back().code(), absl::StatusCode::kUnavailable)
      << beats.back();
  for (size_t i = 0; i + 1 < beats.size(); ++i) EXPECT_TRUE(beats[i].ok());
  // The handle outlives its task harmlessly.
  EXPECT_EQ(stream->CancelOnEnd(group.Handle(1)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StreamTest, WritesWaitAboveTheHighWaterMarkUntilTheLowWaterMark) {
  // A callback server that reads nothing until told to.
  struct Sink : Connection {
    void PostInit() override { Pause(); }
  };
  Connection* sink = nullptr;
  ASSERT_TRUE(reactor_
                  .StartServer("10.0.0.1", 8,
                               [&] {
                                 auto c = std::make_unique<Sink>();
                                 sink = c.get();
                                 return c;
                               })
                  .ok());
  TaskGroup group(reactor_);
  int writes_done = 0;
  std::optional<absl::Status> done;
  auto writer = [&]() -> Task<absl::Status> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 8);
    if (!stream.ok()) co_return stream.status();
    OutboundLimits limits;
    limits.high_water_bytes = 64 << 10;
    limits.low_water_bytes = 16 << 10;
    limits.max_bytes = 1 << 20;
    stream->connection()->SetOutboundLimits(limits);
    const std::string block(16 << 10, 'x');
    for (int i = 0; i < 200; ++i) {
      EMBER_CO_RETURN_IF_ERROR(co_await stream->Write(block));
      ++writes_done;
      // The queue never grows far past the high-water mark.
      if (stream->connection()->OutboundDataSize() >
          limits.high_water_bytes + 2 * block.size()) {
        co_return absl::InternalError("outbound queue not held back");
      }
    }
    co_return absl::OkStatus();
  };
  ASSERT_TRUE(group.Spawn(writer(), [&](absl::Status s) { done = s; }).ok());
  RunFor(reactor_, absl::Seconds(10));
  // The peer's window and our high-water mark stopped the writer.
  EXPECT_FALSE(done.has_value());
  EXPECT_LT(writes_done, 200);
  const int stalled_at = writes_done;
  RunFor(reactor_, absl::Seconds(10));
  EXPECT_EQ(writes_done, stalled_at);
  ASSERT_NE(sink, nullptr);
  sink->Resume();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return done.has_value(); }));
  EXPECT_TRUE(done->ok()) << *done;
  EXPECT_EQ(writes_done, 200);
}

TEST_F(StreamTest, InboundBytesAreBoundedByPausingTheConnection) {
  struct Blaster : Connection {
    void PostInit() override {
      SendData(std::string(3 << 20, 'b')).IgnoreError();
      CloseAfterWriting();
    }
  };
  ASSERT_TRUE(reactor_
                  .StartServer("10.0.0.1", 9,
                               [] { return std::make_unique<Blaster>(); })
                  .ok());
  TaskGroup group(reactor_);
  size_t max_buffered = 0;
  size_t total = 0;
  std::optional<absl::Status> done;
  auto reader = [&]() -> Task<absl::Status> {
    StreamConnectOptions options;
    options.stream.inbound_bytes_max = 256 << 10;
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 9, options);
    if (!stream.ok()) co_return stream.status();
    // Let the peer fill us up before reading anything.
    EMBER_CO_RETURN_IF_ERROR(co_await Sleep(absl::Seconds(5)));
    for (;;) {
      max_buffered = std::max(max_buffered, stream->buffered_bytes());
      absl::StatusOr<std::string> some = co_await stream->Read(4096);
      if (!some.ok()) co_return some.status();
      total += some->size();
    }
  };
  ASSERT_TRUE(group.Spawn(reader(), [&](absl::Status s) { done = s; }).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return done.has_value(); }));
  EXPECT_EQ(done->code(), absl::StatusCode::kOutOfRange) << *done;
  EXPECT_EQ(total, size_t{3} << 20);
  EXPECT_GE(max_buffered, size_t{256} << 10);
  // One read's worth above the limit at most.
  EXPECT_LE(max_buffered, (size_t{256} << 10) + (size_t{64} << 10));
}

TEST_F(StreamTest, ManyBufferedLinesComeInOrderThenTheRawBytesAfterThem) {
  // Goal: 20,000 lines arriving in large chunks (read before any ReadLine
  // runs) are framed in order and each byte once, the "\r\n" of a line is
  // stripped, and raw bytes after the last line are left for ReadExactly.
  constexpr int kLines = 20000;
  struct Sender : Connection {
    void PostInit() override {
      std::string all;
      for (int i = 0; i < kLines; ++i) {
        all += "line " + std::to_string(i) + (i % 2 ? "\r\n" : "\n");
      }
      all += "RAW!";
      SendData(all).IgnoreError();
      CloseAfterWriting();
    }
  };
  ASSERT_TRUE(reactor_
                  .StartServer("10.0.0.1", 12,
                               [] { return std::make_unique<Sender>(); })
                  .ok());
  TaskGroup group(reactor_);
  int in_order = 0;
  std::optional<absl::StatusOr<std::string>> raw;
  auto reader = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 12);
    if (!stream.ok()) co_return;
    // Let everything arrive first.
    (void)co_await Sleep(absl::Seconds(5));
    LineReader lines(*stream);
    for (int i = 0; i < kLines; ++i) {
      absl::StatusOr<std::string> line = co_await lines.ReadLine();
      if (!line.ok() || *line != "line " + std::to_string(i)) co_return;
      ++in_order;
    }
    raw = co_await stream->ReadExactly(4);
  };
  ASSERT_TRUE(group.Spawn(reader()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  EXPECT_EQ(in_order, kLines);
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(raw->ok()) << raw->status();
  EXPECT_EQ(**raw, "RAW!");
}

TEST_F(StreamTest, ALineOverTheLimitIsResourceExhaustedAndSticky) {
  struct Longline : Connection {
    void PostInit() override {
      SendData(std::string(100, 'z') + "\nshort\n").IgnoreError();
    }
  };
  ASSERT_TRUE(reactor_
                  .StartServer("10.0.0.1", 10,
                               [] { return std::make_unique<Longline>(); })
                  .ok());
  TaskGroup group(reactor_);
  std::vector<absl::Status> seen;
  auto reader = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 10);
    if (!stream.ok()) co_return;
    protocols::LineFramer::Options options;
    options.line_bytes_max = 50;
    LineReader lines(*stream, options);
    seen.push_back((co_await lines.ReadLine()).status());
    seen.push_back((co_await lines.ReadLine()).status());
  };
  ASSERT_TRUE(group.Spawn(reader()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(seen[1].code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(StreamTest, ASecondConcurrentReadOrAcceptIsRefused) {
  EchoServer server(reactor_);
  ASSERT_TRUE(server.Listen("10.0.0.1", 7).ok());
  TaskGroup group(reactor_);
  std::unique_ptr<Stream> shared;
  std::optional<absl::Status> second;
  auto first_reader = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 7);
    if (!stream.ok()) co_return;
    shared = std::make_unique<Stream>(std::move(*stream));
    (void)co_await shared->Read();
  };
  auto second_reader = [&]() -> Task<void> {
    second = (co_await shared->Read()).status();
  };
  ASSERT_TRUE(group.Spawn(first_reader()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return shared != nullptr && group.stats().suspensions >= 2;
  }));
  ASSERT_TRUE(group.Spawn(second_reader()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return second.has_value(); }));
  EXPECT_EQ(second->code(), absl::StatusCode::kFailedPrecondition) << *second;
  group.CancelAll();
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
}

TEST_F(StreamTest, TheAcceptQueueIsBounded) {
  ListenerOptions options;
  options.accept_queue_max = 2;
  absl::StatusOr<Listener> listener =
      Listener::Listen(reactor_, "10.0.0.1", 11, options);
  ASSERT_TRUE(listener.ok());
  TaskGroup group(reactor_);
  std::vector<absl::Status> ends;
  auto client = [&]() -> Task<void> {
    absl::StatusOr<Stream> stream = co_await Connect("10.0.0.1", 11);
    if (!stream.ok()) co_return;
    ends.push_back(
        (co_await WithTimeout(absl::Seconds(5), stream->Read())).status());
  };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(group.Spawn(client()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  EXPECT_EQ(listener->queued(), 2u);
  EXPECT_EQ(listener->refused(), 3u);
  int closed = 0, waiting = 0;
  for (const absl::Status& s : ends) {
    if (s.code() == absl::StatusCode::kOutOfRange) ++closed;
    if (s.code() == absl::StatusCode::kDeadlineExceeded) ++waiting;
  }
  EXPECT_EQ(closed, 3);   // Refused: closed at once.
  EXPECT_EQ(waiting, 2);  // Queued, never accepted.
  listener->Close();
  ASSERT_TRUE(RunUntil(reactor_, [&] {
    return reactor_.stats().connections == 0;
  }));
}

// ---- HTTP ----

TEST_F(StreamTest, AwaitGetGivesTheResponseAndACancelledWaitDropsIt) {
  protocols::HttpServer server(
      reactor_, {},
      [&](protocols::HttpRequest request, protocols::HttpResponder responder) {
        protocols::HttpResponse response;
        response.body = "hi " + request.target;
        auto delay = request.target == "/slow" ? absl::Seconds(10)
                                               : absl::ZeroDuration();
        auto shared =
            std::make_shared<protocols::HttpResponder>(std::move(responder));
        (void)reactor_.AddTimer(delay, [shared, response]() mutable {
          shared->Send(std::move(response)).IgnoreError();
        });
      });
  ASSERT_TRUE(server.Listen("10.0.0.1", 80).ok());
  protocols::HttpClient client(reactor_, "echo.test", 80);
  TaskGroup group(reactor_);
  std::optional<absl::StatusOr<protocols::HttpResponse>> fast;
  std::optional<absl::Status> slow;
  auto task = [&]() -> Task<void> {
    fast = co_await protocols::AwaitGet(client, "/fast");
    slow = (co_await WithTimeout(absl::Seconds(1),
                                 protocols::AwaitGet(client, "/slow")))
               .status();
  };
  ASSERT_TRUE(group.Spawn(task()).ok());
  ASSERT_TRUE(RunUntil(reactor_, [&] { return group.size() == 0; }));
  ASSERT_TRUE(fast->ok()) << fast->status();
  EXPECT_EQ((*fast)->body, "hi /fast");
  EXPECT_EQ(slow->code(), absl::StatusCode::kDeadlineExceeded);
  // The slow response still arrives at the client, and goes nowhere.
  ASSERT_TRUE(RunUntil(reactor_, [&] { return client.pending() == 0; }));
  EXPECT_EQ(client.stats().responses, 2u);
}

// ---- Cancellation at every await point ----

// A client session touching every kind of await: connect by name, write,
// read a line, sleep, read exactly, a deadline, an HTTP request, a final
// write. Each await's status is recorded in order.
Task<absl::Status> Session(protocols::HttpClient* http,
                           std::vector<absl::Status>* seen) {
  absl::StatusOr<Stream> stream = co_await Connect("echo.test", 7);
  seen->push_back(stream.status());
  if (!stream.ok()) co_return stream.status();
  LineReader reader(*stream);
  for (int i = 0; i < 3; ++i) {
    seen->push_back(co_await stream->Write(absl::StrCat("line ", i, "\n")));
    absl::StatusOr<std::string> line = co_await reader.ReadLine();
    seen->push_back(line.status());
    seen->push_back(co_await Sleep(absl::Milliseconds(100)));
  }
  seen->push_back(co_await stream->Write("abc\n"));
  seen->push_back((co_await stream->ReadExactly(9)).status());
  seen->push_back(
      (co_await WithTimeout(absl::Seconds(1), stream->Read())).status());
  seen->push_back((co_await protocols::AwaitGet(*http, "/x")).status());
  seen->push_back(co_await stream->Write("quit\n"));
  absl::StatusOr<std::string> bye = co_await reader.ReadLine();
  seen->push_back(bye.status());
  co_return bye.status();
}

enum class CancelKind { kSoft, kDestroy };

struct CancelRun {
  bool finished_before_cancel = false;
  std::vector<absl::Status> seen;
  size_t seen_at_cancel = 0;
  std::optional<absl::Status> done;
};

CancelRun RunSessionCancelledAt(int n, CancelKind kind) {
  CancelRun run;
  sim::SimOptions options;
  options.seed = 7;
  options.plan = sim::FaultPlan::Lan();
  sim::SimNetwork net(options);
  net.AddHost("echo.test", {*io::Address::ParseIp("10.0.0.1", 0)});
  {
    Reactor reactor(net);
    protocols::HttpServer http_server(
        reactor, {},
        [](protocols::HttpRequest, protocols::HttpResponder responder) {
          protocols::HttpResponse response;
          response.body = "ok";
          responder.Send(std::move(response)).IgnoreError();
        });
    EXPECT_TRUE(http_server.Listen("10.0.0.1", 80).ok());
    {
      EchoServer server(reactor);
      EXPECT_TRUE(server.Listen("10.0.0.1", 7).ok());
      protocols::HttpClient http(reactor, "echo.test", 80);
      auto group = std::make_unique<TaskGroup>(reactor);
      int suspensions = 0;
      bool cancelled = false;
      absl::StatusOr<TaskId> id =
          group->Spawn(Session(&http, &run.seen),
                       [&](absl::Status s) { run.done = s; });
      EXPECT_TRUE(id.ok());
      group->SetSuspendHook([&](TaskId) {
        if (++suspensions != n) return;
        // From the loop, as any canceller would.
        reactor.NextTick([&] {
          cancelled = true;
          run.seen_at_cancel = run.seen.size();
          if (kind == CancelKind::kSoft) {
            group->Cancel(*id);
          } else {
            group.reset();
          }
        });
      });
      RunUntil(reactor, [&] {
        return run.done.has_value() || (cancelled && group == nullptr);
      });
      run.finished_before_cancel = !cancelled;
      if (group != nullptr) {
        EXPECT_EQ(group->size(), 0u);
      }
      group.reset();
      // Everything the session opened closes: the server sees the end and
      // finishes too.
      EXPECT_TRUE(RunUntil(reactor, [&] {
        return reactor.stats().connections <= 1 &&  // HTTP keep-alive.
               server.group().size() == 1;
      }, absl::Minutes(5)))
          << "connections " << reactor.stats().connections;
      http.Close();
      EXPECT_TRUE(RunUntil(reactor, [&] {
        return reactor.stats().connections == 0;
      }, absl::Minutes(5)));
      EXPECT_EQ(reactor.stats().user_timers, 0u);
    }
    reactor.Stop();
    EXPECT_TRUE(reactor.Run().ok());
  }
  EXPECT_EQ(net.open_handles(), 0u);
  return run;
}

TEST(CancellationTest, CancelSoftlyAtEverySuspensionUntilTheSessionCompletes) {
  int n = 1;
  for (;; ++n) {
    SCOPED_TRACE(::testing::Message() << "cancelled at suspension " << n);
    CancelRun run = RunSessionCancelledAt(n, CancelKind::kSoft);
    ASSERT_TRUE(run.done.has_value());
    if (run.finished_before_cancel) {
      EXPECT_TRUE(run.done->ok()) << *run.done;
      for (const absl::Status& s : run.seen) {
        EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kDeadlineExceeded)
            << s;
      }
      break;
    }
    // The await the task was suspended in completed with kCancelled, unless
    // its result had already arrived (the task was ready, not waiting), and
    // every later await completed with kCancelled at once.
    ASSERT_GT(run.seen.size(), run.seen_at_cancel);
    for (size_t i = run.seen_at_cancel; i < run.seen.size(); ++i) {
      if (i == run.seen_at_cancel && run.seen[i].ok()) continue;
      EXPECT_EQ(run.seen[i].code(), absl::StatusCode::kCancelled)
          << "await " << i << ": " << run.seen[i];
    }
    if (run.seen.size() > run.seen_at_cancel + 1) {
      EXPECT_FALSE(run.done->ok());
    }
  }
  // Connect, 3 x (line, sleep), exactly, deadline read, HTTP, line, plus the
  // writes that met backpressure: every suspension point was cut once.
  EXPECT_GT(n, 10);
}

TEST(CancellationTest, DestroyTheGroupAtEverySuspensionUntilItCompletes) {
  for (int n = 1;; ++n) {
    SCOPED_TRACE(::testing::Message() << "destroyed at suspension " << n);
    CancelRun run = RunSessionCancelledAt(n, CancelKind::kDestroy);
    if (run.finished_before_cancel) {
      ASSERT_TRUE(run.done.has_value());
      break;
    }
    // Nothing of the task ran after its destruction.
    EXPECT_FALSE(run.done.has_value());
    EXPECT_EQ(run.seen.size(), run.seen_at_cancel);
    ASSERT_LT(n, 100);
  }
}

}  // namespace
}  // namespace ember
