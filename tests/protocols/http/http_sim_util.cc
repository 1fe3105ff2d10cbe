#include "tests/protocols/http/http_sim_util.h"

#include <utility>

#include "gtest/gtest.h"
#include "protocols/http/http_collector.h"

namespace ember::protocols::testing {

bool RunUntil(Reactor& reactor, const std::function<bool()>& done,
              absl::Duration limit) {
  const absl::Time deadline = reactor.Now() + limit;
  // A turn runs due timers before it waits, and waits whatever they did:
  // so first a turn that does not wait, then one that waits for the next
  // event, checking `done` after each, so that time never overshoots.
  bool wait = false;
  while (!done()) {
    // A stopping reactor runs no more turns (GracefulShutdown ends so).
    if (reactor.Now() >= deadline || reactor.stopping()) return false;
    absl::Status status =
        reactor.RunOnce(wait ? deadline : absl::InfinitePast());
    if (!status.ok()) {
      ADD_FAILURE() << "reactor: " << status;
      return false;
    }
    wait = !wait;
  }
  return true;
}

void RunFor(Reactor& reactor, absl::Duration duration) {
  const absl::Time deadline = reactor.Now() + duration;
  RunUntil(
      reactor, [&] { return reactor.Now() >= deadline; },
      duration + absl::Seconds(1));
}

std::vector<HttpResponse> ReadResponses(std::string_view bytes,
                                        const std::vector<std::string>& methods,
                                        bool eof, std::string* error) {
  std::vector<HttpResponse> responses;
  std::string failure;
  HttpResponseCollector collector(
      HttpParserOptions(),
      [&](const HttpParseError& e) { failure = e.status.ToString(); },
      [&](HttpResponse&& response, const HttpMessageInfo&) {
        responses.push_back(std::move(response));
      });
  for (const std::string& method : methods) {
    EXPECT_TRUE(collector.parser().ExpectResponseTo(method).ok());
  }
  collector.Feed(bytes);
  if (eof && failure.empty()) collector.Finish();
  if (error != nullptr) *error = failure;
  return responses;
}

}  // namespace ember::protocols::testing
