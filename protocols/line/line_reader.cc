#include "protocols/line/line_reader.h"

#include <utility>

namespace ember::protocols {

LineReader::LineReader(Stream& stream, LineFramer::Options options)
    : stream_(stream), framer_(this, std::move(options)) {}

LineReader::~LineReader() {
  if (framer_.failed() || framer_.buffered_bytes() == 0) return;
  // Reframe the held partial line as binary, and give it back.
  framer_.SetBinaryModeUnsized();
  framer_.Feed({});
  stream_.Unread(rest_);
}

LineReader::LineAwaiter LineReader::ReadLine() {
  return LineAwaiter(this, stream_.internal_state());
}

void LineReader::OnLine(std::string_view line) {
  line_.assign(line.data(), line.size());
  have_line_ = true;
  // Whatever follows the line is not ours yet: collect it as binary.
  framer_.SetBinaryModeUnsized();
}

void LineReader::OnBinary(std::string_view data) {
  rest_.append(data.data(), data.size());
}

void LineReader::OnError(const absl::Status& status) { error_ = status; }

bool LineReader::LineAwaiter::TryRead() {
  LineReader& r = *reader_;
  if (!r.error_.ok()) {
    result_ = r.error_;
    return true;
  }
  std::string& in = inbound();
  if (!in.empty()) {
    std::string chunk;
    chunk.swap(in);
    r.framer_.Feed(chunk);
    if (r.have_line_) {
      r.have_line_ = false;
      in.insert(0, r.rest_);
      r.rest_.clear();
      r.framer_.SetLineMode();
      result_ = std::move(r.line_);
      r.line_.clear();
      Consumed();
      return true;
    }
    Consumed();
    if (!r.error_.ok()) {
      result_ = r.error_;
      return true;
    }
  }
  if (finished()) {
    result_ = EndStatus();
    return true;
  }
  return false;
}

}  // namespace ember::protocols
