#include "clients/postgres/libpq.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace healthsweep::clients::postgres {

namespace {

LibPq load() {
  // RTLD_NODELETE: connections may be closed by destructors after main().
  void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!lib) {
    const char* why = ::dlerror();
    throw std::runtime_error(std::string("cannot load libpq.so.5 (apt install libpq5): ") + (why ? why : "?"));
  }
  LibPq pq;
#define HS_LIBPQ_RESOLVE(name)                                                                   \
  pq.name = reinterpret_cast<decltype(pq.name)>(::dlsym(lib, #name));                            \
  if (!pq.name) throw std::runtime_error("libpq.so.5 has no " #name);
  HS_LIBPQ_FUNCTIONS(HS_LIBPQ_RESOLVE)
#undef HS_LIBPQ_RESOLVE
  return pq;
}

}  // namespace

const LibPq& libpq() {
  static const LibPq pq = load();  // thread-safe; a failed load throws again next time
  return pq;
}

}  // namespace healthsweep::clients::postgres
