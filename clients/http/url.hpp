// An http:// or https:// URL taken apart for an HTTP/1.1 client (Boost.URL
// does the parsing). Anything else is refused with a one-line reason, so a
// bad health URL in the configuration shows up as a clear probe detail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace healthsweep::clients::http {

struct HttpUrl {
  bool tls = false;         // https
  std::string host;         // for connect, SNI and certificate checks; IPv6 without brackets
  std::uint16_t port = 0;   // explicit, or 80/443
  std::string target;       // origin-form request target: "/path?query" (never empty)
  std::string host_header;  // value of the Host header: "host" or "host:port", IPv6 in brackets
  bool host_is_ip = false;  // an IP literal: no resolution, no SNI

  // "http://host:port": connections are pooled per origin.
  std::string origin() const;
};

struct HttpUrlParse {
  std::optional<HttpUrl> url;
  std::string error;  // set when url is empty: "url: scheme 'ftp' is not http or https"
};

HttpUrlParse parse_http_url(std::string_view text);

}  // namespace healthsweep::clients::http
