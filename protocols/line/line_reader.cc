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
  const std::string_view in = unread();
  if (!in.empty()) {
    // Feed through the first delimiter only, so each byte is framed once
    // however many lines are buffered. (A delimiter split between the
    // framer's partial line and these bytes is found by the framer; then
    // the bytes after the line go back, below.)
    const std::string_view delimiter = r.framer_.delimiter();
    const size_t at = in.find(delimiter);
    const size_t take =
        at == std::string_view::npos ? in.size() : at + delimiter.size();
    // The framer's callbacks touch only the reader, so `in` stays valid.
    r.framer_.Feed(in.substr(0, take));
    Consume(take);
    if (r.have_line_) {
      r.have_line_ = false;
      Prepend(r.rest_);
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
