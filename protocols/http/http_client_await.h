// Awaiting HttpClient requests from a coroutine.
//
//   ember::protocols::HttpClient client(reactor, "127.0.0.1", 8080);
//   ... in an ember::Task:
//   absl::StatusOr<HttpResponse> response =
//       co_await ember::protocols::AwaitGet(client, "/index.html");
//
// The await completes with exactly what the request's callback would get
// (see http_client.h: the response, or kDeadlineExceeded, kUnavailable,
// kNotFound, kInvalidArgument, kResourceExhausted, kCancelled), or with the
// error `HttpClient::Request` returned (then nothing was sent). When the
// task is cancelled or destroyed while it waits, the request stays with the
// client (HttpClient has no way to withdraw one already queued or written)
// and its response is dropped when it comes; the task never sees it.
//
// Precondition: the client outlives the await.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_AWAIT_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_AWAIT_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocols/http/http_client.h"
#include "protocols/http/http_message.h"
#include "reactor/coro/task.h"

namespace ember::protocols {

class [[nodiscard]] HttpRequestAwaiter final : public coro_internal::Waiter {
 public:
  HttpRequestAwaiter(HttpClient& client, HttpRequest request)
      : client_(client), request_(std::move(request)) {}
  HttpRequestAwaiter(HttpRequestAwaiter&& other)
      : Waiter(std::move(other)),
        client_(other.client_),
        request_(std::move(other.request_)) {}
  ~HttpRequestAwaiter() { Stop(); }
  absl::StatusOr<HttpResponse> await_resume() { return std::move(result_); }

 private:
  // Shared by the awaiter and the client's callback; each clears the
  // other's pointer when it goes first.
  struct Link {
    HttpRequestAwaiter* awaiter = nullptr;
    ~Link() {
      if (awaiter != nullptr) awaiter->link_ = nullptr;
    }
  };

  bool Start() override {
    auto link = std::make_unique<Link>();
    link->awaiter = this;
    link_ = link.get();
    absl::Status status = client_.Request(
        std::move(request_),
        [link = std::move(link)](absl::StatusOr<HttpResponse> response) {
          HttpRequestAwaiter* awaiter = std::exchange(link->awaiter, nullptr);
          if (awaiter == nullptr) return;  // The task stopped waiting.
          awaiter->link_ = nullptr;
          awaiter->result_ = std::move(response);
          awaiter->Complete();
        });
    if (!status.ok()) {
      // The callback (and the link) are gone, and never ran.
      result_ = std::move(status);
      return false;
    }
    return true;
  }
  void Stop() override {
    if (link_ != nullptr) {
      link_->awaiter = nullptr;
      link_ = nullptr;
    }
  }
  void Fail(absl::Status status) override { result_ = std::move(status); }

  HttpClient& client_;
  HttpRequest request_;
  Link* link_ = nullptr;
  absl::StatusOr<HttpResponse> result_ = absl::UnknownError("no response");
};

inline HttpRequestAwaiter AwaitRequest(HttpClient& client,
                                       HttpRequest request) {
  return HttpRequestAwaiter(client, std::move(request));
}

inline HttpRequestAwaiter AwaitGet(HttpClient& client,
                                   std::string_view target) {
  HttpRequest request;
  request.method = "GET";
  request.target = std::string(target);
  return HttpRequestAwaiter(client, std::move(request));
}

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_AWAIT_H_
