#!/usr/bin/env bash
# What exact keyspace channels cost the daemon's memory (issue 14): two
# daemons watch the same N heartbeat targets (default 100,000) in one Redis
# of their own, side by side: one without a cluster section (one pattern
# subscription) and one alone in a cluster (one SUBSCRIBE channel per key: it
# owns every target). Prints each one's VmRSS once the pattern daemon has
# reconciled every target and the clustered one has subscribed every
# channel, and again 10 s later, plus the Redis memory of the subscriptions.
#   bench/passive_channels_rss.sh [DAEMON [N [OUT]]]
# Bounded (about a minute at 100,000), loopback and unix sockets only; stops
# its PostgreSQL, Redis and both daemons on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
n=${2:-100000}
out=${3:-/dev/null}
[[ -x $daemon ]] || { echo "passive_channels_rss: no $daemon (build it first)" >&2; exit 2; }

. "$repo/bench/lib/bench_workdir.sh"
bench_workdir hs-bench-chrss

. "$repo/bench/lib/bench_postgres.sh"
bench_postgres passive_channels_rss "$dir" 25878
for db in pattern exact; do psql "$server dbname=healthsweep" -qAtc "create database $db" >/dev/null; done

sock=$dir/redis.sock
redis-server --port 0 --unixsocket "$sock" --save "" --appendonly no --dir "$dir" > "$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
rc() { redis-cli -s "$sock" "$@"; }
rc EVAL "for i = 0, tonumber(ARGV[1]) - 1 do redis.call('SET', 'healthsweep:heartbeat:t-' .. i, '1', 'EX', 3600) end" 0 "$n" >/dev/null

start() {  # NAME [CLUSTER_ID]
  local name=$1 id=${2:-}
  mkdir -p "$dir/$name/spool"
  {
    echo "listen: 127.0.0.1:0"
    echo "postgres: { dsn: \"$server dbname=$name\", spool_dir: \"$dir/$name/spool\" }"
    echo "redis: { url: \"unix://$sock\" }"
    [[ -z $id ]] || echo "cluster: { instance_id: $id }"
    echo "targets:"
    echo "  static:"
    seq 0 $((n - 1)) | sed 's/^/    - { id: t-/; s/$/ }/'
  } > "$dir/$name/healthsweep.yaml"
  "$daemon" --config "$dir/$name/healthsweep.yaml" > "$dir/$name/log" 2>&1 &
  pids+=($!)
  echo $! > "$dir/$name/pid"
}
mem0=$(rc INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
start pattern
start exact solo
rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$(cat "$dir/$1/pid")/status"; }

t0=$(date +%s)
until grep -q "connected and reconciled ($n targets" "$dir/pattern/log" &&
      [[ $(rc PUBSUB NUMSUB "__keyspace@0__:healthsweep:heartbeat:t-$((n - 1))" | tail -1) == 1 ]] &&
      [[ $(rc EVAL "return #redis.call('PUBSUB', 'CHANNELS', '__keyspace@0__:*')" 0) == "$n" ]]; do
  (( $(date +%s) - t0 < 120 )) || { echo "passive_channels_rss: not subscribed within 120 s" >&2; tail -3 "$dir"/*/log >&2; exit 1; }
  sleep 1
done
mem1=$(rc INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
sleep 5
a1=$(rss pattern); b1=$(rss exact)
sleep 10
a2=$(rss pattern); b2=$(rss exact)
{
  echo "passive_channels_rss: $n heartbeat targets, $(redis-server --version | cut -d' ' -f3), $(git -C "$repo" rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "  subscribed after $(( $(date +%s) - t0 - 15 )) s; PUBSUB NUMPAT $(rc PUBSUB NUMPAT), channels $(rc EVAL "return #redis.call('PUBSUB', 'CHANNELS', '__keyspace@0__:*')" 0)"
  echo "  daemon without cluster (pattern)       VmRSS $a1 MiB, 10 s later $a2 MiB"
  echo "  daemon alone in a cluster (exact)      VmRSS $b1 MiB, 10 s later $b2 MiB"
  python3 -c "import sys; a, b, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); print(f'  exact - pattern: {b - a:+.1f} MiB, {(b - a) * 1048576 / n:.0f} bytes per subscribed key')" "$a2" "$b2" "$n"
  echo "  Redis used_memory for both daemons' state (exact channels dominate): +$(( (mem1 - mem0) / 1048576 )) MiB"
} | tee "$out"
