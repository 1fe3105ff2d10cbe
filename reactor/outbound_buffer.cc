#include "reactor/outbound_buffer.h"

#include <algorithm>
#include <cstring>

#include "io/check.h"

namespace ember {

using outbound_internal::Block;

BlockPool::~BlockPool() {
  while (free_ != nullptr) {
    Block* next = free_->next;
    outbound_internal::FreeBlock(free_);
    free_ = next;
  }
}

namespace outbound_internal {
Block* AllocateBlock() { return new Block; }
void FreeBlock(Block* block) { delete block; }
}  // namespace outbound_internal

void OutboundBuffer::set_pool(BlockPool* pool) {
  EMBER_CHECK(head_ == nullptr);
  pool_ = pool;
}

void OutboundBuffer::AppendBlocks(std::string_view data) {
  size_ += data.size();
  while (!data.empty()) {
    if (tail_ == nullptr || tail_->end == kBlockBytes) {
      Block* block = NewBlock();
      if (tail_ == nullptr) {
        head_ = block;
      } else {
        tail_->next = block;
      }
      tail_ = block;
    }
    const size_t n = std::min(data.size(), kBlockBytes - tail_->end);
    std::memcpy(tail_->data + tail_->end, data.data(), n);
    tail_->end += static_cast<uint32_t>(n);
    data.remove_prefix(n);
  }
}

size_t OutboundBuffer::GatherBlocks(io::ConstBuffer* out, size_t max) const {
  size_t n = 0;
  for (const Block* block = head_; block != nullptr && n < max;
       block = block->next) {
    if (block->end == block->begin) continue;
    out[n++] = io::ConstBuffer{block->data + block->begin,
                               static_cast<size_t>(block->end - block->begin)};
  }
  return n;
}

void OutboundBuffer::ConsumeSome(size_t bytes) {
  EMBER_CHECK(bytes <= size_);
  size_ -= bytes;
  while (bytes > 0) {
    Block* front = head_;
    const size_t n = std::min<size_t>(bytes, front->end - front->begin);
    front->begin += static_cast<uint32_t>(n);
    bytes -= n;
    if (front->begin == front->end) {
      head_ = front->next;
      if (head_ == nullptr) tail_ = nullptr;
      Release(front);
    }
  }
}

}  // namespace ember
