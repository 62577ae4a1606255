#include "tests/support/recording_proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/as_tuple.hpp>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace healthsweep::testing {

namespace net = boost::asio;
using stream = net::local::stream_protocol;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

struct RecordingProxy::Impl {
  std::string path, engine;
  bool forward_events = true;
  std::chrono::milliseconds answer_delay{0};
  net::io_context ioc;
  stream::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::vector<std::string> request_lines;
  int in_flight = 0, max_in_flight = 0;  // requests sent on, not yet answered (events excluded)
  std::thread thread;

  // One connection's request awaiting its answer: from the request line to
  // the answer's first bytes (keep-alive: one at a time per connection).
  struct Exchange {
    bool awaiting = false;
  };

  net::awaitable<void> pump(std::shared_ptr<stream::socket> from, std::shared_ptr<stream::socket> to,
                            bool record, std::shared_ptr<Exchange> exchange) {
    char buf[16384];
    std::string pending;  // an unfinished line, when recording
    bool swallow = false;
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(net::buffer(buf), nothrow);
      if (ec) break;
      if (!record && exchange->awaiting) {  // the answer begins
        if (answer_delay.count() > 0) {
          net::steady_timer hold(ioc, answer_delay);
          co_await hold.async_wait(nothrow);
        }
        std::lock_guard lock(mu);
        exchange->awaiting = false;
        --in_flight;
      }
      if (record) {
        pending.append(buf, n);
        std::size_t start = 0, nl;
        while ((nl = pending.find("\r\n", start)) != std::string::npos) {
          auto line = pending.substr(start, nl - start);
          if (!forward_events && line.find("/events") != std::string::npos) swallow = true;
          if (line.rfind("GET ", 0) == 0 || line.rfind("POST ", 0) == 0) {
            std::lock_guard lock(mu);
            if (line.find("/events") == std::string::npos && !exchange->awaiting) {
              exchange->awaiting = true;
              max_in_flight = std::max(max_in_flight, ++in_flight);
            }
            request_lines.push_back(std::move(line));
          }
          start = nl + 2;
        }
        pending.erase(0, start);
      }
      if (swallow) continue;
      auto [wec, wn] = co_await net::async_write(*to, net::buffer(buf, n), nothrow);
      if (wec) break;
    }
    boost::system::error_code ignored;
    to->shutdown(stream::socket::shutdown_send, ignored);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, client] = co_await acceptor.async_accept(nothrow);
      if (ec) co_return;
      auto c = std::make_shared<stream::socket>(std::move(client));
      auto e = std::make_shared<stream::socket>(ioc);
      auto [cec] = co_await e->async_connect(stream::endpoint(engine), nothrow);
      if (cec) continue;
      auto exchange = std::make_shared<Exchange>();
      net::co_spawn(ioc, pump(c, e, true, exchange), net::detached);
      net::co_spawn(ioc, pump(e, c, false, exchange), net::detached);
    }
  }
};

RecordingProxy::RecordingProxy(const std::string& listen_path, const std::string& engine_path,
                               bool forward_events, std::chrono::milliseconds answer_delay)
    : impl_(std::make_unique<Impl>()) {
  impl_->forward_events = forward_events;
  impl_->answer_delay = answer_delay;
  impl_->path = listen_path;
  impl_->engine = engine_path;
  std::remove(listen_path.c_str());
  impl_->acceptor.open(stream());
  impl_->acceptor.bind(stream::endpoint(listen_path));
  impl_->acceptor.listen();
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

RecordingProxy::~RecordingProxy() {
  impl_->ioc.stop();
  impl_->thread.join();
}

const std::string& RecordingProxy::path() const { return impl_->path; }

int RecordingProxy::count(const std::string& needle) const {
  std::lock_guard lock(impl_->mu);
  int n = 0;
  for (const auto& l : impl_->request_lines) n += l.find(needle) != std::string::npos;
  return n;
}

}  // namespace healthsweep::testing

namespace healthsweep::testing {
int RecordingProxy::max_in_flight() const {
  std::lock_guard lock(impl_->mu);
  return impl_->max_in_flight;
}
}  // namespace healthsweep::testing
