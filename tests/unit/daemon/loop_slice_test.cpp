#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "daemon/loop_slice.hpp"

using namespace healthsweep::daemon;
using namespace std::chrono_literals;

namespace {

// The calling thread's slice as the kernel reports it (sched_attr's
// sched_runtime; 0 where the kernel does not report one).
std::chrono::nanoseconds own_slice() {
  std::uint32_t attr[14] = {};  // struct sched_attr, 56 bytes; sched_runtime at byte 24
  EXPECT_EQ(::syscall(SYS_sched_getattr, 0, attr, sizeof attr, 0), 0) << std::strerror(errno);
  std::uint64_t runtime = 0;
  std::memcpy(&runtime, reinterpret_cast<const char*>(attr) + 24, sizeof runtime);
  return std::chrono::nanoseconds{runtime};
}

// Runs f on a thread of its own: the test process's threads keep theirs.
template <typename F>
void on_a_new_thread(F f) {
  std::thread(f).join();
}

}  // namespace

TEST(LoopSlice, TheLoopGetsTheShortSliceAndKeepsItsNiceValue) {
  on_a_new_thread([] {
    if (own_slice() == 0ns) GTEST_SKIP() << "SKIPPED: this kernel reports no slice (EEVDF is Linux 6.6+)";
    ASSERT_EQ(::setpriority(PRIO_PROCESS, ::gettid(), 3), 0) << std::strerror(errno);
    SliceChange change;
    ASSERT_FALSE(request_slice(loop_slice, change));
    EXPECT_TRUE(change.normal_policy);
    EXPECT_GT(change.before, loop_slice);  // the kernel's default: 0.7 ms and more
    EXPECT_EQ(change.after, loop_slice);
    EXPECT_EQ(own_slice(), loop_slice);
    EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    errno = 0;
    EXPECT_EQ(::getpriority(PRIO_PROCESS, ::gettid()), 3) << "the nice value was reset";
    EXPECT_EQ(errno, 0);
  });
}

TEST(LoopSlice, AThreadTheLoopStartsLaterInheritsTheSlice) {
  on_a_new_thread([] {
    if (own_slice() == 0ns) GTEST_SKIP() << "SKIPPED: this kernel reports no slice (EEVDF is Linux 6.6+)";
    const auto kernel_default = own_slice();
    std::chrono::nanoseconds started_before{0}, started_after{0};
    std::thread before([&] { started_before = own_slice(); });
    before.join();
    SliceChange change;
    ASSERT_FALSE(request_slice(loop_slice, change));
    std::thread after([&] { started_after = own_slice(); });
    after.join();
    EXPECT_EQ(started_before, kernel_default);
    EXPECT_EQ(started_after, loop_slice);  // what loop_slice.hpp says of the parse thread
  });
}

TEST(LoopSlice, ARealTimeLoopIsLeftUnderItsPolicy) {
  on_a_new_thread([] {
    sched_param fifo{};
    fifo.sched_priority = 1;
    if (const int e = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &fifo); e != 0)
      GTEST_SKIP() << "SKIPPED: SCHED_FIFO refused here (" << std::strerror(e) << "): needs CAP_SYS_NICE";
    SliceChange change;
    ASSERT_FALSE(request_slice(loop_slice, change));
    EXPECT_FALSE(change.normal_policy);
    EXPECT_EQ(change.after, change.before);
    int policy = -1;
    sched_param now{};
    ASSERT_EQ(::pthread_getschedparam(::pthread_self(), &policy, &now), 0);
    EXPECT_EQ(policy, SCHED_FIFO);
    EXPECT_EQ(now.sched_priority, 1);
  });
}
