// Fuzz target for HeaderContentParser. The input picks small or default
// limits and a cut seed, then is the byte stream. Properties: the events
// are the same whole, byte by byte and at random cuts; every message
// respects the limits and its body has its Content-Length; and each message,
// written out again, parses back to itself.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "io/check.h"
#include "protocols/header_content/header_content_parser.h"

namespace ember::fuzz {
namespace {

using protocols::HeaderContentParser;

struct Message {
  std::vector<std::string> lines;
  std::string content;
  bool operator==(const Message&) const = default;
};

class Recorder : public HeaderContentParser::Listener {
 public:
  explicit Recorder(const HeaderContentParser::Options& options)
      : options_(options) {}

  void OnFirstHeaderLine(std::string_view line) override {
    events.push_back(absl::StrCat("F", std::string(line)));
  }
  void OnHeaders(std::span<const std::string_view> lines) override {
    EMBER_CHECK(lines.size() <= options_.header_count_max);
    events.push_back(absl::StrCat("H", lines.size()));
  }
  void OnMessage(std::span<const std::string_view> lines,
                 std::string_view content) override {
    Message m{{lines.begin(), lines.end()}, std::string(content)};
    size_t bytes = 0;
    for (const std::string& line : m.lines) bytes += line.size();
    EMBER_CHECK(bytes <= options_.header_bytes_max);
    EMBER_CHECK(content.size() <= options_.content_bytes_max);
    std::string e = "M";
    for (const std::string& line : m.lines) absl::StrAppend(&e, line, "|");
    absl::StrAppend(&e, "=", m.content);
    events.push_back(std::move(e));
    messages.push_back(std::move(m));
  }
  void OnError(const absl::Status& status) override {
    events.push_back(absl::StrCat("X", status.ToString()));
  }

  std::vector<std::string> events;
  std::vector<Message> messages;

 private:
  const HeaderContentParser::Options options_;
};

Recorder Run(const HeaderContentParser::Options& options,
             const std::vector<std::string_view>& pieces) {
  Recorder recorder(options);
  HeaderContentParser parser(&recorder, options);
  for (std::string_view piece : pieces) parser.Feed(piece);
  parser.Finish();
  return recorder;
}

}  // namespace
}  // namespace ember::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using ember::fuzz::Message;
  using ember::fuzz::Run;
  if (size < 2) return 0;
  ember::protocols::HeaderContentParser::Options options;
  if (bytes[0] & 1) {
    options.line_bytes_max = 20;
    options.header_count_max = 4;
    options.header_bytes_max = 50;
    options.content_bytes_max = 30;
  }
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 2,
                              size - 2);
  const auto cuts = ember::fuzz::Cuts(data, bytes[1]);
  const auto expected = Run(options, cuts[0]);
  for (size_t i = 1; i < cuts.size(); ++i) {
    EMBER_CHECK_MSG(Run(options, cuts[i]).events == expected.events,
                    "events depend on how the input is cut");
  }
  for (const Message& message : expected.messages) {
    std::string wire;
    for (const std::string& line : message.lines) {
      absl::StrAppend(&wire, line, "\r\n");
    }
    absl::StrAppend(&wire, "\r\n", message.content);
    const auto again = Run(options, {wire});
    EMBER_CHECK_MSG(again.messages.size() == 1 && again.messages[0] == message,
                    "a message written out does not parse back to itself");
  }
  return 0;
}
