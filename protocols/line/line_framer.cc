#include "protocols/line/line_framer.h"

#include <string.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember::protocols {
namespace {

// Position of the first `delimiter` in `in`, or npos. One byte goes through
// memchr, longer delimiters through memmem; both are vectorised in glibc.
size_t FindDelimiter(std::string_view in, std::string_view delimiter) {
  if (in.size() < delimiter.size()) return std::string_view::npos;
  const void* hit =
      delimiter.size() == 1
          ? memchr(in.data(), delimiter[0], in.size())
          : memmem(in.data(), in.size(), delimiter.data(), delimiter.size());
  if (hit == nullptr) return std::string_view::npos;
  return static_cast<const char*>(hit) - in.data();
}

}  // namespace

LineFramer::LineFramer(Listener* listener, Options options)
    : listener_(listener),
      options_(std::move(options)),
      delimiter_(options_.delimiter) {
  EMBER_CHECK(listener_ != nullptr);
  EMBER_CHECK_MSG(!delimiter_.empty(), "LineFramer delimiter is empty");
  EMBER_CHECK(options_.line_bytes_max > 0);
  strip_cr_ = delimiter_ == "\n";
}

void LineFramer::Feed(std::string_view data) {
  EMBER_CHECK_MSG(callback_depth_ == 0,
                  "LineFramer::Feed called from inside its own callback");
  EMBER_CHECK_MSG(!finished_, "LineFramer::Feed called after Finish");
  Run(data);
}

void LineFramer::Finish() {
  EMBER_CHECK_MSG(callback_depth_ == 0,
                  "LineFramer::Finish called from inside its own callback");
  EMBER_CHECK_MSG(!finished_, "LineFramer::Finish called twice");
  Run({});
  finished_ = true;
  if (failed_ || stopped_ || paused_) return;
  switch (mode_) {
    case Mode::kLine:
      line_buffer_.clear();
      break;
    case Mode::kBinaryUnsized:
      EmitBinaryEnd(BinaryEnd::kComplete);
      break;
    case Mode::kBinarySized:
      mode_ = Mode::kLine;
      if (options_.sized_block_delivery == SizedBlockDelivery::kWhole) {
        block_scratch_.swap(block_buffer_);
        EmitBinary(block_scratch_);
        block_scratch_.clear();
      }
      EmitBinaryEnd(BinaryEnd::kTruncated);
      break;
  }
}

void LineFramer::SetDelimiter(std::string_view delimiter) {
  EMBER_CHECK_MSG(!delimiter.empty(), "LineFramer delimiter is empty");
  // A held partial line was searched with the old delimiter only.
  ReframeBuffered();
  delimiter_.assign(delimiter.data(), delimiter.size());
  strip_cr_ = delimiter_ == "\n";
}

void LineFramer::SetLineMode(std::string_view pushback) {
  ReframeBuffered();
  mode_ = Mode::kLine;
  block_remaining_ = 0;
  pushback_.append(pushback.data(), pushback.size());
}

void LineFramer::SetBinaryMode(uint64_t size) {
  ReframeBuffered();
  mode_ = Mode::kBinarySized;
  block_remaining_ = size;
  if (options_.sized_block_delivery == SizedBlockDelivery::kWhole &&
      size > options_.block_bytes_max && deferred_error_.ok()) {
    // Reported from Run, between steps, so that an error never reaches the
    // listener from inside this call.
    deferred_error_ = absl::ResourceExhaustedError(
        absl::StrCat("binary block of ", size, " bytes exceeds the limit of ",
                     options_.block_bytes_max, " bytes"));
  }
}

void LineFramer::SetBinaryModeUnsized() {
  ReframeBuffered();
  mode_ = Mode::kBinaryUnsized;
  block_remaining_ = 0;
}

void LineFramer::Stop() { stopped_ = true; }

void LineFramer::ReframeBuffered() {
  // Inside callbacks both buffers are empty (a buffered line or block is
  // swapped out before delivery), so this only acts between Feed calls.
  if (line_buffer_.empty() && block_buffer_.empty()) return;
  pushback_.insert(0, block_buffer_);
  pushback_.insert(0, line_buffer_);
  line_buffer_.clear();
  block_buffer_.clear();
}

void LineFramer::MergePushback() {
  if (pushback_.empty()) return;
  if (pending_pos_ < pending_.size()) {
    pushback_.append(pending_, pending_pos_, std::string::npos);
  }
  pending_.swap(pushback_);
  pushback_.clear();
  pending_pos_ = 0;
}

void LineFramer::Run(std::string_view data) {
  while (!failed_ && !stopped_) {
    if (paused_) {
      // Keep what is left, in order, for after Resume.
      if (!data.empty()) {
        if (pending_bytes() + data.size() > options_.paused_bytes_max) {
          Fail(absl::ResourceExhaustedError(absl::StrCat(
              "more than ", options_.paused_bytes_max,
              " bytes fed to a paused line framer")));
          return;
        }
        if (pending_pos_ > 0) {
          pending_.erase(0, pending_pos_);
          pending_pos_ = 0;
        }
        pending_.append(data.data(), data.size());
      }
      return;
    }
    // Between steps no callback holds a view into pending_, so pushed-back
    // bytes can be spliced in.
    MergePushback();
    if (!deferred_error_.ok()) {
      Fail(std::exchange(deferred_error_, absl::OkStatus()));
      return;
    }
    if (mode_ == Mode::kBinarySized && block_remaining_ == 0) {
      // An empty block ends before the next byte, also with no bytes left.
      EMBER_CHECK(block_buffer_.empty());
      CompleteSizedBlock({}, /*from_buffer=*/false);
      continue;
    }
    const bool from_pending = pending_pos_ < pending_.size();
    std::string_view in;
    if (from_pending) {
      in = std::string_view(pending_).substr(pending_pos_);
    } else {
      if (!pending_.empty()) {
        pending_.clear();
        pending_pos_ = 0;
      }
      if (data.empty()) return;
      in = data;
    }
    const size_t used = mode_ == Mode::kLine ? StepLine(in) : StepBinary(in);
    EMBER_CHECK(used > 0 && used <= in.size());
    if (from_pending) {
      pending_pos_ += used;
    } else {
      data.remove_prefix(used);
    }
  }
}

size_t LineFramer::LineLowerBound(std::string_view more) const {
  const size_t held = line_buffer_.size() + more.size();
  if (strip_cr_) {
    // The line may yet end right here, losing a trailing "\r".
    const char last = !more.empty()           ? more.back()
                      : !line_buffer_.empty() ? line_buffer_.back()
                                              : '\0';
    return last == '\r' ? held - 1 : held;
  }
  // The last delimiter-size - 1 bytes may be the start of a delimiter.
  return held - std::min(held, delimiter_.size() - 1);
}

size_t LineFramer::StepLine(std::string_view in) {
  // Copied before any callback, which may change the delimiter.
  const size_t delimiter_bytes = delimiter_.size();
  if (line_buffer_.empty()) {
    const size_t at = FindDelimiter(in, delimiter_);
    if (at != std::string_view::npos) {
      DeliverLine(in.substr(0, at));
      return at + delimiter_bytes;
    }
  } else {
    // A delimiter may have begun at the end of the held bytes. The earliest
    // start (the longest held prefix) comes first in the stream.
    const std::string_view delimiter = delimiter_;
    for (size_t k = std::min(delimiter_bytes - 1, line_buffer_.size()); k >= 1;
         --k) {
      const size_t rest = delimiter_bytes - k;
      if (in.size() >= rest &&
          std::string_view(line_buffer_).substr(line_buffer_.size() - k) ==
              delimiter.substr(0, k) &&
          in.substr(0, rest) == delimiter.substr(k)) {
        DeliverBufferedLine(k);
        return rest;
      }
    }
    const size_t at = FindDelimiter(in, delimiter_);
    if (at != std::string_view::npos) {
      // Cheap bound first, so that a huge line is never copied.
      if (line_buffer_.size() + at > options_.line_bytes_max + 1) {
        Fail(absl::ResourceExhaustedError(
            absl::StrCat("line exceeds ", options_.line_bytes_max, " bytes")));
        return in.size();
      }
      line_buffer_.append(in.data(), at);
      DeliverBufferedLine(0);
      return at + delimiter_bytes;
    }
  }
  // No delimiter yet: hold the bytes, unless the line is already too long.
  if (LineLowerBound(in) > options_.line_bytes_max) {
    Fail(absl::ResourceExhaustedError(
        absl::StrCat("line exceeds ", options_.line_bytes_max, " bytes")));
    return in.size();
  }
  line_buffer_.append(in.data(), in.size());
  return in.size();
}

void LineFramer::DeliverLine(std::string_view line) {
  size_t counted = line.size();
  if (strip_cr_ && !line.empty() && line.back() == '\r') {
    --counted;
    if (options_.strip_cr) line.remove_suffix(1);
  }
  if (counted > options_.line_bytes_max) {
    Fail(absl::ResourceExhaustedError(
        absl::StrCat("line exceeds ", options_.line_bytes_max, " bytes")));
    return;
  }
  EmitLine(line);
}

void LineFramer::DeliverBufferedLine(size_t drop) {
  EMBER_CHECK(drop <= line_buffer_.size());
  line_buffer_.resize(line_buffer_.size() - drop);
  // Swapped out so that callbacks find line_buffer_ empty and the view
  // below stays valid whatever they call.
  line_scratch_.swap(line_buffer_);
  DeliverLine(line_scratch_);
  line_scratch_.clear();
}

size_t LineFramer::StepBinary(std::string_view in) {
  if (mode_ == Mode::kBinaryUnsized) {
    EmitBinary(in);
    return in.size();
  }
  EMBER_CHECK(block_remaining_ > 0);
  const size_t take =
      static_cast<size_t>(std::min<uint64_t>(block_remaining_, in.size()));
  block_remaining_ -= take;
  const std::string_view chunk = in.substr(0, take);
  if (options_.sized_block_delivery == SizedBlockDelivery::kStream) {
    if (block_remaining_ == 0) {
      CompleteSizedBlock(chunk, /*from_buffer=*/false);
    } else {
      EmitBinary(chunk);
    }
    return take;
  }
  if (block_remaining_ == 0 && block_buffer_.empty()) {
    // The whole block is in view: deliver it without a copy.
    CompleteSizedBlock(chunk, /*from_buffer=*/false);
  } else {
    block_buffer_.append(chunk.data(), chunk.size());
    if (block_remaining_ == 0) CompleteSizedBlock({}, /*from_buffer=*/true);
  }
  return take;
}

void LineFramer::CompleteSizedBlock(std::string_view last_chunk,
                                    bool from_buffer) {
  // Line mode first (as LineText2 does), so that either callback may chain
  // another block.
  mode_ = Mode::kLine;
  block_remaining_ = 0;
  if (options_.sized_block_delivery == SizedBlockDelivery::kWhole) {
    if (from_buffer) {
      block_scratch_.swap(block_buffer_);
      EmitBinary(block_scratch_);
      block_scratch_.clear();
    } else {
      EmitBinary(last_chunk);
    }
  } else if (!last_chunk.empty()) {
    EmitBinary(last_chunk);
  }
  EmitBinaryEnd(BinaryEnd::kComplete);
}

void LineFramer::Fail(absl::Status status) {
  failed_ = true;
  line_buffer_.clear();
  block_buffer_.clear();
  pending_.clear();
  pending_pos_ = 0;
  pushback_.clear();
  if (stopped_) return;
  ++callback_depth_;
  listener_->OnError(status);
  --callback_depth_;
}

void LineFramer::EmitLine(std::string_view line) {
  if (stopped_ || failed_) return;
  ++callback_depth_;
  listener_->OnLine(line);
  --callback_depth_;
}

void LineFramer::EmitBinary(std::string_view data) {
  if (stopped_ || failed_) return;
  ++callback_depth_;
  listener_->OnBinary(data);
  --callback_depth_;
}

void LineFramer::EmitBinaryEnd(BinaryEnd how) {
  if (stopped_ || failed_) return;
  ++callback_depth_;
  listener_->OnBinaryEnd(how);
  --callback_depth_;
}

}  // namespace ember::protocols
