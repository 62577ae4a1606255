#include "daemon/heap_trim.hpp"

#include <malloc.h>
#include <unistd.h>

#include <fstream>

namespace healthsweep::daemon {

std::size_t resident_anonymous() {
  // "size resident shared text lib data dt", in pages; shared counts the
  // file-backed pages (the binary, the libraries) and shared memory.
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0, shared = 0;
  if (!(statm >> size >> resident >> shared) || shared > resident) return 0;
  return (resident - shared) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

HeapUse heap_use() {
  const auto mi = mallinfo2();
  // fordblks: free chunks in the arenas; fsmblks: free fastbin blocks (part of fordblks' arenas).
  return HeapUse{mi.uordblks + mi.hblkhd, mi.fordblks, resident_anonymous()};
}

bool trim_heap() { return malloc_trim(0) != 0; }

bool heap_without_fastbins() { return mallopt(M_MXFAST, 0) == 1; }

bool heap_maps_large_blocks() { return mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1; }

}  // namespace healthsweep::daemon
