// The daemon's event table (SPEC section 6, store/schema.cpp) read with a
// blocking libpq connection (clients/postgres's loader): recent events, the
// events after a known id, and LISTEN healthsweep_events for --follow.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace healthsweep::ctl {

struct Event {
  long long id = 0;
  std::string target, from_state, to_state, layer, reason;
  std::string at;      // RFC 3339 UTC with milliseconds
  std::string detail;  // JSON text ({} when none)
};

boost::json::object to_json(const Event& e);

class EventStore {
 public:
  // Connects (within `timeout`, at least libpq's 2 s minimum); null with
  // `error` set when it cannot.
  static std::unique_ptr<EventStore> open(const std::string& dsn, std::chrono::milliseconds timeout,
                                          std::string& error);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // The newest `limit` events (of one target, or of all when `target` is
  // empty), oldest first.
  std::optional<std::vector<Event>> recent(const std::string& target, int limit, std::string& error);
  // A target's events with an id above `after_id`, oldest first.
  std::optional<std::vector<Event>> after(const std::string& target, long long after_id, std::string& error);
  std::optional<long long> max_id(std::string& error);

  bool listen(std::string& error);
  // The target ids notified since the last call, waiting up to `wait` for the
  // first. Empty when none came (or a signal interrupted); nullopt when the
  // connection failed.
  std::optional<std::vector<std::string>> notifications(std::chrono::milliseconds wait, std::string& error);

 private:
  explicit EventStore(pg_conn* conn) : conn_(conn) {}
  std::optional<std::vector<Event>> query(const char* sql, const std::vector<std::string>& params,
                                          std::string& error);
  pg_conn* conn_;
};

}  // namespace healthsweep::ctl
