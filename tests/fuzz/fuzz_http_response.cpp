// Server answers as the daemon's HTTP clients read them: the fuzzer's bytes
// are the whole answer (status line, headers, body), written in pieces of
// the size the second byte says, to
//   mode 0: an HTTP probe's GET (clients::http::exchange, as HttpChecker's pool runs it),
//   mode 1: the remediation webhook's POST (the same exchange, as WebhookClient's pool runs it),
//   mode 2: EngineClient::inspect (the engine pool's request + the inspect parser),
//   mode 3: EngineClient::list_with_health (the list parser, and the health follow-ups).
// The probe/webhook exchange runs on one end of a socket pair (the server
// plays the other), the engine client on its real unix-socket path.
// Must hold: no crash, no hang; the outcome is consistent (alive only for a
// 2xx, a status only with "HTTP <n>", reusable only after an answer); an
// engine result is a value or an "engine: ..." error.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>

#include "clients/engine/client.hpp"
#include "clients/http/exchange.hpp"
#include "clients/http/url.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace net = boost::asio;
namespace hx = healthsweep::clients::http::exchange;
using namespace healthsweep::clients;
using fuzz_support::local;
using fuzz_support::nothrow;

struct World {
  net::io_context ioc{1};
  std::string path = fuzz_support::socket_dir() + "/engine-api.sock";
  local::acceptor acceptor{ioc};
  http::HttpUrl url = *http::parse_http_url("http://127.0.0.1:8080/health?x=1").url;
  std::string webhook_body = R"({"target":"ws-1","action":"restart"})";
  World() {
    spdlog::set_level(spdlog::level::off);
    fuzz_support::listen_unix(acceptor, path);
  }
};

// The other end of the probe's socket pair: reads the request (head, and the
// body of a POST), answers, shuts the sending side.
net::awaitable<void> serve_pair(local::socket& s, std::size_t body_bytes, std::vector<std::string_view> answer) {
  std::string in;
  auto [ec, n] = co_await net::async_read_until(s, net::dynamic_buffer(in), "\r\n\r\n", nothrow);
  if (ec) co_return;
  const auto head = in.find("\r\n\r\n") + 4;
  if (in.size() < head + body_bytes) {
    std::string more(head + body_bytes - in.size(), '\0');
    auto [rec, r] = co_await net::async_read(s, net::buffer(more), nothrow);
    if (rec) co_return;
  }
  for (const auto piece : answer) {
    auto [wec, w] = co_await net::async_write(s, net::buffer(piece.data(), piece.size()), nothrow);
    if (wec) co_return;
    co_await fuzz_support::yield_a_little();
  }
  boost::system::error_code ignored;
  s.shutdown(local::socket::shutdown_send, ignored);
}

void check_exchange(World& w, bool post, std::vector<std::string_view> answer) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  hx::Connection conn;
  conn.origin = w.url.origin();
  conn.plain.emplace(net::ip::tcp::socket(w.ioc, net::ip::tcp::v4(), fds[0]));
  local::socket server(w.ioc, local(), fds[1]);
  hx::Request req;
  req.post = post;
  req.url = &w.url;
  req.body = post ? &w.webhook_body : nullptr;
  req.timeout = std::chrono::milliseconds(5000);
  req.deadline = hx::Clock::now() + req.timeout;
  req.max_body_bytes = 64 * 1024;
  std::optional<hx::Exchanged> out;
  net::co_spawn(w.ioc, serve_pair(server, post ? w.webhook_body.size() : 0, std::move(answer)), net::detached);
  net::co_spawn(w.ioc, [&]() -> net::awaitable<void> { out = co_await hx::exchange(conn, req); }, net::detached);
  w.ioc.run();
  w.ioc.restart();
  if (!out) std::abort();
  const auto& o = out->outcome;
  if (o.alive && (o.http_status < 200 || o.http_status > 299)) std::abort();
  if (o.http_status != 0 && o.detail.rfind("HTTP " + std::to_string(o.http_status), 0) != 0) std::abort();
  if (out->reusable && o.http_status == 0) std::abort();
  if (o.detail.empty()) std::abort();
  conn.close();
}

template <class T>
void check_engine_result(const engine::EngineResult<T>& r) {
  if (r.ok() != r.error.empty()) std::abort();
  if (!r.ok() && r.error.rfind("engine: ", 0) != 0) std::abort();
}

void check_engine(World& w, bool list, std::vector<std::string_view> answer) {
  engine::EngineClient client(w.ioc.get_executor(), w.path, "v1.41", std::chrono::milliseconds(5000));
  // list_with_health may ask up to three more times (Podman: health filters):
  // each request gets the same answer.
  std::vector<std::shared_ptr<local::socket>> ends(4);
  for (auto& end : ends)
    net::co_spawn(w.ioc, fuzz_support::serve_http_once(w.acceptor, answer, end), net::detached);
  bool done = false;
  net::co_spawn(w.ioc, [&]() -> net::awaitable<void> {
    if (list) {
      const auto r = co_await client.list_with_health("hs.target");
      check_engine_result(r);
      for (const auto& c : r.value)
        if (c.id.empty()) std::abort();
    } else {
      check_engine_result(co_await client.inspect("ws-1"));
    }
    done = true;
    client.close_idle();
    w.acceptor.cancel();  // the servers not needed
  }, net::detached);
  w.ioc.run();
  w.ioc.restart();
  if (!done) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* w = new World;
  if (size < 2 || size > 128 * 1024) return 0;
  const int mode = data[0] & 3;
  const std::string_view answer(reinterpret_cast<const char*>(data) + 2, size - 2);
  auto pieces = fuzz_support::pieces_of(answer, data[1]);
  if (mode < 2) check_exchange(*w, mode == 1, std::move(pieces));
  else check_engine(*w, mode == 3, std::move(pieces));
  return 0;
}
