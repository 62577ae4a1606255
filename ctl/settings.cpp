#include "ctl/settings.hpp"

#include <filesystem>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace healthsweep::ctl {

std::string url_for_listener(const std::string& host, int port) {
  if (port == 0) return {};
  std::string h = host;
  if (h.empty() || h == "0.0.0.0") h = "127.0.0.1";
  if (h == "::") h = "::1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port);
}

SettingsResult resolve_settings(const Options& options) {
  SettingsResult out;
  std::optional<config::Config> cfg;
  // A file named with --config must load. The default one is read when it
  // exists and no --url says where the daemon is: an operator who cannot read
  // the daemon's token file (the loader reads it) still gets in with --url.
  const std::string path = options.config_path.value_or(default_config_path);
  std::error_code ignored;
  if (options.config_path || (!options.url && std::filesystem::exists(path, ignored))) {
    auto loaded = config::load_file(path);
    if (!loaded.config) {
      out.error = loaded.errors.front().to_string();
      if (loaded.errors.size() > 1) out.error += " (and " + std::to_string(loaded.errors.size() - 1) + " more)";
      return out;
    }
    cfg = std::move(loaded.config);
  }

  Settings s;
  std::string url_text;
  if (options.url) {
    url_text = *options.url;
  } else if (cfg) {
    url_text = url_for_listener(cfg->listen.host, cfg->listen.port);
    if (url_text.empty()) {
      out.error = "config " + path + ": listen has port 0 (the daemon picks one): give --url";
      return out;
    }
  } else {
    url_text = url_for_listener("127.0.0.1", 9470);  // the daemon's default listen
  }
  auto parsed = clients::http::parse_http_url(url_text);
  if (!parsed.url) {
    out.error = "--url " + url_text + ": " + parsed.error;
    return out;
  }
  s.url = std::move(*parsed.url);

  if (options.token_file) {
    std::string why;
    auto token = config::detail::read_small_file(*options.token_file, why);
    if (!token || token->empty()) {
      out.error = "--token-file " + *options.token_file + ": " + (token ? "empty" : why);
      return out;
    }
    s.token = std::move(*token);
  } else if (cfg && cfg->token) {
    s.token = *cfg->token;
  }
  if (cfg && cfg->postgres.enabled) s.pg_dsn = cfg->postgres.dsn;
  out.settings = std::move(s);
  return out;
}

}  // namespace healthsweep::ctl
