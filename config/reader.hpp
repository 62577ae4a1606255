// Internal to config/: walks a yaml-cpp document against the schema and
// collects every problem with its line and column instead of stopping at the
// first. Not part of the public API (include config/config.hpp instead).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace healthsweep::config::detail {

// The sink for problems of one document, plus what relative paths resolve against.
class Reader {
 public:
  Reader(std::string path, std::filesystem::path base_dir);

  void error(const YAML::Mark& mark, std::string message);
  void error_at_start(std::string message);  // 1:1, for problems without a node
  bool has_errors() const { return !errors_.empty(); }
  // Every problem, in document order (line, then column).
  std::vector<ConfigError> take_errors();

  const std::string& path() const { return path_; }
  // A mark's line in the file, from 1. A chunk of targets.static parsed from
  // its own lines (static_list.hpp) counts its marks' lines from its first
  // line; the reader adds that line back while the chunk is read.
  int line_of(const YAML::Mark& mark) const { return mark.line + 1 + line_offset_; }
  void set_line_offset(int lines) { line_offset_ = lines; }
  // A path from the file, made absolute against the config file's directory.
  std::string resolve(const std::string& path) const;

 private:
  std::string path_;
  std::filesystem::path base_dir_;
  std::vector<ConfigError> errors_;
  int line_offset_ = 0;
};

// One key's value in a section, with the dotted name used in messages
// ("sweeps.proactive.interval") and the position to report problems at.
struct Field {
  YAML::Node value;
  YAML::Mark mark;      // the value's own position; the key's when the value is null
  std::string name;
  YAML::Mark key_mark;  // the key's position (a list item's own for items)
};

// 'text' for messages, shortened when long.
std::string single_quoted(std::string_view text);

// "a map", "a list", "null", "a scalar": for "expected X, got Y" messages.
std::string_view kind_of(const YAML::Node& node);

// A YAML map of the schema. Construction reports a node that is not a map,
// unknown keys (with a did-you-mean suggestion) and duplicate keys; the typed
// getters then leave `out` unchanged when the key is absent or its value is
// invalid (the problem is recorded in the Reader).
class Section {
 public:
  Section(Reader& reader, const Field& field, std::initializer_list<std::string_view> keys);

  Reader& reader() const { return *reader_; }
  const std::string& name() const { return name_; }
  const YAML::Mark& mark() const { return mark_; }
  const YAML::Mark& key_mark() const { return key_mark_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const Field* find(std::string_view key) const;
  // A nested map; an absent or null key gives an empty section.
  Section child(std::string_view key, std::initializer_list<std::string_view> keys) const;
  // A list's items, each named "key[i]"; absent or null gives no items.
  std::vector<Field> list(std::string_view key) const;

  // Scalars. `nullable`: a null value is accepted and means "not set".
  bool string(std::string_view key, std::string& out, bool nullable = false) const;
  bool boolean(std::string_view key, bool& out) const;
  bool integer(std::string_view key, int& out, int min, int max) const;
  bool fraction(std::string_view key, double& out) const;  // 0..1 inclusive
  bool duration(std::string_view key, Duration& out, bool allow_zero) const;
  bool endpoint(std::string_view key, Endpoint& out, bool port_zero_allowed = false) const;
  // One of `names`; `out` becomes the index of the match.
  bool choice(std::string_view key, std::span<const std::string_view> names, int& out) const;

  // The value of `key` if it is a (non-null) scalar; reports any other kind.
  const Field* scalar(std::string_view key, std::string_view expected) const;

 private:
  Reader* reader_;
  std::string name_;
  YAML::Mark mark_;
  YAML::Mark key_mark_;
  std::vector<std::pair<std::string, Field>> fields_;
};

// A host:port value that is not a key of a section (a list item); reports a
// problem as Section::endpoint does.
bool endpoint_value(Reader& reader, const Field& field, Endpoint& out, bool port_zero_allowed = false);

// Value checks shared by the sections; each returns an error message, or
// nullopt when the value is fine.
std::optional<std::string> check_http_url(std::string_view url);
std::optional<std::string> check_redis_url(std::string_view url);

// Reads a regular file of at most `max_bytes`; on failure returns nullopt
// and sets `why` (strerror text or a reason).
std::optional<std::string> read_text_file(const std::string& path, std::size_t max_bytes, std::string& why);
// Same for a small secret (token, DSN; at most 64 KiB), trailing whitespace trimmed.
std::optional<std::string> read_small_file(const std::string& path, std::string& why);

// The known key closest to `key` when it is close enough to be a typo.
std::optional<std::string_view> suggest_key(std::string_view key,
                                            std::initializer_list<std::string_view> keys);

// load_string without the chunked reading of targets.static: the document as
// one tree (tests compare the two).
LoadResult load_string_as_one_tree(const std::string& yaml, const std::string& path);

// redis, engine, postgres, sweeps, remediation, liveness (sections.cpp);
// `root` is the document's top-level map.
void read_sections(const Section& root, Config& config);

}  // namespace healthsweep::config::detail
