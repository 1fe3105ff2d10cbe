// Unit tests for HeaderContentParser: EventMachine's test_hc cases (no body,
// a Content-Length body, five pipelined messages, header interpretation),
// each fed whole, byte by byte and at irregular cuts with the same result;
// then the duplicate Content-Length defence, each limit with its error code,
// and the end of the stream inside a message.

#include "protocols/header_content/header_content_parser.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;

struct Message {
  std::vector<std::string> headers;
  std::string content;
  bool operator==(const Message&) const = default;
};

class Recorder : public HeaderContentParser::Listener {
 public:
  void OnFirstHeaderLine(std::string_view line) override {
    first_lines.emplace_back(line);
  }
  void OnHeaders(std::span<const std::string_view> lines) override {
    headers.emplace_back(lines.begin(), lines.end());
  }
  void OnMessage(std::span<const std::string_view> lines,
                 std::string_view content) override {
    messages.push_back(
        Message{{lines.begin(), lines.end()}, std::string(content)});
  }
  void OnError(const absl::Status& status) override {
    errors.push_back(status);
  }

  std::vector<std::string> first_lines;
  std::vector<std::vector<std::string>> headers;
  std::vector<Message> messages;
  std::vector<absl::Status> errors;
};

// Feeds `input` in pieces of `piece` bytes (0 = whole), then finishes.
Recorder Parse(std::string_view input, size_t piece,
               HeaderContentParser::Options options = {}) {
  Recorder r;
  HeaderContentParser parser(&r, options);
  if (piece == 0) {
    parser.Feed(input);
  } else {
    for (size_t i = 0; i < input.size(); i += piece) {
      parser.Feed(input.substr(i, piece));
    }
  }
  parser.Finish();
  return r;
}

// Checks that every cut gives what the whole input gives, and returns that.
Recorder ParseAllCuts(std::string_view input,
                      HeaderContentParser::Options options = {}) {
  Recorder whole = Parse(input, 0, options);
  for (size_t piece : {1, 2, 3, 7, 64}) {
    Recorder cut = Parse(input, piece, options);
    EXPECT_EQ(cut.first_lines, whole.first_lines) << "piece " << piece;
    EXPECT_EQ(cut.headers, whole.headers) << "piece " << piece;
    EXPECT_EQ(cut.messages, whole.messages) << "piece " << piece;
    EXPECT_EQ(cut.errors, whole.errors) << "piece " << piece;
  }
  return whole;
}

// test_hc test_no_content: mixed "\n" and "\r\n", no body.
TEST(HeaderContentParserTest, NoContent) {
  Recorder r = ParseAllCuts("aaa\nbbb\r\nccc\n\n");
  EXPECT_THAT(r.first_lines, ElementsAre("aaa"));
  EXPECT_THAT(r.headers, ElementsAre(ElementsAre("aaa", "bbb", "ccc")));
  EXPECT_THAT(r.messages, ElementsAre(Message{{"aaa", "bbb", "ccc"}, ""}));
  EXPECT_TRUE(r.errors.empty());
}

// test_hc test_content: a 50-byte body sized by "Content-length".
TEST(HeaderContentParserTest, Content) {
  const std::string content(50, 'A');
  Recorder r =
      ParseAllCuts("aaa\r\nbbb\r\nContent-length: 50\r\nccc\r\n\n" + content);
  EXPECT_THAT(r.messages,
              ElementsAre(Message{{"aaa", "bbb", "Content-length: 50", "ccc"},
                                  content}));
  EXPECT_TRUE(r.errors.empty());
}

// test_hc test_several_requests: five pipelined messages in one stream.
TEST(HeaderContentParserTest, SeveralPipelinedMessages) {
  const std::string content(50, 'A');
  std::string one = "aaa\r\nbbb\r\nContent-length: 50\r\nccc\r\n\n" + content;
  std::string input;
  for (int i = 0; i < 5; ++i) input += one;
  Recorder r = ParseAllCuts(input);
  EXPECT_EQ(r.first_lines, std::vector<std::string>(5, "aaa"));
  ASSERT_EQ(r.messages.size(), 5u);
  for (const Message& m : r.messages) {
    EXPECT_EQ(m,
              (Message{{"aaa", "bbb", "Content-length: 50", "ccc"}, content}));
  }
}

// test_hc test_interpret_headers: splitting header lines at the colon.
TEST(HeaderContentParserTest, InterpretHeaders) {
  Recorder r = ParseAllCuts(
      "GET / HTTP/1.0\r\nAccept: aaa\r\nUser-Agent: bbb\r\nHost: ccc\r\n"
      "x-tempest-header:ddd\r\n\r\n");
  ASSERT_EQ(r.messages.size(), 1u);
  const auto& lines = r.messages[0].headers;
  EXPECT_FALSE(SplitHeaderLine(lines[0]).has_value());
  std::vector<std::pair<std::string, std::string>> fields;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto f = SplitHeaderLine(lines[i]);
    ASSERT_TRUE(f.has_value()) << lines[i];
    fields.emplace_back(f->name, f->value);
  }
  EXPECT_THAT(fields, ElementsAre(std::pair{"Accept", "aaa"},
                                  std::pair{"User-Agent", "bbb"},
                                  std::pair{"Host", "ccc"},
                                  std::pair{"x-tempest-header", "ddd"}));
}

// Blank lines between messages are skipped.
TEST(HeaderContentParserTest, LeadingBlankLinesSkipped) {
  Recorder r = ParseAllCuts("\r\n\n\r\na\n\n\n\nb\n\n");
  EXPECT_THAT(r.messages, ElementsAre(Message{{"a"}, ""}, Message{{"b"}, ""}));
}

// A second Content-Length is refused even when equal (EventMachine's rule),
// and so is one spelled with a space before the colon.
TEST(HeaderContentParserTest, ContentLengthDefences) {
  for (const char* input :
       {"a\nContent-Length: 1\ncontent-length: 1\n\nx",
        "a\nContent-Length: 1\ncontent-length: 2\n\nxy",
        "a\nContent-Length : 1\n\nx", "a\nContent-Length: +1\n\nx",
        "a\nContent-Length: 0x1\n\nx", "a\nContent-Length:\n\n"}) {
    Recorder r = ParseAllCuts(input);
    EXPECT_TRUE(r.messages.empty()) << input;
    ASSERT_EQ(r.errors.size(), 1u) << input;
    EXPECT_EQ(r.errors[0].code(), absl::StatusCode::kInvalidArgument) << input;
  }
}

// Each limit is a kResourceExhausted error, and messages before it are
// delivered.
TEST(HeaderContentParserTest, Limits) {
  HeaderContentParser::Options options;
  options.line_bytes_max = 17;
  options.header_count_max = 3;
  options.header_bytes_max = 20;
  options.content_bytes_max = 5;
  // Exactly at each limit: a 17-byte line, 18 header bytes, a 5-byte body.
  const std::string ok = "a\nContent-Length: 5\n\n12345";
  for (const std::string& bad :
       {std::string("012345678901234567\n\n"), std::string("a\nb\nc\nd\n\n"),
        std::string("0123456789\n0123456789\nx\n\n"),
        std::string("Content-Length: 6\n\n123456")}) {
    Recorder r = ParseAllCuts(ok + bad, options);
    EXPECT_THAT(r.messages,
                ElementsAre(Message{{"a", "Content-Length: 5"}, "12345"}))
        << bad;
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_EQ(r.errors[0].code(), absl::StatusCode::kResourceExhausted) << bad;
  }
}

// The end of the stream inside headers or a body is kUnavailable (the
// partial body is not passed off as a message); between messages it is
// silent.
TEST(HeaderContentParserTest, FinishInsideMessage) {
  for (const char* input : {"a\nContent-Length: 5\n\n123", "a\nb", "a\nb\n"}) {
    Recorder r = ParseAllCuts(input);
    EXPECT_TRUE(r.messages.empty()) << input;
    ASSERT_EQ(r.errors.size(), 1u) << input;
    EXPECT_EQ(r.errors[0].code(), absl::StatusCode::kUnavailable) << input;
  }
  Recorder r = ParseAllCuts("a\n\n\r\n");
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_TRUE(r.errors.empty());
}

}  // namespace
}  // namespace ember::protocols
