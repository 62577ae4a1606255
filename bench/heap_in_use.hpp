// The heap a benchmark's one thread holds now: glibc mallinfo2, the main
// arena's bytes in use plus mmapped chunks, malloc's own chunk headers
// included. Exact, not sampled, as long as the measured code runs on the
// calling thread only (other threads allocate in arenas of their own).
#pragma once

#include <malloc.h>

namespace healthsweep::bench {

inline long long heap_in_use() {
  const auto mi = mallinfo2();
  return static_cast<long long>(mi.uordblks + mi.hblkhd);
}

}  // namespace healthsweep::bench
