// The statements of the cluster's leases (table healthsweep_members,
// migration 4). PostgreSQL's clock decides every expiry, so the hosts' clocks
// need not agree; each instance measures its own renew deadline with its
// steady clock from the moment it *sent* a renewal (membership.cpp).
#pragma once

#include <string_view>

namespace healthsweep::cluster::sql {

// $1 instance id, $2 advertise URL, $3 lease ms, $4 targets, $5 offline,
// $6 engine ID.
// Takes the row when it is free: absent, or its lease expired (a crashed
// predecessor of the same id, or a peer that lost it). A live lease of the
// same id (another process with this instance_id, or this one restarted
// within its old lease) is not taken: no row comes back, and the caller
// tries again until it expires. Every acquisition draws a new epoch.
inline constexpr std::string_view acquire = R"(
INSERT INTO healthsweep_members AS m
  (instance_id, advertise, epoch, acquired_at, renewed_at, expires_at, targets, offline, engine)
VALUES ($1, $2, nextval('healthsweep_epochs'), now(), now(), now() + $3::bigint * interval '1 millisecond',
        $4::int, $5::int, $6)
ON CONFLICT (instance_id) DO UPDATE
  SET advertise = excluded.advertise, epoch = excluded.epoch, acquired_at = excluded.acquired_at,
      renewed_at = excluded.renewed_at, expires_at = excluded.expires_at,
      targets = excluded.targets, offline = excluded.offline, engine = excluded.engine
  WHERE m.expires_at <= now()
RETURNING epoch)";

// $1 instance id, $2 epoch, $3 lease ms, $4 targets, $5 offline, $6 engine
// ID (known only once the engine answered, so it is written every time). One
// statement per renewal renews (only the lease of that epoch, and only while
// it is live) and reads every member: the first column says whether the
// renewal held (the epoch, or null: lost). The members are read from the
// snapshot before the renewal, so this instance's own row shows the previous
// one (the caller knows its own lease).
inline constexpr std::string_view renew_and_read = R"(
WITH renewed AS (
  UPDATE healthsweep_members
  SET renewed_at = now(), expires_at = now() + $3::bigint * interval '1 millisecond',
      targets = $4::int, offline = $5::int, engine = $6
  WHERE instance_id = $1 AND epoch = $2::bigint AND expires_at > now()
  RETURNING epoch)
SELECT (SELECT epoch FROM renewed), instance_id, advertise, epoch,
  (extract(epoch FROM expires_at - now()) * 1000)::bigint,
  (extract(epoch FROM now() - renewed_at) * 1000)::bigint,
  (extract(epoch FROM acquired_at) * 1000000)::bigint,
  targets, offline, engine,
  (extract(epoch FROM now() - acquired_at) * 1000)::bigint
FROM healthsweep_members ORDER BY instance_id)";

// $1 instance id, $2 epoch: a clean stop gives the lease back, so peers need
// not wait for it to expire (a rolling restart moves targets at once).
inline constexpr std::string_view release =
    "DELETE FROM healthsweep_members WHERE instance_id = $1 AND epoch = $2::bigint";

}  // namespace healthsweep::cluster::sql
