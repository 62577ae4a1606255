#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdlib>
#include <vector>

#include "daemon/heap_trim.hpp"

using namespace healthsweep::daemon;

namespace {
constexpr std::size_t mib = std::size_t{1} << 20;
}

TEST(HeapTrim, LittleFreeMemoryIsLeftAlone) {
  HeapTrimPolicy p;
  EXPECT_FALSE(p.should_trim(HeapUse{100 * mib, 7 * mib}));
  EXPECT_FALSE(p.should_trim(HeapUse{1 * mib, 0}));
}

TEST(HeapTrim, FreeMemoryBelowAnEighthOfTheHeapInUseIsChurnNotWaste) {
  HeapTrimPolicy p;
  EXPECT_FALSE(p.should_trim(HeapUse{160 * mib, 19 * mib}));
  EXPECT_TRUE(p.should_trim(HeapUse{160 * mib, 20 * mib}));
}

TEST(HeapTrim, WhatALoadOf100kTargetsLeavesBehindIsTrimmedOnce) {
  // 137 MiB in use, 54 MiB free inside the heap: measured at 100,000 targets.
  HeapTrimPolicy p;
  EXPECT_TRUE(p.should_trim(HeapUse{137 * mib, 54 * mib}));
  // The trim leaves the chunks free in malloc's lists: not trimmed again.
  EXPECT_FALSE(p.should_trim(HeapUse{137 * mib, 54 * mib}));
  EXPECT_FALSE(p.should_trim(HeapUse{137 * mib, 60 * mib}));
}

TEST(HeapTrim, FreeMemoryGrowingAgainAfterReuseIsTrimmedAgain) {
  HeapTrimPolicy p;
  EXPECT_TRUE(p.should_trim(HeapUse{100 * mib, 40 * mib}));
  EXPECT_FALSE(p.should_trim(HeapUse{130 * mib, 10 * mib}));  // reused by a new load
  EXPECT_FALSE(p.should_trim(HeapUse{110 * mib, 20 * mib}));  // +10 MiB: under an eighth of 110
  EXPECT_TRUE(p.should_trim(HeapUse{100 * mib, 30 * mib}));   // +20 MiB since the low point
}

// Not in the sanitized build: ASan's allocator replaces glibc's, and
// mallinfo2() says nothing there.
#ifndef HS_SANITIZED
TEST(HeapTrim, HeapUseSeesFreedHolesAndTrimmingKeepsLiveBlocksIntact) {
  // Many small blocks, every other one freed: holes below live blocks that
  // glibc does not return by itself.
  std::vector<char*> blocks;
  for (int i = 0; i < 40000; ++i) blocks.push_back(static_cast<char*>(std::malloc(1000)));
  for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i][0] = static_cast<char>(i);
  const auto full = heap_use();
  for (std::size_t i = 0; i < blocks.size(); i += 2) {
    std::free(blocks[i]);
    blocks[i] = nullptr;
  }
  const auto holed = heap_use();
  EXPECT_GE(holed.free, full.free + 15 * mib);
  EXPECT_LE(holed.in_use + 15 * mib, full.in_use);
  trim_heap();
  for (std::size_t i = 1; i < blocks.size(); i += 2) EXPECT_EQ(blocks[i][0], static_cast<char>(i)) << i;
  for (auto* b : blocks) std::free(b);
}

// Without fastbins no freed small chunk waits to be merged in one burst
// later: mallinfo2's fsmblks (bytes in fastbins) stays 0 however many small
// blocks are freed (beyond what the thread's tcache keeps, 7 per size).
TEST(HeapTrim, WithoutFastbinsFreedSmallBlocksAreNotLeftForOneBigMergeLater) {
  auto freed_small = [] {
    std::vector<void*> blocks;
    for (int i = 0; i < 10000; ++i) blocks.push_back(std::malloc(48));
    for (auto* b : blocks) std::free(b);
    return mallinfo2().fsmblks;
  };
  ASSERT_GT(freed_small(), 0u) << "glibc's default keeps them in fastbins (the burst this avoids)";
  ASSERT_TRUE(heap_without_fastbins());
  EXPECT_EQ(freed_small(), 0u);
}

// With the threshold fixed, a large block is mapped (and given back when
// freed) even after a larger mapped block was freed, which makes glibc's
// default raise its threshold above it and serve it from the heap instead.
void* volatile kept_block;  // the compiler may drop a malloc/free pair whose block is never used

TEST(HeapTrim, LargeBlocksStayMappedAfterALargerOneWasFreed) {
  constexpr std::size_t mib = 1024 * 1024;
  auto mapped_for = [](std::size_t bytes) {
    kept_block = std::malloc(16 * mib);  // a mapped block freed: the default threshold rises to 16 MiB
    std::free(kept_block);
    trim_heap();  // no free space at the heap's top to serve it from
    const auto before = mallinfo2().hblkhd;
    kept_block = std::malloc(bytes);
    const auto mapped = mallinfo2().hblkhd - before;
    std::free(kept_block);
    trim_heap();
    return mapped;
  };
  ASSERT_EQ(mapped_for(8 * mib), 0u) << "glibc's default: from the heap, once a bigger block was freed";
  ASSERT_TRUE(heap_maps_large_blocks());
  EXPECT_GE(mapped_for(8 * mib), 8 * mib) << "mapped, and unmapped when freed";
}
#endif  // HS_SANITIZED
