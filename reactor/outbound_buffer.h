// A connection's queue of bytes waiting to be written.
//
// Bytes are copied into fixed-size blocks; the front blocks are handed to a
// gathered write (`writev`) without further copying, and emptied blocks go
// back to a `BlockPool` shared by the reactor's connections, so connections
// in steady state allocate nothing, also for bursts larger than a block. The
// buffer itself has no limit: the connection enforces its configured maximum
// before appending (see `OutboundLimits` in connection.h).

#ifndef EMBER_REACTOR_OUTBOUND_BUFFER_H_
#define EMBER_REACTOR_OUTBOUND_BUFFER_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

#include "io/network.h"

namespace ember {

inline constexpr size_t kOutboundBlockBytes = 16 * 1024;

// Emptied blocks kept for reuse, up to a bound (beyond it they are freed), so
// idle memory stays bounded however many connections once sent a burst.
class BlockPool {
 public:
  explicit BlockPool(size_t blocks_max) : blocks_max_(blocks_max) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  std::unique_ptr<char[]> Take();
  void Give(std::unique_ptr<char[]> block);
  size_t size() const { return blocks_.size(); }

 private:
  const size_t blocks_max_;
  std::vector<std::unique_ptr<char[]>> blocks_;
};

class OutboundBuffer {
 public:
  static constexpr size_t kBlockBytes = kOutboundBlockBytes;

  // Without a pool, blocks are allocated and freed as needed.
  explicit OutboundBuffer(BlockPool* pool = nullptr) : pool_(pool) {}
  OutboundBuffer(const OutboundBuffer&) = delete;
  OutboundBuffer& operator=(const OutboundBuffer&) = delete;

  void Append(std::string_view data);

  // Describes up to `max` front spans, in order, into `out`. Returns the
  // number of spans written.
  size_t Gather(io::ConstBuffer* out, size_t max) const;

  // Drops `bytes` from the front; bytes <= size().
  void Consume(size_t bytes);

  // Drops everything, returning the blocks to the pool.
  void Clear();

  // Sets the pool; only while the buffer is empty.
  void set_pool(BlockPool* pool);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t begin = 0;
    size_t end = 0;
  };
  std::unique_ptr<char[]> NewBlockStorage();
  void Release(std::unique_ptr<char[]> storage);

  BlockPool* pool_;
  std::deque<Block> blocks_;
  size_t size_ = 0;
};

}  // namespace ember

#endif  // EMBER_REACTOR_OUTBOUND_BUFFER_H_
