// healthsweepd: command line (SPEC section 2). Exit status 2 for any
// configuration problem, one "PATH:LINE:COLUMN: message" line each, printed
// straight to stderr before logging (and its queue) starts.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "config/config.hpp"
#include "daemon/app.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/logging.hpp"

namespace {

constexpr const char* usage =
    "usage: healthsweepd [--config PATH] | --check-config PATH | --version\n"
    "  --config PATH        run (default /etc/healthsweep/healthsweep.yaml, falling back\n"
    "                       to config/healthsweep.yaml of the source tree)\n"
    "  --check-config PATH  validate and exit: 0 valid, 2 invalid\n"
    "  --version            print the version and exit\n";

std::string default_config_path() {
  const std::string etc = "/etc/healthsweep/healthsweep.yaml";
  if (std::filesystem::exists(etc)) return etc;
  return std::string(HEALTHSWEEP_SOURCE_DIR) + "/config/healthsweep.yaml";
}

// Loads or reports; nullopt after printing every problem.
std::optional<healthsweep::config::Config> load_or_report(const std::string& path) {
  auto result = healthsweep::config::load_file(path);
  for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
  return std::move(result.config);
}

}  // namespace

int main(int argc, char** argv) {
  healthsweep::daemon::heap_without_fastbins();  // before the first allocation (daemon/heap_trim.hpp)
  healthsweep::daemon::heap_maps_large_blocks();
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--version") {
      std::printf("healthsweepd %s\n", HEALTHSWEEP_VERSION);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
      check_only = check_only || arg == "--check-config";
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "healthsweepd: unknown or incomplete argument '%s'\n%s", arg.c_str(), usage);
    return 2;
  }
  if (config_path.empty()) config_path = default_config_path();

  auto config = load_or_report(config_path);
  if (!config) return 2;
  if (check_only) {
    std::printf("%s: ok\n", config_path.c_str());
    return 0;
  }
  int status = 0;
  try {
    healthsweep::daemon::App app(std::move(*config), config_path);
    status = app.run();
  } catch (const std::exception& e) {
    // What the environment refuses at start (listen address taken, spool
    // directory not creatable, libpq missing): one clear line, exit 1,
    // after every line logged before it (the log queue written out first).
    healthsweep::daemon::shutdown_logging();
    std::fprintf(stderr, "healthsweepd: %s\n", e.what());
    return 1;
  }
  // The log worker writes what is still queued before the process ends.
  healthsweep::daemon::shutdown_logging();
  return status;
}
