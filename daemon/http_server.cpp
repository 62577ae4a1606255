#include "daemon/http_server.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <spdlog/spdlog.h>

#include <cctype>
#include <list>
#include <system_error>
#include <unordered_map>

#include "daemon/log_limit.hpp"

namespace healthsweep::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Where the header block ends (just after its blank line), or 0 when it has
// not arrived yet. `from`: bytes already searched.
std::size_t header_end(std::string_view d, std::size_t from) {
  from = from > 3 ? from - 3 : 0;
  for (auto i = d.find('\n', from); i != std::string_view::npos; i = d.find('\n', i + 1)) {
    if (i + 1 < d.size() && d[i + 1] == '\n') return i + 2;
    if (i + 2 < d.size() && d[i + 1] == '\r' && d[i + 2] == '\n') return i + 3;
  }
  return 0;
}

}  // namespace

std::string_view raw_request_target(std::string_view raw) {
  const auto eol = raw.find('\n');
  if (eol == std::string_view::npos) return {};
  const auto line = raw.substr(0, eol);
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return {};
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {};
  return line.substr(sp1 + 1, sp2 - sp1 - 1);
}

std::optional<std::string> framing_problem(std::string_view header) {
  int content_length = 0;
  int transfer_encoding = 0;
  std::size_t pos = header.find('\n');  // past the request line
  while (pos != std::string_view::npos && pos + 1 < header.size()) {
    const auto start = pos + 1;
    pos = header.find('\n', start);
    auto line = header.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the blank line: end of the header
    // obs-fold (RFC 9112 section 5.2): a server must reject it or unfold it;
    // two parsers unfolding differently is how requests get smuggled.
    if (line.front() == ' ' || line.front() == '\t')
      return "obsolete line folding in the header";
    const auto colon = line.find(':');
    const auto name = line.substr(0, colon);
    if (iequals(name, "content-length")) ++content_length;
    else if (iequals(name, "transfer-encoding")) ++transfer_encoding;
  }
  if (content_length > 1) return "more than one Content-Length";
  if (content_length > 0 && transfer_encoding > 0) return "both Transfer-Encoding and Content-Length";
  return std::nullopt;
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::any_io_executor ex, Handler h, HttpLimits l, HttpEvents e)
      : acceptor(ex), handler(std::move(h)), limits(l), events(std::move(e)) {}

  // One open connection. The list node owns the stream, so nothing ever
  // points at a stream that is gone.
  struct Session {
    Session(tcp::socket s, net::ip::address a) : stream(std::move(s)), client(a) {}
    beast::tcp_stream stream;
    net::ip::address client;
    bool waiting = false;  // in a read: may be closed to make room at the cap
    bool evicted = false;
  };

  // Owns one entry of `sessions` and the client's count: however the
  // session coroutine ends (it returns, a handler throws, or its frame is
  // destroyed before it ever ran), the entry goes with it.
  class Slot {
   public:
    Slot(std::shared_ptr<Impl> impl, tcp::socket socket, net::ip::address client) : impl_(std::move(impl)) {
      impl_->sessions.emplace_front(std::move(socket), client);
      it_ = impl_->sessions.begin();
      ++impl_->per_client[client];
    }
    Slot(Slot&& o) noexcept : impl_(std::move(o.impl_)), it_(o.it_) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (!impl_) return;
      const auto client = it_->client;
      if (it_->evicted) --impl_->evicted;
      impl_->sessions.erase(it_);
      auto c = impl_->per_client.find(client);
      if (c != impl_->per_client.end() && --c->second == 0) impl_->per_client.erase(c);
    }
    Session& operator*() const { return *it_; }
    // Now waiting for a new request: the newest, so the last to be evicted.
    void touch() { impl_->sessions.splice(impl_->sessions.begin(), impl_->sessions, it_); }

   private:
    std::shared_ptr<Impl> impl_;
    std::list<Session>::iterator it_;
  };

  tcp::acceptor acceptor;
  Handler handler;
  HttpLimits limits;
  HttpEvents events;
  bool stopping = false;
  std::list<Session> sessions;  // open connections, the latest to ask for a request first
  std::unordered_map<net::ip::address, std::size_t> per_client;
  std::size_t evicted = 0;  // sessions closed to make room, not yet ended
  LogEverySecond cap_log, client_cap_log;

  std::size_t live() const { return sessions.size() - evicted; }
  bool evict_one();
  void refused(std::string_view reason) {
    if (events.connection_refused) events.connection_refused(reason);
  }
  net::awaitable<void> accept_loop();
  net::awaitable<void> session(Slot slot);
  net::awaitable<void> reply_and_close(beast::tcp_stream& stream, http::status status,
                                       std::string body, std::string_view target, bool head);
};

namespace {

// The whole response as one contiguous buffer. Writing that with one
// async_write costs 13% less CPU per request than http::async_write, whose
// serializer buffer sequences are walked again at every layer of the
// composed write (measured: bench/results/issue3.md).
// `wire` is the session's buffer, reused from one response to the next.
void serialize(Response& res, std::string& wire) {
  wire.clear();
  wire.reserve(256 + res.body().size());
  http::serializer<false, http::string_body> sr{res};
  beast::error_code ec;
  while (!sr.is_done() && !ec) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers))
        wire.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
  }
}

Response plain_error(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

net::ip::address client_of(const tcp::endpoint& peer) {
  const auto a = peer.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

HttpServer::HttpServer(net::any_io_executor ex, const config::Endpoint& at, Handler handler,
                       HttpLimits limits, HttpEvents events)
    : impl_(std::make_shared<Impl>(ex, std::move(handler), limits, std::move(events))) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(at.host == "localhost" ? "127.0.0.1" : at.host, ec);
  if (ec)
    throw std::system_error(ec, "listen: '" + at.host + "' is not an IP address");
  const tcp::endpoint ep{address, at.port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec, "listen on " + at.host + ":" + std::to_string(at.port));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  net::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), clients::net::log_failure("http: acceptor"));
}

void HttpServer::stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  // End pending reads (idle keep-alive connections); a response being
  // written still goes out, then its session sees `stopping` and closes.
  for (auto& s : impl_->sessions) s.stream.socket().shutdown(tcp::socket::shutdown_receive, ec);
}

std::string HttpServer::local_address() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  const auto addr = ep.address();
  std::string out;
  if (addr.is_v6()) out += '[';
  out += addr.to_string();
  if (addr.is_v6()) out += ']';
  out += ':';
  out += std::to_string(ep.port());
  return out;
}

std::size_t HttpServer::open_connections() const { return impl_->sessions.size(); }

// Closes the connection that has waited longest for its request (an idle
// keep-alive connection, or a slow one), if any is waiting at all.
bool HttpServer::Impl::evict_one() {
  for (auto it = sessions.rbegin(); it != sessions.rend(); ++it) {
    if (!it->waiting || it->evicted) continue;
    it->evicted = true;
    ++evicted;
    boost::system::error_code ec;
    it->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    it->stream.socket().close(ec);  // its pending read ends, then its session
    return true;
  }
  return false;
}

net::awaitable<void> HttpServer::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) {
      if (stopping || ec == net::error::operation_aborted) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      // Out of file descriptors (or another resource): accept would fail
      // again at once; pause instead of spinning on the error.
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    boost::system::error_code ignored;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) {  // gone already
      socket.close(ignored);
      continue;
    }
    const auto client = client_of(peer);
    std::size_t suppressed = 0;
    if (auto c = per_client.find(client);
        c != per_client.end() && c->second >= limits.max_connections_per_client) {
      // One client holding connections must not lock the others out
      // (Prometheus, a kubelet): refuse its extra ones at once.
      if (client_cap_log.allow(suppressed))
        spdlog::warn("http: {} holds {} connections (listen_max_connections_per_client), refusing more "
                     "({} more refusals not logged)", client.to_string(), c->second, suppressed);
      refused("per_client_cap");
      socket.close(ignored);
      continue;
    }
    if (live() >= limits.max_connections) {
      // Make room rather than refuse: a flood of idle connections must not
      // take the admin endpoints away from a fresh client.
      const bool made_room = evict_one();
      if (cap_log.allow(suppressed))
        spdlog::warn("http: connection cap of {} reached, {} ({} more not logged)", limits.max_connections,
                     made_room ? "closing the connection that waited longest for a request"
                               : "refusing new connections",
                     suppressed);
      refused(made_room ? "evicted" : "cap");
      if (!made_room) {
        socket.close(ignored);
        continue;
      }
    }
    socket.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(acceptor.get_executor(), session(Slot(self, std::move(socket), client)),
                  clients::net::log_failure("http: session"));
  }
}

net::awaitable<void> HttpServer::Impl::reply_and_close(beast::tcp_stream& stream, http::status status,
                                                       std::string body, std::string_view target, bool head) {
  if (events.answered_itself) events.answered_itself(target, static_cast<int>(status));
  auto res = plain_error(status, std::move(body));
  std::string wire;
  serialize(res, wire);
  // The answer to a HEAD has the GET's Content-Length and no body: a client
  // that sent HEAD reads no body, so body bytes would be misread as the
  // start of the next response (RFC 9110 9.3.2). The routes' answers do the
  // same (daemon/routes.cpp); this is the listener's own refusal.
  if (head) wire.resize(wire.size() - res.body().size());
  stream.expires_after(limits.read_timeout);
  co_await net::async_write(stream, net::buffer(wire), use_nothrow);
}

net::awaitable<void> HttpServer::Impl::session(Slot slot) {
  Session& s = *slot;
  beast::tcp_stream& stream = s.stream;
  beast::flat_buffer buffer;
  std::string wire;
  // The request line's target, kept for the answers the listener gives
  // itself; one string per connection, reused, not one per request.
  std::string target;
  const auto buffered = [&buffer] {
    return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
  };
  while (!stopping) {
    slot.touch();
    // The whole request, header and body, within one deadline: not per
    // byte, so a client trickling bytes (slowloris) runs out of it.
    stream.expires_after(limits.read_timeout);

    // The header block first, raw, so that its framing can be checked
    // before the parser sees (and forgives) it.
    std::size_t header_size = 0;
    std::size_t searched = 0;
    bool ended = false;
    while ((header_size = header_end(buffered(), searched)) == 0 && buffered().size() < limits.header_limit) {
      searched = buffer.size();
      s.waiting = true;
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_nothrow);
      s.waiting = false;
      if (ec || stopping) { ended = true; break; }  // closed, reset, timed out, evicted
      buffer.commit(n);
    }
    if (ended || s.evicted) break;
    target.assign(raw_request_target(buffered()));
    const bool head = buffered().starts_with("HEAD ");  // Beast's method match is case-sensitive too
    if (header_size == 0 || header_size > limits.header_limit) {
      co_await reply_and_close(stream, http::status::request_header_fields_too_large,
                               R"({"error":"request header over 8 KiB"})", target, head);
      break;
    }
    if (const auto problem = framing_problem(buffered().substr(0, header_size))) {
      co_await reply_and_close(stream, http::status::bad_request,
                               R"({"error":"malformed HTTP request: )" + *problem + "\"}", target, head);
      break;
    }

    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(limits.body_limit);
    s.waiting = true;
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    s.waiting = false;
    if (ec) {
      if (s.evicted || stopping) break;
      if (ec == http::error::body_limit)
        co_await reply_and_close(stream, http::status::payload_too_large,
                                 R"({"error":"body over 64 KiB"})", target, head);
      else if (ec == http::error::header_limit)
        co_await reply_and_close(stream, http::status::request_header_fields_too_large,
                                 R"({"error":"request header over 8 KiB"})", target, head);
      else if (ec.category() == make_error_code(http::error::end_of_stream).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message)
        co_await reply_and_close(stream, http::status::bad_request,
                                 R"({"error":"malformed HTTP request"})", target, head);
      break;  // end of stream, timeout, reset: just close
    }
    Request req = parser.release();
    const bool keep_alive = req.keep_alive();
    Reply reply = handler(std::move(req));
    // An answer that needs I/O first (a hook report forwarded to its owner)
    // is awaited here: this connection's next request waits, the loop does not.
    if (auto* later = std::get_if<net::awaitable<Response>>(&reply)) {
      auto awaited = co_await std::move(*later);
      reply = std::move(awaited);
    }
    Response& res = std::get<Response>(reply);
    res.keep_alive(keep_alive && !stopping);
    serialize(res, wire);
    stream.expires_after(limits.read_timeout);
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(wire), use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace healthsweep::daemon
