#include "tests/support/delay_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <deque>
#include <thread>

namespace healthsweep::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

namespace {

// One direction of one connection: chunks read, each with the time it may
// be written; the writer sleeps on `wake` until the front one is due.
struct Direction {
  explicit Direction(net::any_io_executor ex) : wake(ex) {}
  std::deque<std::pair<steady::time_point, std::string>> queue;
  net::steady_timer wake;
  bool eof = false;
};

}  // namespace

struct DelayProxy::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  int upstream_port = 0;
  int port = 0;
  std::atomic<long> delay_ms{0};
  std::atomic<int> accepted{0};
  std::thread thread;

  net::awaitable<void> read_side(std::shared_ptr<tcp::socket> from, std::shared_ptr<Direction> dir) {
    char buf[16384];
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(net::buffer(buf), nothrow);
      if (ec) break;
      dir->queue.emplace_back(steady::now() + std::chrono::milliseconds(delay_ms.load()), std::string(buf, n));
      dir->wake.cancel();
    }
    dir->eof = true;
    dir->wake.cancel();
  }

  net::awaitable<void> write_side(std::shared_ptr<tcp::socket> to, std::shared_ptr<Direction> dir) {
    for (;;) {
      if (dir->queue.empty() && dir->eof) break;
      const auto due = dir->queue.empty() ? steady::time_point::max() : dir->queue.front().first;
      if (due > steady::now()) {  // woken early by a new chunk or the end: look again
        dir->wake.expires_at(due);
        co_await dir->wake.async_wait(nothrow);
        continue;
      }
      auto [ec, n] = co_await net::async_write(*to, net::buffer(dir->queue.front().second), nothrow);
      if (ec) break;
      dir->queue.pop_front();
    }
    boost::system::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
  }

  void pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    auto dir = std::make_shared<Direction>(ioc.get_executor());
    net::co_spawn(ioc, read_side(from, dir), net::detached);
    net::co_spawn(ioc, write_side(to, dir), net::detached);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, client] = co_await acceptor.async_accept(nothrow);
      if (ec) co_return;
      ++accepted;
      auto down = std::make_shared<tcp::socket>(std::move(client));
      auto up = std::make_shared<tcp::socket>(ioc);
      const tcp::endpoint upstream(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_port));
      auto [cec] = co_await up->async_connect(upstream, nothrow);
      if (cec) continue;  // the client sees its connection closed
      pipe(down, up);
      pipe(up, down);
    }
  }
};

DelayProxy::DelayProxy(const std::string& listen_address, int upstream_port) : impl_(std::make_unique<Impl>()) {
  impl_->upstream_port = upstream_port;
  const tcp::endpoint at(net::ip::make_address(listen_address), 0);
  impl_->acceptor.open(at.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(at);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

DelayProxy::~DelayProxy() {
  impl_->ioc.stop();
  impl_->thread.join();
}

int DelayProxy::port() const { return impl_->port; }

void DelayProxy::set_delay(std::chrono::milliseconds one_way) { impl_->delay_ms = one_way.count(); }

int DelayProxy::connections_accepted() const { return impl_->accepted; }

}  // namespace healthsweep::testing
