// Parsing and checking of single configuration values: durations, host:port
// endpoints, URLs (Boost.URL), and the did-you-mean suggestion for keys.
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <vector>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace healthsweep::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A DNS name (RFC 1123 labels): letters, digits and inner hyphens.
bool valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return previous != '-' && previous != '.';
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Distance between two keys counting a swap of neighbours as one edit
// (optimal string alignment), so "intreval" is one edit from "interval".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string ConfigError::to_string() const {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Units from largest to smallest; each may appear once, in this order.
  struct Unit { std::string_view name; std::int64_t ms; };
  static constexpr Unit units[] = {{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index of the largest unit still allowed
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == start || i - start > 15) return std::nullopt;
    std::int64_t number = 0;
    std::from_chars(text.data() + start, text.data() + i, number);
    std::size_t unit_end = i;
    while (unit_end < text.size() && !is_digit(text[unit_end])) ++unit_end;
    const std::string_view unit_name = text.substr(i, unit_end - i);
    const auto* unit = std::find_if(std::begin(units), std::end(units),
                                    [&](const Unit& u) { return u.name == unit_name; });
    if (unit == std::end(units)) return std::nullopt;
    const auto index = static_cast<std::size_t>(unit - std::begin(units));
    if (index < next_unit) return std::nullopt;
    next_unit = index + 1;
    std::int64_t part = 0;
    if (__builtin_mul_overflow(number, unit->ms, &part) || __builtin_add_overflow(total, part, &total))
      return std::nullopt;
    i = unit_end;
  }
  return Duration(total);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, bool port_zero_allowed) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!boost::urls::parse_ipv6_address(host)) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    const bool looks_numeric = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return is_digit(c) || c == '.';
    });
    if (looks_numeric ? !boost::urls::parse_ipv4_address(host) : !valid_hostname(host))
      return std::nullopt;
  }
  if (port_zero_allowed && port == "0") return Endpoint{std::string(host), 0};
  const auto number = parse_port(port);
  if (!number) return std::nullopt;
  return Endpoint{std::string(host), *number};
}

namespace detail {
namespace {

// Authority checks shared by http(s) and redis(s) URLs.
std::optional<std::string> check_authority(const boost::urls::url_view& url) {
  if (!url.has_authority() || url.encoded_host().empty()) return "no host";
  if (url.host_type() == boost::urls::host_type::name && !valid_hostname(url.host()))
    return "invalid host name '" + url.host() + "'";
  // port_number() wraps values above 65535, so check the text itself.
  if (url.has_port() && !parse_port(url.port()))
    return "invalid port '" + std::string(url.port()) + "' (expected 1-65535)";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_http_url(std::string_view text) {
  const auto url = boost::urls::parse_absolute_uri(text);
  if (!url) return "not an absolute URL";
  if (url->scheme() != "http" && url->scheme() != "https")
    return "must start with http:// or https://";
  return check_authority(*url);
}

std::optional<std::string> check_redis_url(std::string_view text) {
  const auto url = boost::urls::parse_absolute_uri(text);
  if (!url) return "not an absolute URL";
  const auto scheme = url->scheme();
  if (scheme == "unix") {
    if (url->has_authority() && !url->encoded_host().empty())
      return "must be unix:///absolute/path/to/socket (no host)";
    if (url->encoded_path().size() < 2 || url->encoded_path().front() != '/')
      return "must name an absolute socket path, e.g. unix:///run/redis/redis.sock";
    return std::nullopt;
  }
  // The passive layer's client (hiredis 0.14 on the Asio loop) speaks plain
  // TCP or a unix socket; a TLS URL is refused here rather than at runtime.
  if (scheme == "rediss") return "rediss:// (TLS) is not supported: use redis:// or unix://";
  if (scheme != "redis") return "must start with redis:// or unix://";
  if (auto problem = check_authority(*url)) return problem;
  // The path is empty, "/", or "/<database number>".
  const auto path = url->encoded_path();
  if (path.size() > 1) {
    const auto db = path.substr(1);
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), number);
    if (ec != std::errc{} || end != db.data() + db.size())
      return "invalid database '" + std::string(db) + "' (expected /0, /1, ...)";
  }
  return std::nullopt;
}

std::optional<std::string_view> suggest_key(std::string_view key,
                                            std::initializer_list<std::string_view> keys) {
  // Allow one edit in short keys, two in longer ones; more is a different word.
  const std::size_t limit = key.size() <= 4 ? 1 : 2;
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const auto candidate : keys) {
    const auto gap = key.size() > candidate.size() ? key.size() - candidate.size()
                                                   : candidate.size() - key.size();
    if (gap > limit) continue;
    const auto distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace detail
}  // namespace healthsweep::config
