// The main() for seed-sweep tests: link //sim/harness:sweep_main instead of
// GoogleTest's gtest_main.
//
// With `shard_count` in a BUILD file, Bazel asks GoogleTest to split the
// test cases between shards (GTEST_TOTAL_SHARDS). A sweep wants the seeds
// split instead (SeedsFromEnvironment does that), with every test case run
// in every shard; otherwise a test case runs in one shard only, on that
// shard's part of the seeds, and the other parts are never run.

#include <cstdlib>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  unsetenv("GTEST_TOTAL_SHARDS");
  unsetenv("GTEST_SHARD_INDEX");
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
