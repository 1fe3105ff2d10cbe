#include "reactor/outbound_buffer.h"

#include <algorithm>
#include <cstring>

#include "io/check.h"

namespace ember {

std::unique_ptr<char[]> OutboundBuffer::NewBlockStorage() {
  if (!spares_.empty()) {
    std::unique_ptr<char[]> storage = std::move(spares_.back());
    spares_.pop_back();
    return storage;
  }
  return std::unique_ptr<char[]>(new char[kBlockBytes]);
}

void OutboundBuffer::Append(std::string_view data) {
  size_ += data.size();
  while (!data.empty()) {
    if (blocks_.empty() || blocks_.back().end == kBlockBytes) {
      blocks_.push_back(Block{NewBlockStorage(), 0, 0});
    }
    Block& tail = blocks_.back();
    const size_t n = std::min(data.size(), kBlockBytes - tail.end);
    std::memcpy(tail.data.get() + tail.end, data.data(), n);
    tail.end += n;
    data.remove_prefix(n);
  }
}

size_t OutboundBuffer::Gather(io::ConstBuffer* out, size_t max) const {
  size_t n = 0;
  for (const Block& block : blocks_) {
    if (n == max) break;
    if (block.end == block.begin) continue;
    out[n++] = io::ConstBuffer{block.data.get() + block.begin,
                               block.end - block.begin};
  }
  return n;
}

void OutboundBuffer::Consume(size_t bytes) {
  EMBER_CHECK(bytes <= size_);
  size_ -= bytes;
  while (bytes > 0) {
    Block& front = blocks_.front();
    const size_t n = std::min(bytes, front.end - front.begin);
    front.begin += n;
    bytes -= n;
    if (front.begin == front.end) {
      if (spares_.size() < kSpareBlocksMax) {
        spares_.push_back(std::move(front.data));
      }
      blocks_.pop_front();
    }
  }
}

void OutboundBuffer::Clear() {
  blocks_.clear();
  spares_.clear();
  size_ = 0;
}

}  // namespace ember
