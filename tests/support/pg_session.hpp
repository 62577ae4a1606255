// One blocking libpq connection, for tests and benchmarks that look at
// PostgreSQL beside the daemon (the daemon's own client is non-blocking:
// clients/postgres). Header-only: the user links libpq
// (PostgreSQL::PostgreSQL), the daemon loads it lazily.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::testing {

// query() and copy_in() throw std::runtime_error on an error.
class PgSession {
 public:
  using Rows = std::vector<std::vector<std::string>>;

  explicit PgSession(const std::string& dsn) : pg_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(pg_) != CONNECTION_OK) {
      const std::string e = PQerrorMessage(pg_);
      PQfinish(pg_);
      throw std::runtime_error("cannot connect to PostgreSQL: " + e);
    }
  }
  ~PgSession() { PQfinish(pg_); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Every row as text (NULL as ""). With params: one PQexecParams, text
  // parameters $1.. (one round trip, one statement).
  Rows query(const std::string& sql) { return rows_of(PQexec(pg_, sql.c_str()), sql); }
  Rows query(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    return rows_of(PQexecParams(pg_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 0),
                   sql);
  }

  // COPY ... FROM STDIN with `data` in COPY's text format, sent in 64 KiB chunks.
  void copy_in(const std::string& sql, std::string_view data) {
    std::unique_ptr<PGresult, decltype(&PQclear)> start(PQexec(pg_, sql.c_str()), &PQclear);
    if (PQresultStatus(start.get()) != PGRES_COPY_IN)
      throw std::runtime_error(sql + ": " + PQresultErrorMessage(start.get()));
    for (std::size_t at = 0; at < data.size(); at += 65536) {
      const auto chunk = data.substr(at, 65536);
      if (PQputCopyData(pg_, chunk.data(), static_cast<int>(chunk.size())) != 1)
        throw std::runtime_error(sql + ": " + PQerrorMessage(pg_));
    }
    if (PQputCopyEnd(pg_, nullptr) != 1) throw std::runtime_error(sql + ": " + PQerrorMessage(pg_));
    std::string error;
    while (PGresult* r = PQgetResult(pg_)) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty()) error = PQresultErrorMessage(r);
      PQclear(r);
    }
    if (!error.empty()) throw std::runtime_error(sql + ": " + error);
  }

 private:
  Rows rows_of(PGresult* result, const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(result, &PQclear);
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
      throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    Rows rows(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i)
      for (int j = 0; j < PQnfields(r.get()); ++j) rows[i].emplace_back(PQgetvalue(r.get(), i, j));
    return rows;
  }

  PGconn* pg_;
};

}  // namespace healthsweep::testing
