#include "tests/protocols/http/http_sim_scenario.h"

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/http/http_client.h"
#include "protocols/http/http_server.h"
#include "reactor/reactor.h"
#include "sim/fault_plan.h"
#include "sim/harness/scenario.h"
#include "sim/sim_network.h"

namespace ember::protocols {
namespace {

constexpr uint16_t kPort = 8080;
constexpr int kClients = 3;
constexpr int kRequestsPerClient = 24;

// What request `id` is: its method and body, derived from the id alone.
std::string MethodOf(int id) {
  switch (id % 5) {
    case 0:
      return "POST";
    case 1:
      return "HEAD";
    default:
      return "GET";
  }
}

std::string BodyOf(int id) {
  if (MethodOf(id) != "POST") return "";
  return std::string(static_cast<size_t>(id * 37 % 3000),
                     static_cast<char>('a' + id % 26));
}

std::string ExpectedBody(int id) {
  if (MethodOf(id) == "HEAD") return "";
  return absl::StrCat("id:", id, ";", BodyOf(id));
}

// Answers in one of three ways chosen by the id: at once, after a delay,
// or streamed in three chunks.
void Serve(Reactor& reactor, std::vector<int>& handled, HttpRequest request,
           HttpResponder responder) {
  int id = -1;
  auto field = request.headers.Get("X-Id");
  if (!field || !absl::SimpleAtoi(AbslView(*field), &id) || id < 0 ||
      id >= static_cast<int>(handled.size())) {
    HttpResponse bad;
    bad.status_code = 400;
    responder.Send(std::move(bad)).IgnoreError();
    return;
  }
  handled[id]++;
  const std::string body = absl::StrCat("id:", id, ";", request.body);
  HttpResponse response;
  response.headers.Set("X-Id", absl::StrCat(id));
  switch (id % 3) {
    case 0:
      response.body = body;
      responder.Send(std::move(response)).IgnoreError();
      return;
    case 1: {
      response.body = body;
      auto timer = reactor.AddTimer(
          absl::Milliseconds(id * 7 % 50),
          [r = std::move(responder), response = std::move(response)]() mutable {
            r.Send(std::move(response)).IgnoreError();
          });
      EMBER_CHECK(timer.ok());
      return;
    }
    default: {
      if (!responder.StartChunked(std::move(response)).ok()) return;
      auto shared = std::make_shared<HttpResponder>(std::move(responder));
      const size_t third = body.size() / 3;
      const std::vector<std::string> parts = {body.substr(0, third),
                                              body.substr(third, third),
                                              body.substr(2 * third)};
      for (size_t i = 0; i < parts.size(); ++i) {
        auto timer = reactor.AddTimer(
            absl::Milliseconds(1 + static_cast<int64_t>(i)),
            [shared, part = parts[i], last = i + 1 == parts.size()] {
              if (!shared->WriteChunk(part).ok()) return;
              if (last) shared->Finish().IgnoreError();
            });
        EMBER_CHECK(timer.ok());
      }
      return;
    }
  }
}

struct Outcome {
  int calls = 0;
  absl::Status status;
  HttpResponse response;
};

// One run: three clients of pipeline depths 1, 2 and 4 send their requests
// 5 ms apart; returns what went wrong, if anything.
}  // namespace

absl::Status RunHttpExchange(Reactor& reactor, sim::SimNetwork& net,
                             HttpExchangeStats* stats) {
  const int total = kClients * kRequestsPerClient;
  std::vector<int> handled(total, 0);
  std::vector<Outcome> outcomes(total);
  // Server timeouts beyond any stall the plans cause, so that a failed
  // request means a broken stream, not a slow client cut off.
  HttpServerOptions server_options;
  server_options.header_timeout = absl::Hours(1);
  server_options.body_timeout = absl::Hours(1);
  server_options.keep_alive_idle_timeout = absl::Hours(1);
  // Odd seeds serve through a ViewHandler, so that both ways requests
  // reach a handler (lent as views, bodiless ones uncopied; or owned) meet
  // every plan.
  std::unique_ptr<HttpServer> server;
  if (net.options().seed % 2 == 1) {
    server = std::make_unique<HttpServer>(
        reactor, server_options,
        [&](const HttpRequestView& request, HttpResponder responder) {
          Serve(reactor, handled, request.ToOwned(), std::move(responder));
        });
  } else {
    server = std::make_unique<HttpServer>(
        reactor, server_options,
        [&](HttpRequest request, HttpResponder responder) {
          Serve(reactor, handled, std::move(request), std::move(responder));
        });
  }
  EMBER_RETURN_IF_ERROR(server->Listen("127.0.0.1", kPort).status());

  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int c = 0; c < kClients; ++c) {
    HttpClientOptions options;
    options.pipeline_depth = size_t{1} << c;
    // Partitions and clogs heal within minutes: only a broken stream may
    // fail a request.
    options.response_timeout = absl::Minutes(20);
    options.connect_timeout = absl::Minutes(5);
    clients.push_back(
        std::make_unique<HttpClient>(reactor, "127.0.0.1", kPort, options));
  }
  absl::Status issue_error;
  for (int id = 0; id < total; ++id) {
    HttpClient* client = clients[id % kClients].get();
    auto timer = reactor.AddTimer(absl::Milliseconds(5 * id), [&, id, client] {
      HttpRequest request;
      request.method = MethodOf(id);
      request.target = absl::StrCat("/item/", id);
      request.headers.Set("X-Id", absl::StrCat(id));
      request.body = BodyOf(id);
      absl::Status status = client->Request(
          std::move(request), [&outcomes, id](absl::StatusOr<HttpResponse> r) {
            Outcome& outcome = outcomes[id];
            outcome.calls++;
            if (r.ok()) {
              outcome.status = absl::OkStatus();
              outcome.response = std::move(*r);
            } else {
              outcome.status = r.status();
            }
          });
      if (!status.ok()) issue_error = status;
    });
    EMBER_RETURN_IF_ERROR(timer.status());
  }

  auto all_called = [&] {
    for (const Outcome& outcome : outcomes) {
      if (outcome.calls == 0) return false;
    }
    return true;
  };
  // Past the deadline, the checks below say what did not end.
  absl::Status waited = sim::RunUntil(reactor, all_called, absl::Hours(2));
  if (!waited.ok() && waited.code() != absl::StatusCode::kDeadlineExceeded) {
    return waited;
  }
  EMBER_RETURN_IF_ERROR(issue_error);

  // Without resets, crashes or partitions (whose connects can time out),
  // every request must succeed.
  const bool lossless =
      !net.plan().BreaksStreams() && net.plan().partition_probability == 0;
  int failures = 0;
  for (int id = 0; id < total; ++id) {
    const Outcome& outcome = outcomes[id];
    const std::string who = absl::StrCat("request ", id, " (", MethodOf(id),
                                         ", client ", id % kClients, ")");
    if (outcome.calls != 1) {
      return absl::InternalError(
          absl::StrCat(who, ": ", outcome.calls, " callbacks, not 1"));
    }
    if (handled[id] > 1) {
      return absl::InternalError(
          absl::StrCat(who, ": handled ", handled[id], " times"));
    }
    if (!outcome.status.ok()) {
      ++failures;
      const absl::StatusCode code = outcome.status.code();
      if (code != absl::StatusCode::kUnavailable &&
          code != absl::StatusCode::kDeadlineExceeded) {
        return absl::InternalError(absl::StrCat(who, ": unexpected failure ",
                                                outcome.status.ToString()));
      }
      if (lossless) {
        return absl::InternalError(
            absl::StrCat(who, " failed although the plan breaks no stream: ",
                         outcome.status.ToString()));
      }
      continue;
    }
    const HttpResponse& response = outcome.response;
    if (handled[id] != 1) {
      return absl::InternalError(
          absl::StrCat(who, ": answered but never handled"));
    }
    if (response.status_code != 200 ||
        response.headers.Get("X-Id") != absl::StrCat(id) ||
        response.body != ExpectedBody(id)) {
      return absl::InternalError(absl::StrCat(
          who, ": got status ", response.status_code, " X-Id ",
          AbslView(response.headers.Get("X-Id").value_or("none")), " body of ",
          response.body.size(), " bytes, expected ", ExpectedBody(id).size()));
    }
  }
  if (!all_called()) {
    return absl::InternalError("not every request got a callback in 2 h");
  }
  if (stats != nullptr) {
    stats->failures += failures;
    stats->requests += total;
  }
  clients.clear();
  server.reset();
  // Their connections end from the loop; let them, before returning.
  return sim::RunUntil(
      reactor, [&] { return reactor.ConnectionCount() == 0; },
      absl::Minutes(10));
}

}  // namespace ember::protocols
