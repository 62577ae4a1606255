#include "clients/postgres/connection.hpp"
#include "clients/net/resolver.hpp"
#include "clients/postgres/conn_params.hpp"
#include "clients/postgres/libpq.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>


#include <algorithm>
#include <spdlog/spdlog.h>

namespace healthsweep::clients::postgres {
namespace net = boost::asio;
using boost::system::error_code;
using Wait = net::posix::stream_descriptor::wait_type;

struct PgConnection::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(net::any_io_executor ex) : sd(ex), deadline(ex) {}
  ~Impl() { close(); }

  net::posix::stream_descriptor sd;
  net::steady_timer deadline;
  PGconn* pg = nullptr;
  unsigned generation = 0;  // of the armed deadline
  bool timed_out = false;

  void close() {
    if (sd.is_open()) sd.release();  // cancels our waits; libpq owns the fd
    if (pg) libpq().PQfinish(pg);
    pg = nullptr;
  }

  // Waits for the socket libpq uses right now (it may change while connecting).
  net::awaitable<error_code> wait(Wait w) {
    error_code ec;
    if (!pg) co_return net::error::not_connected;
    if (sd.is_open()) sd.release();
    sd.assign(libpq().PQsocket(pg), ec);
    if (ec) co_return ec;
    co_await sd.async_wait(w, net::redirect_error(net::use_awaitable, ec));
    if (!ec && !pg) ec = net::error::operation_aborted;  // closed meanwhile
    co_return ec;
  }

  // When the deadline passes, the connection is closed: a stuck server never
  // stalls the writer.
  void arm(std::chrono::milliseconds timeout) {
    const unsigned gen = ++generation;
    timed_out = false;
    deadline.expires_after(timeout);
    deadline.async_wait([w = weak_from_this(), gen](error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->generation != gen) return;
      self->timed_out = true;
      self->close();
    });
  }
  void disarm() {
    ++generation;
    deadline.cancel();
  }

  std::string error_text(const char* what) {
    if (timed_out) return std::string(what) + " timed out";
    std::string e = pg ? libpq().PQerrorMessage(pg) : "connection closed";
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
    return e.empty() ? std::string(what) + " failed" : e;
  }

  PgResult lost(const char* what) {
    PgResult r;
    r.error = error_text(what);
    r.connection_lost = true;
    close();
    return r;
  }

  // After a query was sent: flush, then read every result.
  net::awaitable<PgResult> finish_query() {
    for (;;) {  // PQflush: 1 = more to send; the server may need reading first
      if (!pg) co_return lost("query");
      const int f = libpq().PQflush(pg);
      if (f < 0) co_return lost("query");
      if (f == 0) break;
      if (co_await wait(Wait::wait_write)) co_return lost("query");
    }
    PgResult out;
    out.ok = true;
    for (;;) {
      while (pg && libpq().PQisBusy(pg)) {
        if (co_await wait(Wait::wait_read) || !pg || !libpq().PQconsumeInput(pg)) co_return lost("query");
      }
      if (!pg) co_return lost("query");
      PGresult* res = libpq().PQgetResult(pg);
      if (!res) break;
      const auto st = libpq().PQresultStatus(res);
      if (st == PGRES_TUPLES_OK) {
        out.rows.clear();
        for (int i = 0; i < libpq().PQntuples(res); ++i) {
          auto& row = out.rows.emplace_back();
          for (int j = 0; j < libpq().PQnfields(res); ++j)
            row.push_back(libpq().PQgetisnull(res, i, j) ? std::nullopt
                                                 : std::optional<std::string>(libpq().PQgetvalue(res, i, j)));
        }
      } else if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && out.ok) {
        out.ok = false;
        out.error = libpq().PQresultErrorMessage(res);
        while (!out.error.empty() && out.error.back() == '\n') out.error.pop_back();
      }
      libpq().PQclear(res);
    }
    if (libpq().PQstatus(pg) != CONNECTION_OK) {
      auto r = lost("query");
      if (!out.ok) r.error = out.error;
      co_return r;
    }
    co_return out;
  }
};

PgConnection::PgConnection(net::any_io_executor ex) : impl_(std::make_shared<Impl>(ex)) {
  libpq();  // loaded now: a missing libpq stops the start, not a connect later
}
PgConnection::~PgConnection() = default;

bool PgConnection::connected() const { return impl_->pg && libpq().PQstatus(impl_->pg) == CONNECTION_OK; }
void PgConnection::close() {
  impl_->disarm();
  impl_->close();
}


net::awaitable<std::string> PgConnection::connect(std::string dsn, std::chrono::milliseconds timeout) {
  auto s = impl_;  // alive across suspension even if we are destroyed
  s->close();
  const auto params = co_await connection_params(s->sd.get_executor(), dsn, timeout);
  if (!params.error.empty()) co_return params.error;
  std::vector<const char*> keys, values;
  for (std::size_t i = 0; i < params.keys.size(); ++i) {
    keys.push_back(params.keys[i].c_str());
    values.push_back(params.values[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  s->close();  // a connect() or close() may have come while resolving
  s->pg = libpq().PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (!s->pg) co_return "cannot allocate a libpq connection";
  if (libpq().PQstatus(s->pg) == CONNECTION_BAD) {
    auto e = s->error_text("connect");
    s->close();
    co_return e;
  }
  s->arm(timeout);
  auto st = PGRES_POLLING_WRITING;  // libpq: start by waiting until writable
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) break;
    if (co_await s->wait(st == PGRES_POLLING_READING ? Wait::wait_read : Wait::wait_write)) break;
    if (!s->pg) break;
    st = libpq().PQconnectPoll(s->pg);
  }
  if (st != PGRES_POLLING_OK || !s->pg) {
    auto e = s->error_text("connect");
    s->disarm();
    s->close();
    co_return e;
  }
  s->disarm();
  // Server notices (e.g. "relation already exists, skipping") go to the log,
  // not to stderr.
  libpq().PQsetNoticeProcessor(
      s->pg, [](void*, const char* msg) {
        std::string text = msg;
        while (!text.empty() && text.back() == '\n') text.pop_back();
        spdlog::debug("store: PostgreSQL says: {}", text);
      },
      nullptr);
  if (libpq().PQsetnonblocking(s->pg, 1) != 0) {
    auto e = s->error_text("connect");
    s->close();
    co_return e;
  }
  co_return std::string{};
}

net::awaitable<PgResult> PgConnection::exec(std::string sql, Params params,
                                            std::chrono::milliseconds timeout) {
  auto s = impl_;
  if (!connected()) co_return s->lost("query");
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!libpq().PQsendQueryParams(s->pg, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0))
    co_return s->lost("query");
  s->arm(timeout);
  auto r = co_await s->finish_query();
  s->disarm();
  co_return r;
}

net::awaitable<PgResult> PgConnection::exec_script(std::string sql, std::chrono::milliseconds timeout) {
  auto s = impl_;
  if (!connected()) co_return s->lost("query");
  if (!libpq().PQsendQuery(s->pg, sql.c_str())) co_return s->lost("query");
  s->arm(timeout);
  auto r = co_await s->finish_query();
  s->disarm();
  co_return r;
}

}  // namespace healthsweep::clients::postgres
