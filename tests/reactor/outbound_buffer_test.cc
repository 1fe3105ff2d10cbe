// Goal: the outbound buffer hands back exactly the bytes appended, in order,
// across block boundaries and partial consumption, and gathers at most the
// number of spans asked for.

#include "reactor/outbound_buffer.h"

#include <string>

#include "gtest/gtest.h"

namespace ember {
namespace {

std::string Drain(OutboundBuffer& b, size_t step) {
  std::string out;
  io::ConstBuffer spans[4];
  while (!b.empty()) {
    size_t n = b.Gather(spans, 4);
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, 4u);
    size_t take = 0;
    for (size_t i = 0; i < n && take < step; ++i) {
      size_t k = std::min(spans[i].size, step - take);
      out.append(spans[i].data, k);
      take += k;
    }
    b.Consume(take);
  }
  return out;
}

TEST(OutboundBufferTest, RoundTripsAcrossBlocks) {
  std::string input;
  for (int i = 0; i < 100000; ++i) input.push_back(static_cast<char>(i * 7));
  for (size_t step : {1u, 1000u, 16384u, 50000u, 1000000u}) {
    OutboundBuffer b;
    b.Append(std::string_view(input).substr(0, 30000));
    b.Append(std::string_view(input).substr(30000));
    EXPECT_EQ(b.size(), input.size());
    EXPECT_EQ(Drain(b, step), input) << "step " << step;
    EXPECT_TRUE(b.empty());
  }
}

// The usual queue is one block; Gather and Consume take a short path for
// it (one span; everything dropped at once). Both ends and the middle.
TEST(OutboundBufferTest, OneBlockGathersOneSpanAndGoesBackWhenDrained) {
  BlockPool pool(4);
  OutboundBuffer b(&pool);
  io::ConstBuffer spans[2];
  auto front = [&] { return std::string(spans[0].data, spans[0].size); };
  EXPECT_EQ(b.Gather(spans, 2), 0u);
  b.Consume(0);
  EXPECT_TRUE(b.empty());
  b.Append("hello, ");
  b.Append("world");
  EXPECT_EQ(b.Gather(spans, 0), 0u);  // Asked for no span.
  ASSERT_EQ(b.Gather(spans, 2), 1u);
  EXPECT_EQ(front(), "hello, world");
  b.Consume(7);  // Part of the block: it stays.
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(pool.size(), 0u);
  ASSERT_EQ(b.Gather(spans, 2), 1u);
  EXPECT_EQ(front(), "world");
  b.Append("!");  // Behind the bytes left, in the same block.
  ASSERT_EQ(b.Gather(spans, 2), 1u);
  EXPECT_EQ(front(), "world!");
  b.Consume(6);  // All of it: the block goes back to the pool.
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(b.Gather(spans, 2), 0u);
  b.Append("again");  // Takes the kept block.
  EXPECT_EQ(pool.size(), 0u);
  ASSERT_EQ(b.Gather(spans, 2), 1u);
  EXPECT_EQ(front(), "again");
  // Two blocks: the general path, which then drains to one block.
  b.Append(std::string(OutboundBuffer::kBlockBytes, 'x'));
  EXPECT_EQ(b.Gather(spans, 2), 2u);
  EXPECT_EQ(b.Gather(spans, 1), 1u);
  EXPECT_EQ(front(),
            "again" + std::string(OutboundBuffer::kBlockBytes - 5, 'x'));
  b.Consume(OutboundBuffer::kBlockBytes);
  EXPECT_EQ(pool.size(), 1u);
  ASSERT_EQ(b.Gather(spans, 2), 1u);
  EXPECT_EQ(front(), "xxxxx");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.size(), 2u);
}

// An empty queue takes its block from the pool inline: only for bytes that
// fit one block, and nothing for no bytes. Drained, the block goes back
// unless the pool is full, when it is freed.
TEST(OutboundBufferTest, EmptyQueueTakesOneBlockOnlyForBytesThatFit) {
  BlockPool pool(1);
  OutboundBuffer a(&pool), b(&pool);
  io::ConstBuffer spans[3];
  a.Append("");
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.Gather(spans, 3), 0u);
  // Exactly one block's worth: one block, one span.
  a.Append(std::string(OutboundBuffer::kBlockBytes, 'a'));
  ASSERT_EQ(a.Gather(spans, 3), 1u);
  EXPECT_EQ(spans[0].size, OutboundBuffer::kBlockBytes);
  // One byte more than a block into an empty queue: two blocks.
  b.Append(std::string(OutboundBuffer::kBlockBytes + 1, 'b'));
  ASSERT_EQ(b.Gather(spans, 3), 2u);
  EXPECT_EQ(spans[1].size, 1u);
  a.Consume(a.size());  // Back to the pool,
  EXPECT_EQ(pool.size(), 1u);
  b.Consume(OutboundBuffer::kBlockBytes);  // which is full: freed.
  EXPECT_EQ(pool.size(), 1u);
  b.Consume(1);  // The one block left: freed too.
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(b.empty());
  // Without a pool the same calls allocate and free.
  OutboundBuffer c;
  c.Append("x");
  ASSERT_EQ(c.Gather(spans, 3), 1u);
  EXPECT_EQ(std::string(spans[0].data, spans[0].size), "x");
  c.Consume(1);
  EXPECT_TRUE(c.empty());
}

TEST(OutboundBufferTest, ReusesAfterDraining) {
  OutboundBuffer b;
  for (int round = 0; round < 10; ++round) {
    b.Append(std::string(OutboundBuffer::kBlockBytes * 3, 'x'));
    EXPECT_EQ(Drain(b, 5000).size(), OutboundBuffer::kBlockBytes * 3);
  }
  b.Append("tail");
  EXPECT_EQ(Drain(b, 2), "tail");
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {

TEST(BlockPoolTest, BuffersReturnBlocksAndThePoolStaysBounded) {
  BlockPool pool(8);
  OutboundBuffer a(&pool), b(&pool);
  // A 20-block burst: 8 blocks come back to the pool, the rest are freed.
  a.Append(std::string(OutboundBuffer::kBlockBytes * 20, 'a'));
  a.Consume(a.size());
  EXPECT_EQ(pool.size(), 8u);
  // Another buffer's burst takes them again before allocating.
  b.Append(std::string(OutboundBuffer::kBlockBytes * 3, 'b'));
  EXPECT_EQ(pool.size(), 5u);
  b.Clear();
  EXPECT_EQ(pool.size(), 8u);
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace ember
