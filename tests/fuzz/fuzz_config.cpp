// Fuzz target for the configuration loader: any bytes must give either a
// Config or a list of positioned errors, never a crash or an escaping exception;
// and reading targets.static a chunk at a time must give what the one-tree
// load gives (config/static_list.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"
#include "config/reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Relative token/DSN paths resolve under a directory that does not exist,
  // so the harness never reads files of the machine it runs on.
  const std::string path = "/nonexistent/fuzz/healthsweep.yaml";
  const auto result = healthsweep::config::load_string(text, path);
  if (result.config.has_value() == !result.errors.empty()) std::abort();
  for (const auto& error : result.errors)
    if (error.line < 1 || error.column < 1 || error.message.empty()) std::abort();

  const auto whole = healthsweep::config::detail::load_string_as_one_tree(text, path);
  if (whole.errors.size() != result.errors.size()) std::abort();
  for (std::size_t i = 0; i < whole.errors.size(); ++i) {
    const auto& a = whole.errors[i];
    const auto& b = result.errors[i];
    if (a.line != b.line || a.column != b.column || a.message != b.message) std::abort();
  }
  if (result.config && result.config->targets.static_targets != whole.config->targets.static_targets) std::abort();
  return 0;
}
