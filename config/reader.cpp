// The schema walker: sections with known keys, typed getters that record a
// positioned problem instead of throwing, and small-file reading.
#include "config/reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <tuple>

namespace healthsweep::config::detail {
namespace {

constexpr Duration max_duration = std::chrono::hours(24 * 30);
constexpr std::size_t max_small_file = std::size_t{64} * 1024;

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (const auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Why a host:port string is not one, for a message more useful than "invalid".
std::string endpoint_problem(std::string_view text) {
  const auto bracket = text.rfind(']');
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket))
    return "missing ':port'";
  const auto port = text.substr(colon + 1);
  unsigned number = 0;
  if (all_digits(port) && port.size() <= 5) std::from_chars(port.data(), port.data() + port.size(), number);
  if (number < 1 || number > 65535) return "port " + single_quoted(port) + " is not a number in 1-65535";
  if (colon == 0) return "missing host before ':'";
  const auto host = text.substr(0, colon);
  const bool unbracketed_ipv6 = host.find(':') != std::string_view::npos && host.front() != '[';
  return "invalid host " + single_quoted(host) + (unbracketed_ipv6 ? " (IPv6 needs brackets: [::1]:80)" : "");
}

}  // namespace

std::string single_quoted(std::string_view text) {
  constexpr std::size_t shown = 80;  // keep one line readable for huge values
  if (text.size() > shown) return "'" + std::string(text.substr(0, shown)) + "...'";
  return "'" + std::string(text) + "'";
}

// ---------------------------------------------------------------- Reader

Reader::Reader(std::string path, std::filesystem::path base_dir)
    : path_(std::move(path)), base_dir_(std::move(base_dir)) {}

void Reader::error(const YAML::Mark& mark, std::string message) {
  ConfigError e{path_, 1, 1, std::move(message)};
  if (!mark.is_null() && mark.line >= 0 && mark.column >= 0) {
    e.line = line_of(mark);
    e.column = mark.column + 1;
  }
  errors_.push_back(std::move(e));
}

void Reader::error_at_start(std::string message) { error(YAML::Mark::null_mark(), std::move(message)); }

std::vector<ConfigError> Reader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  // A file that is not a config at all should not flood the terminal.
  constexpr std::size_t max_shown = 100;
  if (errors_.size() > max_shown) {
    const std::size_t hidden = errors_.size() - max_shown;
    errors_.resize(max_shown + 1);
    errors_.back().message = "... and " + std::to_string(hidden) + " more problems from here on";
  }
  return std::move(errors_);
}

std::string Reader::resolve(const std::string& path) const {
  std::filesystem::path p(path);
  if (path.empty() || p.is_absolute()) return path;
  auto resolved = (base_dir_ / p).lexically_normal();
  if (!resolved.has_filename() && resolved != resolved.root_path()) resolved = resolved.parent_path();  // "dir/."
  return resolved.string();
}

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "null";
  }
}

// ---------------------------------------------------------------- Section

Section::Section(Reader& reader, const Field& field, std::initializer_list<std::string_view> keys)
    : reader_(&reader), name_(field.name), mark_(field.mark), key_mark_(field.key_mark) {
  const YAML::Node& node = field.value;
  if (!node.IsDefined() || node.IsNull()) return;
  const std::string where = name_.empty() ? "" : " in " + name_;
  if (!node.IsMap()) {
    reader.error(field.mark, (name_.empty() ? std::string("top level") : name_) + ": expected a map, got " +
                                 std::string(kind_of(node)));
    return;
  }
  // Copies, not references: a map iterator's operator-> returns a temporary
  // proxy, so a reference to it->first dies at the end of the statement.
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;
    if (!key_node.IsScalar()) {
      reader.error(key_node.Mark(), "keys must be plain names" + where + ", got " + std::string(kind_of(key_node)));
      continue;
    }
    const std::string& key = key_node.Scalar();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string message = "unknown key " + single_quoted(key) + where;
      if (const auto suggestion = suggest_key(key, keys))
        message += "; did you mean '" + std::string(*suggestion) + "'?";
      else
        message += " (known keys: " + join({keys.begin(), keys.size()}) + ")";
      reader.error(key_node.Mark(), std::move(message));
      continue;
    }
    if (const Field* first = find(key)) {
      reader.error(key_node.Mark(), "duplicate key " + single_quoted(key) + where + " (first at line " +
                                        std::to_string(reader.line_of(first->mark)) + ")");
      continue;
    }
    const YAML::Node value = it->second;
    const bool own_mark = !value.IsNull() && !value.Mark().is_null();
    fields_.emplace_back(key, Field{value, own_mark ? value.Mark() : key_node.Mark(),
                                    name_.empty() ? key : name_ + "." + key, key_node.Mark()});
  }
}

const Field* Section::find(std::string_view key) const {
  for (const auto& [name, field] : fields_)
    if (name == key) return &field;
  return nullptr;
}

Section Section::child(std::string_view key, std::initializer_list<std::string_view> keys) const {
  if (const Field* field = find(key)) return Section(*reader_, *field, keys);
  const std::string name = name_.empty() ? std::string(key) : name_ + "." + std::string(key);
  return Section(*reader_, Field{YAML::Node(), mark_, name, key_mark_}, keys);
}

std::vector<Field> Section::list(std::string_view key) const {
  std::vector<Field> items;
  const Field* field = find(key);
  if (!field || field->value.IsNull()) return items;
  if (!field->value.IsSequence()) {
    reader_->error(field->mark, field->name + ": expected a list, got " + std::string(kind_of(field->value)));
    return items;
  }
  std::size_t index = 0;
  for (const auto& item : field->value) {
    const YAML::Mark mark = item.Mark().is_null() ? field->mark : item.Mark();
    items.push_back(Field{item, mark, field->name + "[" + std::to_string(index++) + "]", mark});
  }
  return items;
}

const Field* Section::scalar(std::string_view key, std::string_view expected) const {
  const Field* field = find(key);
  if (!field) return nullptr;
  if (!field->value.IsScalar()) {
    reader_->error(field->mark, field->name + ": expected " + std::string(expected) + ", got " +
                                    std::string(kind_of(field->value)));
    return nullptr;
  }
  return field;
}

bool Section::string(std::string_view key, std::string& out, bool nullable) const {
  const Field* field = find(key);
  if (field && nullable && field->value.IsNull()) {
    out.clear();
    return true;
  }
  field = scalar(key, "a string");
  if (!field) return false;
  out = field->value.Scalar();
  return true;
}

bool Section::boolean(std::string_view key, bool& out) const {
  const Field* field = scalar(key, "true or false");
  if (!field) return false;
  bool value = false;
  if (!YAML::convert<bool>::decode(field->value, value)) {
    reader_->error(field->mark, field->name + ": expected true or false, got " + single_quoted(field->value.Scalar()));
    return false;
  }
  out = value;
  return true;
}

bool Section::integer(std::string_view key, int& out, int min, int max) const {
  const Field* field = scalar(key, "an integer");
  if (!field) return false;
  const std::string& text = field->value.Scalar();
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end != text.data() + text.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range) ||
      text.empty()) {
    reader_->error(field->mark, field->name + ": expected an integer, got " + single_quoted(text));
    return false;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    const std::string range = max == INT_MAX ? "at least " + std::to_string(min)
                                             : "between " + std::to_string(min) + " and " + std::to_string(max);
    reader_->error(field->mark, field->name + ": must be " + range + ", got " + single_quoted(text));
    return false;
  }
  out = static_cast<int>(value);
  return true;
}

bool Section::fraction(std::string_view key, double& out) const {
  const Field* field = scalar(key, "a number between 0 and 1");
  if (!field) return false;
  const std::string& text = field->value.Scalar();
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    reader_->error(field->mark, field->name + ": expected a number between 0 and 1, got " + single_quoted(text));
    return false;
  }
  if (value < 0.0 || value > 1.0) {
    reader_->error(field->mark, field->name + ": must be between 0 and 1, got " + single_quoted(text));
    return false;
  }
  out = value;
  return true;
}

bool Section::duration(std::string_view key, Duration& out, bool allow_zero) const {
  const Field* field = scalar(key, "a duration like '15s'");
  if (!field) return false;
  const std::string& text = field->value.Scalar();
  const auto value = parse_duration(text);
  if (!value) {
    std::string why;
    if (!text.empty() && text.front() == '-' && parse_duration(std::string_view(text).substr(1)))
      why = ": must not be negative, got " + single_quoted(text);
    else if (all_digits(text))
      why = ": invalid duration " + single_quoted(text) + ": missing unit (ms, s, m, h), e.g. '" +
            (text.size() <= 15 ? text : std::string("15")) + "s'";
    else
      why = ": invalid duration " + single_quoted(text) +
            ": expected whole numbers with units ms, s, m, h, e.g. '250ms', '15s', '1m30s'";
    reader_->error(field->mark, field->name + why);
    return false;
  }
  if (*value == Duration::zero() && !allow_zero) {
    reader_->error(field->mark, field->name + ": must be greater than 0, got " + single_quoted(text));
    return false;
  }
  if (*value > max_duration) {
    reader_->error(field->mark, field->name + ": must be at most 720h (30 days), got " + single_quoted(text));
    return false;
  }
  out = *value;
  return true;
}

bool Section::endpoint(std::string_view key, Endpoint& out, bool port_zero_allowed) const {
  const Field* field = scalar(key, "host:port");
  return field && endpoint_value(*reader_, *field, out, port_zero_allowed);
}

bool endpoint_value(Reader& reader, const Field& field, Endpoint& out, bool port_zero_allowed) {
  if (!field.value.IsScalar()) {
    reader.error(field.mark, field.name + ": expected host:port, got " + std::string(kind_of(field.value)));
    return false;
  }
  const std::string& text = field.value.Scalar();
  auto value = parse_endpoint(text, port_zero_allowed);
  if (!value) {
    reader.error(field.mark, field.name + ": invalid host:port " + single_quoted(text) + ": " + endpoint_problem(text));
    return false;
  }
  out = std::move(*value);
  return true;
}

bool Section::choice(std::string_view key, std::span<const std::string_view> names, int& out) const {
  const Field* field = scalar(key, "one of " + join(names));
  if (!field) return false;
  const std::string& text = field->value.Scalar();
  const auto it = std::find(names.begin(), names.end(), text);
  if (it == names.end()) {
    reader_->error(field->mark, field->name + ": invalid value " + single_quoted(text) + " (expected one of: " + join(names) + ")");
    return false;
  }
  out = static_cast<int>(it - names.begin());
  return true;
}

// ---------------------------------------------------------------- files

std::optional<std::string> read_text_file(const std::string& path, std::size_t max_bytes, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  struct stat info {};
  std::string text;
  bool ok = ::fstat(fd, &info) == 0;
  if (!ok) why = std::strerror(errno);
  else if (S_ISDIR(info.st_mode)) ok = false, why = "is a directory";
  else if (!S_ISREG(info.st_mode)) ok = false, why = "is not a regular file";
  char buffer[4096];
  while (ok) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false, why = std::strerror(errno);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) ok = false, why = "is larger than " + std::to_string(max_bytes / 1024) + " KiB";
  }
  ::close(fd);
  if (!ok) return std::nullopt;
  return text;
}

std::optional<std::string> read_small_file(const std::string& path, std::string& why) {
  auto text = read_text_file(path, max_small_file, why);
  if (text)
    while (!text->empty() && std::isspace(static_cast<unsigned char>(text->back()))) text->pop_back();
  return text;
}

}  // namespace healthsweep::config::detail
