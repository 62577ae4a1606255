#include "ctl/event_store.hpp"

#include <poll.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <stdexcept>

#include "clients/postgres/libpq.hpp"

namespace healthsweep::ctl {

using clients::postgres::libpq;

namespace {

// Columns of every event query, `at` formatted as the admin API formats times.
#define HS_EVENT_COLUMNS                                                                            \
  "select id, target, from_state, to_state, layer, reason, "                                        \
  "to_char(at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), detail::text "             \
  "from healthsweep_events "

// The first line of a server error (not the "LINE 1: ..." quote of the
// query); a database the daemon has not set up yet says so plainly.
std::string explained(std::string error) {
  error = error.substr(0, error.find('\n'));
  if (error.find("\"healthsweep_events\" does not exist") != std::string::npos)
    error += " (the daemon creates it when it first connects to this database)";
  return error;
}

std::string last_error(PGconn* conn) {
  std::string why = libpq().PQerrorMessage(conn);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

}  // namespace

boost::json::object to_json(const Event& e) {
  boost::json::object o;
  // Events seen by polling the admin API have no id and no layer.
  if (e.id != 0) o["id"] = e.id; else o["id"] = nullptr;
  o["target"] = e.target;
  o["from_state"] = e.from_state;
  o["to_state"] = e.to_state;
  if (!e.layer.empty()) o["layer"] = e.layer; else o["layer"] = nullptr;
  o["reason"] = e.reason;
  o["at"] = e.at;
  boost::system::error_code ec;
  auto detail = boost::json::parse(e.detail, ec);
  o["detail"] = ec ? boost::json::value(boost::json::object{}) : std::move(detail);
  return o;
}

std::unique_ptr<EventStore> EventStore::open(const std::string& dsn, std::chrono::milliseconds timeout,
                                             std::string& error) {
  try {
    libpq();
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
  // The DSN is expanded first; connect_timeout after it overrides its own.
  const std::string seconds = std::to_string(std::max<long long>(2, (timeout.count() + 999) / 1000));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {dsn.c_str(), seconds.c_str(), "healthsweepctl", nullptr};
  PGconn* conn = libpq().PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn || libpq().PQstatus(conn) != CONNECTION_OK) {
    error = conn ? last_error(conn) : "out of memory";
    if (conn) libpq().PQfinish(conn);
    return nullptr;
  }
  return std::unique_ptr<EventStore>(new EventStore(conn));
}

EventStore::~EventStore() { libpq().PQfinish(conn_); }

std::optional<std::vector<Event>> EventStore::query(const char* sql, const std::vector<std::string>& params,
                                                    std::string& error) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* res = libpq().PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                                       nullptr, nullptr, 0);
  std::optional<std::vector<Event>> out;
  if (libpq().PQresultStatus(res) != PGRES_TUPLES_OK) {
    error = explained(res ? libpq().PQresultErrorMessage(res) : last_error(conn_));
  } else {
    out.emplace();
    for (int r = 0; r < libpq().PQntuples(res); ++r) {
      auto text = [&](int c) { return std::string(libpq().PQgetvalue(res, r, c)); };
      out->push_back(Event{std::stoll(text(0)), text(1), text(2), text(3), text(4), text(5), text(6), text(7)});
    }
  }
  libpq().PQclear(res);
  return out;
}

std::optional<std::vector<Event>> EventStore::recent(const std::string& target, int limit, std::string& error) {
  auto events = target.empty()
      ? query(HS_EVENT_COLUMNS "order by id desc limit $1::int", {std::to_string(limit)}, error)
      : query(HS_EVENT_COLUMNS "where target = $1 order by id desc limit $2::int",
              {target, std::to_string(limit)}, error);
  if (events) std::reverse(events->begin(), events->end());
  return events;
}

std::optional<std::vector<Event>> EventStore::after(const std::string& target, long long after_id,
                                                    std::string& error) {
  return query(HS_EVENT_COLUMNS "where target = $1 and id > $2::bigint order by id",
               {target, std::to_string(after_id)}, error);
}

std::optional<long long> EventStore::max_id(std::string& error) {
  PGresult* res = libpq().PQexec(conn_, "select coalesce(max(id), 0) from healthsweep_events");
  std::optional<long long> out;
  if (libpq().PQresultStatus(res) == PGRES_TUPLES_OK)
    out = std::stoll(libpq().PQgetvalue(res, 0, 0));
  else
    error = explained(res ? libpq().PQresultErrorMessage(res) : last_error(conn_));
  libpq().PQclear(res);
  return out;
}

bool EventStore::listen(std::string& error) {
  PGresult* res = libpq().PQexec(conn_, "LISTEN healthsweep_events");
  const bool ok = libpq().PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) error = res ? libpq().PQresultErrorMessage(res) : last_error(conn_);
  libpq().PQclear(res);
  return ok;
}

std::optional<std::vector<std::string>> EventStore::notifications(std::chrono::milliseconds wait,
                                                                  std::string& error) {
  std::vector<std::string> targets;
  auto drain = [&] {
    while (PGnotify* n = libpq().PQnotifies(conn_)) {
      if (std::find(targets.begin(), targets.end(), n->extra) == targets.end()) targets.emplace_back(n->extra);
      libpq().PQfreemem(n);
    }
  };
  drain();  // queued while a query ran
  if (!targets.empty()) return targets;
  pollfd pfd{libpq().PQsocket(conn_), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
  if (ready > 0) {
    if (!libpq().PQconsumeInput(conn_)) {
      error = last_error(conn_);
      return std::nullopt;
    }
    drain();
  }
  return targets;
}

}  // namespace healthsweep::ctl
