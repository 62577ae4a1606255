// Fuzz target for the configuration loader: any bytes must give either a
// Config or a list of positioned errors, never a crash or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Relative token/DSN paths resolve under a directory that does not exist,
  // so the harness never reads files of the machine it runs on.
  const auto result = healthsweep::config::load_string(text, "/nonexistent/fuzz/healthsweep.yaml");
  if (result.config.has_value() == !result.errors.empty()) std::abort();
  for (const auto& error : result.errors)
    if (error.line < 1 || error.column < 1 || error.message.empty()) std::abort();
  return 0;
}
