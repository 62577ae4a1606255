#include "clients/http/connection_pool.hpp"

#include "clients/http/exchange.hpp"
#include "clients/http/retry.hpp"
#include "clients/http/slots.hpp"
#include "clients/http/url.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace healthsweep::clients::http {

using namespace healthsweep::clients::net;

using healthsweep::clients::net::ProbeOutcome;

namespace net = boost::asio;
using exchange::Clock;
using exchange::Connection;
using ConnectionPtr = std::unique_ptr<Connection>;

namespace {

net::ssl::context make_tls_context(const HttpClientOptions& options) {
  // Not ssl::context::tlsv12_client: in Asio that pins the maximum version to
  // TLS 1.2 as well and would fail against TLS-1.3-only servers.
  net::ssl::context ctx(net::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // Idle keep-alive connections give their read/write buffers back (some
  // 30 KiB each): a 1,000-URL fleet keeps a connection per origin.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(net::ssl::verify_peer);
  if (!options.extra_ca_file.empty()) {
    boost::system::error_code ec;
    ctx.load_verify_file(options.extra_ca_file, ec);
    if (ec) throw std::system_error(ec, "http client: cannot load CA file " + options.extra_ca_file);
  }
  return ctx;
}

}  // namespace

struct HttpConnectionPool::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::any_io_executor executor, HttpClientOptions o)
      : ex(std::move(executor)), options(std::move(o)), slots(ex, options.max_in_flight), reaper(ex) {
    // An extra CA file is checked at once: a bad one is a startup error.
    if (!options.extra_ca_file.empty()) tls();
    options.max_in_flight = slots.capacity();
  }

  net::any_io_executor ex;
  HttpClientOptions options;
  // Made on the first https URL: OpenSSL's setup (the system CA store) costs
  // tens of milliseconds, which a daemon with only http targets (or none)
  // should not pay at start.
  std::optional<net::ssl::context> tls_context;
  net::ssl::context& tls() {
    if (!tls_context) tls_context.emplace(make_tls_context(options));
    return *tls_context;
  }
  std::unordered_map<std::string, std::vector<ConnectionPtr>> idle;  // most recently used last
  std::size_t idle_count = 0;
  // At most max_in_flight requests at a time, the rest wait in order, with
  // no deadline: the request's timeout starts when it has a slot.
  Slots slots;
  net::steady_timer reaper;
  bool reaper_armed = false;
  HttpClientStats counters;

  static net::awaitable<ProbeOutcome> request(std::shared_ptr<Impl> self, bool post, std::string url,
                                              std::string body, std::chrono::milliseconds timeout,
                                              const boost::beast::http::fields* headers = nullptr,
                                              std::string* body_out = nullptr);
  static net::awaitable<JsonAnswer> post_reading(std::shared_ptr<Impl> self, JsonPost post);
  // One try on an idle (unless fresh_only) or a new connection to origin.
  net::awaitable<Attempt<ProbeOutcome>> try_once(const exchange::Request& req, const std::string& origin,
                                                 bool fresh_only);
  ConnectionPtr take_idle(const std::string& origin);
  void put_idle(ConnectionPtr c);
  void reap_expired();
  void arm_reaper();
  void close_idle();
};

// --- idle connections.

ConnectionPtr HttpConnectionPool::Impl::take_idle(const std::string& origin) {
  const auto it = idle.find(origin);
  if (it == idle.end()) return nullptr;
  auto& list = it->second;
  const auto now = Clock::now();
  ConnectionPtr found;
  while (!list.empty() && !found) {
    ConnectionPtr c = std::move(list.back());
    list.pop_back();
    --idle_count;
    if (now - c->idle_since < options.idle_timeout && c->usable_after_idle()) {
      found = std::move(c);
    } else {
      if (now - c->idle_since < options.idle_timeout) ++counters.stale_replaced;
      c->close();
    }
  }
  if (list.empty()) idle.erase(it);
  return found;
}

void HttpConnectionPool::Impl::put_idle(ConnectionPtr c) {
  if (idle_count >= options.max_idle) {
    c->close();
    return;
  }
  c->tcp().expires_never();
  c->idle_since = Clock::now();
  const std::string origin = c->origin;
  idle[origin].push_back(std::move(c));
  ++idle_count;
  arm_reaper();
}

void HttpConnectionPool::Impl::reap_expired() {
  const auto now = Clock::now();
  for (auto it = idle.begin(); it != idle.end();) {
    auto& list = it->second;
    const auto expired = std::stable_partition(list.begin(), list.end(), [&](const ConnectionPtr& c) {
      return now - c->idle_since >= options.idle_timeout;
    });
    for (auto e = list.begin(); e != expired; ++e) (*e)->close();
    idle_count -= static_cast<std::size_t>(expired - list.begin());
    list.erase(list.begin(), expired);
    it = list.empty() ? idle.erase(it) : std::next(it);
  }
}

// While idle connections exist one timer is pending; it closes those idle for
// longer than idle_timeout (so a connection lives at most 1.25 x idle_timeout
// unused) and stops once nothing is idle.
void HttpConnectionPool::Impl::arm_reaper() {
  if (reaper_armed) return;
  reaper_armed = true;
  reaper.expires_after(std::max<std::chrono::milliseconds>(options.idle_timeout / 4,
                                                           std::chrono::milliseconds(100)));
  reaper.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    const auto self = weak.lock();
    if (!self) return;
    self->reaper_armed = false;
    if (ec) return;  // cancelled by close_idle()
    self->reap_expired();
    if (self->idle_count > 0) self->arm_reaper();
  });
}

void HttpConnectionPool::Impl::close_idle() {
  for (auto& [origin, list] : idle)
    for (auto& c : list) c->close();
  idle.clear();
  idle_count = 0;
  reaper.cancel();
}

// --- one request.

// One try on an idle connection to `origin` (unless fresh_only) or a new one;
// the connection goes back to the idle pool when it can carry another request.
net::awaitable<Attempt<ProbeOutcome>> HttpConnectionPool::Impl::try_once(const exchange::Request& req,
                                                                         const std::string& origin,
                                                                         bool fresh_only) {
  Attempt<ProbeOutcome> tried;
  ConnectionPtr conn = fresh_only ? nullptr : take_idle(origin);
  const bool reused = conn != nullptr;
  if (!conn) {
    auto connected = co_await exchange::connect(ex, req, tls());
    if (!connected.connection) {
      tried.result.detail = std::move(connected.detail);
      co_return tried;
    }
    ++counters.connections_opened;
    conn = std::move(connected.connection);
  }
  auto exchanged = co_await exchange::exchange(*conn, req);
  // The server closed this keep-alive connection as we sent: not the target's answer.
  tried.stale = reused && exchanged.nothing_received;
  tried.result = std::move(exchanged.outcome);
  if (exchanged.reusable && !tried.stale) {
    put_idle(std::move(conn));
  } else {
    conn->close();
  }
  co_return tried;
}

net::awaitable<ProbeOutcome> HttpConnectionPool::Impl::request(std::shared_ptr<Impl> self, bool post,
                                                               std::string url_text, std::string body,
                                                               std::chrono::milliseconds timeout,
                                                               const boost::beast::http::fields* headers,
                                                               std::string* body_out) {
  ProbeOutcome outcome;
  const HttpUrlParse parsed = parse_http_url(url_text);
  if (!parsed.url) {
    outcome.detail = parsed.error;
    co_return outcome;
  }
  if (co_await self->slots.acquire()) {
    outcome.detail = "cancelled while waiting for a free slot";
    co_return outcome;
  }
  SlotHold hold(self->slots);
  ++self->counters.requests;

  const auto start = Clock::now();
  exchange::Request req{post, &*parsed.url, &body, timeout, start + timeout,
                             self->options.max_body_bytes};
  req.extra_headers = headers;
  req.body_out = body_out;
  const std::string origin = parsed.url->origin();
  outcome = co_await retry_once_if_stale<ProbeOutcome>(
      req.deadline, [&](bool fresh_only) { return self->try_once(req, origin, fresh_only); },
      [&] { ++self->counters.stale_replaced; });
  outcome.elapsed = Clock::now() - start;
  co_return outcome;
}

// --- public face.

HttpConnectionPool::HttpConnectionPool(net::any_io_executor ex, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

HttpConnectionPool::~HttpConnectionPool() { impl_->close_idle(); }

// Not coroutines themselves: the arguments are copied now, so the caller's
// string_view may die before the returned awaitable runs.
net::awaitable<ProbeOutcome> HttpConnectionPool::get(std::string_view url,
                                                     std::chrono::milliseconds timeout) {
  return Impl::request(impl_, false, std::string(url), {}, timeout);
}

net::awaitable<ProbeOutcome> HttpConnectionPool::post_json(std::string_view url, std::string body,
                                                           std::chrono::milliseconds timeout) {
  return Impl::request(impl_, true, std::string(url), std::move(body), timeout);
}

// The frame holds the pool's state (self) and the post alive until it ends.
net::awaitable<JsonAnswer> HttpConnectionPool::Impl::post_reading(std::shared_ptr<Impl> self, JsonPost post) {
  JsonAnswer answer;
  answer.outcome = co_await request(self, true, std::move(post.url), std::move(post.body), post.timeout,
                                    &post.headers, &answer.body);
  co_return answer;
}

net::awaitable<JsonAnswer> HttpConnectionPool::post_json(JsonPost post) {
  return Impl::post_reading(impl_, std::move(post));
}

HttpClientStats HttpConnectionPool::stats() const {
  HttpClientStats s = impl_->counters;
  s.idle = impl_->idle_count;
  s.in_flight = impl_->slots.in_use();
  s.waiting = impl_->slots.waiting();
  return s;
}

void HttpConnectionPool::close_idle() { impl_->close_idle(); }

}  // namespace healthsweep::clients::http
