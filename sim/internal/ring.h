// Growable circular buffers for the simulator's hot paths.
//
// `ByteRing` holds the bytes of one stream direction (in flight and waiting
// at the reader); `RingQueue<T>` holds small trivially copyable records
// (segments in flight, queued connections, queued datagrams). Both grow by
// doubling and never shrink, so a connection that has reached its working
// size copies bytes without allocating. Their size is bounded by the caller
// (the receive window, the backlog, the datagram buffer), not here.

#ifndef EMBER_SIM_INTERNAL_RING_H_
#define EMBER_SIM_INTERNAL_RING_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include "io/check.h"

namespace ember::sim::internal {

class ByteRing {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Appends `n` bytes, growing the storage if needed.
  void Append(const char* data, size_t n) {
    if (n == 0) return;
    if (size_ + n > capacity_) Grow(size_ + n);
    size_t tail = head_ + size_;
    if (tail >= capacity_) tail -= capacity_;
    const size_t first = std::min(n, capacity_ - tail);
    std::memcpy(buf_.get() + tail, data, first);
    std::memcpy(buf_.get(), data + first, n - first);
    size_ += n;
  }

  // Copies the first `n` bytes out and removes them. Precondition: n <= size().
  void Take(char* out, size_t n) {
    EMBER_CHECK(n <= size_);
    const size_t first = std::min(n, capacity_ - head_);
    std::memcpy(out, buf_.get() + head_, first);
    std::memcpy(out + first, buf_.get(), n - first);
    Drop(n);
  }

  // Removes the first `n` bytes. Precondition: n <= size().
  void Drop(size_t n) {
    EMBER_CHECK(n <= size_);
    size_ -= n;
    head_ += n;
    if (head_ >= capacity_) head_ -= capacity_;
    if (size_ == 0) head_ = 0;
  }

  // Removes everything, keeping the storage for reuse.
  void Clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  void Grow(size_t need) {
    size_t capacity = capacity_ == 0 ? 256 : capacity_;
    while (capacity < need) capacity *= 2;
    std::unique_ptr<char[]> bigger(new char[capacity]);
    const size_t first = std::min(size_, capacity_ - head_);
    if (size_ > 0) {
      std::memcpy(bigger.get(), buf_.get() + head_, first);
      std::memcpy(bigger.get() + first, buf_.get(), size_ - first);
    }
    buf_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

template <typename T>
class RingQueue {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& front() {
    EMBER_CHECK(size_ > 0);
    return buf_[head_];
  }
  const T& front() const {
    EMBER_CHECK(size_ > 0);
    return buf_[head_];
  }
  T& back() {
    EMBER_CHECK(size_ > 0);
    return (*this)[size_ - 1];
  }
  // The i-th element from the front. Precondition: i < size().
  T& operator[](size_t i) {
    size_t at = head_ + i;
    if (at >= capacity_) at -= capacity_;
    return buf_[at];
  }
  const T& operator[](size_t i) const {
    size_t at = head_ + i;
    if (at >= capacity_) at -= capacity_;
    return buf_[at];
  }

  void push_back(const T& value) {
    if (size_ == capacity_) Grow();
    size_t tail = head_ + size_;
    if (tail >= capacity_) tail -= capacity_;
    buf_[tail] = value;
    ++size_;
  }

  void pop_front() {
    EMBER_CHECK(size_ > 0);
    ++head_;
    if (head_ == capacity_) head_ = 0;
    --size_;
  }

  void clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  void Grow() {
    const size_t capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    std::unique_ptr<T[]> bigger(new T[capacity]);
    for (size_t i = 0; i < size_; ++i) bigger[i] = (*this)[i];
    buf_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<T[]> buf_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace ember::sim::internal

#endif  // EMBER_SIM_INTERNAL_RING_H_
