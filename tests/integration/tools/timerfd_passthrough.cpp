// Preloaded in front of libfaketime for the clock-jump tests: hands
// timerfd_settime() straight to the kernel.
//
// libfaketime 0.9.10 converts every absolute timerfd deadline
// (TFD_TIMER_ABSTIME) as if it were on CLOCK_REALTIME ("only CLOCK_REALTIME
// is handled" in its timer_settime_common), even for a CLOCK_MONOTONIC timer
// with FAKETIME_DONT_FAKE_MONOTONIC=1. Asio arms its CLOCK_MONOTONIC timerfd
// with an absolute 1 ns for a timer that is already due, so under a positive
// offset the kernel refuses the value and Asio's loop sleeps until its
// 5-minute cap: a stall made by the tool, not by the program under test. A
// real wall-clock step never moves CLOCK_MONOTONIC, so passing monotonic
// timers through unchanged is what a real step looks like. (Checked with a
// 30-line Asio program: with this shim immediate and 300 ms timers fire on
// time under +3600 s and -3600 s and across changes of the offset; without
// it the first immediate timer under +3600 s fires only at that 5-minute cap.)
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

extern "C" int timerfd_settime(int fd, int flags, const struct itimerspec* new_value,
                               struct itimerspec* old_value) {
  return static_cast<int>(syscall(SYS_timerfd_settime, fd, flags, new_value, old_value));
}
