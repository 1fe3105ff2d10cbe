#include "reactor/outbound_buffer.h"

#include <algorithm>
#include <cstring>

#include "io/check.h"

namespace ember {

std::unique_ptr<char[]> BlockPool::Take() {
  if (blocks_.empty()) {
    return std::unique_ptr<char[]>(new char[kOutboundBlockBytes]);
  }
  std::unique_ptr<char[]> block = std::move(blocks_.back());
  blocks_.pop_back();
  return block;
}

void BlockPool::Give(std::unique_ptr<char[]> block) {
  if (blocks_.size() < blocks_max_) blocks_.push_back(std::move(block));
}

std::unique_ptr<char[]> OutboundBuffer::NewBlockStorage() {
  if (pool_ != nullptr) return pool_->Take();
  return std::unique_ptr<char[]>(new char[kBlockBytes]);
}

void OutboundBuffer::Release(std::unique_ptr<char[]> storage) {
  if (pool_ != nullptr) pool_->Give(std::move(storage));
}

void OutboundBuffer::set_pool(BlockPool* pool) {
  EMBER_CHECK(blocks_.empty());
  pool_ = pool;
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
      Release(std::move(front.data));
      blocks_.pop_front();
    }
  }
}

void OutboundBuffer::Clear() {
  for (Block& block : blocks_) Release(std::move(block.data));
  blocks_.clear();
  size_ = 0;
}

}  // namespace ember
