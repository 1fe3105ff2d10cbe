// A connection's queue of bytes waiting to be written.
//
// Bytes are copied into fixed-size blocks chained in a singly linked list
// whose links live inside the blocks themselves; the front blocks are handed
// to a gathered write (`writev`) without further copying, and emptied blocks
// go back to a `BlockPool` shared by the reactor's connections. An empty
// buffer owns no memory (it is three pointers and a size), and a buffer in
// steady state allocates nothing, also for bursts larger than a block: the
// only allocations are blocks the pool does not have yet. The buffer itself
// has no limit: the connection enforces its configured maximum before
// appending (see `OutboundLimits` in connection.h).

#ifndef EMBER_REACTOR_OUTBOUND_BUFFER_H_
#define EMBER_REACTOR_OUTBOUND_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "io/network.h"

namespace ember {

// Bytes of data a block holds.
inline constexpr size_t kOutboundBlockBytes = 16 * 1024;

namespace outbound_internal {
// One block: its link, the span of it still to be written, and its bytes.
struct Block {
  Block* next = nullptr;
  uint32_t begin = 0;
  uint32_t end = 0;
  char data[kOutboundBlockBytes];
};

// The calls into the allocator, out of line: they would weigh on the
// inline paths that take and give blocks.
Block* AllocateBlock();
void FreeBlock(Block* block);
}  // namespace outbound_internal

// Emptied blocks kept for reuse, up to a bound (beyond it they are freed), so
// idle memory stays bounded however many connections once sent a burst.
// Keeping and taking a block never allocates (the free list is linked
// through the blocks).
class BlockPool {
 public:
  explicit BlockPool(size_t blocks_max) : blocks_max_(blocks_max) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block with begin == end == 0 and no link: a kept one, or a new one.
  // Inline: a connection's queue takes one and gives it back per answer.
  outbound_internal::Block* Take() {
    if (free_ == nullptr) return outbound_internal::AllocateBlock();
    outbound_internal::Block* block = free_;
    free_ = block->next;
    --size_;
    block->next = nullptr;
    return block;
  }
  // Keeps `block` for reuse, or frees it when the pool is full.
  void Give(outbound_internal::Block* block) {
    if (size_ >= blocks_max_) {
      outbound_internal::FreeBlock(block);
      return;
    }
    block->next = free_;
    block->begin = 0;
    block->end = 0;
    free_ = block;
    ++size_;
  }
  size_t size() const { return size_; }

 private:
  const size_t blocks_max_;
  outbound_internal::Block* free_ = nullptr;
  size_t size_ = 0;
};

class OutboundBuffer {
 public:
  static constexpr size_t kBlockBytes = kOutboundBlockBytes;

  // Without a pool, blocks are allocated and freed as needed.
  explicit OutboundBuffer(BlockPool* pool = nullptr) : pool_(pool) {}
  ~OutboundBuffer() { Clear(); }
  OutboundBuffer(const OutboundBuffer&) = delete;
  OutboundBuffer& operator=(const OutboundBuffer&) = delete;

  void Append(std::string_view data) {
    // The common cases, inline: the bytes fit the last block, or an empty
    // queue takes one block for them.
    if (tail_ != nullptr) {
      if (data.size() > kBlockBytes - tail_->end || data.empty()) {
        AppendBlocks(data);
        return;
      }
    } else {
      if (data.size() > kBlockBytes || data.empty()) {
        AppendBlocks(data);
        return;
      }
      head_ = tail_ = NewBlock();
    }
    std::memcpy(tail_->data + tail_->end, data.data(), data.size());
    tail_->end += static_cast<uint32_t>(data.size());
    size_ += data.size();
  }

  // Describes up to `max` front spans, in order, into `out`. Returns the
  // number of spans written.
  size_t Gather(io::ConstBuffer* out, size_t max) const {
    // The usual queue, inline: one block (never an empty one).
    if (head_ != nullptr && head_ == tail_ && max > 0) {
      out[0] = io::ConstBuffer{head_->data + head_->begin,
                               static_cast<size_t>(head_->end - head_->begin)};
      return 1;
    }
    return GatherBlocks(out, max);
  }

  // Drops `bytes` from the front; bytes <= size().
  void Consume(size_t bytes) {
    // The usual write takes everything, inline: the blocks go back.
    if (bytes == size_) {
      Clear();
      return;
    }
    ConsumeSome(bytes);
  }

  // Drops everything, returning the blocks to the pool. Inline: the usual
  // queue drains to empty after every write.
  void Clear() {
    while (head_ != nullptr) {
      outbound_internal::Block* next = head_->next;
      Release(head_);
      head_ = next;
    }
    tail_ = nullptr;
    size_ = 0;
  }

  // Sets the pool; only while the buffer is empty.
  void set_pool(BlockPool* pool);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  // Append's general case: into new blocks as needed.
  void AppendBlocks(std::string_view data);
  // Gather's and Consume's general cases.
  size_t GatherBlocks(io::ConstBuffer* out, size_t max) const;
  void ConsumeSome(size_t bytes);
  outbound_internal::Block* NewBlock() {
    return pool_ != nullptr ? pool_->Take() : outbound_internal::AllocateBlock();
  }
  void Release(outbound_internal::Block* block) {
    if (pool_ != nullptr) {
      pool_->Give(block);
    } else {
      outbound_internal::FreeBlock(block);
    }
  }

  BlockPool* pool_;
  outbound_internal::Block* head_ = nullptr;
  outbound_internal::Block* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ember

#endif  // EMBER_REACTOR_OUTBOUND_BUFFER_H_
