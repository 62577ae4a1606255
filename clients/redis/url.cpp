// Redis URLs (redis://, unix://) parsed with Boost.URL; see redis_client.hpp.
#include "clients/redis/client.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace healthsweep::clients::redis {

namespace {

std::optional<int> parse_db(std::string_view text) {
  int db = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, db);
  if (ec != std::errc{} || ptr != end || db < 0 || text.empty()) return std::nullopt;
  return db;
}

RedisUrlResult fail(std::string why) { return {std::nullopt, std::move(why)}; }

}  // namespace

RedisUrlResult parse_redis_url(std::string_view text) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return fail("not a URL: " + parsed.error().message());
  const boost::urls::url_view& u = *parsed;
  RedisEndpoint ep;
  if (u.has_userinfo()) {
    ep.username = u.user();
    if (u.has_password()) ep.password = u.password();
    else std::swap(ep.username, ep.password);  // redis://secret@host: a bare password
  }

  const auto scheme = u.scheme();
  if (scheme == "redis") {
    if (u.host_type() == boost::urls::host_type::ipv6) ep.host = u.host_ipv6_address().to_string();
    else ep.host = u.host_address();
    if (ep.host.empty()) return fail("redis:// URL without a host");
    if (u.has_port()) {
      if (u.port_number() == 0) return fail("invalid port '" + std::string(u.port()) + "'");
      ep.port = u.port_number();
    }
    std::string path = u.path();
    if (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (!path.empty()) {
      const auto db = parse_db(path);
      if (!db) return fail("database must be a number, got '" + path + "'");
      ep.db = *db;
    }
  } else if (scheme == "unix") {
    if (!u.host_address().empty()) return fail("unix:// URL must look like unix:///path/to/redis.sock");
    ep.unix_path = u.path();
    if (ep.unix_path.empty() || ep.unix_path.front() != '/')
      return fail("unix:// URL needs an absolute socket path");
  } else if (scheme == "rediss") {
    return fail("rediss:// (TLS) is not supported; use redis:// on loopback or a unix socket");
  } else {
    return fail("unsupported scheme '" + std::string(scheme) + "' (redis:// or unix://)");
  }

  for (const auto& param : u.params()) {
    if (param.key == "db") {
      const auto db = parse_db(param.value);
      if (!db) return fail("db must be a number, got '" + param.value + "'");
      ep.db = *db;
    } else if (param.key == "password") {
      ep.password = param.value;
    } else if (param.key == "user" || param.key == "username") {
      ep.username = param.value;
    } else {
      return fail("unknown URL parameter '" + param.key + "'");
    }
  }
  if (!ep.username.empty() && ep.password.empty())
    return fail("a Redis user needs a password (redis://user:password@host)");
  return {std::move(ep), {}};
}

std::string RedisEndpoint::describe() const {
  const auto where = unix_path.empty()
                         ? (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                               std::to_string(port)
                         : "unix:" + unix_path;
  return where + "/" + std::to_string(db);
}

std::string redis_glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace healthsweep::clients::redis
