// The message body: Content-Length and read-until-close bodies, chunked
// framing (chunk-size lines, extensions, the CRLF after each chunk) and the
// start of the trailer section. The head's parse is in http_parser_core.cc;
// a request without a body never comes here.

#include "protocols/http/internal/http_parser_core.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "io/check.h"
#include "protocols/http/internal/http_chars.h"

namespace ember::protocols::http_internal {
namespace {

constexpr uint64_t kSaturated = kLengthSaturated;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

size_t HttpParserCore::StepBody(std::string_view in) {
  if (state_ == State::kBodyUntilClose) {
    // Deliver up to the limit first, so that the events before the error
    // do not depend on how the bytes were cut.
    const uint64_t room = options_.body_bytes_max - body_bytes_;
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(room, in.size()));
    body_bytes_ += take;
    if (take > 0) EmitBody(in.substr(0, take));
    if (take < in.size() && state_ != State::kError) {
      Fail(413, absl::StatusCode::kResourceExhausted,
           absl::StrCat("body exceeds ", options_.body_bytes_max, " bytes"));
      return in.size();
    }
    return take;
  }
  const size_t take =
      static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
  remaining_ -= take;
  body_bytes_ += take;
  if (remaining_ == 0) {
    state_ =
        state_ == State::kChunkData ? State::kChunkDataCr : State::kComplete;
  }
  EmitBody(in.substr(0, take));
  return take;
}

size_t HttpParserCore::StepChunkLine(std::string_view in) {
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i++];
    if (state_ == State::kChunkDataCr || state_ == State::kChunkDataLf) {
      if (c != (state_ == State::kChunkDataCr ? '\r' : '\n')) {
        Fail(400, absl::StatusCode::kInvalidArgument,
             "chunk data not followed by CRLF");
        return i;
      }
      state_ = state_ == State::kChunkDataCr ? State::kChunkDataLf
                                             : State::kChunkSize;
      continue;
    }
    if (++chunk_line_bytes_ > options_.chunk_line_bytes_max) {
      Fail(400, absl::StatusCode::kResourceExhausted,
           absl::StrCat("chunk size line exceeds ",
                        options_.chunk_line_bytes_max, " bytes"));
      return i;
    }
    switch (state_) {
      case State::kChunkSize: {
        const int digit = HexValue(c);
        if (digit >= 0) {
          chunk_size_ =
              chunk_size_ >= kSaturated ? kSaturated : chunk_size_ * 16 + digit;
          chunk_size_seen_ = true;
          continue;
        }
        if (!chunk_size_seen_) {
          Fail(400, absl::StatusCode::kInvalidArgument, "invalid chunk size");
          return i;
        }
        if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == ';') {
          state_ = State::kChunkExt;
        } else if (IsBlank(c)) {
          state_ = State::kChunkSizeBlank;
        } else {
          Fail(400, absl::StatusCode::kInvalidArgument, "invalid chunk size");
          return i;
        }
        continue;
      }
      case State::kChunkSizeBlank:
        // chunk-ext allows whitespace only before a ";".
        if (c == ';') {
          state_ = State::kChunkExt;
        } else if (!IsBlank(c)) {
          Fail(400, absl::StatusCode::kInvalidArgument,
               "invalid chunk extension");
          return i;
        }
        continue;
      case State::kChunkExt:
        // Extensions are ignored, but a bare CR or LF, or any other
        // control byte, inside one is refused: lenient parsers disagree
        // about where such a line ends.
        if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (!IsValueChar(c)) {
          Fail(400, absl::StatusCode::kInvalidArgument,
               "invalid character in chunk extension");
          return i;
        }
        continue;
      case State::kChunkSizeLf:
        if (c != '\n') {
          Fail(400, absl::StatusCode::kInvalidArgument,
               "chunk size line not terminated by CRLF");
          return i;
        }
        if (chunk_size_ == 0) {
          StartTrailers();
          return i;
        }
        if (chunk_size_ > options_.body_bytes_max - body_bytes_) {
          Fail(413, absl::StatusCode::kResourceExhausted,
               absl::StrCat("chunked body exceeds ", options_.body_bytes_max,
                            " bytes"));
          return i;
        }
        remaining_ = chunk_size_;
        chunk_size_ = 0;
        chunk_line_bytes_ = 0;
        chunk_size_seen_ = false;
        state_ = State::kChunkData;
        return i;
      default:
        EMBER_CHECK_MSG(false, "bad chunk state");
    }
  }
  return i;
}

void HttpParserCore::StartTrailers() {
  state_ = State::kTrailers;
  in_trailers_ = true;
  buffered_ = false;
  buffer_.clear();
  line_start_ = 0;
  section_bytes_ = 0;
  spans_.clear();
}

void HttpParserCore::EmitBody(std::string_view data) {
  ++callback_depth_;
  if (request_listener_ != nullptr) {
    request_listener_->OnBody(data);
  } else {
    response_listener_->OnBody(data);
  }
  --callback_depth_;
}

}  // namespace ember::protocols::http_internal
