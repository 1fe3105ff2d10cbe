// Fuzz target for LineFramer. The input picks the options (delivery,
// delimiter, line limit) and a cut seed, then is a byte stream whose lines
// also script the listener: "B<n>" starts an n-byte block, "U" an unsized
// one, "D<x>" changes the delimiter, "P<rest>" pushes <rest> back, "S"
// stops; in unsized mode a '!' returns to line mode, pushing back what
// follows it. Property: the events (adjacent binary chunks joined) are the
// same whole, byte by byte and at random cuts; lines never exceed the limit
// and a partial line never holds much more than it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "io/check.h"
#include "protocols/line/line_framer.h"

namespace ember::fuzz {
namespace {

using protocols::LineFramer;

constexpr std::string_view kDelimiters[] = {"\n", "\r\n", "ab", "|"};
constexpr size_t kLineMaxes[] = {1, 3, 8, 16, 64, 256, 4096, 16384};

class ScriptedListener : public LineFramer::Listener {
 public:
  ScriptedListener(size_t line_max) : line_max_(line_max) {}
  void Attach(LineFramer* framer) { framer_ = framer; }

  void OnLine(std::string_view line) override {
    EMBER_CHECK_MSG(line.size() <= line_max_, "line over the limit");
    events.push_back(absl::StrCat("L", std::string(line)));
    if (line.empty()) return;
    switch (line[0]) {
      case 'B': {
        uint64_t n = 0;
        for (size_t i = 1; i < line.size() && i < 5; ++i) {
          if (line[i] < '0' || line[i] > '9') break;
          n = n * 10 + (line[i] - '0');
        }
        framer_->SetBinaryMode(n);
        break;
      }
      case 'U':
        framer_->SetBinaryModeUnsized();
        break;
      case 'D':
        if (line.size() >= 2) {
          framer_->SetDelimiter(
              line.substr(1, std::min<size_t>(3, line.size() - 1)));
        }
        break;
      case 'P':
        framer_->SetLineMode(line.substr(1));
        break;
      case 'S':
        framer_->Stop();
        break;
    }
  }

  void OnBinary(std::string_view data) override {
    if (framer_->mode() == LineFramer::Mode::kBinaryUnsized) {
      EMBER_CHECK_MSG(!data.empty(), "empty unsized chunk");
      const size_t bang = data.find('!');
      if (bang != std::string_view::npos) {
        AddEvent(events,
                 absl::StrCat("B", std::string(data.substr(0, bang + 1))), "B");
        framer_->SetLineMode(data.substr(bang + 1));
        return;
      }
    }
    AddEvent(events, absl::StrCat("B", std::string(data)), "B");
  }

  void OnBinaryEnd(LineFramer::BinaryEnd how) override {
    events.push_back(how == LineFramer::BinaryEnd::kComplete ? "E" : "T");
  }

  void OnError(const absl::Status& status) override {
    events.push_back(absl::StrCat("X", status.ToString()));
  }

  std::vector<std::string> events;

 private:
  const size_t line_max_;
  LineFramer* framer_ = nullptr;
};

std::vector<std::string> Run(const LineFramer::Options& options,
                             const std::vector<std::string_view>& pieces) {
  ScriptedListener listener(options.line_bytes_max);
  LineFramer framer(&listener, options);
  listener.Attach(&framer);
  for (std::string_view piece : pieces) {
    framer.Feed(piece);
    if (framer.mode() == LineFramer::Mode::kLine) {
      // A partial line: the limit, plus a delimiter prefix or a "\r".
      EMBER_CHECK_MSG(framer.buffered_bytes() <= options.line_bytes_max + 3,
                      "partial line held beyond the limit");
    }
  }
  framer.Finish();
  return std::move(listener.events);
}

}  // namespace
}  // namespace ember::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using ember::fuzz::Run;
  if (size < 2) return 0;
  const uint8_t config = bytes[0];
  const uint64_t seed = bytes[1];
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 2,
                              size - 2);
  ember::protocols::LineFramer::Options options;
  options.sized_block_delivery =
      (config & 1) ? ember::protocols::LineFramer::SizedBlockDelivery::kWhole
                   : ember::protocols::LineFramer::SizedBlockDelivery::kStream;
  options.delimiter = std::string(ember::fuzz::kDelimiters[(config >> 1) & 3]);
  options.line_bytes_max = ember::fuzz::kLineMaxes[(config >> 3) & 7];
  options.block_bytes_max = 500;

  const auto cuts = ember::fuzz::Cuts(data, seed);
  const std::vector<std::string> expected = Run(options, cuts[0]);
  for (size_t i = 1; i < cuts.size(); ++i) {
    EMBER_CHECK_MSG(Run(options, cuts[i]) == expected,
                    "events depend on how the input is cut");
  }
  return 0;
}
