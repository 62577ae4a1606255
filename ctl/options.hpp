// healthsweepctl's command line: one command, its argument, and flags that
// may stand anywhere (`--flag VALUE` or `--flag=VALUE`). Pure parsing: no
// file is read here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace healthsweep::ctl {

inline constexpr const char* default_config_path = "/etc/healthsweep/healthsweep.yaml";

enum class Command { status, targets, target, reset, sweep, events, help };

struct Options {
  Command command = Command::help;
  std::string id;                          // target, reset, sweep
  std::optional<std::string> config_path;  // --config (else the default, when it exists)
  std::optional<std::string> url;          // --url: overrides the config's `listen`
  std::optional<std::string> token_file;   // --token-file: overrides auth.token_file
  bool json = false;                       // --output json (else table)
  std::string state;                       // targets --state
  std::string layer;                       // targets --layer
  bool follow = false;                     // events --follow
  std::chrono::milliseconds timeout{5000}; // --timeout: per request
  int chunk_size = 500;                    // --chunk-size: targets a page (0: one request for all)
};

struct ParsedArgs {
  std::optional<Options> options;  // empty on a usage error
  std::string error;               // the usage error, one line
};

// `args` excludes the program name.
ParsedArgs parse_args(const std::vector<std::string>& args);

// The text of `healthsweepctl --help`.
std::string usage_text();

}  // namespace healthsweep::ctl
