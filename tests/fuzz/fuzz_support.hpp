// Shared by the libFuzzer harnesses that play a server on the other end of
// the daemon's real clients: a private directory for unix sockets, an
// acceptor in it, and a server coroutine that reads what the client sends
// and answers with the fuzzer's bytes, written in pieces so that the client
// reads them split at arbitrary points.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace fuzz_support {

namespace net = boost::asio;
using local = net::local::stream_protocol;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// A directory of this process for sockets, removed at exit.
inline const std::string& socket_dir() {
  static const std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hs-fuzz.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    return tmpl;
  }();
  static const bool cleanup = [] {
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(socket_dir(), ec); });
    return true;
  }();
  (void)cleanup;
  return dir;
}

// Listens on a unix socket at `path`, replacing a stale one.
inline void listen_unix(local::acceptor& acceptor, const std::string& path) {
  ::unlink(path.c_str());
  acceptor.open();
  acceptor.bind(local::endpoint(path));
  acceptor.listen();
}

// Feeds `rest` to a Beast parser that has all the bytes there are: until it
// is done, fails, or needs bytes that are not there. `rest` moves past what
// it took. True when a whole message was read.
template <class Parser>
bool put_all(Parser& parser, net::const_buffer& rest, boost::system::error_code& ec) {
  while (rest.size() > 0 && !parser.is_done()) {
    const auto n = parser.put(rest, ec);
    rest += n;
    if (ec == boost::beast::http::error::need_more && n > 0) ec = {};
    if (ec || n == 0) break;
  }
  return !ec && parser.is_done();
}

// Splits `bytes` into pieces of `piece` bytes (0: one piece), at most 64
// pieces (the rest goes in the last one).
inline std::vector<std::string_view> pieces_of(std::string_view bytes, std::size_t piece) {
  std::vector<std::string_view> out;
  while (!bytes.empty()) {
    const auto n = (piece == 0 || out.size() == 63) ? bytes.size() : std::min(piece, bytes.size());
    out.push_back(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  return out;
}

// Lets the other coroutines (the client's read) run before the next write.
inline net::awaitable<void> yield_a_little() {
  auto ex = co_await net::this_coro::executor;
  for (int i = 0; i < 3; ++i) co_await net::post(ex, net::use_awaitable);
}

// Accepts one connection, reads the request up to the end of its head (the
// daemon's clients send no body to the engine), writes `answer` in pieces
// and shuts the sending side. The socket is kept in `keep` until the caller
// drops it: closing a unix socket with unread bytes would reset the client.
inline net::awaitable<void> serve_http_once(local::acceptor& acceptor, std::vector<std::string_view> answer,
                                            std::shared_ptr<local::socket>& keep) {
  auto [ec, socket] = co_await acceptor.async_accept(nothrow);
  if (ec) co_return;
  keep = std::make_shared<local::socket>(std::move(socket));
  std::string head;
  auto [rec, n] = co_await net::async_read_until(*keep, net::dynamic_buffer(head), "\r\n\r\n", nothrow);
  if (rec) co_return;
  for (const auto piece : answer) {
    auto [wec, w] = co_await net::async_write(*keep, net::buffer(piece.data(), piece.size()), nothrow);
    if (wec) co_return;
    co_await yield_a_little();
  }
  boost::system::error_code ignored;
  keep->shutdown(local::socket::shutdown_send, ignored);
}

}  // namespace fuzz_support
