#include "store/fleet_list.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

#include "clients/http/slots.hpp"
#include "clients/postgres/connection.hpp"

namespace healthsweep::store {

namespace net = boost::asio;
using clients::postgres::PgConnection;
using clients::postgres::PgResult;

// COLLATE "C": byte order, as the local list pages (std::string's <), so a
// client pages both alike.
const std::string_view fleet_list_sql = R"(
SELECT id, state, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  reason, restarts, quarantined, instance
FROM healthsweep_targets
WHERE ($1::text IS NULL OR state = $1::text) AND ($2::text IS NULL OR id COLLATE "C" > $2::text)
ORDER BY id COLLATE "C"
LIMIT $3::bigint)";

FleetListPage fleet_page(const std::vector<FleetRow>& rows, std::size_t limit) {
  FleetListPage page;
  page.ok = true;
  std::size_t shown = rows.size();
  if (limit > 0 && rows.size() > limit) {
    shown = limit;
    page.next = rows[limit - 1].id;
  }
  boost::json::array arr;
  arr.reserve(shown);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& r = rows[i];
    boost::json::object o;
    o["id"] = r.id;
    o["state"] = r.state;
    o["since"] = r.since;
    o["reason"] = r.reason;
    o["restarts"] = r.restarts;
    o["quarantined"] = r.quarantined;
    if (r.owner.empty())
      o["owner"] = nullptr;
    else
      o["owner"] = r.owner;
    arr.push_back(std::move(o));
  }
  page.json = boost::json::serialize(arr);
  return page;
}

namespace {

std::int64_t to_int(const std::optional<std::string>& v) {
  std::int64_t n = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

std::vector<FleetRow> rows_of(const PgResult& r) {
  std::vector<FleetRow> out;
  out.reserve(r.rows.size());
  const auto text = [](const std::optional<std::string>& v) { return v.value_or(std::string()); };
  for (const auto& row : r.rows) {
    if (row.size() < 7) continue;
    out.push_back(FleetRow{text(row[0]), text(row[1]), text(row[2]), text(row[3]), to_int(row[4]),
                           row[5] && *row[5] == "t", text(row[6])});
  }
  return out;
}

}  // namespace

struct FleetList::Impl {
  Impl(net::any_io_executor ex, std::string d, std::chrono::milliseconds t)
      : conn(ex), one_at_a_time(ex, 1), dsn(std::move(d)), timeout(t) {}
  PgConnection conn;
  clients::http::Slots one_at_a_time;
  std::string dsn;
  std::chrono::milliseconds timeout;

  static net::awaitable<FleetListPage> read(std::shared_ptr<Impl> self, FleetQuery q);
};

net::awaitable<FleetListPage> FleetList::Impl::read(std::shared_ptr<Impl> self, FleetQuery q) {
  FleetListPage failed;
  // The whole answer within `timeout`, the wait for the connection included.
  const auto deadline = clients::http::Slots::Clock::now() + self->timeout;
  if (co_await self->one_at_a_time.acquire(deadline)) {
    failed.error = "PostgreSQL busy with other fleet lists";
    co_return failed;
  }
  clients::http::SlotHold hold(self->one_at_a_time);
  const auto left = [&] {
    return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - clients::http::Slots::Clock::now()));
  };
  if (!self->conn.connected()) {
    auto why = co_await self->conn.connect(self->dsn, left());
    if (!why.empty()) {
      failed.error = "PostgreSQL unreachable: " + why;
      co_return failed;
    }
  }
  PgConnection::Params params{q.state, q.after,
                              q.limit > 0 ? std::optional<std::string>(std::to_string(q.limit + 1)) : std::nullopt};
  auto result = co_await self->conn.exec(std::string(fleet_list_sql), std::move(params), left());
  if (!result.ok) {
    failed.error = result.error;
    co_return failed;
  }
  co_return fleet_page(rows_of(result), q.limit);
}

FleetList::FleetList(net::any_io_executor ex, std::string dsn, std::chrono::milliseconds timeout)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(dsn), timeout)) {}

FleetList::~FleetList() { impl_->conn.close(); }

net::awaitable<FleetListPage> FleetList::read(FleetQuery q) { return Impl::read(impl_, std::move(q)); }

}  // namespace healthsweep::store
