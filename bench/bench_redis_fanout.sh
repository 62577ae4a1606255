#!/usr/bin/env bash
# What one heartbeat refresh costs Redis, and what reaches the instances,
# when every instance subscribes to the shared keyspace pattern as the
# passive layer does today (sweeps/passive/passive_session.cpp: PSUBSCRIBE
# __keyspace@<db>__:<heartbeat prefix>*, notify-keyspace-events with K g $ x e).
# Issue 14 asks for the notification fan-out at 3 instances and how it grows
# with N (docs/scale-out.md).
#
# One redis-server of its own on a unix socket; KEYS heartbeat keys loaded.
# For each N in SUBSCRIBERS: N pattern subscribers (redis-cli, the same
# pattern as the daemon's: the Redis side does not depend on who listens),
# then REFRESHES `SET healthsweep:heartbeat:<random> 1 EX 60` from
# redis-benchmark (4 clients, pipeline 16). Prints, per N: messages each
# subscriber received per refresh, Redis CPU (user + sys) per refresh, and
# the refresh rate redis-benchmark reached. Then one full SCAN MATCH of the
# keyspace (COUNT 1000, as a reconciliation does) with Redis's own time per
# key scanned (INFO commandstats).
#   bench/bench_redis_fanout.sh [KEYS [REFRESHES [SUBSCRIBERS...]]]
# Defaults: 100000 keys, 200000 refreshes, N = 0 1 3 10 30.
set -euo pipefail

keys=${1:-100000}
refreshes=${2:-200000}
shift 2 2>/dev/null || shift $#
subscribers=("$@")
[ ${#subscribers[@]} -gt 0 ] || subscribers=(0 1 3 10 30)
for t in redis-server redis-cli redis-benchmark; do
  command -v "$t" >/dev/null || { echo "bench_redis_fanout: $t missing" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/hs-bench-fanout.XXXXXX)
sock=$dir/redis.sock
subs=()
cleanup() {
  for p in "${subs[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$dir" \
  --notify-keyspace-events 'Kg$xe' --daemonize no >"$dir/redis.log" 2>&1 &
for _ in $(seq 50); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
r() { redis-cli -s "$sock" "$@"; }
pattern='__keyspace@0__:healthsweep:heartbeat:*'

echo "# $(date -u +%FT%TZ) $(redis-server --version | cut -d' ' -f1-3) load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# pattern $pattern, notify-keyspace-events $(r config get notify-keyspace-events | tail -1)"
# Load the keys (no subscriber yet).
# redis-benchmark's -r names keys :000000000000 .. :(KEYS-1), zero-padded
# to 12 digits: load exactly those (the refreshes below hit them at random).
awk -v n="$keys" 'BEGIN { for (i = 0; i < n; ++i) printf "SET healthsweep:heartbeat:%012d 1 EX 600\n", i }' |
  redis-cli -s "$sock" --pipe >/dev/null
echo "# keys: $(r dbsize)"

cpu() {  # used_cpu_user + used_cpu_sys, seconds
  r info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'
}

printf '%-4s %-26s %-22s %-18s %s\n' N "msgs/subscriber/refresh" "redis CPU us/refresh" "refreshes/s" "msgs delivered/refresh (all)"
for n in "${subscribers[@]}"; do
  subs=()
  for i in $(seq "$n"); do
    redis-cli -s "$sock" psubscribe "$pattern" >"$dir/sub-$i.out" &
    subs+=($!)
  done
  for _ in $(seq 100); do
    [ "$(r pubsub numpat | tail -1)" -eq "$n" ] && break
    sleep 0.05
  done
  c0=$(cpu)
  t0=$(date +%s.%N)
  redis-benchmark -s "$sock" -q -c 4 -P 16 -n "$refreshes" -r "$keys" \
    SET 'healthsweep:heartbeat:__rand_int__' 1 EX 600 >/dev/null
  t1=$(date +%s.%N)
  c1=$(cpu)
  sleep 1  # let the subscribers read what is on its way
  got=0
  for i in $(seq "$n"); do
    m=$(grep -cx pmessage "$dir/sub-$i.out" || true)
    got=$((got + m))
  done
  for p in "${subs[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ${#subs[@]} -eq 0 ] || wait "${subs[@]}" 2>/dev/null || true
  subs=()
  awk -v n="$n" -v got="$got" -v r="$refreshes" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    per = n > 0 ? got / n / r : 0
    printf "%-4d %-26.3f %-22.3f %-18.0f %.3f\n", n, per, (c1 - c0) * 1e6 / r, r / (t1 - t0), got / r }'
done

r config resetstat >/dev/null
# One pass as a reconciliation makes it (redis-cli --scan has no COUNT in 7.0).
scanned=0 cursor=0
while :; do
  mapfile -t reply < <(r scan "$cursor" match 'healthsweep:heartbeat:*' count 1000)
  cursor=${reply[0]}
  scanned=$((scanned + ${#reply[@]} - 1))
  [ "$cursor" != 0 ] || break
done
usec=$(r info commandstats | tr -d '\r' | sed -nE 's/^cmdstat_scan:calls=([0-9]+),usec=([0-9]+),.*/\1 \2/p')
read -r calls us <<<"$usec"
awk -v k="$scanned" -v c="$calls" -v u="$us" 'BEGIN {
  printf "# full SCAN MATCH COUNT 1000: %d keys in %d calls, Redis time %.1f ms, %.3f us/key (%.0f keys/s of one core)\n",
    k, c, u / 1000, u / k, k / (u / 1e6) }'
