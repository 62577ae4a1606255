#include "ctl/admin_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/url/url.hpp>

#include "clients/http/exchange.hpp"

namespace healthsweep::ctl {

namespace net = boost::asio;
namespace exchange = clients::http::exchange;

AdminClient::AdminClient(clients::http::HttpUrl base, std::string token, std::chrono::milliseconds timeout)
    : base_(std::move(base)), token_(std::move(token)), timeout_(timeout), tls_(net::ssl::context::tls_client) {
  tls_.set_default_verify_paths();
}

Reply AdminClient::get(std::string_view target) { return request(false, target); }
Reply AdminClient::post(std::string_view target) { return request(true, target); }

Reply AdminClient::request(bool post, std::string_view target) {
  clients::http::HttpUrl url = base_;
  // A base URL with a path ("http://host/healthsweep/") prefixes every target.
  std::string prefix = url.target.substr(0, url.target.find('?'));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  url.target = prefix + std::string(target);

  Reply reply;
  const std::string empty_body;
  exchange::Request req;
  req.post = post;
  req.url = &url;
  req.body = &empty_body;
  req.timeout = timeout_;
  req.deadline = exchange::Clock::now() + timeout_;
  req.max_body_bytes = std::size_t{256} * 1024 * 1024;  // a large fleet's target list
  if (post) req.bearer = token_;
  req.body_out = &reply.body;
  boost::beast::http::fields headers;
  req.headers_out = &headers;

  net::co_spawn(io_, [&]() -> net::awaitable<void> {
    auto connected = co_await exchange::connect(io_.get_executor(), req, tls_);
    if (!connected.connection) {
      reply.error = connected.detail;
      co_return;
    }
    auto exchanged = co_await exchange::exchange(*connected.connection, req);
    connected.connection->close();
    if (exchanged.outcome.http_status == 0 || !exchanged.body_complete) {
      reply.error = exchanged.outcome.http_status == 0 ? exchanged.outcome.detail
                                                       : "the answer was cut short";
      co_return;
    }
    reply.reached = true;
    reply.status = exchanged.outcome.http_status;
    reply.link = std::string(headers[boost::beast::http::field::link]);
  }, net::detached);
  io_.restart();
  io_.run();
  return reply;
}

std::string target_path(std::string_view id, std::string_view suffix) {
  boost::urls::url u;
  u.set_path("/admin/targets");
  u.segments().push_back(id);
  return std::string(u.buffer()) + std::string(suffix);
}

}  // namespace healthsweep::ctl

namespace healthsweep::ctl {

std::optional<std::string> next_link(std::string_view header) {
  // link-value = "<" URI-Reference ">" *( ";" link-param ), values separated by ","
  while (!header.empty()) {
    const auto open = header.find('<');
    const auto close = header.find('>', open);
    if (open == std::string_view::npos || close == std::string_view::npos) return std::nullopt;
    const std::string_view uri = header.substr(open + 1, close - open - 1);
    const auto end = header.find(',', close);
    std::string params(header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1));
    std::erase(params, ' ');
    std::erase(params, '"');
    if (params.find(";rel=next") != std::string::npos) return std::string(uri);
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace healthsweep::ctl
