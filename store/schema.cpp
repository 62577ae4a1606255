#include "store/schema.hpp"

#include <array>

namespace healthsweep::store {

namespace {
constexpr std::array<Migration, 5> all{{
    {1, R"(
CREATE TABLE healthsweep_targets (
  id text PRIMARY KEY,
  state text NOT NULL,
  since timestamptz NOT NULL,
  reason text NOT NULL DEFAULT '',
  restarts int NOT NULL DEFAULT 0,
  quarantined bool NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE healthsweep_events (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  target text NOT NULL,
  from_state text NOT NULL,
  to_state text NOT NULL,
  layer text NOT NULL,
  reason text NOT NULL,
  at timestamptz NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);)"},
    {2, "CREATE INDEX healthsweep_events_target_at ON healthsweep_events (target, at);"},
    // The crash-loop window's restarts: a restarted daemon keeps its backoff.
    {3, "ALTER TABLE healthsweep_targets ADD COLUMN recent_restarts timestamptz[] NOT NULL DEFAULT '{}';"},
    // The cluster's leases (issue 14): one row per instance id; the epoch, a
    // fencing token, is new at every acquisition (cluster/lease_sql.hpp);
    // engine: the ID of the engine the instance watches (its locality).
    {4, R"(
CREATE SEQUENCE healthsweep_epochs;
CREATE TABLE healthsweep_members (
  instance_id text PRIMARY KEY,
  advertise text NOT NULL,
  epoch bigint NOT NULL,
  acquired_at timestamptz NOT NULL,
  renewed_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  targets int NOT NULL DEFAULT 0,
  offline int NOT NULL DEFAULT 0,
  engine text NOT NULL DEFAULT ''
);)"},
    // Fencing (issue 14): the instance and the lease epoch under which a
    // target row was last written; '' and 0 for a daemon without a cluster
    // section. /admin/targets?scope=fleet names the owner from it.
    {5, "ALTER TABLE healthsweep_targets ADD COLUMN instance text NOT NULL DEFAULT '', "
        "ADD COLUMN epoch bigint NOT NULL DEFAULT 0;"},
}};
}  // namespace

std::span<const Migration> migrations() { return all; }

}  // namespace healthsweep::store
