#include "daemon/heap_trim.hpp"

#include <malloc.h>

namespace healthsweep::daemon {

HeapUse heap_use() {
  const auto mi = mallinfo2();
  // fordblks: free chunks in the arenas; fsmblks: free fastbin blocks (part of fordblks' arenas).
  return HeapUse{mi.uordblks + mi.hblkhd, mi.fordblks};
}

bool trim_heap() { return malloc_trim(0) != 0; }

bool heap_without_fastbins() { return mallopt(M_MXFAST, 0) == 1; }

bool heap_maps_large_blocks() { return mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1; }

}  // namespace healthsweep::daemon
