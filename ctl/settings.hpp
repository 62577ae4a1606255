// Where healthsweepctl finds the daemon: the listener, the bearer token and
// PostgreSQL, read from the daemon's own config file (--config, or the
// default path when that file exists and --url is not given) and overridden
// by --url / --token-file.
#pragma once

#include <optional>
#include <string>

#include "clients/http/url.hpp"
#include "ctl/options.hpp"

namespace healthsweep::ctl {

struct Settings {
  clients::http::HttpUrl url;         // the admin API's base
  std::string token;                  // empty: none (POSTs then get 401/403)
  std::optional<std::string> pg_dsn;  // set when the config has a postgres section
};

struct SettingsResult {
  std::optional<Settings> settings;
  std::string error;  // a config or flag problem: exit code 2
};

SettingsResult resolve_settings(const Options& options);

// "http://127.0.0.1:9470" for a listener; a wildcard address (0.0.0.0, ::) is
// reached on loopback. Empty when the port is 0 (the kernel picked one).
std::string url_for_listener(const std::string& host, int port);

}  // namespace healthsweep::ctl
