// GET /admin/targets?scope=fleet (issue 14): every instance's targets, as
// their rows in healthsweep_targets say, read on a connection of its own
// (opened at the first request, kept). One statement at a time: requests
// queue for it, so a burst of fleet lists holds one PostgreSQL connection,
// never one each. Asynchronous like every statement (clients/postgres): the
// loop serves everything else while PostgreSQL answers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::store {

struct FleetQuery {
  std::optional<std::string> state;  // a state name (to_string)
  std::optional<std::string> after;  // ids greater than this (byte order, as the local list)
  std::size_t limit = 0;             // 0: every row
};

// One healthsweep_targets row as the fleet list shows it.
struct FleetRow {
  std::string id, state, since, reason;  // since: RFC 3339 UTC with milliseconds
  std::int64_t restarts = 0;
  bool quarantined = false;
  std::string owner;  // the column `instance`: who wrote the row last; empty: not recorded
};

struct FleetListPage {
  bool ok = false;
  std::string error;  // when !ok
  std::string json;   // JSON array of target objects
  std::optional<std::string> next;  // the id to pass as `after` when more rows follow
};

// The statement: $1 state or null, $2 after or null, $3 row limit or null.
// The limit asked is one more than the page, to know whether more follow.
extern const std::string_view fleet_list_sql;

// A page from the rows the statement returned (at most limit + 1 of them):
// {"id","state","since","reason","restarts","quarantined","owner"} each,
// owner null when the row does not record it. Pure.
FleetListPage fleet_page(const std::vector<FleetRow>& rows, std::size_t limit);

class FleetList {
 public:
  FleetList(boost::asio::any_io_executor ex, std::string dsn, std::chrono::milliseconds timeout);
  ~FleetList();
  FleetList(const FleetList&) = delete;
  FleetList& operator=(const FleetList&) = delete;

  // Not a coroutine itself: `q` is copied into the frame now.
  boost::asio::awaitable<FleetListPage> read(FleetQuery q);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::store
