// A connection's queue of bytes waiting to be written.
//
// Bytes are copied into fixed-size blocks; the front blocks are handed to a
// gathered write (`writev`) without further copying, and emptied blocks are
// kept for reuse, so a connection in steady state allocates nothing. The
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

class OutboundBuffer {
 public:
  static constexpr size_t kBlockBytes = 16 * 1024;
  static constexpr size_t kSpareBlocksMax = 4;

  OutboundBuffer() = default;
  OutboundBuffer(const OutboundBuffer&) = delete;
  OutboundBuffer& operator=(const OutboundBuffer&) = delete;

  void Append(std::string_view data);

  // Describes up to `max` front spans, in order, into `out`. Returns the
  // number of spans written.
  size_t Gather(io::ConstBuffer* out, size_t max) const;

  // Drops `bytes` from the front; bytes <= size().
  void Consume(size_t bytes);

  // Drops everything (and the spare blocks).
  void Clear();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t begin = 0;
    size_t end = 0;
  };
  std::unique_ptr<char[]> NewBlockStorage();

  std::deque<Block> blocks_;
  std::vector<std::unique_ptr<char[]>> spares_;
  size_t size_ = 0;
};

}  // namespace ember

#endif  // EMBER_REACTOR_OUTBOUND_BUFFER_H_
