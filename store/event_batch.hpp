// Events in one statement (one round trip, one transaction): every waiting
// event up to 1,000, or one alone. The events travel as arrays (one
// parameter per column, unnest() WITH ORDINALITY keeps their order) and the
// statement does for each, in order:
//  - the event row, unless its event_id is already stored (a replay);
//  - the target row as the last new event of that target leaves it (upsert,
//    or delete for a removal): applying events one by one ends the same way;
//  - NOTIFY healthsweep_events with the target of every new event, in order.
// Fencing (issue 14): an event judged under a cluster lease (instance,
// epoch) touches its target row only while healthsweep_members shows that
// very lease as live, checked in this statement; otherwise it is still
// logged, with "fenced": true in its detail, for the record, but sends no
// NOTIFY (listeners act on events; a fenced one must not move them), and
// the row is left to the instance that holds the target now. Every event of a cluster instance
// names its instance and epoch in its detail.
// PostgreSQL delivers identical notifications of one transaction once, so a
// batch holds each target at most once (batch_size): every event keeps its
// own NOTIFY, as SPEC section 6 says.
// A batch PostgreSQL refuses is written again one event at a time, so one
// bad event is isolated (and set aside) as before.
#pragma once

#include "clients/postgres/connection.hpp"
#include "store/queued_event.hpp"

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace healthsweep::store {

// How many of the front events (at most `limit`) go into one batch: up to
// the first whose target is already in it.
std::size_t batch_size(const std::deque<QueuedEvent>& queue, std::size_t limit);

// The first n events of `queue` as the 14 parameters of write_events_sql.
clients::postgres::PgConnection::Params batch_params(const std::deque<QueuedEvent>& queue, std::size_t n);

// One element of a PostgreSQL array literal being built: "{" before the
// first, "," before the others; the element quoted, with " and \ escaped.
// The caller closes the literal with "}".
void append_array_element(std::string& array, std::string_view value);

inline constexpr std::string_view write_events_sql = R"(
WITH given AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bigint[], $8::text[], $9::int[], $10::bool[], $11::bool[], $12::text[],
                       $13::text[], $14::bigint[])
    WITH ORDINALITY AS i(event_id, target, from_state, to_state, layer, reason, at_us, detail,
                         restarts, quarantined, removed, recent, instance, epoch, n)
), input AS (
  SELECT given.*, (instance = '' OR EXISTS (
      SELECT 1 FROM healthsweep_members m
      WHERE m.instance_id = given.instance AND m.epoch = given.epoch AND m.expires_at > now())) AS holds
  FROM given
), ev AS (
  INSERT INTO healthsweep_events (event_id, target, from_state, to_state, layer, reason, at, detail)
  SELECT event_id, target, from_state, to_state, layer, reason,
         'epoch'::timestamptz + at_us * interval '1 microsecond',
         detail::jsonb
           || CASE WHEN instance = '' THEN '{}'::jsonb
                   ELSE jsonb_build_object('instance', instance, 'epoch', epoch) END
           || CASE WHEN holds THEN '{}'::jsonb ELSE '{"fenced": true}'::jsonb END
  FROM input ORDER BY n
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), fresh AS (
  SELECT input.* FROM input JOIN ev USING (event_id)
), last AS (
  SELECT DISTINCT ON (target) * FROM fresh WHERE holds ORDER BY target, n DESC
), upsert AS (
  INSERT INTO healthsweep_targets (id, state, since, reason, restarts, quarantined, updated_at, recent_restarts,
                                   instance, epoch)
  SELECT target, to_state, 'epoch'::timestamptz + at_us * interval '1 microsecond', reason, restarts,
    quarantined, now(),
    ARRAY(SELECT 'epoch'::timestamptz + us::bigint * interval '1 microsecond'
          FROM unnest(string_to_array(recent, ',')) us),
    instance, epoch
  FROM last WHERE NOT removed
  ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,
    reason = EXCLUDED.reason, restarts = EXCLUDED.restarts,
    quarantined = EXCLUDED.quarantined, updated_at = EXCLUDED.updated_at,
    recent_restarts = EXCLUDED.recent_restarts, instance = EXCLUDED.instance, epoch = EXCLUDED.epoch
  RETURNING 1
), removed AS (
  DELETE FROM healthsweep_targets t USING last WHERE t.id = last.target AND last.removed
  RETURNING 1
)
SELECT count(*) FROM (SELECT pg_notify('healthsweep_events', target) FROM (SELECT target FROM fresh WHERE holds ORDER BY n) o) x)";

}  // namespace healthsweep::store
