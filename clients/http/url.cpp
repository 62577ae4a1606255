#include "clients/http/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace healthsweep::clients::http {

namespace urls = boost::urls;

std::string HttpUrl::origin() const {
  std::string out = tls ? "https://" : "http://";
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

namespace {

// Pieces appended one by one (not "..." + std::string(...)): GCC 12 warns
// falsely (-Wrestrict) about operator+(const char*, std::string&&).
HttpUrlParse fail(std::initializer_list<std::string_view> pieces) {
  std::string detail = "url: ";
  for (const auto piece : pieces) detail += piece;
  return HttpUrlParse{std::nullopt, std::move(detail)};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

HttpUrlParse parse_http_url(std::string_view text) {
  auto parsed = urls::parse_uri(text);
  if (!parsed) return fail({"'", text, "' is not a valid URL (", parsed.error().message(), ")"});
  const urls::url_view& u = *parsed;

  HttpUrl out;
  if (u.scheme_id() == urls::scheme::https) {
    out.tls = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return fail({"scheme '", u.scheme(), "' is not http or https"});
  }
  if (!u.has_authority() || u.encoded_host().empty()) return fail({"'", text, "' has no host"});
  if (u.has_userinfo()) return fail({"credentials in the URL are not supported"});

  switch (u.host_type()) {
    case urls::host_type::ipv4:
      out.host = u.host_address();
      out.host_is_ip = true;
      break;
    case urls::host_type::ipv6:
      out.host = u.host_ipv6_address().to_string();
      out.host_is_ip = true;
      break;
    case urls::host_type::name:
      out.host = lower(u.host_name());  // host names are case-insensitive: one pool per origin
      break;
    default:
      return fail({"host '", u.encoded_host(), "' is not supported"});
  }

  const std::uint16_t default_port = out.tls ? 443 : 80;
  out.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    out.port = u.port_number();
    if (out.port == 0) return fail({"port '", u.port(), "' is out of range"});
  }

  if (u.host_type() == urls::host_type::ipv6) {
    out.host_header = '[';
    out.host_header += out.host;
    out.host_header += ']';
  } else {
    out.host_header = out.host;
  }
  if (out.port != default_port) {
    out.host_header += ':';
    out.host_header += std::to_string(out.port);
  }

  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target.push_back('/');
  if (u.has_query()) {
    out.target += '?';
    out.target += std::string(u.encoded_query());
  }
  return HttpUrlParse{std::move(out), {}};
}

}  // namespace healthsweep::clients::http
