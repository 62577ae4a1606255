// Loading a configuration file: YAML syntax, the top-level keys, listen,
// auth, log and targets. The backend and policy sections are in sections.cpp.
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>

#include "config/config.hpp"
#include "config/reader.hpp"
#include "config/static_list.hpp"

namespace healthsweep::config {
namespace {

using detail::Field;
using detail::Reader;
using detail::Section;
using detail::single_quoted;

constexpr std::size_t max_config_file = std::size_t{16} * 1024 * 1024;

bool valid_target_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

// Docker/Podman container names ([A-Za-z0-9][A-Za-z0-9_.-]*) and hex ids both fit.
bool valid_container(std::string_view name) {
  return !name.empty() && name.size() <= 255 && std::isalnum(static_cast<unsigned char>(name.front())) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
         });
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
  });
}

void read_log(const Section& root, Config& config) {
  const Section log = root.child("log", {"level", "format"});
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error"};
  static constexpr std::string_view formats[] = {"text", "json"};
  int index = 0;
  if (log.choice("level", levels, index)) config.log_level = static_cast<LogLevel>(index);
  if (log.choice("format", formats, index)) config.log_format = static_cast<LogFormat>(index);
}

// The token is read now, so a bad token file stops the load rather than
// surfacing as 401s later.
void read_auth(const Section& root, Config& config) {
  const Section auth = root.child("auth", {"token_file"});
  std::string file;
  if (!auth.string("token_file", file, /*nullable=*/true) || auth.find("token_file")->value.IsNull()) return;
  const Field& field = *auth.find("token_file");
  Reader& reader = auth.reader();
  if (file.empty()) {
    reader.error(field.mark, field.name + ": must not be empty (remove the key to configure no token)");
    return;
  }
  config.token_file = reader.resolve(file);
  std::string why;
  const auto token = detail::read_small_file(config.token_file, why);
  if (!token)
    reader.error(field.mark, field.name + ": cannot read token file " + single_quoted(config.token_file) + ": " + why);
  else if (token->empty())
    reader.error(field.mark, field.name + ": token file " + single_quoted(config.token_file) + " is empty");
  else if (has_space_or_control(*token))
    reader.error(field.mark, field.name + ": token in " + single_quoted(config.token_file) +
                                 " must be one line without spaces or control characters");
  else
    config.token = *token;
}

void read_static_target(Reader& reader, const Field& item, std::map<std::string, int>& seen_ids,
                        Config& config) {
  const Section entry(reader, item, {"id", "container", "http", "tcp", "paused"});
  if (!item.value.IsMap()) return;  // already reported by Section
  StaticTarget target;
  if (!entry.has("id")) {
    reader.error(item.mark, item.name + ": missing required key 'id'");
  } else if (entry.string("id", target.id)) {
    const Field& id = *entry.find("id");
    if (!valid_target_id(target.id)) {
      reader.error(id.mark, id.name + ": invalid target id " + single_quoted(target.id) +
                                " (1-128 characters of A-Z a-z 0-9 . _ : -)");
    } else if (const auto [it, fresh] = seen_ids.emplace(target.id, reader.line_of(id.mark)); !fresh) {
      reader.error(id.mark, id.name + ": duplicate target id " + single_quoted(target.id) + " (first at line " +
                                std::to_string(it->second) + ")");
    }
  }
  if (entry.string("container", target.container) && !valid_container(target.container)) {
    const Field& field = *entry.find("container");
    reader.error(field.mark, field.name + ": invalid container name " + single_quoted(target.container) +
                                 " (letters, digits, '_', '.', '-'; starting with a letter or digit)");
    target.container.clear();
  }
  if (entry.string("http", target.http)) {
    if (const auto problem = detail::check_http_url(target.http)) {
      const Field& field = *entry.find("http");
      reader.error(field.mark, field.name + ": invalid URL " + single_quoted(target.http) + ": " + *problem);
    }
  }
  Endpoint tcp;
  if (entry.endpoint("tcp", tcp)) target.tcp = tcp;
  entry.boolean("paused", target.paused);
  config.targets.static_targets.push_back(std::move(target));
}

// targets.static cut out of the document, read from its own lines.
struct CutList {
  const std::string& yaml;
  const detail::StaticListLines& lines;
};

void read_targets(const Section& root, const CutList* cut, Config& config) {
  const Section targets = root.child("targets", {"static", "engine_label", "postgres_query", "targets_refresh"});
  Reader& reader = targets.reader();
  std::map<std::string, int> seen_ids;
  const auto read_item = [&](const Field& item) { read_static_target(reader, item, seen_ids, config); };
  if (cut) {
    config.targets.static_targets.reserve(cut->lines.item_starts.size());
    detail::for_each_static_item(reader, cut->yaml, cut->lines, targets.name() + ".static", read_item);
  } else {
    for (const Field& item : targets.list("static")) read_item(item);
  }

  std::string label;
  if (targets.string("engine_label", label, /*nullable=*/true)) {
    const Field& field = *targets.find("engine_label");
    if (has_space_or_control(label) || label.find('=') != std::string::npos)
      reader.error(field.mark, field.name + ": invalid label key " + single_quoted(label) + " (no spaces or '=')");
    else
      config.targets.engine_label = label;
  }
  std::string query;
  if (targets.string("postgres_query", query, /*nullable=*/true) && !targets.find("postgres_query")->value.IsNull()) {
    const Field& field = *targets.find("postgres_query");
    if (query.empty())
      reader.error(field.mark, field.name + ": must not be empty (use null for no query)");
    else if (!root.has("postgres"))
      reader.error(field.mark, field.name + ": needs the postgres section (there is no database to query)");
    else
      config.targets.postgres_query = query;
  }
  targets.duration("targets_refresh", config.targets.targets_refresh, /*allow_zero=*/false);
}

void read_document(Reader& reader, const YAML::Node& document, const CutList* cut, Config& config) {
  const Section root(reader, Field{document, document.Mark(), "", document.Mark()},
                     {"listen", "listen_max_connections_per_client", "auth", "log", "targets", "redis",
                      "engine", "postgres", "sweeps", "remediation", "cluster", "liveness", "shutdown_grace"});
  // Port 0: the kernel picks a free port, logged as "listening on" (tests and
  // side-by-side instances use it; there is no race for a port).
  root.endpoint("listen", config.listen, true);
  root.integer("listen_max_connections_per_client", config.listen_max_connections_per_client, 1, 1000000);
  read_auth(root, config);
  read_log(root, config);
  read_targets(root, cut, config);
  detail::read_sections(root, config);
  root.duration("shutdown_grace", config.shutdown_grace, /*allow_zero=*/true);
}

// Checks the document structure; true when exactly one document can be loaded.
bool check_documents(Reader& reader, const detail::Outline& outline, const std::string& yaml) {
  const auto& marks = outline.documents;
  if (outline.repeats) {
    const YAML::Mark& at = marks.back();
    const auto pos = static_cast<std::size_t>(at.pos);
    const std::string what = pos < yaml.size() ? " '" + std::string(1, yaml[pos]) + "'" : "";
    reader.error(at, "YAML syntax error: unexpected" + what + " outside of a [list] or {map}");
    return false;
  }
  if (marks.size() > 1) {
    reader.error(marks[1], "more than one YAML document ('---'); put all settings in one");
    return false;
  }
  return true;
}

std::filesystem::path directory_of(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path given = path.empty() ? std::filesystem::path(".") : std::filesystem::path(path);
  auto absolute = std::filesystem::absolute(given, ec);
  if (ec) return std::filesystem::path(path).parent_path();
  return path.empty() ? absolute : absolute.parent_path();
}

// `cut_list`: read targets.static a chunk at a time when the outline allows
// (static_list.hpp); otherwise, and when a chunk does not read as expected,
// the whole document is one tree.
LoadResult load(const std::string& yaml, const std::string& path, bool cut_list) {
  Reader reader(path, directory_of(path));
  Config config;
  config.source_path = path;
  try {
    const detail::Outline outline = detail::outline_of(yaml);
    if (check_documents(reader, outline, yaml)) {
      // By pointer: the lines of a 100,000-item list are 1.6 MB, not to be copied.
      const detail::StaticListLines* lines = cut_list && outline.static_list ? &*outline.static_list : nullptr;
      const YAML::Node document = YAML::Load(lines ? detail::without_static_list(yaml, *lines) : yaml);
      if (document.IsNull()) {
        reader.error_at_start("the configuration is empty (expected a map of settings, see config/healthsweep.yaml)");
      } else if (lines) {
        const CutList list{yaml, *lines};
        read_document(reader, document, &list, config);
      } else {
        read_document(reader, document, nullptr, config);
      }
    }
  } catch (const detail::StaticListCutFailed&) {
    return load(yaml, path, /*cut_list=*/false);
  } catch (const YAML::DeepRecursion& e) {
    reader.error(e.mark, "YAML syntax error: nesting too deep");
  } catch (const YAML::ParserException& e) {
    reader.error(e.mark, "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    reader.error(e.mark, "YAML error: " + e.msg);
  } catch (const std::exception& e) {
    reader.error_at_start(std::string("cannot load the configuration: ") + e.what());
  }
  LoadResult result;
  result.errors = reader.take_errors();
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

LoadResult load_string(const std::string& yaml, const std::string& path) { return load(yaml, path, true); }

namespace detail {
LoadResult load_string_as_one_tree(const std::string& yaml, const std::string& path) {
  return load(yaml, path, false);
}
}  // namespace detail

LoadResult load_file(const std::string& path) {
  std::string why;
  const auto text = detail::read_text_file(path, max_config_file, why);
  if (!text) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 1, 1, "cannot read configuration file: " + why});
    return result;
  }
  return load_string(*text, path);
}

}  // namespace healthsweep::config
