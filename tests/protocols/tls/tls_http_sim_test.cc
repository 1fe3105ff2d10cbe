// Goal: HttpServer and HttpClient speak HTTPS unchanged over the simulated
// network, given TlsContexts: pipelined keep-alive requests come back
// intact, ALPN picks http/1.1, and a certificate for another name fails
// every waiting request with the TLS status (kUnauthenticated, name
// mismatch) instead of retrying or sending a byte of the requests.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "protocols/http/http_client.h"
#include "protocols/http/http_server.h"
#include "protocols/tls/tls_failure.h"
#include "reactor/reactor.h"
#include "sim/sim_network.h"
#include "tests/protocols/http/http_sim_util.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::tls {
namespace {

using protocols::HttpClient;
using protocols::HttpClientOptions;
using protocols::HttpRequest;
using protocols::HttpResponder;
using protocols::HttpResponse;
using protocols::HttpServer;
using protocols::HttpServerOptions;

class TlsHttpSimTest : public ::testing::Test {
 protected:
  TlsHttpSimTest()
      : ca_("Ember Test CA", net_.WallNow() - absl::Hours(1),
            net_.WallNow() + absl::Hours(1000)) {}

  std::unique_ptr<HttpServer> Serve(std::vector<std::string> names) {
    TlsOptions tls;
    tls.certificates.push_back(
        ca_.Issue(testing::ServerSpec(net_.WallNow(), names, {})));
    tls.alpn_protocols = {"http/1.1"};
    HttpServerOptions options;
    options.tls = *TlsContext::Create(TlsRole::kServer, std::move(tls));
    auto server = std::make_unique<HttpServer>(
        reactor_, options, [](HttpRequest request, HttpResponder responder) {
          HttpResponse response;
          response.body = absl::StrCat("you sent ", request.body.size(),
                                       " bytes to ", request.target);
          responder.Send(std::move(response)).IgnoreError();
        });
    EXPECT_TRUE(server->Listen("127.0.0.1", 443).ok());
    return server;
  }

  HttpClientOptions ClientOptions(std::string name) {
    TlsOptions tls;
    tls.ca_pem = ca_.cert_pem();
    tls.alpn_protocols = {"http/1.1"};
    HttpClientOptions options;
    options.tls = *TlsContext::Create(TlsRole::kClient, std::move(tls));
    options.tls_server_name = std::move(name);
    options.pipeline_depth = 4;
    return options;
  }

  sim::SimNetwork net_;
  Reactor reactor_{net_};
  testing::TestCa ca_;
};

TEST_F(TlsHttpSimTest, PipelinedRequestsOverHttps) {
  auto server = Serve({"api.test"});
  HttpClient client(reactor_, "127.0.0.1", 443, ClientOptions("api.test"));
  std::vector<absl::StatusOr<HttpResponse>> responses;
  for (int i = 0; i < 8; ++i) {
    HttpRequest request;
    request.method = "POST";
    request.target = absl::StrCat("/item/", i);
    request.body = std::string(static_cast<size_t>(i * 5000), 'p');
    ASSERT_TRUE(client
                    .Request(std::move(request),
                             [&](absl::StatusOr<HttpResponse> r) {
                               responses.push_back(std::move(r));
                             })
                    .ok());
  }
  ASSERT_TRUE(protocols::testing::RunUntil(
      reactor_, [&] { return responses.size() == 8; }));
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(responses[i].ok()) << responses[i].status();
    EXPECT_EQ(responses[i]->body,
              absl::StrCat("you sent ", i * 5000, " bytes to /item/", i));
  }
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(TlsHttpSimTest, WrongNameFailsEveryRequestWithTheTlsStatus) {
  auto server = Serve({"other.test"});
  HttpClient client(reactor_, "127.0.0.1", 443, ClientOptions("api.test"));
  std::vector<absl::Status> outcomes;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(client
                    .Get("/",
                         [&](absl::StatusOr<HttpResponse> r) {
                           outcomes.push_back(r.status());
                         })
                    .ok());
  }
  ASSERT_TRUE(protocols::testing::RunUntil(
      reactor_, [&] { return outcomes.size() == 6; }));
  for (const absl::Status& s : outcomes) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
    EXPECT_EQ(TlsFailureOf(s), TlsFailure::kNameMismatch) << s;
  }
  EXPECT_EQ(client.stats().connections_opened, 1u);  // No retry loop.
  EXPECT_EQ(server->stats().requests, 0u);
}

}  // namespace
}  // namespace ember::tls
