// targets.postgres_query: a SQL query returning (id, container[, instance])
// rows (instance: the cluster instance that alone may judge it), re-read
// every targets_refresh on a connection of its own. A failed read keeps the
// last list: a database outage never removes targets.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace healthsweep::store {

class TargetQuery {
 public:
  struct Row {
    std::string id;
    std::string container;  // empty when the query returns no second column or null
    std::string instance;   // empty when there is no third column or null
  };
  using Handler = std::function<void(std::vector<Row>)>;

  TargetQuery(boost::asio::any_io_executor ex, std::string dsn, std::string sql,
              std::chrono::milliseconds refresh, Handler on_rows);
  ~TargetQuery();
  TargetQuery(const TargetQuery&) = delete;
  TargetQuery& operator=(const TargetQuery&) = delete;

  void start();
  void stop();
  void set_refresh(std::chrono::milliseconds refresh);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::store
