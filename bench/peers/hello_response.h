// What every HTTP peer server answers, byte for byte the same response as
// Ember's //examples/http:hello gives to `GET /`:
//
//   HTTP/1.1 200 OK\r\n
//   Content-Type: text/plain\r\n
//   Content-Length: 13\r\n
//   Date: Mon, 30 Nov 2026 19:15:15 GMT\r\n
//   \r\n
//   Hello, World!
//
// The peers answer every request with it, whatever the method or target
// (the load tools only send `GET /`), and keep the connection open. A
// request ends at its blank line ("\r\n\r\n"); requests have no body.
// Pipelined requests are answered in order, all the responses to one read
// going out in one write. The Date value is formatted at most once a
// second, as servers usually cache it.

#ifndef EMBER_BENCH_PEERS_HELLO_RESPONSE_H_
#define EMBER_BENCH_PEERS_HELLO_RESPONSE_H_

#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

namespace ember::bench {

// The most a request head may take; a connection that sends more without a
// blank line is closed.
inline constexpr size_t kRequestHeadBytesMax = 64 * 1024;

inline constexpr std::string_view kHelloBody = "Hello, World!";

class HelloResponse {
 public:
  // The response, its Date header current to the second.
  const std::string& Get() {
    const std::time_t now = std::time(nullptr);
    if (now != formatted_at_) {
      formatted_at_ = now;
      std::tm utc;
      gmtime_r(&now, &utc);
      char date[64];
      std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
      response_ = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
      response_ += "Content-Length: " + std::to_string(kHelloBody.size());
      response_ += "\r\nDate: ";
      response_ += date;
      response_ += "\r\n\r\n";
      response_ += kHelloBody;
    }
    return response_;
  }

 private:
  std::time_t formatted_at_ = -1;
  std::string response_;
};

// Removes the complete request heads at the front of `in` and returns how
// many there were. What remains is the start of a request not yet whole.
inline size_t TakeRequests(std::string& in) {
  size_t count = 0;
  size_t start = 0;
  for (;;) {
    const size_t end = in.find("\r\n\r\n", start);
    if (end == std::string::npos) break;
    start = end + 4;
    ++count;
  }
  in.erase(0, start);
  return count;
}

// Appends `count` responses to `out`.
inline void AppendResponses(HelloResponse& hello, size_t count,
                            std::string& out) {
  const std::string& response = hello.Get();
  out.reserve(out.size() + count * response.size());
  for (size_t i = 0; i < count; ++i) out += response;
}

}  // namespace ember::bench

#endif  // EMBER_BENCH_PEERS_HELLO_RESPONSE_H_
