#!/usr/bin/env bash
# A whole daemon's memory per heartbeat target (issue 15's "Memory" goal):
# one healthsweepd at a time watches N static heartbeat-only targets (default
# 0, 10,000 and 100,000) in a redis-server of its own on a free loopback port
# with every key present, and PostgreSQL (the store restores every row). For
# each N it prints VmRSS, RssAnon and the malloc arenas' counts once the
# passive layer reconciled every target, and again 40 s later (past the
# daemon's first heap trim; HS_BENCH_SETTLE=seconds to change it); the bytes per
# target are (RSS(N) - RSS(0)) / N, N = 0 being the baseline of the same run.
#   bench/bench_target_memory.sh [DAEMON [OUT [N...]]]
# HS_BENCH_SOAK=600 keeps the largest N running that long with every key
# refreshed every 20 s and VmRSS sampled every 30 s (flat over time?).
# Set MALLOC_ARENA_MAX etc. in the environment to compare allocator settings.
# Bounded (about 3 min), loopback only; stops Redis, PostgreSQL and the
# daemon on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
out=${2:-/dev/null}
shift 2 2>/dev/null || shift $#
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(0 10000 100000)
[[ -x $daemon ]] || { echo "bench_target_memory: no $daemon (build it first)" >&2; exit 2; }

. "$repo/bench/lib/bench_workdir.sh"
bench_workdir hs-bench-tmem

. "$repo/bench/lib/bench_postgres.sh"
bench_postgres bench_target_memory "$dir" 25844

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" > "$dir/redis.log" 2>&1 &
pids+=($!)
rc() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
for _ in $(seq 100); do rc PING >/dev/null 2>&1 && break; sleep 0.05; done
max=0
for n in "${sizes[@]}"; do (( n > max )) && max=$n; done
rc EVAL "for i = 0, tonumber(ARGV[1]) - 1 do redis.call('SET', 'healthsweep:heartbeat:t-' .. i, '1', 'EX', 3600) end" 0 "$max" >/dev/null

field() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
threads() { ls "/proc/$1/task" | wc -l; }

echo "bench_target_memory: $(git -C "$repo" rev-parse --short HEAD), $(redis-server --version | cut -d' ' -f3), MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-unset}, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
declare -A rss
for n in "${sizes[@]}"; do
  db=n$n
  psql "$server dbname=healthsweep" -qAtc "create database $db" >/dev/null
  mkdir -p "$dir/$db/spool"
  {
    echo "listen: 127.0.0.1:0"
    echo "postgres: { dsn: \"$server dbname=$db\", spool_dir: \"$dir/$db/spool\" }"
    echo "redis: { url: \"redis://127.0.0.1:$port/0\" }"
    echo "targets:"
    if (( n == 0 )); then echo "  static: []"; else echo "  static:"; seq 0 $((n - 1)) | sed 's/^/    - { id: t-/; s/$/ }/'; fi
  } > "$dir/$db/healthsweep.yaml"
  t0=$(date +%s.%N)
  "$daemon" --config "$dir/$db/healthsweep.yaml" > "$dir/$db/log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until grep -q "connected and reconciled ($n targets" "$dir/$db/log" &&
        [[ $(psql "$server dbname=$db" -qAtc "select count(*) from healthsweep_events" 2>/dev/null || echo -1) -ge $n ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "bench_target_memory: daemon exited" >&2; tail -3 "$dir/$db/log" >&2; exit 1; }
    (( $(date +%s) - ${t0%.*} < 120 )) || { echo "bench_target_memory: not reconciled within 120 s" >&2; tail -3 "$dir/$db/log" >&2; exit 1; }
    sleep 0.5
  done
  ready=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
  sleep 3
  r1=$(field "$pid" VmRSS); a1=$(field "$pid" RssAnon); h1=$(field "$pid" VmHWM)
  sleep "${HS_BENCH_SETTLE:-40}"  # past the daemon's first heap trim (every 30 s)
  r2=$(field "$pid" VmRSS); a2=$(field "$pid" RssAnon)
  rss[$n]=$r2
  per=""
  trims=$(grep -c "heap: .* handed back" "$dir/$db/log" || true)
  if (( n > 0 )) && [[ -n ${rss[0]:-} ]]; then
    per=$(python3 -c "import sys; a, b, n = map(float, sys.argv[1:]); print(f', {(a - b) * 1048576 / n:.0f} B/target over N=0')" "$r2" "${rss[0]}" "$n")
  fi
  echo "  N=$n: reconciled + events stored after ${ready} s; VmRSS $r1 MiB (RssAnon $a1, peak VmHWM $h1), ${HS_BENCH_SETTLE:-40} s later VmRSS $r2 MiB (RssAnon $a2); threads $(threads "$pid"), heap trims $trims$per" | tee -a "$out"
  grep "heap: .* handed back" "$dir/$db/log" | sed 's/^/    daemon: /' | tee -a "$out" || true
  if [[ ${HS_BENCH_TRIM:-0} == 1 ]] && command -v gdb >/dev/null; then
    # What glibc holds free inside its heaps (fragmentation left by the load):
    # malloc_stats() per arena to the daemon's stderr, then malloc_trim(0).
    gdb -p "$pid" -batch -ex 'call (void)malloc_stats()' -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
    sleep 1
    echo "  N=$n: after malloc_trim(0) through gdb: VmRSS $(field "$pid" VmRSS) MiB (RssAnon $(field "$pid" RssAnon)); malloc_stats:" | tee -a "$out"
    grep -E "^(Arena|system bytes|in use bytes|Total)" "$dir/$db/log" | sed 's/^/    /' | tee -a "$out" || true
  fi
  if (( n == max && ${HS_BENCH_SOAK:-0} > 0 )); then
    # Flat over time? Every key refreshed every 20 s (one EVAL of SETs with
    # EX 60, so each refresh is a keyspace notification the daemon acts on),
    # VmRSS sampled every 30 s for HS_BENCH_SOAK seconds.
    soak_end=$(( $(date +%s) + HS_BENCH_SOAK ))
    next_sample=$(date +%s)
    while (( $(date +%s) < soak_end )); do
      rc EVAL "for i = 0, tonumber(ARGV[1]) - 1 do redis.call('SET', 'healthsweep:heartbeat:t-' .. i, '1', 'EX', 60) end" 0 "$n" >/dev/null
      if (( $(date +%s) >= next_sample )); then
        echo "    soak t=$(( $(date +%s) - soak_end + HS_BENCH_SOAK )) s: VmRSS $(field "$pid" VmRSS) MiB (RssAnon $(field "$pid" RssAnon)), load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
        next_sample=$(( next_sample + 30 ))
      fi
      sleep 20
    done
    echo "    soak end: VmRSS $(field "$pid" VmRSS) MiB; offline transitions $(psql "$server dbname=$db" -qAtc "select count(*) from healthsweep_events where to_state <> 'online'")" | tee -a "$out"
    grep "heap: .* handed back" "$dir/$db/log" | tail -n +2 | sed 's/^/    daemon: /' | tee -a "$out" || true
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
