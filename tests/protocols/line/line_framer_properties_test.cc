// RapidCheck properties of LineFramer: the events are the same however the
// input is cut (with mode switches, delimiter changes and pushback scripted
// from the data), lines joined by a delimiter split back into the same
// lines, and binary blocks framed by their sizes come back intact.

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "protocols/line/line_framer.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"

namespace ember::protocols {
namespace {

const std::vector<std::string>& Delimiters() {
  // Border-free delimiters (no proper prefix is also a suffix), so that a
  // line's tail and a delimiter never form an earlier delimiter.
  static const auto* d =
      new std::vector<std::string>{"\n", "\r\n", "ab", "|", "XYZ"};
  return *d;
}

// Pieces of the sizes in `sizes` (cycled) until `data` runs out.
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

// Scripted from the data: a line "B<d>" starts a d-byte block, "U" an
// unsized one, "D<c>" sets the delimiter to c; in unsized mode '!' returns
// to line mode, pushing back what follows it.
class Script : public LineFramer::Listener {
 public:
  void Attach(LineFramer* framer) { framer_ = framer; }
  void OnLine(std::string_view line) override {
    events.push_back("L" + std::string(line));
    if (line.size() >= 2 && line[0] == 'B' && line[1] >= '0' &&
        line[1] <= '9') {
      framer_->SetBinaryMode(line[1] - '0');
    } else if (line == "U") {
      framer_->SetBinaryModeUnsized();
    } else if (line.size() >= 2 && line[0] == 'D') {
      framer_->SetDelimiter(line.substr(1, 1));
    }
  }
  void OnBinary(std::string_view data) override {
    if (framer_->mode() == LineFramer::Mode::kBinaryUnsized) {
      const size_t bang = data.find('!');
      if (bang != std::string_view::npos) {
        Add("B" + std::string(data.substr(0, bang + 1)));
        framer_->SetLineMode(data.substr(bang + 1));
        return;
      }
    }
    Add("B" + std::string(data));
  }
  void OnBinaryEnd(LineFramer::BinaryEnd how) override {
    events.push_back(how == LineFramer::BinaryEnd::kComplete ? "E" : "T");
  }
  void OnError(const absl::Status& status) override {
    events.push_back("X" + status.ToString());
  }

  std::vector<std::string> events;

 private:
  void Add(std::string e) {
    if (!events.empty() && events.back()[0] == 'B') {
      events.back() += e.substr(1);
    } else {
      events.push_back(std::move(e));
    }
  }
  LineFramer* framer_ = nullptr;
};

std::vector<std::string> Run(const LineFramer::Options& options,
                             const std::vector<std::string_view>& pieces) {
  Script script;
  LineFramer framer(&script, options);
  script.Attach(&framer);
  for (std::string_view piece : pieces) framer.Feed(piece);
  framer.Finish();
  return std::move(script.events);
}

rc::Gen<std::string> StringOf(std::string alphabet, int size_max) {
  return rc::gen::mapcat(rc::gen::inRange(0, size_max + 1), [alphabet](int n) {
    return rc::gen::container<std::string>(n, rc::gen::elementOf(alphabet));
  });
}

RC_GTEST_PROP(LineFramerProperties, SameEventsHoweverCut, ()) {
  LineFramer::Options options;
  options.delimiter = *rc::gen::elementOf(Delimiters());
  options.line_bytes_max = *rc::gen::inRange<size_t>(1, 30);
  options.sized_block_delivery =
      *rc::gen::element(LineFramer::SizedBlockDelivery::kStream,
                        LineFramer::SizedBlockDelivery::kWhole);
  const std::string input = *StringOf("abcXYZ|\r\n\n\n!BUD0123456789", 300);
  const auto sizes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 20)));
  RC_ASSERT(Run(options, CutBy(input, sizes)) == Run(options, {input}));
  RC_ASSERT(Run(options, CutBy(input, {1})) == Run(options, {input}));
}

RC_GTEST_PROP(LineFramerProperties, LinesRoundTrip, ()) {
  const std::string delimiter = *rc::gen::elementOf(Delimiters());
  std::string alphabet;
  for (char c : std::string("abcxyzXY .-\t")) {
    if (delimiter.find(c) == std::string::npos) alphabet += c;
  }
  const auto lines =
      *rc::gen::container<std::vector<std::string>>(StringOf(alphabet, 40));
  std::string wire;
  for (const std::string& line : lines) wire += line + delimiter;
  const auto sizes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 10)));

  struct Collect : LineFramer::Listener {
    std::vector<std::string> lines;
    void OnLine(std::string_view l) override { lines.emplace_back(l); }
    void OnBinary(std::string_view) override { RC_FAIL("binary"); }
    void OnError(const absl::Status& s) override { RC_FAIL(s.ToString()); }
  } collect;
  LineFramer::Options options;
  options.delimiter = delimiter;
  LineFramer framer(&collect, options);
  for (std::string_view piece : CutBy(wire, sizes)) framer.Feed(piece);
  framer.Finish();
  RC_ASSERT(collect.lines == lines);
}

RC_GTEST_PROP(LineFramerProperties, SizedBlocksRoundTrip, ()) {
  const auto blocks = *rc::gen::container<std::vector<std::string>>(
      rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
  std::string wire;
  for (const std::string& block : blocks) {
    wire += std::to_string(block.size()) + "\r\n" + block;
  }
  const auto sizes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 50)));
  struct Collect : LineFramer::Listener {
    LineFramer* framer = nullptr;
    std::vector<std::string> blocks;
    std::string current;
    void OnLine(std::string_view l) override {
      framer->SetBinaryMode(std::stoull(std::string(l)));
    }
    void OnBinary(std::string_view d) override { current.append(d); }
    void OnBinaryEnd(LineFramer::BinaryEnd how) override {
      RC_ASSERT(how == LineFramer::BinaryEnd::kComplete);
      blocks.push_back(std::move(current));
      current.clear();
    }
    void OnError(const absl::Status& s) override { RC_FAIL(s.ToString()); }
  } collect;
  LineFramer::Options options;
  options.sized_block_delivery =
      *rc::gen::element(LineFramer::SizedBlockDelivery::kStream,
                        LineFramer::SizedBlockDelivery::kWhole);
  LineFramer framer(&collect, options);
  collect.framer = &framer;
  for (std::string_view piece : CutBy(wire, sizes)) framer.Feed(piece);
  framer.Finish();
  RC_ASSERT(collect.blocks == blocks);
}

}  // namespace
}  // namespace ember::protocols
