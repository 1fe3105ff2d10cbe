#include "protocols/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/http/http_parser.h"
#include "protocols/http/http_serializer.h"
#include "protocols/http/internal/http_chars.h"
#include "protocols/http/internal/http_response_head.h"
#include "protocols/tls/tls_connection.h"

namespace ember::protocols {
namespace http_internal {

// One request's place in its connection's response order. Created when the
// request's head arrives, destroyed (or pooled) once its response is written
// or the connection ends. The responder and the slot point at each other;
// whichever goes first clears the other's pointer.
struct ResponseSlot {
  enum class State : uint8_t { kWaiting, kStreaming, kComplete };

  HttpServerConnection* conn = nullptr;
  HttpResponder* responder = nullptr;
  State state = State::kWaiting;
  bool head_request = false;
  bool http10 = false;
  bool keep_alive = true;    // The request allows another after it.
  bool chunked = false;      // Streaming with the chunked coding.
  bool close_after = false;  // The connection ends after this response.
  // Bytes of this response waiting for it to reach the front (or for room
  // in the outbound queue).
  std::string buffered;
  // The connection's slots in request order (and the pool's free list).
  ResponseSlot* prev = nullptr;
  ResponseSlot* next = nullptr;
};

// The slots of one connection, in request order: a list linked through the
// slots, so that a connection without requests in flight holds no memory
// for it.
class SlotList {
 public:
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  ResponseSlot* front() const { return head_; }
  ResponseSlot* back() const { return tail_; }
  void push_back(ResponseSlot* slot) {
    slot->prev = tail_;
    slot->next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = slot;
    tail_ = slot;
    ++size_;
  }
  ResponseSlot* pop_front() {
    ResponseSlot* slot = head_;
    head_ = slot->next;
    (head_ != nullptr ? head_->prev : tail_) = nullptr;
    slot->next = nullptr;
    --size_;
    return slot;
  }
  // Empties a list of one slot, whose links are already null.
  void clear_only() {
    head_ = tail_ = nullptr;
    size_ = 0;
  }
  ResponseSlot* pop_back() {
    ResponseSlot* slot = tail_;
    tail_ = slot->prev;
    (tail_ != nullptr ? tail_->next : head_) = nullptr;
    slot->prev = nullptr;
    --size_;
    return slot;
  }

 private:
  ResponseSlot* head_ = nullptr;
  ResponseSlot* tail_ = nullptr;
  size_t size_ = 0;
};

// A prepared response's whole bytes for one Date (HttpPreparedResponse ids
// are never reused, so a stale entry never matches).
struct WireCache {
  uint64_t id = 0;
  int64_t second = 0;
  std::string bytes;
};

// A request read whole (its head copied, its body collected), and the
// views of its fields a ViewHandler gets; pooled, so that its storage is
// reused.
struct CollectedRequest {
  HttpRequest request;
  std::vector<HttpFieldView> header_views;
  std::vector<HttpFieldView> trailer_views;
};

// Views of `headers`, kept in `*views`.
HttpFieldsView ViewsOf(const HttpHeaders& headers,
                       std::vector<HttpFieldView>* views) {
  views->clear();
  for (const HttpHeaders::Field& field : headers) {
    views->push_back(HttpFieldView{field.name, field.value});
  }
  return HttpFieldsView(*views);
}

// What a server's connections share, kept alive by each of them so that a
// connection may outlive its server: the options, a pool of response
// slots, the scratch buffer responses are serialised into, and the Date
// value of the current second.
struct ServerShared : std::enable_shared_from_this<ServerShared> {
  explicit ServerShared(HttpServerOptions o) : options(std::move(o)) {}
  ~ServerShared() {
    while (free_slots != nullptr) delete std::exchange(free_slots, free_slots->next);
  }
  ResponseSlot* TakeSlot() {
    if (free_slots == nullptr) return new ResponseSlot;
    --free_count;
    ResponseSlot* slot = std::exchange(free_slots, free_slots->next);
    slot->next = nullptr;
    return slot;
  }
  void GiveSlot(ResponseSlot* slot) {
    if (free_count >= kSlotPoolMax) {
      delete slot;
      return;
    }
    slot->prev = nullptr;
    slot->next = free_slots;
    free_slots = slot;
    ++free_count;
  }

  // A request object for a connection to read into; its strings keep the
  // capacity of earlier requests.
  std::unique_ptr<CollectedRequest> TakeRequest() {
    if (free_requests.empty()) return std::make_unique<CollectedRequest>();
    std::unique_ptr<CollectedRequest> request = std::move(free_requests.back());
    free_requests.pop_back();
    return request;
  }
  void GiveRequest(std::unique_ptr<CollectedRequest> request) {
    if (free_requests.size() >= kRequestPoolMax) return;
    // Large bodies give their memory back; the rest is kept for reuse (the
    // fields are overwritten by HttpHeaders::Assign).
    if (request->request.body.capacity() > kBodyKeepBytesMax) {
      std::string().swap(request->request.body);
    }
    free_requests.push_back(std::move(request));
  }

  // Slots and requests kept for reuse by all of a server's connections.
  static constexpr size_t kSlotPoolMax = 1024;
  static constexpr size_t kRequestPoolMax = 64;
  static constexpr size_t kBodyKeepBytesMax = 64 << 10;
  std::vector<std::unique_ptr<CollectedRequest>> free_requests;

  // A request without a body on its way to a ViewHandler, between its
  // head and its completion. The parser reports the two within one Feed
  // call, with nothing run in between and the head's views intact until
  // the completion (see http_parser.h), so the head is kept here, for the
  // one connection `view_owner`, rather than copied; only what the
  // handler's view takes (fewer stores than the whole head).
  struct ViewHead {
    std::string_view method;
    std::string_view target;
    HttpVersion version;
    HttpFieldsView headers;
  };
  ViewHead view_head;
  const HttpServerConnection* view_owner = nullptr;

  // ---- Timeouts ----
  // A connection waits for one of three things at a time (see
  // HttpServerConnection::Wait), each with its own timeout, the same for
  // every connection. So each kind of wait keeps its connections in a list
  // linked through them, in deadline order by simply appending, and one
  // reactor timer, armed for the earliest deadline, serves a whole server:
  // a connection costs no timer of its own, and moving between waits is
  // O(1).
  static constexpr int kWaitKinds = 3;
  struct WaitList {
    HttpServerConnection* head = nullptr;
    HttpServerConnection* tail = nullptr;
  };
  // Appends `conn` (not linked) to list `kind`, arming the timer if its
  // deadline is the earliest.
  void LinkWait(HttpServerConnection* conn, int kind);
  void UnlinkWait(HttpServerConnection* conn, int kind);
  // Times out every connection whose deadline has passed, then re-arms.
  void RunWaitTimer();
  void ArmWaitTimer();
  absl::Time EarliestDeadline() const;
  void CancelWaitTimer() {
    if (wait_timer != 0 && reactor != nullptr) reactor->CancelTimer(wait_timer);
    wait_timer = 0;
  }

  Reactor* reactor = nullptr;  // Null once the server is gone.
  WaitList waits[kWaitKinds];
  TimerId wait_timer = 0;
  absl::Time wait_timer_due = absl::InfiniteFuture();

  const HttpServerOptions options;
  ResponseSlot* free_slots = nullptr;
  size_t free_count = 0;
  std::string scratch;
  // The bytes of the last prepared response sent as a GET's keep-alive
  // answer (see HttpServerConnection::Send), for the Date of `second`.
  WireCache wire_cache;
  // The Date value for the wall-clock second in date_second.
  std::string date;
  int64_t date_second = -1;
  absl::Time date_valid_until = absl::InfinitePast();  // Loop time.
};

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// A buffered response larger than this gives its memory back once sent.
constexpr size_t kBufferKeepBytesMax = 64 << 10;

// Bodies up to this size are copied behind the head and queued with it in
// one SendData; larger ones are queued from the response as they are.
constexpr size_t kBodyJoinBytesMax = 4096;

}  // namespace

class HttpServerConnection : public Connection,
                             private http_internal::WholeRequestListener {
 public:
  explicit HttpServerConnection(HttpServer* server)
      : server_(server),
        shared_(server->shared_),
        parser_(shared_->options.parser,
                static_cast<http_internal::WholeRequestListener*>(this)) {}

  ~HttpServerConnection() override {
    CancelWait();
    DetachAll();
    if (request_ != nullptr) shared_->GiveRequest(std::move(request_));
    if (shared_->view_owner == this) shared_->view_owner = nullptr;
  }

  void Detach() { server_ = nullptr; }

  // ---- Connection ----

  // A usual request reads the members before the parser's and the parser's
  // first part (its own HotBytes); the rest only some requests read.
  size_t HotBytes() const override {
    return static_cast<size_t>(reinterpret_cast<const char*>(&parser_) -
                               reinterpret_cast<const char*>(this)) +
           parser_.HotBytes();
  }

  void PostInit() override {
    stats().connections_accepted++;
    if (server_ != nullptr) server_->connections_[id()] = this;
    UpdateWait();
  }

  void ReceiveData(std::string_view data) override {
    if (discarding_ || reading_stopped_ || closing()) return;
    if (input_.empty() && !pipeline_paused_ && !pumping_) {
      // The common case: parse straight from the reactor's buffer.
      pumping_ = true;
      const size_t used = parser_.Feed(data);
      pumping_ = false;
      // The parser stopped early (pipelining limit, upgrade): keep the
      // rest for later, unless nothing more will be read.
      if (used < data.size() && !reading_stopped_ && !parser_.failed() &&
          !closing()) {
        input_.assign(data.data() + used, data.size() - used);
      }
    } else {
      input_.append(data.data(), data.size());
    }
    Pump();
  }

  void ReceiveEof() override {
    eof_ = true;
    if (discarding_ || close_begun_) {
      CloseAfterWriting();
      return;
    }
    Pump();
  }

  void OutboundLowWater() override { Advance(); }

  void ShutdownRequested() override {
    draining_ = true;
    if (reading_slot_ == nullptr && parser_.idle()) StopReading();
    Advance();
  }

  void Unbind(const UnbindReason& reason) override {
    CancelWait();
    if (linger_timer_ != 0) {
      CancelTimer(linger_timer_);
      linger_timer_ = 0;
    }
    DetachAll();
    if (server_ != nullptr) server_->connections_.erase(id());
  }

  // ---- From HttpResponder ----

  absl::Status Send(ResponseSlot* slot, const HttpResponse& response) {
    const int code = response.status_code;
    const FieldFacts facts(response.headers);
    EMBER_RETURN_IF_ERROR(CheckSendable(response, facts));
    const bool no_body = code == 204 || code == 304;
    // The server's fields go after the handler's, serialised straight from
    // the handler's response (no copy), except that a Content-Length the
    // handler set is replaced by the body's size.
    HeadExtras extras;
    const HttpResponse* head = &response;
    HttpResponse corrected;
    const bool set_length =
        !no_body && !(slot->head_request && facts.content_length);
    if (set_length) {
      if (facts.content_length) {
        corrected = response;
        corrected.headers.Remove("Content-Length");
        head = &corrected;
      }
      extras.AddLength(response.body.size());
    }
    const bool close =
        PrepareHead(slot, *head, facts, /*force_close=*/false, &extras);
    std::string& out = shared_->scratch;
    out.clear();
    EMBER_RETURN_IF_ERROR(AppendResponseHeadWith(
        *head, HttpVersion{1, 1}, extras.reason, extras.view(), &out));
    const std::string_view body = !no_body && !slot->head_request
                                      ? std::string_view(response.body)
                                      : std::string_view();
    return SendWhole(slot, out, body, close);
  }

  absl::Status Send(ResponseSlot* slot, const HttpPreparedResponse& response) {
    // The usual answer's bytes at hand, and nothing in the way (DirectOpen):
    // straight into the outbound queue.
    const std::string* bytes = CachedBytes(slot, response);
    if (bytes != nullptr && DirectOpen(slot) && SendDirect(slot, *bytes)) {
      return absl::OkStatus();
    }
    return SendPrepared(slot, response);
  }

 private:
  // The usual answer: a GET over HTTP/1.1 on a connection that stays open,
  // so that the server adds no field but Date. Its bytes are the same for
  // a whole second: those are kept (SendPrepared), and sent again with one
  // copy.
  bool IsUsual(const ResponseSlot* slot,
               const HttpPreparedResponse& response) const {
    // Bitwise, one test for the usual flags; ClosesAfter adds the draining
    // case.
    return !(slot->head_request | slot->http10 | !slot->keep_alive |
             response.close_) &&
           response.id_.value != 0 && !ClosesAfter(slot, false);
  }

  // The bytes kept of the usual answer when they are `response`'s to
  // `slot` now, or null. The cache id first: it decides most often.
  const std::string* CachedBytes(const ResponseSlot* slot,
                                 const HttpPreparedResponse& response) {
    const WireCache& cache = shared_->wire_cache;
    if (cache.id != response.id_.value || !IsUsual(slot, response)) {
      return nullptr;
    }
    const bool date_added = AddsDate(response.date_);
    if (date_added) Date();  // Brings date_second up to date.
    return cache.second == (date_added ? shared_->date_second : -1)
               ? &cache.bytes
               : nullptr;
  }

  // The general way: the kept bytes, or `response` assembled for `slot`
  // (which fills the cache with the usual answer's bytes).
  ABSL_ATTRIBUTE_NOINLINE absl::Status SendPrepared(
      ResponseSlot* slot, const HttpPreparedResponse& response) {
    // The usual answer's bytes at hand: queued the general way.
    if (const std::string* bytes = CachedBytes(slot, response)) {
      return SendBytes(slot, *bytes, {}, /*close=*/false);
    }
    const bool date_added = AddsDate(response.date_);
    const bool usual = IsUsual(slot, response);
    WireCache& cache = shared_->wire_cache;
    FieldFacts facts;
    facts.close = response.close_;
    facts.keep_alive = response.keep_alive_;
    facts.date = response.date_;
    HeadExtras extras;
    const bool close =
        DecideConnection(slot, facts, /*force_close=*/false, &extras);
    const std::string& head = response.head(slot->head_request);
    const std::string_view body = slot->head_request
                                      ? std::string_view()
                                      : std::string_view(response.body_);
    const bool join = body.size() <= kBodyJoinBytesMax;
    // Sized first, then copied in: one resize, no per-piece checks.
    size_t size = head.size() + 2 + (join ? body.size() : 0);
    for (const HttpFieldView& field : extras.view()) {
      size += field.name.size() + field.value.size() + 4;
    }
    std::string& out = shared_->scratch;
    out.resize(size);
    char* p = out.data();
    auto put = [&p](std::string_view piece) {
      // An empty view may have no data pointer, which memcpy must not get.
      if (piece.empty()) return;
      std::memcpy(p, piece.data(), piece.size());
      p += piece.size();
    };
    put(head);
    for (const HttpFieldView& field : extras.view()) {
      put(field.name);
      put(": ");
      put(field.value);
      put("\r\n");
    }
    put("\r\n");
    if (join) put(body);
    EMBER_CHECK(p == out.data() + out.size());
    if (usual && join) {
      // No field was added but Date (when it is added).
      EMBER_CHECK(!close && extras.count == (date_added ? 1u : 0u));
      CopyInto(out, &cache.bytes);
      cache.id = response.id_.value;
      cache.second = date_added ? shared_->date_second : -1;
    }
    return SendBytes(slot, out, join ? std::string_view() : body, close);
  }

  // The usual case of SendBytes(slot, bytes, {}, false), cut short: a
  // complete response, kept open after, to the only request in flight
  // (typically answered from inside the handler call) goes straight into
  // the outbound queue and its slot is retired at once. Returns true when
  // it did that; false, having changed nothing, whenever the general path
  // (Emit, Complete, Advance) would do anything more or else: buffer the
  // bytes behind an earlier response, fail, send another slot's bytes,
  // resume reading, close or finish the connection. Only after
  // DirectOpen(slot).
  bool SendDirect(ResponseSlot* slot, std::string_view bytes) {
    // Fails, queueing nothing, when the connection is closing or the bytes
    // do not fit: Emit then reports it.
    if (!TrySendData(bytes)) return false;
    // Complete, and retired at once: the slot's state and close_after are
    // not looked at again before NewSlot sets them.
    if (slot->responder != nullptr) {
      slot->responder->slot_ = nullptr;
      slot->responder->done_ = true;
      slot->responder = nullptr;
    }
    stats().responses++;
    // What Advance does with a complete front slot and nothing behind it;
    // FreeSlot's work less what this slot cannot need (no responder, no
    // bytes, and a buffer whose memory was kept only when small).
    slots_.clear_only();
    slot->conn = nullptr;
    shared_->GiveSlot(slot);
    if (!pumping_) UpdateWait();
    return true;
  }

  // Whether the connection is in the state SendDirect needs for `slot`.
  bool DirectOpen(const ResponseSlot* slot) const {
    // Under each of these the general path does more:
    //   - another slot in flight: these bytes wait behind it, or a later
    //     complete response follows them out;
    //   - bytes of this slot buffered (a 100 Continue that did not fit the
    //     outbound queue): they go first;
    //   - inside Advance (resuming a paused pipeline): the slot is retired
    //     only after the resumed Pump, which counts it against the depth;
    //   - reading paused at the depth limit: retiring the slot resumes it;
    //   - reading stopped, the input ended or the parser failed: retiring
    //     the last slot ends the connection (MaybeFinish);
    //   - the close begun: then the slot is gone already (kept for safety).
    // The flags bitwise: one test for all.
    return slots_.size() == 1 && slots_.front() == slot &&
           slot->buffered.empty() && !parser_.failed() &&
           !(advancing_ | pipeline_paused_ | reading_stopped_ | eof_ |
             close_begun_);
  }

 public:
  // Queues a complete response, `head` then `body` (either may hold it
  // all), and retires it.
  absl::Status SendBytes(ResponseSlot* slot, std::string_view head,
                         std::string_view body, bool close) {
    EMBER_RETURN_IF_ERROR(body.empty() ? Emit(slot, head)
                                       : Emit(slot, head, body));
    slot->close_after = close;
    Complete(slot);
    return absl::OkStatus();
  }

  // Queues `head` (the scratch buffer) and `body` as one complete response.
  absl::Status SendWhole(ResponseSlot* slot, std::string& head,
                         std::string_view body, bool close) {
    if (body.size() <= kBodyJoinBytesMax) {
      head.append(body);
      EMBER_RETURN_IF_ERROR(Emit(slot, head));
    } else {
      EMBER_RETURN_IF_ERROR(Emit(slot, head, body));
    }
    slot->close_after = close;
    Complete(slot);
    return absl::OkStatus();
  }

  absl::Status StartChunked(ResponseSlot* slot, const HttpResponse& head) {
    const int code = head.status_code;
    if (code < 200 || code > 999 || code == 204 || code == 304) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", code, " response cannot stream a body"));
    }
    const FieldFacts facts(head.headers);
    if (facts.transfer_encoding || facts.content_length) {
      return absl::InvalidArgumentError(
          "StartChunked sets the framing itself: no Content-Length or "
          "Transfer-Encoding");
    }
    if (!head.trailers.empty()) {
      return absl::InvalidArgumentError("trailers go to Finish");
    }
    // HTTP/1.0 has no chunked coding: the close ends the body.
    const bool chunked = !slot->http10;
    HeadExtras extras;
    const bool close =
        PrepareHead(slot, head, facts, /*force_close=*/!chunked, &extras);
    if (chunked) extras.Add("Transfer-Encoding", "chunked");
    shared_->scratch.clear();
    EMBER_RETURN_IF_ERROR(AppendResponseHeadWith(head, HttpVersion{1, 1},
                                                 extras.reason, extras.view(),
                                                 &shared_->scratch));
    if (!slot->head_request && !head.body.empty()) {
      if (chunked) {
        AppendChunk(head.body, &shared_->scratch);
      } else {
        shared_->scratch.append(head.body);
      }
    }
    EMBER_RETURN_IF_ERROR(Emit(slot, shared_->scratch));
    slot->chunked = chunked;
    slot->close_after = close;
    slot->state = ResponseSlot::State::kStreaming;
    return absl::OkStatus();
  }

  absl::Status WriteChunk(ResponseSlot* slot, std::string_view data) {
    if (data.empty() || slot->head_request) return CheckOpen();
    if (!slot->chunked) return Emit(slot, data);
    shared_->scratch.clear();
    AppendChunkHeader(data.size(), &shared_->scratch);
    return Emit(slot, shared_->scratch, data, "\r\n");
  }

  absl::Status Finish(ResponseSlot* slot, const HttpHeaders& trailers) {
    if (slot->chunked && !slot->head_request) {
      shared_->scratch.clear();
      EMBER_RETURN_IF_ERROR(AppendLastChunk(trailers, &shared_->scratch));
      EMBER_RETURN_IF_ERROR(Emit(slot, shared_->scratch));
    } else {
      EMBER_RETURN_IF_ERROR(CheckOpen());
    }
    Complete(slot);
    return absl::OkStatus();
  }

  // The responder of `slot` went away before the response was complete.
  void Dropped(ResponseSlot* slot) {
    slot->responder = nullptr;
    if (closing() || close_begun_) return;
    stats().dropped_responders++;
    if (slot->state == ResponseSlot::State::kWaiting) {
      HttpResponse response;
      response.status_code = 500;
      response.reason = "Internal Server Error";
      response.headers.Set("Content-Type", "text/plain; charset=utf-8");
      response.body =
          "500 Internal Server Error: the request was not answered\n";
      if (Send(slot, response).ok()) return;
    }
    // A stream cut short (or a 500 that does not fit): end the connection
    // after what was sent, so that the client sees an incomplete response.
    slot->close_after = true;
    Complete(slot);
  }

  absl::Status CheckOpen() const {
    if (closing() || close_begun_) {
      return absl::UnavailableError(
          absl::StrCat("HTTP connection ", id(), " is closing"));
    }
    return absl::OkStatus();
  }

 private:
  enum class Wait : uint8_t { kNone, kIdle, kHead, kBody };
  static int WaitIndex(Wait wait) { return static_cast<int>(wait) - 1; }

  HttpServerStats& stats() {
    if (server_ != nullptr) return server_->stats_;
    // Counted here once the server is gone (rare: kept off idle memory).
    if (orphan_stats_ == nullptr) {
      orphan_stats_ = std::make_unique<HttpServerStats>();
    }
    return *orphan_stats_;
  }

  bool CanFeed() const {
    return !reading_stopped_ && !pipeline_paused_ && !parser_.failed() &&
           !closing() && !close_begun_;
  }

  // Feeds what is held in input_ while the parser may go on, then the end
  // of the stream. Never nests: a call from inside the parser's callbacks
  // (a handler answering at once) only asks the running one to go again.
  void Pump() {
    if (pumping_) {
      pump_again_ = true;
      return;
    }
    pumping_ = true;
    do {
      pump_again_ = false;
      while (CanFeed() && !input_.empty()) {
        // Paused here only after an upgrade request, which is served as an
        // ordinary one: carry on with HTTP.
        if (parser_.paused()) parser_.Resume();
        const size_t used = parser_.Feed(input_);
        input_.erase(0, used);
      }
      if (CanFeed() && input_.empty() && eof_ && !finished_) {
        finished_ = true;
        if (parser_.paused()) parser_.Resume();
        parser_.Finish();
      }
    } while (pump_again_);
    pumping_ = false;
    if (reading_stopped_ || parser_.failed()) input_.clear();
    MaybeFinish();
    UpdateWait();
  }

  // ---- Parser events ----

  void OnRequestHead(const HttpRequestHead& head) override {
    if (reading_stopped_) return;
    ++requests_started_;
    if (head.method == "CONNECT") {
      RespondError(501, "CONNECT is not supported");
      return;
    }
    ResponseSlot* slot = OpenSlot(head);
    reading_slot_ = slot;
    shared_->view_owner = nullptr;  // Never left set; cleared all the same.
    if (head.framing == HttpBodyFraming::kNone && server_ != nullptr &&
        server_->view_handler_ != nullptr) {
      // Handed over uncopied once complete (ServerShared::view_head).
      ServerShared::ViewHead& view = shared_->view_head;
      view.method = head.method;
      view.target = head.target;
      view.version = head.version;
      view.headers = head.headers;
      shared_->view_owner = this;
      return;
    }
    StartCollecting(slot, head);
  }

  // The head of a request to be collected whole (it has a body, or the
  // handler takes owned requests): copied into request_. Out of line, so
  // that the view path most requests take stays small.
  ABSL_ATTRIBUTE_NOINLINE void StartCollecting(ResponseSlot* slot,
                                               const HttpRequestHead& head) {
    if (request_ == nullptr) request_ = shared_->TakeRequest();
    HttpRequest& request = request_->request;
    CopyInto(head.method, &request.method);
    CopyInto(head.target, &request.target);
    request.version = head.version;
    request.headers.Assign(head.headers);
    request.body.clear();
    request.trailers.clear();
    if (head.expect_continue && head.framing != HttpBodyFraming::kNone) {
      // The head is acceptable (an oversized Content-Length was refused
      // before this call): ask for the body, in response order.
      if (Emit(slot, kContinue).ok()) stats().continues_sent++;
    }
  }

  void OnBody(std::string_view data) override {
    if (reading_slot_ == nullptr) return;
    request_->request.body.append(data.data(), data.size());
    ++body_progress_;
  }

  void OnMessageComplete(HttpFieldsView trailers) override {
    ResponseSlot* slot = reading_slot_;
    if (slot == nullptr) return;  // CONNECT, already refused.
    reading_slot_ = nullptr;
    const bool from_head = shared_->view_owner == this;
    if (from_head) {
      shared_->view_owner = nullptr;
    } else {
      request_->request.trailers.Assign(trailers);
    }
    const bool last = EndOfRequest(*slot);
    HttpResponder responder(slot, slot->head_request);
    if (from_head) {
      // Copied out of the shared slot first: the handler may answer another
      // connection, whose requests then reuse it.
      const ServerShared::ViewHead& head = shared_->view_head;
      const HttpRequestView view{head.method, head.target,   head.version,
                                 head.headers, std::string_view(), trailers};
      if (server_ != nullptr) {
        server_->view_handler_(view, std::move(responder));
      }
    } else {
      DispatchCollected(std::move(responder));
    }
    PauseAtDepth(last);
  }

  // The usual request, whole (no body, not CONNECT): what OnRequestHead
  // and OnMessageComplete do for it, in one call and without the shared
  // view head, as the handler gets its view straight from `head`.
  void OnBodilessRequest(const HttpRequestHead& head) override {
    if (server_ == nullptr || server_->view_handler_ == nullptr) {
      // Collected into an owned request first (or refused, with no server).
      OnRequestHead(head);
      OnMessageComplete(HttpFieldsView());
      return;
    }
    if (reading_stopped_) return;
    ++requests_started_;
    ResponseSlot* slot = OpenSlot(head);
    const bool last = EndOfRequest(*slot);
    const HttpRequestView view{head.method,  head.target,       head.version,
                               head.headers, std::string_view(), {}};
    server_->view_handler_(view, HttpResponder(slot, slot->head_request));
    PauseAtDepth(last);
  }

  // The response slot of a request with this head, after every earlier one.
  // (These two are forced inline: as calls they cost about 10 instructions
  // a request.)
  ABSL_ATTRIBUTE_ALWAYS_INLINE ResponseSlot* OpenSlot(
      const HttpRequestHead& head) {
    ResponseSlot* slot = NewSlot();
    slot->head_request = head.method == "HEAD";
    slot->http10 = !head.version.AtLeast11();
    slot->keep_alive = head.keep_alive;
    return slot;
  }

  // A request was read to its end, about to be handed over: counts it and,
  // when no more are to be read after it, stops reading. Returns whether it
  // is the last.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool EndOfRequest(const ResponseSlot& slot) {
    stats().requests++;
    const bool last = !slot.keep_alive || draining_;
    if (last) StopReading();
    return last;
  }

  // After a request was handed over (`last`: no more are read): pauses
  // reading while pipeline_depth_max requests are unanswered.
  void PauseAtDepth(bool last) {
    // The depth first: a request answered at once leaves it under the
    // limit, and the rest is then not looked at.
    if (slots_.size() >= shared_->options.pipeline_depth_max && !last &&
        !reading_stopped_ && !closing()) {
      // Enough unanswered requests: read no more until one is answered.
      pipeline_paused_ = true;
      parser_.Pause();
      Pause();
      stats().pipeline_pauses++;
    }
  }

  void OnError(const HttpParseError& error) override {
    if (error.status.code() == absl::StatusCode::kUnavailable) {
      // The client ended its side inside a request: nobody to answer.
      if (reading_slot_ != nullptr) {
        EMBER_CHECK(!slots_.empty() && slots_.back() == reading_slot_);
        FreeSlot(slots_.pop_back());
        reading_slot_ = nullptr;
      }
      StopReading();
      return;
    }
    RespondError(error.http_status, StdView(error.status.message()));
  }

  // ---- Responses ----

  // Hands the collected request_ to the server's handler (while there is
  // one), then back to the pool. Out of line, apart from the view path.
  ABSL_ATTRIBUTE_NOINLINE void DispatchCollected(HttpResponder responder) {
    if (server_ != nullptr) Dispatch(std::move(responder));
    shared_->GiveRequest(std::move(request_));
  }

  // Hands the collected request_ to the server's handler, whichever kind.
  void Dispatch(HttpResponder responder) {
    HttpRequest& request = request_->request;
    if (server_->handler_ != nullptr) {
      server_->handler_(std::move(request), std::move(responder));
      return;
    }
    const HttpRequestView view{
        request.method,
        request.target,
        request.version,
        ViewsOf(request.headers, &request_->header_views),
        request.body,
        ViewsOf(request.trailers, &request_->trailer_views)};
    server_->view_handler_(view, std::move(responder));
  }

  // Answers the request being read (or a new one) with `status` and a
  // close, after every earlier response; reads nothing more.
  void RespondError(int status, std::string_view message) {
    stats().errors[status]++;
    ResponseSlot* slot = reading_slot_ != nullptr ? reading_slot_ : NewSlot();
    reading_slot_ = nullptr;
    StopReading();
    slot->keep_alive = false;
    HttpResponse response;
    response.status_code = status;
    response.reason = std::string(HttpReasonPhrase(status));
    response.headers.Set("Content-Type", "text/plain; charset=utf-8");
    response.body = absl::StrCat(status, " ", response.reason, ": ",
                                 AbslView(message), "\n");
    if (!Send(slot, response).ok()) {
      // Not even the error fits: close once earlier responses are out.
      slot->close_after = true;
      Complete(slot);
    }
  }

  // Decides the reason phrase, Connection and Date for `response` (sent as
  // HTTP/1.1). Returns whether the connection ends after this response.
  bool PrepareHead(ResponseSlot* slot, const HttpResponse& response,
                   const FieldFacts& facts, bool force_close,
                   HeadExtras* extras) {
    extras->reason = ReasonFor(response);
    return DecideConnection(slot, facts, force_close, extras);
  }

  // Adds Connection and Date to `extras` as the connection's state and the
  // handler's fields (`facts`) ask. Returns whether the connection ends
  // after this response.
  bool DecideConnection(ResponseSlot* slot, const FieldFacts& facts,
                        bool force_close, HeadExtras* extras) {
    const bool asked_close = facts.close;
    const bool close = ClosesAfter(slot, asked_close || force_close);
    if (close) {
      if (!asked_close) extras->Add("Connection", "close");
    } else if (slot->http10 && !facts.keep_alive) {
      extras->Add("Connection", "keep-alive");
    }
    if (AddsDate(facts.date)) {
      extras->Add("Date", Date());
    }
    return close;
  }

  // Whether the server adds Date to a response; `own` when it has one.
  bool AddsDate(bool own) const {
    return shared_->options.date_header && server_ != nullptr && !own;
  }

  // Whether the connection ends after `slot`'s response; `asked` when the
  // response itself asks for that.
  bool ClosesAfter(const ResponseSlot* slot, bool asked) const {
    const bool last_while_draining = draining_ && reading_stopped_ &&
                                     !slots_.empty() && slots_.back() == slot;
    return !slot->keep_alive || last_while_draining || asked;
  }

  // The Date value, read from the wall clock once per second of it: until
  // the loop's (monotonic) time reaches the next wall-clock second, the
  // value formatted last is still right.
  const std::string& Date() {
    const absl::Time loop_now = reactor().LoopNow();
    if (loop_now < shared_->date_valid_until) return shared_->date;
    return NewDate(loop_now);
  }

  // Date's once-a-second part, out of line: it would weigh on the frame
  // of every caller.
  ABSL_ATTRIBUTE_NOINLINE const std::string& NewDate(absl::Time loop_now) {
    const absl::Time wall = reactor().WallNow();
    const int64_t second = absl::ToUnixSeconds(wall);
    if (second != shared_->date_second) {
      shared_->date_second = second;
      FormatHttpDate(wall, &shared_->date);
    }
    shared_->date_valid_until =
        loop_now + (absl::FromUnixSeconds(second + 1) - wall);
    return shared_->date;
  }

  // Queues a piece of `slot`'s response: written now if the slot is at the
  // front, else buffered until it gets there. All or nothing.
  absl::Status Emit(ResponseSlot* slot, std::string_view a,
                    std::string_view b = {}, std::string_view c = {}) {
    EMBER_RETURN_IF_ERROR(CheckOpen());
    const size_t total = a.size() + b.size() + c.size();
    const bool front = slots_.front() == slot;
    if (front && slot->buffered.empty()) {
      const size_t room = outbound_limits().max_bytes - OutboundDataSize();
      if (total > room) {
        return absl::ResourceExhaustedError(
            absl::StrCat("HTTP connection ", id(), ": ", total,
                         " response bytes do not fit the outbound queue (",
                         room, " bytes free); nothing queued"));
      }
      const auto send = [this](std::string_view piece) {
        if (piece.empty()) return;
        absl::Status status = SendData(piece);
        EMBER_CHECK_MSG(status.ok(), "SendData failed after its room check");
      };
      send(a);
      send(b);
      send(c);
      return absl::OkStatus();
    }
    if (total > shared_->options.buffered_response_bytes_max - buffered_bytes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "HTTP connection ", id(), ": ", total,
          " response bytes would pass the limit of ",
          shared_->options.buffered_response_bytes_max,
          " bytes waiting behind earlier responses; nothing queued"));
    }
    slot->buffered.append(a.data(), a.size());
    slot->buffered.append(b.data(), b.size());
    slot->buffered.append(c.data(), c.size());
    buffered_bytes_ += total;
    return absl::OkStatus();
  }

  void Complete(ResponseSlot* slot) {
    slot->state = ResponseSlot::State::kComplete;
    if (slot->responder != nullptr) {
      slot->responder->slot_ = nullptr;
      slot->responder->done_ = true;
      slot->responder = nullptr;
    }
    stats().responses++;
    Advance();
  }

  // Writes the front slot's buffered bytes if the outbound queue has room.
  // Returns whether nothing is left buffered.
  bool FlushFront() {
    ResponseSlot* front = slots_.front();
    const size_t size = front->buffered.size();
    if (size > outbound_limits().max_bytes - OutboundDataSize()) {
      if (OutboundDataSize() == 0) {
        // It can never fit (buffered limit above the outbound maximum).
        CloseConnection();
        return false;
      }
      // OutboundLowWater brings us back once the queue drains, even when it
      // never passed the high-water mark (a 100 Continue that waited behind
      // the response before it may be all a client waits for).
      WantLowWater();
      return false;
    }
    absl::Status status = SendData(front->buffered);
    EMBER_CHECK_MSG(status.ok(), "SendData failed after its room check");
    buffered_bytes_ -= size;
    ReleaseBuffer(front);
    return true;
  }

  // Sends what the response order allows, retires complete responses, and
  // then reads on or closes as the state says. Never nests.
  void Advance() {
    if (advancing_) {
      advance_again_ = true;
      return;
    }
    advancing_ = true;
    do {
      advance_again_ = false;
      while (!slots_.empty() && !closing() && !close_begun_) {
        ResponseSlot* front = slots_.front();
        if (!front->buffered.empty() && !FlushFront()) break;
        if (front->state != ResponseSlot::State::kComplete) break;
        const bool close = front->close_after;
        FreeSlot(slots_.pop_front());
        if (close) BeginClose();
      }
      if (!closing() && !close_begun_) {
        MaybeResumePipeline();
        MaybeFinish();
      }
    } while (advance_again_);
    advancing_ = false;
    // A running Pump updates the wait once it has fed all it holds.
    if (!pumping_) UpdateWait();
  }

  void MaybeResumePipeline() {
    if (!pipeline_paused_ || reading_stopped_ ||
        slots_.size() >= shared_->options.pipeline_depth_max) {
      return;
    }
    pipeline_paused_ = false;
    parser_.Resume();
    Resume();
    Pump();
  }

  // Closes once nothing more will be read and every response is out.
  void MaybeFinish() {
    if (closing() || close_begun_ || !slots_.empty()) return;
    if (reading_stopped_ || parser_.failed() || (eof_ && finished_)) {
      BeginClose();
    }
  }

  // Reads no further request.
  void StopReading() {
    if (reading_stopped_) return;
    reading_stopped_ = true;
    parser_.Pause();
    if (!discarding_) Pause();
  }

  // Ends the connection after the queued bytes: half-close, then discard
  // input until the client closes too or linger_timeout passes, so that
  // unread input does not turn the close into a reset that destroys the
  // response in flight.
  void BeginClose() {
    if (close_begun_ || closing()) return;
    close_begun_ = true;
    StopReading();
    CancelWait();
    DetachAll();
    input_.clear();
    if (eof_) {
      CloseAfterWriting();
      return;
    }
    CloseWrite();
    discarding_ = true;
    Resume();
    linger_timer_ = StartTimer(shared_->options.linger_timeout, [this] {
      linger_timer_ = 0;
      CloseConnection();
    });
  }

  // ---- Timeouts ----

  void UpdateWait() {
    Wait want = Wait::kNone;
    if (!closing() && !close_begun_ && !reading_stopped_ && !pipeline_paused_ &&
        !parser_.failed()) {
      if (reading_slot_ != nullptr) {
        want = Wait::kBody;
      } else if (!parser_.idle() || requests_started_ == 0) {
        want = Wait::kHead;
      } else if (slots_.empty()) {
        want = Wait::kIdle;
      }
    }
    if (want == wait_) return;
    CancelWait();
    StartWait(want);
  }

  void StartWait(Wait want) {
    wait_ = want;
    absl::Duration timeout;
    switch (want) {
      case Wait::kNone:
        return;
      case Wait::kIdle:
        timeout = shared_->options.keep_alive_idle_timeout;
        break;
      case Wait::kHead:
        timeout = shared_->options.header_timeout;
        break;
      case Wait::kBody:
        body_progress_seen_ = body_progress_;
        timeout = shared_->options.body_timeout;
        break;
    }
    wait_deadline_ =
        reactor_internal::CompactTime(reactor().LoopNow() + timeout);
    shared_->LinkWait(this, WaitIndex(want));
  }

  void CancelWait() {
    if (wait_ != Wait::kNone) shared_->UnlinkWait(this, WaitIndex(wait_));
    wait_ = Wait::kNone;
  }

 public:
  // ---- From ServerShared ----
  absl::Time wait_deadline() const { return wait_deadline_.get(); }
  HttpServerConnection* wait_next() const { return wait_next_; }
  HttpServerConnection*& wait_next_link() { return wait_next_; }
  HttpServerConnection*& wait_prev_link() { return wait_prev_; }

  // The wait's deadline passed (the connection is already off its list).
  void OnWaitExpired() {
    if (closing() || close_begun_ || wait_ == Wait::kNone) {
      wait_ = Wait::kNone;
      return;
    }
    const Wait wait = wait_;
    wait_ = Wait::kNone;
    switch (wait) {
      case Wait::kNone:
        return;
      case Wait::kIdle:
        stats().idle_timeouts++;
        CloseAfterWriting();
        return;
      case Wait::kHead:
        stats().header_timeouts++;
        if (requests_started_ == 0 && parser_.idle()) {
          CloseAfterWriting();  // Never sent a request: nobody to answer.
          return;
        }
        RespondError(
            408, absl::StrCat("request head not complete within ",
                              absl::FormatDuration(shared_->options.header_timeout)));
        return;
      case Wait::kBody:
        if (body_progress_ != body_progress_seen_) {
          // Bytes came since the wait began: check again later.
          StartWait(Wait::kBody);
          return;
        }
        stats().body_timeouts++;
        RespondError(408,
                     absl::StrCat("no request body bytes for ",
                                  absl::FormatDuration(shared_->options.body_timeout)));
        return;
    }
  }

  // ---- Slots ----

 private:
  ResponseSlot* NewSlot() {
    ResponseSlot* slot = shared_->TakeSlot();
    slot->conn = this;
    slot->responder = nullptr;
    slot->state = ResponseSlot::State::kWaiting;
    slot->head_request = slot->http10 = slot->chunked = false;
    slot->close_after = false;
    slot->keep_alive = true;
    EMBER_CHECK(slot->buffered.empty());
    slots_.push_back(slot);
    return slot;
  }

  void ReleaseBuffer(ResponseSlot* slot) {
    if (slot->buffered.capacity() > kBufferKeepBytesMax) {
      std::string().swap(slot->buffered);
    } else {
      slot->buffered.clear();
    }
  }

  void FreeSlot(ResponseSlot* slot) {
    if (slot->responder != nullptr) {
      // The connection is ending with this response unfinished.
      slot->responder->slot_ = nullptr;
      slot->responder->gone_ = true;
      slot->responder = nullptr;
    }
    buffered_bytes_ -= slot->buffered.size();
    ReleaseBuffer(slot);
    slot->conn = nullptr;
    shared_->GiveSlot(slot);
  }

  // Drops every slot still queued: their responses can no longer go out.
  void DetachAll() {
    while (!slots_.empty()) FreeSlot(slots_.pop_back());
    reading_slot_ = nullptr;
  }

  // Laid out for the cache: a usual request reads the members up to the
  // parser's and the parser's first part (HotBytes), and none after.
  HttpServer* server_;
  const std::shared_ptr<ServerShared> shared_;
  // Input held back while the parser is paused (pipelining limit).
  std::string input_;
  SlotList slots_;  // In request order.
  ResponseSlot* reading_slot_ = nullptr;  // The slot of request_.
  uint64_t requests_started_ = 0;
  // The current wait's kind; its deadline and its place in the server's
  // list for that kind (ServerShared::waits) are further down.
  Wait wait_ = Wait::kNone;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool advancing_ = false;
  bool advance_again_ = false;
  bool pipeline_paused_ = false;
  bool reading_stopped_ = false;
  bool eof_ = false;
  bool finished_ = false;  // parser_.Finish called.
  bool draining_ = false;
  bool close_begun_ = false;
  bool discarding_ = false;
  // The core itself, rather than HttpRequestParser: it takes the usual
  // request in one call (OnBodilessRequest).
  http_internal::HttpParserCore parser_;

  std::unique_ptr<HttpServerStats> orphan_stats_;  // Once the server is gone.
  std::unique_ptr<CollectedRequest> request_;  // Being read (from the pool).
  size_t buffered_bytes_ = 0;
  uint64_t body_progress_ = 0;
  uint64_t body_progress_seen_ = 0;
  reactor_internal::CompactTime wait_deadline_;
  HttpServerConnection* wait_prev_ = nullptr;
  HttpServerConnection* wait_next_ = nullptr;
  TimerId linger_timer_ = 0;
};

void ServerShared::LinkWait(HttpServerConnection* conn, int kind) {
  WaitList& list = waits[kind];
  conn->wait_prev_link() = list.tail;
  conn->wait_next_link() = nullptr;
  (list.tail != nullptr ? list.tail->wait_next_link() : list.head) = conn;
  list.tail = conn;
  if (conn->wait_deadline() < wait_timer_due) ArmWaitTimer();
}

void ServerShared::UnlinkWait(HttpServerConnection* conn, int kind) {
  WaitList& list = waits[kind];
  HttpServerConnection* prev = conn->wait_prev_link();
  HttpServerConnection* next = conn->wait_next_link();
  (prev != nullptr ? prev->wait_next_link() : list.head) = next;
  (next != nullptr ? next->wait_prev_link() : list.tail) = prev;
  conn->wait_prev_link() = conn->wait_next_link() = nullptr;
  // The timer stays armed: when it fires early it re-arms for what is left.
}

absl::Time ServerShared::EarliestDeadline() const {
  absl::Time earliest = absl::InfiniteFuture();
  for (const WaitList& list : waits) {
    if (list.head != nullptr) {
      earliest = std::min(earliest, list.head->wait_deadline());
    }
  }
  return earliest;
}

void ServerShared::ArmWaitTimer() {
  CancelWaitTimer();
  wait_timer_due = EarliestDeadline();
  if (reactor == nullptr || wait_timer_due == absl::InfiniteFuture()) return;
  // The callback holds the shared block weakly: connections may outlive
  // the server, and the block may go before a timer nobody cancelled.
  auto timer = reactor->AddTimer(
      wait_timer_due - reactor->Now(),
      [weak = weak_from_this()] {
        std::shared_ptr<ServerShared> shared = weak.lock();
        if (shared != nullptr) shared->RunWaitTimer();
      });
  if (timer.ok()) {
    wait_timer = *timer;
    return;
  }
  // The reactor's timer limit is reached (by the application's own
  // timers): without a timer nothing bounds how long the waiting
  // connections may hold the server, so they are closed.
  wait_timer_due = absl::InfiniteFuture();
  for (WaitList& list : waits) {
    while (list.head != nullptr) {
      HttpServerConnection* conn = list.head;
      UnlinkWait(conn, static_cast<int>(&list - waits));
      conn->CloseConnection();
    }
  }
}

void ServerShared::RunWaitTimer() {
  wait_timer = 0;
  wait_timer_due = absl::InfiniteFuture();
  if (reactor == nullptr) return;
  const absl::Time now = reactor->Now();
  for (int kind = 0; kind < kWaitKinds; ++kind) {
    // A connection timed out here may start a new wait (appended behind
    // `now`, so this loop ends).
    while (waits[kind].head != nullptr &&
           waits[kind].head->wait_deadline() <= now) {
      HttpServerConnection* conn = waits[kind].head;
      UnlinkWait(conn, kind);
      conn->OnWaitExpired();
    }
  }
  if (wait_timer == 0) ArmWaitTimer();
}

}  // namespace http_internal

using http_internal::HttpServerConnection;
using http_internal::ResponseSlot;
using http_internal::CheckSendable;
using http_internal::FieldFacts;
using http_internal::HeadExtras;
using http_internal::ReasonFor;

// ---------------------------------------------------------------- Responder

HttpResponder::HttpResponder(ResponseSlot* slot, bool head_request)
    : slot_(slot), head_request_(head_request) {
  slot_->responder = this;
}

HttpResponder::HttpResponder(HttpResponder&& other) noexcept
    : slot_(std::exchange(other.slot_, nullptr)),
      head_request_(other.head_request_),
      done_(other.done_),
      gone_(other.gone_) {
  if (slot_ != nullptr) slot_->responder = this;
}

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    Release();
    slot_ = std::exchange(other.slot_, nullptr);
    head_request_ = other.head_request_;
    done_ = other.done_;
    gone_ = other.gone_;
    if (slot_ != nullptr) slot_->responder = this;
  }
  return *this;
}

void HttpResponder::Release() {
  ResponseSlot* slot = std::exchange(slot_, nullptr);
  if (slot != nullptr) slot->conn->Dropped(slot);
}

absl::Status HttpResponder::Inactive() const {
  if (done_) return absl::FailedPreconditionError("response already complete");
  if (gone_) {
    return absl::UnavailableError(
        "the connection ended before the response was complete");
  }
  return absl::FailedPreconditionError("empty responder");
}

bool HttpResponder::active() const {
  return slot_ != nullptr && slot_->conn->CheckOpen().ok();
}

absl::Status HttpResponder::Send(const HttpResponse& response) {
  if (slot_ == nullptr) return Inactive();
  if (slot_->state != ResponseSlot::State::kWaiting) {
    return absl::FailedPreconditionError("Send after StartChunked");
  }
  return slot_->conn->Send(slot_, response);
}

absl::Status HttpResponder::Send(const HttpPreparedResponse& response) {
  if (slot_ == nullptr) return Inactive();
  if (slot_->state != ResponseSlot::State::kWaiting) {
    return absl::FailedPreconditionError("Send after StartChunked");
  }
  return slot_->conn->Send(slot_, response);
}

absl::StatusOr<HttpPreparedResponse> HttpPreparedResponse::Create(
    const HttpResponse& response) {
  const FieldFacts facts(response.headers);
  EMBER_RETURN_IF_ERROR(CheckSendable(response, facts));
  HttpPreparedResponse prepared;
  static std::atomic<uint64_t> next_id{1};
  prepared.id_.value = next_id.fetch_add(1, std::memory_order_relaxed);
  prepared.status_code_ = response.status_code;
  prepared.body_ = response.body;
  prepared.close_ = facts.close;
  prepared.keep_alive_ = facts.keep_alive;
  prepared.date_ = facts.date;
  const std::string_view reason = ReasonFor(response);
  // Each head as Send(const HttpResponse&) writes it, less the fields that
  // depend on the connection and the final CRLF.
  auto head = [&](const HttpResponse& fields, HttpFieldsView extra,
                  std::string* out) -> absl::Status {
    EMBER_RETURN_IF_ERROR(
        AppendResponseHeadWith(fields, HttpVersion{1, 1}, reason, extra, out));
    out->resize(out->size() - 2);
    return absl::OkStatus();
  };
  const int code = response.status_code;
  if (code == 204 || code == 304) {
    EMBER_RETURN_IF_ERROR(head(response, HttpFieldsView(), &prepared.head_));
    return prepared;
  }
  HeadExtras extras;
  extras.AddLength(response.body.size());
  if (!facts.content_length) {
    EMBER_RETURN_IF_ERROR(head(response, extras.view(), &prepared.head_));
    return prepared;
  }
  // The handler's Content-Length gives way to the body's size, except in an
  // answer to HEAD.
  HttpResponse corrected = response;
  corrected.headers.Remove("Content-Length");
  EMBER_RETURN_IF_ERROR(head(corrected, extras.view(), &prepared.head_));
  EMBER_RETURN_IF_ERROR(
      head(response, HttpFieldsView(), &prepared.head_for_head_));
  return prepared;
}

absl::Status HttpResponder::StartChunked(const HttpResponse& head) {
  if (slot_ == nullptr) return Inactive();
  if (slot_->state != ResponseSlot::State::kWaiting) {
    return absl::FailedPreconditionError("StartChunked called twice");
  }
  return slot_->conn->StartChunked(slot_, head);
}

absl::Status HttpResponder::WriteChunk(std::string_view data) {
  if (slot_ == nullptr) return Inactive();
  if (slot_->state != ResponseSlot::State::kStreaming) {
    return absl::FailedPreconditionError("WriteChunk before StartChunked");
  }
  return slot_->conn->WriteChunk(slot_, data);
}

absl::Status HttpResponder::Finish(const HttpHeaders& trailers) {
  if (slot_ == nullptr) return Inactive();
  if (slot_->state != ResponseSlot::State::kStreaming) {
    return absl::FailedPreconditionError("Finish before StartChunked");
  }
  return slot_->conn->Finish(slot_, trailers);
}

// ------------------------------------------------------------------- Server

HttpServer::HttpServer(Reactor& reactor, HttpServerOptions options,
                       Handler handler)
    : HttpServer(reactor, std::move(options), std::move(handler), nullptr) {}

HttpServer::HttpServer(Reactor& reactor, HttpServerOptions options,
                       ViewHandler handler)
    : HttpServer(reactor, std::move(options), nullptr, std::move(handler)) {}

HttpServer::HttpServer(Reactor& reactor, HttpServerOptions options,
                       Handler handler, ViewHandler view_handler)
    : reactor_(reactor),
      shared_(std::make_shared<http_internal::ServerShared>(std::move(options))),
      handler_(std::move(handler)),
      view_handler_(std::move(view_handler)) {
  shared_->reactor = &reactor_;
  EMBER_CHECK((handler_ != nullptr) != (view_handler_ != nullptr));
  EMBER_CHECK(shared_->options.pipeline_depth_max > 0);
}

HttpServer::~HttpServer() {
  StopListening();
  shared_->CancelWaitTimer();
  shared_->reactor = nullptr;
  for (auto& [id, connection] : connections_) {
    connection->Detach();
    connection->CloseConnection();
  }
  connections_.clear();
}

Reactor::ConnectionFactory HttpServer::Factory() {
  Reactor::ConnectionFactory plain = [this] {
    return std::make_unique<HttpServerConnection>(this);
  };
  if (shared_->options.tls == nullptr) return plain;
  return tls::TlsServerFactory(shared_->options.tls, std::move(plain));
}

absl::StatusOr<io::Address> HttpServer::Listen(std::string_view host,
                                               uint16_t port) {
  EMBER_ASSIGN_OR_RETURN(ServerId id,
                         reactor_.StartServer(host, port, Factory()));
  auto address = reactor_.ServerAddress(id);
  if (!address.ok()) {
    reactor_.StopServer(id).IgnoreError();
    return address.status();
  }
  listeners_.push_back(id);
  return address;
}

const HttpServerOptions& HttpServer::options() const {
  return shared_->options;
}

void HttpServer::StopListening() {
  for (ServerId id : listeners_) reactor_.StopServer(id).IgnoreError();
  listeners_.clear();
}

}  // namespace ember::protocols
