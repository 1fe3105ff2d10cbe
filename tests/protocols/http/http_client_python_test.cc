// Goal: HttpClient, on the real epoll backend, talks to a server Ember did
// not write (Python's http.server, over loopback): it gets files whole (also
// a 4 MiB one), reuses one kept-alive connection for them, reads a 404, a
// HEAD answer, a chunked response and a close-delimited one, and reconnects
// after the close; and the same over HTTPS (Python's ssl module), verifying
// the server against a test CA. Fails (never skips) when python3 is
// missing.

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "io/epoll/epoll_network.h"
#include "protocols/http/http_client.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_failure.h"
#include "reactor/reactor.h"
#include "tests/common/subprocess.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::protocols {
namespace {

using testing_support::ChildProcess;
using testing_support::FindProgram;

class HttpClientPythonTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*tls=*/false); }

  void Start(bool tls) {
    auto python = FindProgram("python3");
    ASSERT_TRUE(python.ok()) << python.status();
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/files");
    ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", root_).c_str()), 0);
    std::ofstream(root_ + "/hello.txt") << "hello from a file\n";
    big_.resize(4 << 20);
    for (size_t i = 0; i < big_.size(); ++i) {
      big_[i] = static_cast<char>(i * 7 % 251);
    }
    std::ofstream(root_ + "/big.bin", std::ios::binary) << big_;

    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    ASSERT_NE(srcdir, nullptr);
    ASSERT_NE(workspace, nullptr);
    const std::string script =
        absl::StrCat(srcdir, "/", workspace,
                     "/tests/protocols/http/testdata/file_server.py");
    std::vector<std::string> argv = {*python, "-u", script, root_};
    HttpClientOptions options;
    if (tls) {
      // A private CA and a server certificate for 127.0.0.1: Python serves
      // with it, the client verifies against the CA (verification is on by
      // default).
      ca_ = std::make_unique<tls::testing::TestCa>(
          "Python Test CA", absl::Now() - absl::Hours(24),
          absl::Now() + absl::Hours(24 * 30));
      const tls::TlsCertificate cert =
          ca_->Issue(tls::testing::ServerSpec(absl::Now()));
      const std::string cert_path = root_ + "/../server.pem";
      const std::string key_path = root_ + "/../server.key";
      std::ofstream(cert_path) << cert.chain_pem;
      std::ofstream(key_path) << cert.key_pem;
      argv.insert(argv.end(), {"--tls", cert_path, key_path});
      tls::TlsOptions client_tls;
      client_tls.ca_pem = ca_->cert_pem();
      auto context =
          tls::TlsContext::Create(tls::TlsRole::kClient, std::move(client_tls));
      ASSERT_TRUE(context.ok()) << context.status();
      options.tls = *context;
    }
    auto child = ChildProcess::Start(argv);
    ASSERT_TRUE(child.ok()) << child.status();
    server_ = std::move(*child);
    // "port N" is printed once the server listens: that is readiness.
    auto line = server_->ReadLine(absl::Seconds(20));
    ASSERT_TRUE(line.ok()) << line.status();
    int port = 0;
    ASSERT_TRUE(line->rfind("port ", 0) == 0 &&
                absl::SimpleAtoi(AbslView(line->substr(5)), &port))
        << *line;
    port_ = static_cast<uint16_t>(port);

    auto network = io::EpollNetwork::Create();
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = std::move(*network);
    reactor_ = std::make_unique<Reactor>(*network_);
    client_ = std::make_unique<HttpClient>(*reactor_, "127.0.0.1", port_,
                                           std::move(options));
  }

  void TearDown() override {
    client_.reset();
    reactor_.reset();
    network_.reset();
    server_.reset();
  }

  // Sends the requests one after another and returns their results.
  std::vector<absl::StatusOr<HttpResponse>> Fetch(
      const std::vector<std::pair<std::string, std::string>>& requests) {
    std::vector<absl::StatusOr<HttpResponse>> results(
        requests.size(), absl::UnknownError("no callback"));
    size_t done = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      HttpRequest request;
      request.method = requests[i].first;
      request.target = requests[i].second;
      absl::Status status = client_->Request(
          std::move(request), [&, i](absl::StatusOr<HttpResponse> r) {
            results[i] = std::move(r);
            if (++done == requests.size()) reactor_->Stop();
          });
      EXPECT_TRUE(status.ok()) << status;
    }
    bool watchdog = false;
    auto timer = reactor_->AddTimer(absl::Seconds(30), [&] {
      watchdog = true;
      reactor_->Stop();
    });
    EXPECT_TRUE(timer.ok());
    EXPECT_TRUE(reactor_->Run().ok());
    EXPECT_FALSE(watchdog) << "requests unanswered after 30 s";
    reactor_->CancelTimer(*timer);
    return results;
  }

  std::unique_ptr<tls::testing::TestCa> ca_;
  std::string root_;
  std::string big_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
  std::unique_ptr<io::Network> network_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpClientPythonTest, GetsFilesOverOneKeptAliveConnection) {
  auto results = Fetch({{"GET", "/hello.txt"},
                        {"GET", "/big.bin"},
                        {"GET", "/hello.txt"},
                        {"GET", "/connections"}});
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(results[0]->status_code, 200);
  EXPECT_EQ(results[0]->body, "hello from a file\n");
  EXPECT_EQ(results[1]->body.size(), big_.size());
  EXPECT_TRUE(results[1]->body == big_);
  EXPECT_EQ(results[2]->body, "hello from a file\n");
  EXPECT_EQ(results[3]->body, "1");
  EXPECT_EQ(client_->stats().connections_opened, 1u);
}

TEST_F(HttpClientPythonTest, ReadsNotFoundAndHead) {
  auto results = Fetch(
      {{"GET", "/missing.txt"}, {"HEAD", "/hello.txt"}, {"GET", "/hello.txt"}});
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(results[0]->status_code, 404);
  EXPECT_EQ(results[1]->status_code, 200);
  EXPECT_EQ(results[1]->headers.Get("Content-Length"), "18");
  EXPECT_EQ(results[1]->body, "");
  EXPECT_EQ(results[2]->body, "hello from a file\n");
}

TEST_F(HttpClientPythonTest, ReadsChunkedAndCloseDelimitedResponses) {
  auto results = Fetch({{"GET", "/chunked"},
                        {"GET", "/close"},
                        {"GET", "/hello.txt"},
                        {"GET", "/connections"}});
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(results[0]->headers.Get("Transfer-Encoding"), "chunked");
  EXPECT_EQ(results[0]->body, "chunked from python");
  EXPECT_EQ(results[1]->body, "until the close");
  EXPECT_EQ(results[2]->body, "hello from a file\n");
  // The close-delimited response ended the first connection.
  EXPECT_EQ(results[3]->body, "2");
  EXPECT_EQ(client_->stats().connections_opened, 2u);
}

class HttpsClientPythonTest : public HttpClientPythonTest {
 protected:
  void SetUp() override { Start(/*tls=*/true); }
};

TEST_F(HttpsClientPythonTest, GetsFilesOverOneVerifiedTlsConnection) {
  // Goal: HTTPS against a server Ember did not write: files whole (4 MiB
  // too) and a chunked response over one kept-alive TLS connection, the
  // server verified against the CA. Python closes without close_notify, so
  // a close-delimited response cannot be told from a truncated one: it
  // fails with kNoCloseNotify (RFC 9112 section 9.8: such a response is
  // complete only with a valid closure alert), and the next request
  // reconnects.
  auto results = Fetch({{"GET", "/hello.txt"},
                        {"GET", "/big.bin"},
                        {"GET", "/chunked"},
                        {"GET", "/close"},
                        {"GET", "/connections"}});
  for (size_t i : {0, 1, 2, 4}) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
  }
  EXPECT_EQ(results[0]->body, "hello from a file\n");
  EXPECT_TRUE(results[1]->body == big_);
  EXPECT_EQ(results[2]->body, "chunked from python");
  ASSERT_FALSE(results[3].ok());
  EXPECT_EQ(tls::TlsFailureOf(results[3].status()), tls::TlsFailure::kNoCloseNotify)
      << results[3].status();
  EXPECT_EQ(results[4]->body, "2");
  EXPECT_EQ(client_->stats().connections_opened, 2u);
}

}  // namespace
}  // namespace ember::protocols
