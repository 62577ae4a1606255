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
  EXPECT_EQ(p.should_trim(HeapUse{100 * mib, 7 * mib, 0}), TrimReason::none);
  EXPECT_EQ(p.should_trim(HeapUse{1 * mib, 0, 0}), TrimReason::none);
}

TEST(HeapTrim, FreeMemoryBelowAnEighthOfTheHeapInUseIsChurnNotWaste) {
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{160 * mib, 19 * mib, 0}), TrimReason::none);
  EXPECT_EQ(p.should_trim(HeapUse{160 * mib, 20 * mib, 0}), TrimReason::more_free);
}

TEST(HeapTrim, WhatALoadOf100kTargetsLeavesBehindIsTrimmedOnce) {
  // 137 MiB in use, 54 MiB free inside the heap: measured at 100,000 targets.
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{137 * mib, 54 * mib, 0}), TrimReason::more_free);
  // The trim leaves the chunks free in malloc's lists: not trimmed again.
  EXPECT_EQ(p.should_trim(HeapUse{137 * mib, 54 * mib, 0}), TrimReason::none);
  EXPECT_EQ(p.should_trim(HeapUse{137 * mib, 60 * mib, 0}), TrimReason::none);
}

TEST(HeapTrim, FreeMemoryGrowingAgainAfterReuseIsTrimmedAgain) {
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{100 * mib, 40 * mib, 0}), TrimReason::more_free);
  EXPECT_EQ(p.should_trim(HeapUse{130 * mib, 10 * mib, 0}), TrimReason::none);  // reused by a new load
  EXPECT_EQ(p.should_trim(HeapUse{110 * mib, 20 * mib, 0}), TrimReason::none);  // +10 MiB: under an eighth of 110
  EXPECT_EQ(p.should_trim(HeapUse{100 * mib, 30 * mib, 0}), TrimReason::more_free);   // +20 MiB since the low point
}

// The fleet's case (issue 15): after the startup's trim, short-lived blocks
// landing all over the heap bring its free pages back into RAM.
TEST(HeapTrim, FreePagesResidentAgainAreTrimmedOnce8MiBOverWhatTheLastTrimLeft) {
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 54 * mib, 150 * mib}), TrimReason::more_free);  // the startup's free
  p.trimmed(HeapUse{90 * mib, 54 * mib, 100 * mib});                    // 10 MiB beyond in use left
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 54 * mib, 105 * mib}), TrimReason::none);
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 54 * mib, 108 * mib}), TrimReason::resident_again);  // 18 MiB beyond in use
  p.trimmed(HeapUse{90 * mib, 54 * mib, 101 * mib});
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 54 * mib, 101 * mib}), TrimReason::none);
}

TEST(HeapTrim, ResidentMemoryGrowingWithWhatIsInUseIsNotTrimmed) {
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{50 * mib, 1 * mib, 60 * mib}), TrimReason::none);  // the first look is the baseline
  EXPECT_EQ(p.should_trim(HeapUse{80 * mib, 1 * mib, 90 * mib}), TrimReason::none);  // 30,000 more targets
  EXPECT_EQ(p.should_trim(HeapUse{80 * mib, 1 * mib, 98 * mib}), TrimReason::resident_again);
}

TEST(HeapTrim, ResidentAnonymousMemoryIsRead) {
  const auto before = resident_anonymous();
  EXPECT_GT(before, 0u);
  // 32 MiB written: resident, anonymous.
  std::vector<char> big(32 * mib);
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = 1;
  EXPECT_GE(resident_anonymous(), before + 30 * mib);
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
// Free heap chunks left by earlier tests in this process serve such blocks
// first either way, so blocks are taken until those are used up.
TEST(HeapTrim, LargeBlocksStayMappedAfterALargerOneWasFreed) {
  constexpr std::size_t mib = 1024 * 1024;
  auto one_mapped = [](std::size_t bytes) {
    std::vector<void*> held;  // the compiler may drop a malloc/free pair whose block is never used
    std::free(held.emplace_back(std::malloc(16 * mib)));  // mapped, freed: the default threshold rises to 16 MiB
    held.clear();
    bool mapped = false;
    for (int i = 0; i < 32 && !mapped; ++i) {
      const auto before = mallinfo2().hblkhd;
      held.push_back(std::malloc(bytes));
      static_cast<char*>(held.back())[0] = 1;
      mapped = mallinfo2().hblkhd >= before + bytes;
    }
    for (auto* b : held) std::free(b);
    trim_heap();
    return mapped;
  };
  // glibc's default: from the heap, once a bigger block was freed. That
  // holds in a fresh process, which ctest gives each test; a run of many
  // tests in one process may come here after others changed the heap.
  const bool by_default = one_mapped(8 * mib);
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 1) {
    ASSERT_FALSE(by_default) << "glibc's default: from the heap, once a bigger block was freed";
  }
  ASSERT_TRUE(heap_maps_large_blocks());
  EXPECT_TRUE(one_mapped(8 * mib)) << "mapped, and unmapped when freed";
}
#endif  // HS_SANITIZED

TEST(HeapTrim, TheFirstLooksComeSoonAfterTheStartThenGlancesEverySecond) {
  using std::chrono::seconds;
  EXPECT_EQ(heap_trim_wait(0), seconds{1});
  EXPECT_EQ(heap_trim_wait(1), seconds{2});
  EXPECT_EQ(heap_trim_wait(2), seconds{4});
  EXPECT_EQ(heap_trim_wait(3), seconds{8});
  EXPECT_EQ(heap_trim_wait(4), heap_glance_every);  // glances from then on, a look every heap_trim_every
  EXPECT_EQ(heap_trim_wait(1000), heap_glance_every);
}

TEST(HeapTrim, AGlanceCallsForALookOnce8MiBMoreIsResidentThanTheLastLookOrTrimSaw) {
  HeapTrimPolicy p;
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 1 * mib, 100 * mib}), TrimReason::none);
  EXPECT_FALSE(p.worth_a_look(107 * mib));
  EXPECT_TRUE(p.worth_a_look(108 * mib));  // a sweep's free pages back in RAM
  EXPECT_EQ(p.should_trim(HeapUse{90 * mib, 1 * mib, 113 * mib}), TrimReason::resident_again);
  p.trimmed(HeapUse{90 * mib, 1 * mib, 100 * mib});
  EXPECT_FALSE(p.worth_a_look(105 * mib));
  EXPECT_TRUE(p.worth_a_look(109 * mib));
  // Grown in use (more targets): the look says no, and the glances measure from there.
  EXPECT_EQ(p.should_trim(HeapUse{99 * mib, 1 * mib, 109 * mib}), TrimReason::none);
  EXPECT_FALSE(p.worth_a_look(110 * mib));
}
