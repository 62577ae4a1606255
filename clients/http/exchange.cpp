#include "clients/http/exchange.hpp"

#include "clients/net/resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>

namespace healthsweep::clients::http::exchange {

using namespace healthsweep::clients::net;

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);
// Interim answers read before the final one; more is a server looping.
constexpr int max_interim_answers = 8;

bool Connection::usable_after_idle() {
  auto& socket = tcp().socket();
  if (!socket.is_open() || buffer.size() != 0) return false;
  // A server that closed an idle keep-alive connection has left a FIN (or an
  // RST, or a TLS close_notify) in our receive queue: peek without blocking.
  char byte;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Connection::close() {
  error_code ignored;
  tcp().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  tcp().socket().close(ignored);
}

namespace {

bool timed_out(const error_code& ec, const Request& request) {
  return ec == beast::error::timeout || ec == net::error::timed_out ||
         Clock::now() >= request.deadline;
}

std::string failure_detail(std::string_view stage, const error_code& ec, const Request& request) {
  return timed_out(ec, request) ? clients::net::timeout_detail(request.timeout)
                                : clients::net::error_detail(stage, ec);
}

std::string tls_failure_detail(Connection& c, const error_code& ec, const Request& request) {
  if (timed_out(ec, request)) return clients::net::timeout_detail(request.timeout);
  if (c.host_mismatch)
    return "TLS: certificate verify failed (certificate is not valid for " + request.url->host + ")";
  const long verify = SSL_get_verify_result(c.tls->native_handle());
  if (verify != X509_V_OK)
    return std::string("TLS: certificate verify failed (") + X509_verify_cert_error_string(verify) + ")";
  return "TLS: " + ec.message();
}

std::string status_detail(int status) {
  std::string out = "HTTP " + std::to_string(status);
  // Redirects are not followed: a health URL that moved is a configuration
  // problem to see, and following it could leave loopback.
  if (status >= 300 && status < 400) out += " (redirects are not followed)";
  return out;
}

template <class Stream>
net::awaitable<Exchanged> exchange_on(Stream& stream, Connection& c, const Request& r) {
  Exchanged out;
  c.tcp().expires_at(r.deadline);

  http::request<http::string_body> req{r.post ? http::verb::post : http::verb::get, r.url->target, 11};
  req.set(http::field::host, r.url->host_header);
  req.set(http::field::user_agent, "healthsweep/" HEALTHSWEEP_VERSION);
  if (!r.bearer.empty()) req.set(http::field::authorization, "Bearer " + std::string(r.bearer));
  if (r.post) {
    req.set(http::field::content_type, "application/json");
    req.body() = *r.body;
  } else {
    req.set(http::field::accept, "*/*");
  }
  if (r.extra_headers)
    for (const auto& field : *r.extra_headers) req.set(field.name_string(), field.value());
  req.keep_alive(true);
  req.prepare_payload();
  auto [write_ec, written] = co_await http::async_write(stream, req, use_nothrow);
  if (write_ec) {
    out.nothing_received = true;
    out.outcome.detail = failure_detail("send", write_ec, r);
    co_return out;
  }

  // The answer is the first final one: a server may send any number of 1xx
  // interim answers before it (RFC 9110 15.2; 103 Early Hints from any
  // server). Judged by one, a live target was "HTTP 103", and the real answer
  // stayed in the pooled connection for the next check to read as its own.
  // Each message needs a parser of its own (Beast).
  std::optional<http::response_parser<http::buffer_body>> answer;
  int status = 0;
  for (int interim = 0;; ++interim) {
    auto& parser = answer.emplace();
    parser.header_limit(16 * 1024);
    parser.body_limit(boost::none);  // we stop reading at max_body_bytes ourselves
    auto [header_ec, header_bytes] = co_await http::async_read_header(stream, c.buffer, parser, use_nothrow);
    if (header_ec) {
      out.nothing_received = interim == 0 && !parser.got_some();
      out.outcome.detail = failure_detail("receive", header_ec, r);
      co_return out;
    }
    status = static_cast<int>(parser.get().result_int());  // any three digits (Beast)
    // 101 (a protocol switch nobody asked for) ends HTTP on the connection: final.
    if (status < 100 || status >= 200 || status == 101) break;
    if (interim == max_interim_answers) {
      out.outcome.detail = "receive: more than " + std::to_string(max_interim_answers) + " interim (1xx) answers";
      co_return out;
    }
  }
  if (status < 100 || status > 599) {
    // Not an HTTP status (RFC 9110: 100-599), so no answer to judge by (the
    // outcome's status stays 0) and no connection to reuse.
    out.outcome.detail = "receive: " + std::to_string(status) + " is not an HTTP status";
    co_return out;
  }
  auto& parser = *answer;
  if (r.headers_out) *r.headers_out = static_cast<const http::fields&>(parser.get().base());
  out.outcome.http_status = status;
  out.outcome.alive = status >= 200 && status < 300;
  out.outcome.detail = status_detail(status);

  // Drain the body so the connection can carry the next check; a probe never
  // keeps it (only the status code matters), and a huge body is cut short.
  char scratch[4096];
  std::size_t body_bytes = 0;
  bool body_ok = true;
  while (!parser.is_done()) {
    parser.get().body().data = scratch;
    parser.get().body().size = sizeof scratch;
    auto [body_ec, n] = co_await http::async_read(stream, c.buffer, parser, use_nothrow);
    const std::size_t got = sizeof scratch - parser.get().body().size;
    if (r.body_out) r.body_out->append(scratch, got);
    body_bytes += got;
    if (body_ec && body_ec != http::error::need_buffer) body_ok = false;
    if (!body_ok || body_bytes > r.max_body_bytes) {
      body_ok = false;
      break;
    }
  }
  out.body_complete = body_ok && parser.is_done();
  out.reusable = out.body_complete && parser.get().keep_alive();
  co_return out;
}

}  // namespace

net::awaitable<Connected> connect(net::any_io_executor ex, const Request& r,
                                  net::ssl::context& tls_context) {
  const HttpUrl& url = *r.url;
  Connected out;
  auto resolved = co_await clients::net::resolve(ex, url.host, url.port, r.deadline);
  if (resolved.ec) {
    out.detail = failure_detail("resolve " + url.host, resolved.ec, r);
    co_return out;
  }

  beast::tcp_stream stream(ex);
  stream.expires_at(r.deadline);
  auto [connect_ec, endpoint] = co_await stream.async_connect(resolved.endpoints, use_nothrow);
  if (connect_ec) {
    out.detail = failure_detail("connect", connect_ec, r);
    co_return out;
  }

  auto c = std::make_unique<Connection>();
  c->origin = url.origin();
  if (!url.tls) {
    c->plain.emplace(std::move(stream));
    out.connection = std::move(c);
    co_return out;
  }

  c->tls.emplace(std::move(stream), tls_context);
  // SNI carries names only (RFC 6066); an IP literal is checked against the
  // certificate's IP addresses instead.
  if (!url.host_is_ip) SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str());
  c->tls->set_verify_mode(net::ssl::verify_peer);
  c->tls->set_verify_callback(
      [check = net::ssl::host_name_verification(url.host), conn = c.get()](
          bool preverified, net::ssl::verify_context& ctx) {
        const bool ok = check(preverified, ctx);
        if (preverified && !ok) conn->host_mismatch = true;
        return ok;
      });
  auto [handshake_ec] = co_await c->tls->async_handshake(net::ssl::stream_base::client, use_nothrow);
  if (handshake_ec) {
    out.detail = tls_failure_detail(*c, handshake_ec, r);
    c->close();
    co_return out;
  }
  out.connection = std::move(c);
  co_return out;
}

net::awaitable<Exchanged> exchange(Connection& connection, const Request& request) {
  if (connection.tls) co_return co_await exchange_on(*connection.tls, connection, request);
  co_return co_await exchange_on(*connection.plain, connection, request);
}

}  // namespace healthsweep::clients::http::exchange
