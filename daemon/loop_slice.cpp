#include "daemon/loop_slice.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace healthsweep::daemon {
namespace {

// <linux/sched/types.h>'s struct sched_attr (SCHED_ATTR_SIZE_VER1): glibc
// 2.36 has no wrapper for sched_setattr/sched_getattr, only the syscalls.
struct SchedAttr {
  std::uint32_t size = sizeof(SchedAttr);
  std::uint32_t sched_policy = 0;
  std::uint64_t sched_flags = 0;
  std::int32_t sched_nice = 0;
  std::uint32_t sched_priority = 0;
  std::uint64_t sched_runtime = 0;  // a fair thread's slice, ns (Linux 6.6+)
  std::uint64_t sched_deadline = 0;
  std::uint64_t sched_period = 0;
  std::uint32_t sched_util_min = 0;
  std::uint32_t sched_util_max = 0;
};
static_assert(sizeof(SchedAttr) == 56);

constexpr std::uint64_t reset_on_fork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

std::error_code last_error() { return {errno, std::generic_category()}; }

}  // namespace

std::error_code request_slice(std::chrono::nanoseconds slice, SliceChange& change) {
  SchedAttr attr;
  if (::syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0) return last_error();
  change.normal_policy = attr.sched_policy == SCHED_OTHER;
  change.before = std::chrono::nanoseconds{attr.sched_runtime};
  change.after = change.before;
  if (!change.normal_policy) return {};
  // The read attributes written back: the nice value, reset-on-fork. The
  // utilization clamps are not touched without their flags.
  attr.size = sizeof attr;
  attr.sched_flags &= reset_on_fork;
  attr.sched_runtime = static_cast<std::uint64_t>(slice.count());
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return last_error();
  if (::syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0) return last_error();
  change.after = std::chrono::nanoseconds{attr.sched_runtime};
  return {};
}

}  // namespace healthsweep::daemon
