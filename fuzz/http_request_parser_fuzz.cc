// Fuzz target for HttpRequestParser. The input picks default or small limits
// and a cut seed, then is the byte stream. Properties: the events are the
// same whole, byte by byte and at random cuts (pauses resumed); each event
// keeps its promises (bodies match their framing and limits, errors carry a
// status of the documented set); and every complete request, serialised
// again, parses back to an identical request.

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

using protocols::HttpFieldsView;
using protocols::HttpParseError;
using protocols::HttpParserOptions;
using protocols::HttpRequest;
using protocols::HttpRequestHead;
using protocols::HttpRequestParser;

class Recorder : public HttpRequestParser::Listener {
 public:
  explicit Recorder(const HttpParserOptions& options) : options_(options) {}

  void OnRequestHead(const HttpRequestHead& head) override {
    EMBER_CHECK(head.headers.size() <= options_.header_count_max);
    body_.Head(head.framing, head.content_length);
    events.push_back(absl::StrCat(
        "H", std::string(head.method), " ", std::string(head.target), " ",
        head.version.minor, " ", static_cast<int>(head.framing), " ",
        head.content_length, head.keep_alive, head.expect_continue,
        head.upgrade, DescribeFields(head.headers)));
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
    const int s = error.http_status;
    EMBER_CHECK_MSG(
        s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505,
        "unexpected status");
    EMBER_CHECK(!error.status.ok());
    events.push_back(absl::StrCat("X", s, error.status.ToString()));
  }

  std::vector<std::string> events;

 private:
  const HttpParserOptions options_;
  BodyCheck body_;
};

std::vector<std::string> Run(const HttpParserOptions& options,
                             const std::vector<std::string_view>& pieces) {
  Recorder recorder(options);
  HttpRequestParser parser(&recorder, options);
  for (std::string_view piece : pieces) FeedResuming(parser, piece);
  parser.Finish();
  return std::move(recorder.events);
}

struct Collected {
  HttpRequest request;
  bool upgrade;
};

std::vector<Collected> Collect(const HttpParserOptions& options,
                               std::string_view data, bool* failed) {
  std::vector<Collected> out;
  *failed = false;
  protocols::HttpRequestCollector collector(
      options, [failed](const HttpParseError&) { *failed = true; },
      [&out](HttpRequest&& request, const protocols::HttpMessageInfo& info) {
        out.push_back(Collected{std::move(request), info.upgrade});
      });
  FeedResuming(collector.parser(), data);
  collector.Finish();
  return out;
}

}  // namespace
}  // namespace ember::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace ember::fuzz;  // NOLINT: a fuzz entry point.
  if (size < 2) return 0;
  const HttpParserOptions options = FuzzParserOptions(bytes[0] & 1);
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 2,
                              size - 2);
  const auto cuts = Cuts(data, bytes[1]);
  const std::vector<std::string> expected = Run(options, cuts[0]);
  for (size_t i = 1; i < cuts.size(); ++i) {
    EMBER_CHECK_MSG(Run(options, cuts[i]) == expected,
                    "events depend on how the input is cut");
  }

  // Round trip, with the limits of RoundTripParserOptions.
  bool failed = false;
  const HttpParserOptions roomy = RoundTripParserOptions(options);
  for (const Collected& c : Collect(options, data, &failed)) {
    if (c.upgrade) continue;  // A CONNECT's fields may promise no body.
    std::string wire;
    const absl::Status status = AppendRequest(c.request, &wire);
    EMBER_CHECK_MSG(status.ok(), "a parsed request does not serialise");
    bool again_failed = false;
    const auto again = Collect(roomy, wire, &again_failed);
    EMBER_CHECK_MSG(
        !again_failed && again.size() == 1 && again[0].request == c.request,
        "a serialised request does not parse back to itself");
  }
  return 0;
}
