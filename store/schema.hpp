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

// One event in one statement (one implicit transaction). The target row is
// touched and NOTIFY sent only when the event row is new, so a replayed
// event changes nothing. $1 event_id, $2 target, $3 from, $4 to, $5 layer,
// $6 reason, $7 at (microseconds since the epoch: exact), $8 detail, $9 restarts, $10 quarantined, $11 removed.
inline constexpr std::string_view write_event_sql = R"(
WITH ev AS (
  INSERT INTO healthsweep_events (event_id, target, from_state, to_state, layer, reason, at, detail)
  VALUES ($1, $2, $3, $4, $5, $6, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', $8::jsonb)
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1
), upsert AS (
  INSERT INTO healthsweep_targets (id, state, since, reason, restarts, quarantined, updated_at, recent_restarts)
  SELECT $2, $4, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', $6, $9::int, $10::bool, now(),
    ARRAY(SELECT 'epoch'::timestamptz + us * interval '1 microsecond' FROM unnest($12::bigint[]) us)
  WHERE NOT $11::bool AND EXISTS (SELECT 1 FROM ev)
  ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,
    reason = EXCLUDED.reason, restarts = EXCLUDED.restarts,
    quarantined = EXCLUDED.quarantined, updated_at = EXCLUDED.updated_at,
    recent_restarts = EXCLUDED.recent_restarts
  RETURNING 1
), removed AS (
  DELETE FROM healthsweep_targets WHERE id = $2 AND $11::bool AND EXISTS (SELECT 1 FROM ev)
  RETURNING 1
)
SELECT pg_notify('healthsweep_events', $2) FROM ev)";

// What a previous run left: read once at start, before this run writes.
inline constexpr std::string_view read_targets_sql = R"(
SELECT id, restarts, quarantined,
  array_to_string(ARRAY(SELECT (extract(epoch FROM t) * 1000000)::bigint FROM unnest(recent_restarts) t), ',')
FROM healthsweep_targets)";

}  // namespace healthsweep::store
