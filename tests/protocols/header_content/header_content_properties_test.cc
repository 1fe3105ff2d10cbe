// RapidCheck properties of HeaderContentParser: messages written as header
// lines, a Content-Length and a body parse back to the same messages however
// the stream is cut, and arbitrary header-like bytes give the same events
// whole and cut.

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "protocols/header_content/header_content_parser.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"

namespace ember::protocols {
namespace {

std::vector<std::string_view> CutBy(std::string_view data,
                                    const std::vector<int>& sizes) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; !data.empty(); ++i) {
    const size_t n = std::min<size_t>(sizes[i % sizes.size()], data.size());
    pieces.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return pieces;
}

struct Message {
  std::vector<std::string> lines;
  std::string content;
  bool operator==(const Message&) const = default;
};

struct Recorder : HeaderContentParser::Listener {
  std::vector<Message> messages;
  std::vector<std::string> events;
  void OnFirstHeaderLine(std::string_view line) override {
    events.push_back("F" + std::string(line));
  }
  void OnMessage(std::span<const std::string_view> lines,
                 std::string_view content) override {
    messages.push_back({{lines.begin(), lines.end()}, std::string(content)});
    std::string e = "M";
    for (auto l : lines) e += std::string(l) + "|";
    events.push_back(e + "=" + std::string(content));
  }
  void OnError(const absl::Status& status) override {
    events.push_back("X" + status.ToString());
  }
};

Recorder Run(const std::vector<std::string_view>& pieces) {
  Recorder recorder;
  HeaderContentParser parser(&recorder);
  for (std::string_view piece : pieces) parser.Feed(piece);
  parser.Finish();
  return recorder;
}

rc::Gen<std::string> StringOf(std::string alphabet, int min, int max) {
  return rc::gen::mapcat(rc::gen::inRange(min, max + 1), [alphabet](int n) {
    return rc::gen::container<std::string>(n, rc::gen::elementOf(alphabet));
  });
}

RC_GTEST_PROP(HeaderContentProperties, MessagesRoundTrip, ()) {
  // Header lines that are neither blank nor a Content-Length of their own,
  // few enough for the default limit of 100 (two more are added below).
  const auto gen_lines = rc::gen::mapcat(rc::gen::inRange(0, 60), [](int n) {
    return rc::gen::container<std::vector<std::string>>(
        n, StringOf("abcXY:- \t", 1, 20));
  });
  const auto gen_message = rc::gen::build<Message>(
      rc::gen::set(&Message::lines, gen_lines),
      rc::gen::set(&Message::content, rc::gen::container<std::string>(
                                          rc::gen::arbitrary<char>())));
  auto messages = *rc::gen::container<std::vector<Message>>(gen_message);
  std::string wire;
  for (Message& m : messages) {
    m.lines.insert(m.lines.begin(), "first line");
    m.lines.push_back("Content-Length: " + std::to_string(m.content.size()));
    for (const std::string& line : m.lines) wire += line + "\r\n";
    wire += "\r\n" + m.content;
  }
  const auto sizes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 40)));
  const Recorder r = Run(CutBy(wire, sizes));
  RC_ASSERT(r.messages == messages);
}

RC_GTEST_PROP(HeaderContentProperties, SameEventsHoweverCut, ()) {
  const std::string input =
      *StringOf("ab\r\n\n\n: Content-Length0123456789 x", 0, 400);
  const auto sizes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 20)));
  const auto whole = Run({input}).events;
  RC_ASSERT(Run(CutBy(input, sizes)).events == whole);
  RC_ASSERT(Run(CutBy(input, {1})).events == whole);
}

}  // namespace
}  // namespace ember::protocols
