#!/usr/bin/env bash
# What the cluster costs PostgreSQL at rest (issue 14: at most one statement
# a second per instance, plus the events). One run measures, side by side on
# one PostgreSQL of its own, for SECONDS (default 60):
#   baseline  one daemon with a postgres section and no cluster section
#   cluster   three daemons with `cluster` (lease LEASE, renew_every RENEW;
#             default 10s and 2s, the configuration's defaults), instance
#             ids a, b, c, on a database of their own
# Both databases' committed transactions (pg_stat_database.xact_commit: each
# statement outside a transaction is one) are read before and after the
# window, which starts once every daemon has started and holds its lease.
# Prints each rate, the cluster's per instance, and the ratio of the cluster
# instance's rate to the baseline's.
#   bench/bench_cluster_cost.sh [DAEMON [SECONDS [OUT [LEASE [RENEW]]]]]
# DAEMON defaults to build/healthsweepd of the repo root. Bounded: SECONDS
# plus about 15 s. Stops PostgreSQL and every daemon on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
seconds=${2:-60}
out=${3:-/dev/null}
lease=${4:-10s}
renew=${5:-2s}
[[ -x $daemon ]] || { echo "bench_cluster_cost: no $daemon (build it first)" >&2; exit 2; }

. "$repo/bench/lib/bench_workdir.sh"
bench_workdir hs-bench-cluster

. "$repo/bench/lib/bench_postgres.sh"
bench_postgres bench_cluster_cost "$dir" 25912
q() { psql "$server dbname=$1" -qAtc "$2"; }
for db in baseline cluster; do q healthsweep "create database $db" >/dev/null; done

start() {  # NAME DB [CLUSTER_ID]
  local name=$1 db=$2 id=${3:-}
  mkdir -p "$dir/$name/spool"
  {
    echo "listen: 127.0.0.1:0"
    echo "postgres: { dsn: \"$server dbname=$db\", spool_dir: \"$dir/$name/spool\" }"
    [[ -z $id ]] || echo "cluster: { instance_id: $id, lease: $lease, renew_every: $renew }"
  } > "$dir/$name/healthsweep.yaml"
  "$daemon" --config "$dir/$name/healthsweep.yaml" > "$dir/$name/log" 2>&1 &
  pids+=($!)
}
start base baseline
for id in a b c; do start "inst-$id" cluster "$id"; done

for _ in $(seq 100); do
  [[ $(q cluster "select count(*) from healthsweep_members where expires_at > now()" 2>/dev/null) == 3 ]] && break
  sleep 0.1
done
[[ $(q cluster "select count(*) from healthsweep_members where expires_at > now()") == 3 ]] ||
  { echo "bench_cluster_cost: the three instances did not all hold a lease" >&2; tail -5 "$dir"/inst-*/log >&2; exit 1; }
sleep 3  # past the start-up statements (migrations, the first reads)

commits() { q healthsweep "select xact_commit from pg_stat_database where datname = '$1'"; }
b0=$(commits baseline); c0=$(commits cluster)
sleep "$seconds"
b1=$(commits baseline); c1=$(commits cluster)

members=$(q cluster "select string_agg(instance_id || ' epoch ' || epoch, ', ' order by instance_id) from healthsweep_members")
python3 - "$seconds" "$b0" "$b1" "$c0" "$c1" "$members" "$lease" "$renew" <<'PY' | tee "$out"
import sys
seconds, b0, b1, c0, c1 = float(sys.argv[1]), *map(int, sys.argv[2:6])
members, lease, renew = sys.argv[6:9]
base = (b1 - b0) / seconds
cluster = (c1 - c0) / seconds
per_instance = cluster / 3
print(f"bench_cluster_cost: {seconds:.0f} s at rest, no targets, one PostgreSQL")
print(f"  baseline (postgres, no cluster), 1 daemon : {base:.3f} statements/s")
print(f"  cluster (lease {lease}, renew {renew}), 3 daemons  : {cluster:.3f} statements/s, {per_instance:.3f} per instance")
print(f"  coordination cost per instance             : {per_instance - base:.3f} statements/s (goal: at most 1)")
print(f"  ratio cluster instance / baseline daemon   : {per_instance / base if base else float('inf'):.2f}")
print(f"  members: {members}")
PY
