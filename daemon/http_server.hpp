// The one HTTP listener (admin, metrics, hooks): one coroutine per connection,
// keep-alive, requests answered strictly in order (pipelining-safe), bounded
// header and body sizes, a whole-request read deadline against slow clients,
// and a cap on open connections.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "daemon/http_types.hpp"

namespace healthsweep::daemon {

struct HttpLimits {
  std::size_t header_limit = std::size_t{8} * 1024;  // 431 beyond
  std::size_t body_limit = std::size_t{64} * 1024;   // 413 beyond
  // A request (headers and body) must arrive within this; an idle keep-alive
  // connection is closed after it too. A client trickling one byte a second
  // is dropped when it runs out.
  std::chrono::milliseconds read_timeout{10000};
  std::size_t max_connections = 1024;
};

using Handler = std::function<Response(Request&&)>;

class HttpServer {
 public:
  // Binds and listens at once (throws std::system_error with a clear message
  // when it cannot: a startup problem); serving starts with start().
  HttpServer(boost::asio::any_io_executor ex, const config::Endpoint& at, Handler handler,
             HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  // Stops accepting and closes idle connections; requests being answered finish.
  void stop();
  std::string local_address() const;  // "127.0.0.1:9470", with the real port when 0 was asked
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::daemon
