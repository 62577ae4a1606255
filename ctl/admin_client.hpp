// A blocking client for the daemon's admin API: each call runs the HTTP
// probes' own connect and exchange (clients/http/exchange) on a private
// io_context until it completes. One connection per request: a CLI makes a
// handful of them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "clients/http/url.hpp"
#include "ctl/exit_code.hpp"

namespace healthsweep::ctl {

class AdminClient {
 public:
  AdminClient(clients::http::HttpUrl base, std::string token, std::chrono::milliseconds timeout);

  // `target` is a path below the base URL with its query: "/admin/targets?state=offline".
  Reply get(std::string_view target);
  // With the bearer token; an empty body.
  Reply post(std::string_view target);

 private:
  Reply request(bool post, std::string_view target);

  clients::http::HttpUrl base_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
};

// The URI of the rel="next" link of a Link header ("</admin/targets?limit=2&
// after=b>; rel=\"next\""), nullopt when there is none (the last page).
std::optional<std::string> next_link(std::string_view link_header);

// The request target for one target's path: "/admin/targets/ws%201" (the ID
// percent-encoded as a path segment), with `suffix` ("/reset") appended.
std::string target_path(std::string_view id, std::string_view suffix = {});

}  // namespace healthsweep::ctl
