// The store's schema as numbered migrations and the statements it runs.
// Migrations are applied in order, each once, each in its own transaction
// under pg_advisory_xact_lock so that concurrent starts do not race.
#pragma once

#include <span>
#include <string_view>

namespace healthsweep::store {

struct Migration {
  int version;
  std::string_view sql;  // constant DDL, may hold several statements
};
std::span<const Migration> migrations();

// Key of the advisory lock every migration transaction takes.
inline constexpr std::string_view migration_lock_sql =
    "SELECT pg_advisory_xact_lock(7361726801)";  // arbitrary, fixed for healthsweep
inline constexpr std::string_view create_migrations_table_sql =
    "CREATE TABLE IF NOT EXISTS healthsweep_schema_migrations ("
    "version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";

// What a previous run left: read once at start, before this run writes.
inline constexpr std::string_view read_targets_sql = R"(
SELECT id, restarts, quarantined,
  array_to_string(ARRAY(SELECT (extract(epoch FROM t) * 1000000)::bigint FROM unnest(recent_restarts) t), ',')
FROM healthsweep_targets)";

}  // namespace healthsweep::store
