#include "sweeps/postgres_targets.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "clients/postgres/connection.hpp"

namespace healthsweep::store {

using namespace healthsweep::clients::postgres;

namespace net = boost::asio;

namespace {
constexpr auto connect_timeout = std::chrono::seconds(5);
constexpr auto query_timeout = std::chrono::seconds(10);
}  // namespace

struct TargetQuery::Impl : std::enable_shared_from_this<TargetQuery::Impl> {
  Impl(net::any_io_executor ex, std::string d, std::string q, std::chrono::milliseconds r, Handler h)
      : executor(ex), dsn(std::move(d)), sql(std::move(q)), refresh(r), on_rows(std::move(h)), pg(ex),
        timer(ex) {}

  net::any_io_executor executor;
  std::string dsn, sql;
  std::chrono::milliseconds refresh;
  Handler on_rows;
  PgConnection pg;
  net::steady_timer timer;
  std::string last_error;  // logged once per distinct error
  bool stopped = false;

  void failed(const std::string& why) {
    if (why != last_error) spdlog::warn("postgres_query: {}; keeping the last target list", why);
    last_error = why;
  }

  net::awaitable<void> read_once() {
    if (!pg.connected()) {
      auto err = co_await pg.connect(dsn, connect_timeout);
      if (!err.empty()) co_return failed("connect: " + err);
    }
    auto result = co_await pg.exec(sql, {}, query_timeout);
    if (stopped) co_return;
    if (!result.ok) co_return failed(result.error);
    std::vector<Row> rows;
    rows.reserve(result.rows.size());
    for (const auto& r : result.rows) {
      if (r.empty() || !r[0] || r[0]->empty()) continue;  // a row without an id names nothing
      rows.push_back(Row{*r[0], r.size() > 1 && r[1] ? *r[1] : std::string(),
                         r.size() > 2 && r[2] ? *r[2] : std::string()});
    }
    if (!last_error.empty()) spdlog::info("postgres_query: reading targets again ({} rows)", rows.size());
    last_error.clear();
    on_rows(std::move(rows));
  }

  net::awaitable<void> loop() {
    auto self = shared_from_this();
    while (!stopped) {
      co_await read_once();
      if (stopped) co_return;
      timer.expires_after(refresh);
      boost::system::error_code ec;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
};

TargetQuery::TargetQuery(net::any_io_executor ex, std::string dsn, std::string sql,
                         std::chrono::milliseconds refresh, Handler on_rows)
    : impl_(std::make_shared<Impl>(ex, std::move(dsn), std::move(sql), refresh, std::move(on_rows))) {}

TargetQuery::~TargetQuery() { stop(); }

void TargetQuery::start() {
  net::co_spawn(impl_->executor, impl_->loop(), clients::net::log_failure("postgres_query"));
}

void TargetQuery::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->pg.close();
}

void TargetQuery::set_refresh(std::chrono::milliseconds refresh) { impl_->refresh = refresh; }

}  // namespace healthsweep::store
