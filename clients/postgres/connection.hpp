// One non-blocking libpq connection driven by the Asio loop: PQconnectStart /
// PQconnectPoll and PQsendQueryParams, waiting for socket readiness on a
// posix::stream_descriptor that never owns the fd (libpq closes it). No
// blocking calls: host names are resolved off the loop first
// (clients/postgres/conn_params.hpp); only a name libpq takes from the
// environment (PGHOST) it still resolves itself.
// Every operation has a deadline; when it passes the connection is closed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace healthsweep::clients::postgres {

struct PgResult {
  bool ok = false;
  bool connection_lost = false;  // the connection is unusable now (closed)
  std::string error;             // when !ok
  std::vector<std::vector<std::optional<std::string>>> rows;  // text values, null = nullopt
};

class PgConnection {
 public:
  using Params = std::vector<std::optional<std::string>>;

  explicit PgConnection(boost::asio::any_io_executor ex);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Empty string on success, else why not. Closes any previous connection.
  boost::asio::awaitable<std::string> connect(std::string dsn, std::chrono::milliseconds timeout);
  // One statement with $n parameters (text format; cast in SQL).
  boost::asio::awaitable<PgResult> exec(std::string sql, Params params,
                                        std::chrono::milliseconds timeout);
  // A constant script of several statements, no parameters (migrations).
  boost::asio::awaitable<PgResult> exec_script(std::string sql, std::chrono::milliseconds timeout);

  bool connected() const;
  void close();  // pending operations complete with connection_lost

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::clients::postgres
