// Goal: the hello example, run as its own process on loopback, serves a
// client Ember did not write: curl reuses one connection for two requests,
// uploads a chunked body (with Expect: 100-continue) and gets it back
// intact, gets HEAD right, downloads an 8 MiB body intact, and gets 404 for
// an unknown path. Fails (never skips) when curl is missing.

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/absl_compat.h"
#include "tests/common/subprocess.h"

namespace ember::examples {
namespace {

using testing_support::ChildProcess;
using testing_support::FindProgram;
using testing_support::ProgramResult;
using testing_support::RunProgram;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Bytes of a fixed pseudo-random pattern, every value present.
std::string Pattern(size_t bytes) {
  std::string s(bytes, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < bytes; ++i) {
    x = x * 1103515245 + 12345;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

class HelloCurlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto curl = FindProgram("curl");
    ASSERT_TRUE(curl.ok()) << curl.status();
    curl_ = *curl;
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    ASSERT_NE(srcdir, nullptr);
    ASSERT_NE(workspace, nullptr);
    const std::string binary =
        absl::StrCat(srcdir, "/", workspace, "/examples/http/hello");
    auto child = ChildProcess::Start({binary, "--host=127.0.0.1", "--port=0"});
    ASSERT_TRUE(child.ok()) << child.status();
    server_ = std::move(*child);
    // The server prints its address once it listens: that is readiness.
    auto line = server_->ReadLine(absl::Seconds(20));
    ASSERT_TRUE(line.ok()) << line.status();
    const size_t colon = line->find("127.0.0.1:");
    ASSERT_NE(colon, std::string::npos) << *line;
    const std::string rest = line->substr(colon + 10);
    int port = 0;
    ASSERT_TRUE(
        absl::SimpleAtoi(AbslView(rest.substr(0, rest.find(' '))), &port))
        << *line;
    base_ = absl::StrCat("http://127.0.0.1:", port);
  }

  ProgramResult Curl(std::vector<std::string> args) {
    args.insert(args.begin(), curl_);
    auto result = RunProgram(args, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return ProgramResult();
    EXPECT_FALSE(result->timed_out) << result->err;
    EXPECT_EQ(result->exit_code, 0) << result->err;
    return *result;
  }

  std::string curl_;
  std::string base_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(HelloCurlTest, TwoRequestsReuseOneConnection) {
  ProgramResult r = Curl({"-sv", base_ + "/", base_ + "/"});
  EXPECT_EQ(r.out, "Hello, World!Hello, World!");
  EXPECT_NE(r.err.find("Re-using existing connection"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Content-Type: text/plain"), std::string::npos);
}

TEST_F(HelloCurlTest, ChunkedUploadComesBackIntact) {
  const std::string data = Pattern(3 << 20);
  const std::string in = TempPath("upload.bin");
  const std::string out = TempPath("echoed.bin");
  std::ofstream(in, std::ios::binary) << data;
  ProgramResult r =
      Curl({"-sv", "-H", "Transfer-Encoding: chunked", "--data-binary",
            "@" + in, "-o", out, base_ + "/echo"});
  EXPECT_NE(r.err.find("Transfer-Encoding: chunked"), std::string::npos);
  if (r.err.find("Expect: 100-continue") != std::string::npos) {
    EXPECT_NE(r.err.find("HTTP/1.1 100 Continue"), std::string::npos) << r.err;
  }
  EXPECT_NE(r.err.find("< HTTP/1.1 200 OK"), std::string::npos) << r.err;
  const std::string echoed = ReadFile(out);
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data) << "the echoed body differs";
}

TEST_F(HelloCurlTest, HeadHasTheHeadersAndNoBody) {
  ProgramResult r = Curl({"-sI", base_ + "/"});
  EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Content-Length: 13\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.size() - 4), "\r\n\r\n") << r.out;
  EXPECT_EQ(r.out.find("Hello"), std::string::npos);
}

TEST_F(HelloCurlTest, LargeBodyArrivesIntact) {
  constexpr size_t kBytes = 8 << 20;
  const std::string out = TempPath("large.bin");
  ProgramResult r =
      Curl({"-sS", "-o", out, "-w", "%{http_code} %{size_download}",
            absl::StrCat(base_, "/bytes/", kBytes)});
  EXPECT_EQ(r.out, absl::StrCat("200 ", kBytes));
  const std::string body = ReadFile(out);
  ASSERT_EQ(body.size(), kBytes);
  for (size_t i = 0; i < kBytes; ++i) {
    if (body[i] != static_cast<char>('a' + i % 26)) {
      ADD_FAILURE() << "byte " << i << " differs";
      break;
    }
  }
}

TEST_F(HelloCurlTest, UnknownPathIs404AndWrongMethod405) {
  ProgramResult r =
      Curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", base_ + "/nowhere"});
  EXPECT_EQ(r.out, "404");
  r = Curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
            base_ + "/"});
  EXPECT_EQ(r.out, "405");
}

}  // namespace
}  // namespace ember::examples
