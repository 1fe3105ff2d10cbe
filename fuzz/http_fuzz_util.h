// Event recorders for the HTTP fuzz targets: every event as a string (body
// chunks joined), with checks of what each event promises.

#ifndef EMBER_FUZZ_HTTP_FUZZ_UTIL_H_
#define EMBER_FUZZ_HTTP_FUZZ_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "io/check.h"
#include "protocols/http/http_parser.h"

namespace ember::fuzz {

// The parser options a fuzz input chooses: the defaults, or limits small
// enough that short inputs reach every limit.
inline protocols::HttpParserOptions FuzzParserOptions(bool tight_limits) {
  protocols::HttpParserOptions options;
  if (tight_limits) {
    options.header_bytes_max = 300;
    options.header_count_max = 6;
    options.line_bytes_max = 80;
    options.body_bytes_max = 50;
    options.chunk_line_bytes_max = 12;
  }
  return options;
}

// For parsing a serialised message again: serialising adds a space after
// each colon, so the header limits are opened up; the body limit stays.
inline protocols::HttpParserOptions RoundTripParserOptions(
    protocols::HttpParserOptions options) {
  options.header_bytes_max = 1 << 20;
  options.line_bytes_max = 1 << 20;
  options.header_count_max = 1 << 16;
  return options;
}

inline std::string DescribeFields(protocols::HttpFieldsView fields) {
  std::string out;
  for (const protocols::HttpFieldView& f : fields) {
    EMBER_CHECK_MSG(!f.name.empty(), "empty field name delivered");
    absl::StrAppend(&out, "|", std::string(f.name), "=", std::string(f.value));
  }
  return out;
}

// Checks the body a head announced against what arrived.
class BodyCheck {
 public:
  void Head(protocols::HttpBodyFraming framing, uint64_t length) {
    framing_ = framing;
    length_ = length;
    received_ = 0;
  }
  void Body(std::string_view data, uint64_t body_max) {
    EMBER_CHECK_MSG(!data.empty(), "empty body chunk");
    EMBER_CHECK_MSG(framing_ != protocols::HttpBodyFraming::kNone,
                    "body for a message without one");
    received_ += data.size();
    EMBER_CHECK_MSG(received_ <= body_max, "body over the limit");
  }
  void Complete() {
    if (framing_ == protocols::HttpBodyFraming::kContentLength) {
      EMBER_CHECK_MSG(received_ == length_, "body size != Content-Length");
    }
  }

 private:
  protocols::HttpBodyFraming framing_ = protocols::HttpBodyFraming::kNone;
  uint64_t length_ = 0;
  uint64_t received_ = 0;
};

template <typename Parser>
void FeedResuming(Parser& parser, std::string_view piece) {
  while (true) {
    const size_t used = parser.Feed(piece);
    EMBER_CHECK_MSG(used <= piece.size(), "consumed more than given");
    piece.remove_prefix(used);
    if (piece.empty() || parser.failed()) return;
    EMBER_CHECK_MSG(parser.paused(), "stopped early without a pause");
    parser.Resume();
  }
}

}  // namespace ember::fuzz

#endif  // EMBER_FUZZ_HTTP_FUZZ_UTIL_H_
