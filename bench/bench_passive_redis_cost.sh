#!/usr/bin/env bash
# Issue 15, "Redis cost": the Redis CPU the daemon adds to heartbeat refresh
# traffic. One redis-server of our own (loopback TCP, free port, no
# persistence) holds 1,000,000 unrelated TTL keys and 100,000 heartbeat keys;
# bench_passive_refresher refreshes every heartbeat once per 20 s (5,000
# SET ... EX 60 a second, paced every 20 ms) for the whole run. Three phases
# in the same run, each PHASE_S long, measured from redis-server's own
# utime+stime (/proc/PID/stat):
#   baseline  the refresher alone, notify-keyspace-events ""
#   before    + a daemon built at BEFORE (default: main's 01150b1 behaviour)
#   after     + a daemon built from this tree
# Each daemon watches the 100,000 heartbeat targets (targets.static), is
# measured only once it has reconciled (plus 5 s), and is stopped before the
# next phase, which starts with notify-keyspace-events reset to "". Also
# counts dead verdicts: every key is refreshed, so any is a false one.
# STEPS="name=DAEMON ..." adds a phase per intermediate daemon between
# before and after (each design step measured on its own).
#   bench/bench_passive_redis_cost.sh BEFORE_DAEMON [AFTER_DAEMON [PHASE_S [OUT]]]
# Bounded (about 5 min at PHASE_S=60); stops Redis, PostgreSQL, refresher and
# daemons on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
before=$(realpath "$1")
after=$(realpath "${2:-$repo/build/healthsweepd}")
phase=${3:-60}
out=${4:-/dev/null}
driver=$repo/build/bench/bench_passive_refresher
[[ -x $driver ]] || driver=$repo/build/bench_passive_refresher
for f in "$before" "$after" "$driver"; do [[ -x $f ]] || { echo "bench_passive_redis_cost: no $f" >&2; exit 2; }; done
others=1000000 heartbeats=100000

. "$repo/bench/lib/bench_workdir.sh"
bench_workdir hs-bench-rcost

. "$repo/bench/lib/bench_postgres.sh"
bench_postgres bench_passive_redis_cost "$dir" 25841
steps=(${STEPS:-})
for db in before after ${steps[@]%%=*}; do psql "$server dbname=healthsweep" -qAtc "create database $db" >/dev/null; done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" > "$dir/redis.log" 2>&1 &
redis_pid=$!
pids+=($redis_pid)
rc() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do rc PING >/dev/null 2>&1 && break; sleep 0.05; done
rc CONFIG SET notify-keyspace-events "" >/dev/null
t_load=$(date +%s.%N)
nice "$driver" load "$port" $others $heartbeats
echo "loaded $(rc DBSIZE) keys in $(python3 -c "import time; print(f'{time.time() - $t_load:.1f}')") s"

total=$(((4 + ${#steps[@]}) * phase + 40 * (2 + ${#steps[@]})))
nice "$driver" refresh "$port" $heartbeats 20 60 $total > "$dir/refresher.log" 2>&1 &
refresher_pid=$!
pids+=($refresher_pid)
sleep 5

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$redis_pid/stat"; }
hz=$(getconf CLK_TCK)
measure() {  # NAME: Redis CPU % of a core over PHASE_S
  local c0 c1 t0 t1
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  sleep "$phase"
  c1=$(cpu_ticks); t1=$(date +%s.%N)
  python3 -c "print(f'{100 * ($c1 - $c0) / $hz / ($t1 - $t0):.2f}')"
}

start_daemon() {  # NAME BINARY
  local name=$1 bin=$2
  mkdir -p "$dir/$name/spool"
  {
    echo "listen: 127.0.0.1:0"
    echo "postgres: { dsn: \"$server dbname=$name\", spool_dir: \"$dir/$name/spool\" }"
    echo "redis: { url: \"redis://127.0.0.1:$port/0\" }"
    echo "targets:"
    echo "  static:"
    seq 0 $((heartbeats - 1)) | sed 's/^/    - { id: t-/; s/$/ }/'
  } > "$dir/$name/healthsweep.yaml"
  "$bin" --config "$dir/$name/healthsweep.yaml" > "$dir/$name/log" 2>&1 &
  echo $! > "$dir/$name/pid"
  pids+=($!)
  local t0=$SECONDS
  until grep -q "connected and reconciled ($heartbeats targets" "$dir/$name/log"; do
    (( SECONDS - t0 < 120 )) || { echo "$name: not reconciled within 120 s" >&2; tail -5 "$dir/$name/log" >&2; exit 1; }
    sleep 0.5
  done
  sleep 5
}
stop_daemon() {  # NAME
  kill "$(cat "$dir/$1/pid")"
  while kill -0 "$(cat "$dir/$1/pid")" 2>/dev/null; do sleep 0.1; done
  rc CONFIG SET notify-keyspace-events "" >/dev/null
}
dead_verdicts() { grep -c "passive: .* dead (" "$dir/$1/log" || true; }

{
  echo "bench_passive_redis_cost: $heartbeats heartbeats refreshed every 20 s among $others other TTL keys; $(redis-server --version | cut -d' ' -f3); $(git -C "$repo" rev-parse --short HEAD); phases of $phase s"
  echo "  before daemon: $before"
  echo "  after daemon:  $after"
  echo "  load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
base=$(measure)
echo "  baseline (refresher alone):          Redis CPU $base % of a core; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
declare -A added_cpu
run_phase() {  # NAME BINARY
  start_daemon "$1" "$2"
  local notify with
  notify=$(rc CONFIG GET notify-keyspace-events | tail -1)
  with=$(measure)
  added_cpu[$1]=$with
  printf '  + daemon %-14s (notify %-6s): Redis CPU %s %%; %s dead verdicts; load %s\n' "$1" "'$notify'" "$with" \
    "$(dead_verdicts "$1")" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
  stop_daemon "$1"
}
run_phase before "$before"
for step in "${steps[@]}"; do run_phase "${step%%=*}" "$(realpath "${step#*=}")"; done
run_phase after "$after"
rest=$(measure)
echo "  baseline again (refresher alone):    Redis CPU $rest %; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
for name in before ${steps[@]%%=*} after; do echo "$name ${added_cpu[$name]}"; done |
  python3 -c '
import math, sys
base, rest = map(float, sys.argv[1:3])
ref = (base + rest) / 2
rows = [(n, float(v) - ref) for n, v in (l.split() for l in sys.stdin)]
before = rows[0][1]
print(f"  added by the daemon, vs the mean baseline {ref:.2f} % (goal <= 3 % of a core):")
for name, added in rows:
    print(f"    {name:14s} {added:+.2f} % of a core   ratio to before {added / before if before > 0 else math.nan:.2f}")
' "$base" "$rest" | tee -a "$out"
kill -0 "$refresher_pid" || { echo "bench_passive_redis_cost: the refresher stopped early" | tee -a "$out"; exit 1; }
tail -1 "$dir/refresher.log" | sed 's/^/  /' | tee -a "$out"
