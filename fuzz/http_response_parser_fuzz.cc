// Fuzz target for HttpResponseParser. The input's first two bytes say which
// request each of the first eight responses answers (GET, HEAD or CONNECT),
// the third picks the limits, the fourth the cut seed; the rest is the byte
// stream. Properties: the same events however the input is cut; bodies
// match their framing; and every complete response, serialised again (its
// head alone when it answered HEAD), parses back to an identical response.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/http_fuzz_util.h"
#include "io/check.h"
#include "protocols/http/http_collector.h"
#include "protocols/http/http_parser.h"
#include "protocols/http/http_serializer.h"

namespace ember::fuzz {
namespace {

using protocols::HttpBodyFraming;
using protocols::HttpFieldsView;
using protocols::HttpParseError;
using protocols::HttpParserOptions;
using protocols::HttpResponse;
using protocols::HttpResponseHead;
using protocols::HttpResponseParser;

class Recorder : public HttpResponseParser::Listener {
 public:
  explicit Recorder(const HttpParserOptions& options) : options_(options) {}

  void OnResponseHead(const HttpResponseHead& head) override {
    EMBER_CHECK(head.status_code >= 100 && head.status_code <= 999);
    body_.Head(head.framing, head.content_length);
    events.push_back(
        absl::StrCat("H", head.status_code, " ", std::string(head.reason), " ",
                     head.version.minor, " ", static_cast<int>(head.framing),
                     " ", head.content_length, head.keep_alive, head.upgrade,
                     DescribeFields(head.headers)));
  }
  void OnBody(std::string_view data) override {
    body_.Body(data, options_.body_bytes_max);
    AddEvent(events, absl::StrCat("B", std::string(data)), "B");
  }
  void OnMessageComplete(HttpFieldsView trailers) override {
    body_.Complete();
    events.push_back("C" + DescribeFields(trailers));
  }
  void OnError(const HttpParseError& error) override {
    events.push_back(
        absl::StrCat("X", error.http_status, error.status.ToString()));
  }

  std::vector<std::string> events;

 private:
  const HttpParserOptions options_;
  BodyCheck body_;
};

const char* Method(uint16_t pattern, int i) {
  switch ((pattern >> (2 * i)) & 3) {
    case 2:
      return "HEAD";
    case 3:
      return "CONNECT";
    default:
      return "GET";
  }
}

void Expect(HttpResponseParser& parser, uint16_t pattern) {
  for (int i = 0; i < 8; ++i) {
    EMBER_CHECK(parser.ExpectResponseTo(Method(pattern, i)).ok());
  }
}

std::vector<std::string> Run(const HttpParserOptions& options, uint16_t pattern,
                             const std::vector<std::string_view>& pieces) {
  Recorder recorder(options);
  HttpResponseParser parser(&recorder, options);
  Expect(parser, pattern);
  for (std::string_view piece : pieces) FeedResuming(parser, piece);
  parser.Finish();
  return std::move(recorder.events);
}

struct Collected {
  HttpResponse response;
  protocols::HttpMessageInfo info;
};

std::vector<Collected> Collect(const HttpParserOptions& options,
                               std::string_view data, bool* failed,
                               uint16_t pattern, const char* only_method) {
  std::vector<Collected> out;
  *failed = false;
  protocols::HttpResponseCollector collector(
      options, [failed](const HttpParseError&) { *failed = true; },
      [&out](HttpResponse&& response, const protocols::HttpMessageInfo& info) {
        out.push_back(Collected{std::move(response), info});
      });
  if (only_method != nullptr) {
    EMBER_CHECK(collector.parser().ExpectResponseTo(only_method).ok());
  } else {
    Expect(collector.parser(), pattern);
  }
  FeedResuming(collector.parser(), data);
  collector.Finish();
  return out;
}

}  // namespace
}  // namespace ember::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace ember::fuzz;  // NOLINT: a fuzz entry point.
  if (size < 4) return 0;
  const uint16_t pattern = bytes[0] | (bytes[1] << 8);
  const HttpParserOptions options = FuzzParserOptions(bytes[2] & 1);
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 4,
                              size - 4);
  const auto cuts = Cuts(data, bytes[3]);
  const std::vector<std::string> expected = Run(options, pattern, cuts[0]);
  for (size_t i = 1; i < cuts.size(); ++i) {
    EMBER_CHECK_MSG(Run(options, pattern, cuts[i]) == expected,
                    "events depend on how the input is cut");
  }

  bool failed = false;
  const HttpParserOptions roomy = RoundTripParserOptions(options);
  for (const Collected& c : Collect(options, data, &failed, pattern, nullptr)) {
    const int code = c.response.status_code;
    const bool bodiless_status = code < 200 || code == 204 || code == 304;
    if (c.info.upgrade && code != 101) continue;  // A CONNECT tunnel.
    std::string wire;
    const char* method = "GET";
    absl::Status status;
    if (c.info.framing == HttpBodyFraming::kNone && !bodiless_status) {
      // An answer to HEAD: only its head goes out again.
      method = "HEAD";
      status = AppendResponseHead(c.response, &wire);
    } else {
      status = AppendResponse(c.response, &wire);
    }
    EMBER_CHECK_MSG(status.ok(), "a parsed response does not serialise");
    bool again_failed = false;
    const auto again = Collect(roomy, wire, &again_failed, 0, method);
    EMBER_CHECK_MSG(
        !again_failed && again.size() == 1 && again[0].response == c.response,
        "a serialised response does not parse back to itself");
  }
  return 0;
}
