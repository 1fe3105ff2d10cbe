// Unit tests for LineFramer. EventMachine's test_ltp2 cases come first, each
// fed whole, byte by byte and at a few fixed irregular cuts, and each must
// give the same events every way (including the multi-byte delimiter case
// that LineText2 fails byte by byte); then the behaviour LineText2 lacks:
// line limits, pushback ordering, zero-size blocks, Stop, reframing.

#include "protocols/line/line_framer.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ember::protocols {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using BinaryEnd = LineFramer::BinaryEnd;

// Records events as strings: "line:...", "bin:...", "end:complete",
// "end:truncated", "error:CODE". Hooks let a test act from inside callbacks.
class Recorder : public LineFramer::Listener {
 public:
  std::function<void(LineFramer&, std::string_view)> on_line;
  std::function<void(LineFramer&, std::string_view)> on_binary;
  std::function<void(LineFramer&, BinaryEnd)> on_end;

  void Attach(LineFramer* framer) { framer_ = framer; }

  void OnLine(std::string_view line) override {
    events.push_back("line:" + std::string(line));
    if (on_line) on_line(*framer_, line);
  }
  void OnBinary(std::string_view data) override {
    events.push_back("bin:" + std::string(data));
    ++binary_calls;
    if (on_binary) on_binary(*framer_, data);
  }
  void OnBinaryEnd(BinaryEnd how) override {
    events.push_back(how == BinaryEnd::kComplete ? "end:complete"
                                                 : "end:truncated");
    if (on_end) on_end(*framer_, how);
  }
  void OnError(const absl::Status& status) override {
    events.push_back("error:" +
                     std::string(absl::StatusCodeToString(status.code())));
    error = status;
  }

  // Events with adjacent binary chunks joined.
  std::vector<std::string> Joined() const {
    std::vector<std::string> out;
    for (const std::string& e : events) {
      if (e.rfind("bin:", 0) == 0 && !out.empty() &&
          out.back().rfind("bin:", 0) == 0) {
        out.back() += e.substr(4);
      } else {
        out.push_back(e);
      }
    }
    return out;
  }

  std::vector<std::string> events;
  int binary_calls = 0;
  absl::Status error;

 private:
  LineFramer* framer_ = nullptr;
};

// Cut patterns: piece sizes, repeated until the input runs out. 0 = whole.
const std::vector<std::vector<size_t>>& Cuts() {
  static const auto* cuts = new std::vector<std::vector<size_t>>{
      {0}, {1}, {2}, {3, 1, 4, 1, 5, 9, 2, 6}, {7, 13, 1}};
  return *cuts;
}

void FeedCut(LineFramer& framer, std::string_view input,
             const std::vector<size_t>& cut) {
  if (cut == std::vector<size_t>{0}) {
    framer.Feed(input);
    return;
  }
  size_t i = 0;
  while (!input.empty()) {
    const size_t n = std::min(cut[i++ % cut.size()], input.size());
    framer.Feed(input.substr(0, n));
    input.remove_prefix(n);
  }
}

// A scenario: options, a setup run before any byte (hooks, initial mode),
// the input, and whether to Finish.
struct Scenario {
  LineFramer::Options options;
  std::function<void(LineFramer&, Recorder&)> setup;
  std::string input;
  bool finish = false;
};

Recorder RunScenario(const Scenario& s, const std::vector<size_t>& cut) {
  Recorder recorder;
  LineFramer framer(&recorder, s.options);
  recorder.Attach(&framer);
  if (s.setup) s.setup(framer, recorder);
  FeedCut(framer, s.input, cut);
  if (s.finish) framer.Finish();
  return recorder;
}

// Runs `s` under every cut; returns the joined events, checking they agree.
std::vector<std::string> JoinedUnderAllCuts(const Scenario& s) {
  const std::vector<std::string> whole = RunScenario(s, {0}).Joined();
  for (const auto& cut : Cuts()) {
    EXPECT_EQ(RunScenario(s, cut).Joined(), whole)
        << "cut starting with " << cut[0];
  }
  return whole;
}

// test_ltp2 test_basic: "\n" and "\r\n" both end lines.
TEST(LineFramerLtp2Test, Basic) {
  Scenario s;
  s.input = "Line 1\nLine 2\r\nLine 3\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:Line 1", "line:Line 2", "line:Line 3"));
}

// test_ltp2 test_change_delimiter: the delimiter changes after every line,
// from inside the callback, and applies to the very next byte.
TEST(LineFramerLtp2Test, ChangeDelimiter) {
  Scenario s;
  s.setup = [](LineFramer& f, Recorder& r) {
    f.SetDelimiter("A");
    r.on_line = [](LineFramer& f, std::string_view) {
      std::string next(f.delimiter());
      ++next[0];
      f.SetDelimiter(next);
    };
  };
  s.input = "LineaALinebBLinecCLinedD";
  EXPECT_THAT(JoinedUnderAllCuts(s), ElementsAre("line:Linea", "line:Lineb",
                                                 "line:Linec", "line:Lined"));
}

// Other delimiters keep newlines in the line.
TEST(LineFramerLtp2Test, CustomDelimiterPreservesNewlines) {
  Scenario s;
  s.options.delimiter = ".";
  s.input = "A\nB\r\n.C\n.";
  EXPECT_THAT(JoinedUnderAllCuts(s), ElementsAre("line:A\nB\r\n", "line:C\n"));
}

// test_ltp2 test_binary: an empty line switches to a 10-byte block, after
// which line mode resumes by itself.
TEST(LineFramerLtp2Test, SizedBinaryThenLines) {
  for (auto delivery : {LineFramer::SizedBlockDelivery::kStream,
                        LineFramer::SizedBlockDelivery::kWhole}) {
    Scenario s;
    s.options.sized_block_delivery = delivery;
    s.setup = [](LineFramer&, Recorder& r) {
      r.on_line = [](LineFramer& f, std::string_view line) {
        if (line.empty()) f.SetBinaryMode(10);
      };
    };
    s.input = "Line 1\nLine 2\n\n0000000000Line 3\nLine 4\n";
    EXPECT_THAT(
        JoinedUnderAllCuts(s),
        ElementsAre("line:Line 1", "line:Line 2", "line:", "bin:0000000000",
                    "end:complete", "line:Line 3", "line:Line 4"));
  }
}

// With kWhole a sized block arrives as exactly one call however it is cut,
// as LineText2 promises.
TEST(LineFramerLtp2Test, WholeBlockIsOneCall) {
  Scenario s;
  s.options.sized_block_delivery = LineFramer::SizedBlockDelivery::kWhole;
  s.setup = [](LineFramer& f, Recorder&) { f.SetBinaryMode(1000); };
  s.input = std::string(1000, '_');
  for (const auto& cut : Cuts()) {
    Recorder r = RunScenario(s, cut);
    EXPECT_EQ(r.binary_calls, 1);
    EXPECT_THAT(r.events, ElementsAre("bin:" + s.input, "end:complete"));
  }
}

// test_ltp2 test_unsized_binary: each piece is passed on as received.
TEST(LineFramerLtp2Test, UnsizedBinary) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.append("X\0", 2);
  Scenario s;
  s.setup = [](LineFramer& f, Recorder&) { f.SetBinaryModeUnsized(); };
  s.input = data;
  Recorder whole = RunScenario(s, {0});
  EXPECT_EQ(whole.binary_calls, 1);
  Recorder bytewise = RunScenario(s, {1});
  EXPECT_EQ(bytewise.binary_calls, 2000);
  EXPECT_THAT(JoinedUnderAllCuts(s), ElementsAre("bin:" + data));
}

// test_ltp2 test_throw_back: after 25 binary bytes the rest is pushed back
// into line mode (LineText2's test computes the split wrongly; this is the
// intended behaviour: exactly the first 25 bytes are binary). The chunks as
// delivered differ by cut (the listener decides what to keep), so the test
// compares what the listener kept.
TEST(LineFramerLtp2Test, ThrowBackToLineMode) {
  std::string input;
  for (int i = 0; i < 10; ++i) input += "Line\n";
  for (const auto& cut : Cuts()) {
    Recorder r;
    LineFramer framer(&r);
    r.Attach(&framer);
    framer.SetBinaryModeUnsized();
    std::string kept;
    r.on_binary = [&kept](LineFramer& f, std::string_view data) {
      const size_t want = 25 - kept.size();
      if (data.size() >= want) {
        kept.append(data.substr(0, want));
        f.SetLineMode(data.substr(want));
      } else {
        kept.append(data);
      }
    };
    FeedCut(framer, input, cut);
    EXPECT_EQ(kept, input.substr(0, 25));
    std::vector<std::string> lines;
    for (const std::string& e : r.events) {
      if (e.rfind("line:", 0) == 0) lines.push_back(e);
    }
    EXPECT_EQ(lines, std::vector<std::string>(5, "line:Line"));
  }
}

// test_ltp2 test_multichar, including the byte-by-byte case that LineText2
// fails: a multi-byte delimiter split across reads is still found. The tail
// without a delimiter is discarded at Finish.
TEST(LineFramerLtp2Test, MultiByteDelimiterAcrossReads) {
  Scenario s;
  s.options.delimiter = "012";
  s.input = "Line012Line012Line012Line";
  s.finish = true;
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:Line", "line:Line", "line:Line"));
}

// Overlapping delimiter prefixes ("aab" inside "aaab") are matched at the
// right place however the bytes are cut.
TEST(LineFramerTest, SelfOverlappingDelimiter) {
  Scenario s;
  s.options.delimiter = "aab";
  s.input = "xaaabyaabaaaaab";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:xa", "line:y", "line:aaa"));
}

// test_ltp2 test_binary_tail: a sized block cut short by the end of the
// stream is delivered partially on Finish, marked truncated.
TEST(LineFramerLtp2Test, BinaryTailOnFinish) {
  for (auto delivery : {LineFramer::SizedBlockDelivery::kStream,
                        LineFramer::SizedBlockDelivery::kWhole}) {
    Scenario s;
    s.options.sized_block_delivery = delivery;
    s.setup = [](LineFramer& f, Recorder&) { f.SetBinaryMode(1000); };
    s.input = std::string(500, '0');
    s.finish = true;
    EXPECT_THAT(JoinedUnderAllCuts(s),
                ElementsAre("bin:" + std::string(500, '0'), "end:truncated"));
  }
}

// test_ltp2 test_receive_end_of_binary_data, and consecutive blocks chained
// from OnBinaryEnd with different sizes.
TEST(LineFramerLtp2Test, EndOfBinaryAndChainedBlocks) {
  Scenario s;
  s.setup = [](LineFramer& f, Recorder& r) {
    f.SetBinaryMode(3);
    auto next = std::make_shared<int>(0);
    r.on_end = [next](LineFramer& f, BinaryEnd) {
      if (++*next < 3) f.SetBinaryMode(*next + 3);
    };
  };
  s.input =
      "abc"
      "defg"
      "hijkl"
      "tail\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("bin:abc", "end:complete", "bin:defg", "end:complete",
                          "bin:hijkl", "end:complete", "line:tail"));
}

// A mode switch from inside OnLine applies to the very next byte, even when
// the rest of the input is already in the same read.
TEST(LineFramerTest, SwitchInCallbackAppliesToNextByte) {
  Scenario s;
  s.setup = [](LineFramer&, Recorder& r) {
    r.on_line = [](LineFramer& f, std::string_view line) {
      if (line == "size 3") f.SetBinaryMode(3);
      if (line == "rest") f.SetBinaryModeUnsized();
    };
  };
  s.input = "size 3\nA\nBsize 3\n\n\n\nrest\nx\ny\n";
  s.finish = true;
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:size 3", "bin:A\nB", "end:complete",
                          "line:size 3", "bin:\n\n\n", "end:complete",
                          "line:rest", "bin:x\ny\n", "end:complete"));
}

// A zero-size block ends at once, before the next byte, also when no bytes
// follow.
TEST(LineFramerTest, ZeroSizeBlock) {
  Scenario s;
  s.setup = [](LineFramer&, Recorder& r) {
    r.on_line = [](LineFramer& f, std::string_view) { f.SetBinaryMode(0); };
  };
  s.input = "a\nb\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:a", "end:complete", "line:b", "end:complete"));

  s.options.sized_block_delivery = LineFramer::SizedBlockDelivery::kWhole;
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:a", "bin:", "end:complete", "line:b",
                          "bin:", "end:complete"));
}

// Pushback from a sized block's last chunk is framed before the rest of the
// read, and several pushbacks keep their order.
TEST(LineFramerTest, PushbackOrder) {
  Scenario s;
  s.setup = [](LineFramer& f, Recorder& r) {
    f.SetBinaryMode(2);
    r.on_binary = [](LineFramer& f, std::string_view) {};
    r.on_end = [](LineFramer& f, BinaryEnd) {
      f.SetLineMode("p1\np");
      f.SetLineMode("2\n");
    };
  };
  s.input = "XYrest\n";
  EXPECT_THAT(
      JoinedUnderAllCuts(s),
      ElementsAre("bin:XY", "end:complete", "line:p1", "line:p2", "line:rest"));
}

// A line of exactly line_bytes_max bytes passes (with "\n" or "\r\n");
// one more byte is a kResourceExhausted error, after which nothing is
// delivered however the bytes are cut.
TEST(LineFramerTest, LineLimit) {
  Scenario s;
  s.options.line_bytes_max = 8;
  s.input = "12345678\n12345678\r\nok\n123456789\nnever\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:12345678", "line:12345678", "line:ok",
                          "error:RESOURCE_EXHAUSTED"));
  Recorder r = RunScenario(s, {0});
  EXPECT_EQ(r.error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.error.message(), "line exceeds 8 bytes");
}

// With strip_cr false a line keeps the "\r" before its "\n", so CRLF and a
// bare LF can be told apart; that "\r" still does not count towards the
// limit, however the bytes are cut.
TEST(LineFramerTest, KeepsCarriageReturnWhenAsked) {
  Scenario s;
  s.options.line_bytes_max = 8;
  s.options.strip_cr = false;
  s.input = "12345678\r\nbare\nx\ry\r\r\n123456789\r\nnever\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:12345678\r", "line:bare", "line:x\ry\r\r",
                          "error:RESOURCE_EXHAUSTED"));
}

// An endless line without a delimiter fails as soon as it is known to be too
// long, holding no more than the limit.
TEST(LineFramerTest, LineLimitWithoutDelimiter) {
  Recorder r;
  LineFramer::Options options;
  options.line_bytes_max = 100;
  LineFramer framer(&r, options);
  r.Attach(&framer);
  for (int i = 0; i < 100 && r.events.empty(); ++i) {
    framer.Feed(std::string(10, 'x'));
    EXPECT_LE(framer.buffered_bytes(), 101u);
  }
  EXPECT_THAT(r.events, ElementsAre("error:RESOURCE_EXHAUSTED"));
  EXPECT_TRUE(framer.failed());
  framer.Feed("more\n");
  framer.Finish();
  EXPECT_EQ(r.events.size(), 1u);
}

// The limit with a multi-byte delimiter: a partial line may hold a
// delimiter prefix beyond the limit without failing.
TEST(LineFramerTest, LineLimitMultiByteDelimiter) {
  Scenario s;
  s.options.line_bytes_max = 4;
  s.options.delimiter = "\r\n\r\n";
  s.input = "abcd\r\n\r\nabcde\r\n\r\n";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:abcd", "error:RESOURCE_EXHAUSTED"));
}

// With kWhole, a block larger than block_bytes_max is an error, reported
// before the next byte and never from inside SetBinaryMode.
TEST(LineFramerTest, WholeBlockLimit) {
  Scenario s;
  s.options.sized_block_delivery = LineFramer::SizedBlockDelivery::kWhole;
  s.options.block_bytes_max = 16;
  s.setup = [](LineFramer&, Recorder& r) {
    r.on_line = [](LineFramer& f, std::string_view line) {
      f.SetBinaryMode(line == "big" ? 17 : 16);
    };
  };
  s.input = "ok\n0123456789abcdefbig\n0123456789abcdefg";
  EXPECT_THAT(JoinedUnderAllCuts(s),
              ElementsAre("line:ok", "bin:0123456789abcdef", "end:complete",
                          "line:big", "error:RESOURCE_EXHAUSTED"));
}

// Stop() from a callback delivers nothing more, also from the same read.
TEST(LineFramerTest, StopInCallback) {
  Scenario s;
  s.setup = [](LineFramer&, Recorder& r) {
    r.on_line = [](LineFramer& f, std::string_view line) {
      if (line == "quit") f.Stop();
    };
  };
  s.input = "a\nquit\nb\nc\n";
  s.finish = true;
  EXPECT_THAT(JoinedUnderAllCuts(s), ElementsAre("line:a", "line:quit"));
}

// Changing the delimiter between reads reframes the held partial line with
// the new delimiter instead of losing it.
TEST(LineFramerTest, DelimiterChangeBetweenReadsReframes) {
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  framer.Feed("one\ntw;o");
  framer.SetDelimiter(";");
  framer.Feed("x;");
  EXPECT_THAT(r.events, ElementsAre("line:one", "line:tw", "line:ox"));
}

// Switching to binary between reads turns the held partial line into the
// first bytes of the block.
TEST(LineFramerTest, BinaryModeBetweenReadsTakesHeldBytes) {
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  framer.Feed("head\npart");
  framer.SetBinaryMode(6);
  framer.Feed("ial\nmore\n");
  EXPECT_THAT(r.Joined(), ElementsAre("line:head", "bin:partia", "end:complete",
                                      "line:l", "line:more"));
}

// Pushback given outside any callback waits for the next Feed, and a Feed of
// nothing is enough to frame it.
TEST(LineFramerTest, PushbackOutsideCallback) {
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  framer.SetLineMode("from\npushback\n");
  EXPECT_TRUE(r.events.empty());
  framer.Feed({});
  EXPECT_THAT(r.events, ElementsAre("line:from", "line:pushback"));
}

// An unsized block ends with OnBinaryEnd(kComplete) at Finish; a sized
// stream block that got nothing still reports its truncation.
TEST(LineFramerTest, FinishEndsBlocks) {
  {
    Recorder r;
    LineFramer framer(&r);
    r.Attach(&framer);
    framer.SetBinaryModeUnsized();
    framer.Feed("abc");
    framer.Finish();
    EXPECT_THAT(r.events, ElementsAre("bin:abc", "end:complete"));
  }
  {
    Recorder r;
    LineFramer framer(&r);
    r.Attach(&framer);
    framer.SetBinaryMode(4);
    framer.Finish();
    EXPECT_THAT(r.events, ElementsAre("end:truncated"));
  }
}

// Feeding from inside a callback is a bug in the caller and aborts.
TEST(LineFramerDeathTest, FeedFromCallbackAborts) {
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  r.on_line = [](LineFramer& f, std::string_view) { f.Feed("x"); };
  EXPECT_DEATH(framer.Feed("a\n"), "inside its own callback");
}

// ---------------------------------------------------------------------------
// Pause

TEST(LineFramerPauseTest, PauseInsideACallbackHoldsTheRestInOrder) {
  // Goal: pausing on the first line delivers nothing more from that Feed,
  // keeps bytes fed while paused, and Resume then delivers everything in
  // order, also across a mode switch made before the pause.
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  r.on_line = [](LineFramer& f, std::string_view line) {
    if (line == "a") f.Pause();
    if (line == "c") f.SetBinaryMode(3);
  };
  framer.Feed("a\nb\nc\nxyzd");
  EXPECT_THAT(r.events, ElementsAre("line:a"));
  EXPECT_TRUE(framer.paused());
  EXPECT_EQ(framer.buffered_bytes(), 8u);  // "b\nc\nxyzd"
  framer.Feed("\ne\n");
  EXPECT_THAT(r.events, ElementsAre("line:a"));
  framer.Resume();
  framer.Feed({});
  EXPECT_THAT(r.Joined(), ElementsAre("line:a", "line:b", "line:c", "bin:xyz",
                                      "end:complete", "line:d", "line:e"));
  EXPECT_EQ(framer.buffered_bytes(), 0u);
}

TEST(LineFramerPauseTest, PauseBetweenFeedsDeliversNothingUntilResume) {
  Recorder r;
  LineFramer framer(&r);
  r.Attach(&framer);
  framer.Pause();
  framer.Feed("one\ntw");
  framer.Feed("o\n");
  EXPECT_TRUE(r.events.empty());
  framer.Resume();
  framer.Feed("three\n");
  EXPECT_THAT(r.events, ElementsAre("line:one", "line:two", "line:three"));
}

TEST(LineFramerPauseTest, FeedingPastTheLimitWhilePausedIsAnError) {
  // Goal: a paused framer holds at most paused_bytes_max bytes; past it,
  // one kResourceExhausted error and nothing more.
  Recorder r;
  LineFramer::Options options;
  options.paused_bytes_max = 8;
  LineFramer framer(&r, options);
  r.Attach(&framer);
  framer.Pause();
  framer.Feed("12345\n");
  EXPECT_TRUE(r.events.empty());
  framer.Feed("678");
  EXPECT_THAT(r.events, ElementsAre("error:RESOURCE_EXHAUSTED"));
  EXPECT_TRUE(framer.failed());
  framer.Resume();
  framer.Feed("x\n");
  EXPECT_THAT(r.events, ElementsAre("error:RESOURCE_EXHAUSTED"));
}

}  // namespace
}  // namespace ember::protocols
