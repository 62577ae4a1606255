#!/usr/bin/env bash
# Issue 15, "Deliver": a whole fleet in ONE healthsweepd with every layer on
# at once, each figure printed beside a baseline from the same run.
#
#   bench/fleet.sh            (FLEET_SECONDS=600: the full run; FLEET_SECONDS=120 to try it)
#
# Environment (defaults in brackets):
#   FLEET_DAEMON      the daemon [build/healthsweepd]
#   FLEET_SECONDS     load duration, after the daemon holds the fleet [600]
#   FLEET_HEARTBEATS  targets in all, each heart-beating (with Redis on, the daemon
#                     expects a heartbeat of every target), refreshed every 20 s,
#                     TTL 30 s: the containers and HTTP targets below, the rest
#                     heartbeat-only targets h-* [100000]
#   FLEET_OTHER_KEYS  unrelated TTL keys in the same Redis [1000000]
#   FLEET_LAPSES      h-* heartbeats stopped at known deadlines (+ shadow keys) [300]
#   FLEET_CANNED      canned containers t-* (bench/fleet_engine.py), hook load's targets [10000]
#   FLEET_ENGINE      the real engine of those containers: podman (its API
#                     service) or docker (the docker.io package's dockerd, vfs
#                     storage, no networking), both from scripts/services [podman]
#   FLEET_CONTAINERS  real busybox containers c-* on that engine, process watch on [1000]
#   FLEET_KILLS       of those, killed during the load [200]
#   FLEET_KILL_VIA    api (POST .../kill), signal (SIGKILL straight to the
#                     container's process, as a crash ends it) or both, the
#                     kills alternating [both]
#   FLEET_HTTP        HTTP targets w-* on loopback nginx, checked every 15 s [10000]
#   FLEET_HOOK_RATE   hook reports/s over the FLEET_CANNED targets (wrk, hook_paced.lua) [10000]
#   FLEET_HOOK_SAMPLES  hook → verdict samples, each on an extra canned container
#                     [500: the p99 of 200, the earlier default, is their second-worst]
#   FLEET_BASELINE    seconds of Redis CPU with the heartbeats alone, before the daemon [60]
#   FLEET_OUT         where the raw results go [$TMPDIR/hs-fleet-results]
#   FLEET_PG_PORT     PostgreSQL's port [a free one]
#   FLEET_TAKEUP_MAX  seconds the daemon gets to judge every target online before
#                     the load starts anyway (the shortfall is recorded) [300]
#   FLEET_LOG_LEVEL   the daemon's log level [info]; debug logs every handler that
#                     held the loop 5 ms or more (kept as out/long-handlers.log)
#   FLEET_PERF        seconds of `perf record` on the daemon's loop thread, from
#                     40 s into the load (-k mono, 999 Hz, dwarf stacks; keep it
#                     under FLEET_SECONDS - 40); the
#                     profile's long stretches and, with FLEET_LOG_LEVEL=debug,
#                     each long handler's frames: out/long-turns.txt (the
#                     profile's text: out/perf-script.txt.gz, tens of MB; each
#                     function's share of it: bench/loop_profile.py) [0: none]
#   FLEET_DAEMON_NICE the daemon's nice value (-20..19; as a unit's Nice=) [0]
#   FLEET_DAEMON_RT   the daemon's SCHED_FIFO priority (1..99; as a unit's
#                     CPUSchedulingPolicy=fifo + CPUSchedulingPriority=); the
#                     daemon then takes a core ahead of every normal process
#                     [empty: the normal policy]
#   FLEET_REDIS_RT    the same for Redis (the daemon's passive answers wait for
#                     Redis to get a core) [empty: the normal policy]
#   FLEET_HEAP        1: once the load is over, with the fleet still held, where the
#                     daemon's resident memory is (out/heap.txt: smaps_rollup, glibc's
#                     malloc_stats through gdb, then the same after a malloc_trim(0);
#                     gdb stops the daemon for a second or so) [0]
#
# What runs (loopback and unix sockets only; containers --network none):
#   Redis of its own (127.0.0.1, free port; the driver also on its unix socket);
#   PostgreSQL and a Podman API service or a dockerd from scripts/services (the
#   store; the real engine); bench/fleet_engine.py, the daemon's one engine
#   socket: the canned containers plus everything that engine has (main's daemon takes one
#   `engine:` section); nginx serving FLEET_HTTP ports below 25400 (never the
#   254xx/258xx PostgreSQL test ports); wrk with bench/hook_paced.lua;
#   bench/fleet_driver.py (heartbeats, lapses, kills, hook samples, samples).
# Verdict times are the daemon's own events in PostgreSQL (column `at`, the
# transition's time, microseconds): no settle delay to subtract, remediation
# is `none` (no restart storms in the figures). Figures: bench/fleet_report.py;
# plot: bench/fleet_plot.py. Everything started is stopped on any exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${FLEET_DAEMON:-$repo/build/healthsweepd}")
secs=${FLEET_SECONDS:-600}
n_heart=${FLEET_HEARTBEATS:-100000}
n_other=${FLEET_OTHER_KEYS:-1000000}
n_lapses=${FLEET_LAPSES:-300}
n_canned=${FLEET_CANNED:-10000}
n_containers=${FLEET_CONTAINERS:-1000}
n_kills=${FLEET_KILLS:-200}
kill_via=${FLEET_KILL_VIA:-both}
engine=${FLEET_ENGINE:-podman}
[[ $engine == podman || $engine == docker ]] || { echo "fleet: FLEET_ENGINE is podman or docker, not $engine" >&2; exit 2; }
n_http=${FLEET_HTTP:-10000}
hook_rate=${FLEET_HOOK_RATE:-10000}
hook_samples=${FLEET_HOOK_SAMPLES:-500}
baseline=${FLEET_BASELINE:-60}
out=${FLEET_OUT:-${TMPDIR:-/tmp}/hs-fleet-results}
hook_conns=48  # + the driver's probe, sampler and hook samples: under the daemon's 64 per client
coalesce_ms=2000
[[ -x $daemon ]] || { echo "fleet: no executable daemon at $daemon" >&2; exit 2; }
# the lapses' deadlines (TTL 30 s) must fall inside the load: 60 s at least
((secs >= 60)) || { echo "fleet: FLEET_SECONDS must be at least 60" >&2; exit 2; }
n_honly=$((n_heart - n_http - n_canned - hook_samples - n_containers))
((n_kills <= n_containers && n_lapses <= n_honly)) || { echo "fleet: more kills/lapses than targets" >&2; exit 2; }
. "$repo/scripts/lib/packages.sh"
ensure_packages "${SOAK_PACKAGES[@]}" nginx-light
# apart: asked for together with python3-matplotlib, apt's resolver wants
# libboost1.74-dev, which conflicts with the build's libboost1.81-dev
if [[ $engine == docker ]]; then ensure_packages docker.io; fi

work=$(mktemp -d /tmp/hs-fleet.XXXXXX)
chmod 755 "$work"
pids=()
hs_pid=""
services_up=""
finished=""
cleanup() {
  set +e
  if [[ -z $finished ]]; then  # a failed run: keep what it collected, logs included
    mkdir -p "$out" && cp "$work"/out/* "$work"/*.log "$out/" 2>/dev/null
    echo "fleet: what the failed run collected, and its logs, are in $out" >&2
  fi
  [[ -n $hs_pid ]] && kill -KILL "$hs_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ -f $work/redis.pid ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  # every container, the engine and PostgreSQL (by its data dir)
  [[ -n $services_up ]] && "$repo/scripts/services" stop "$work/svc" >/dev/null 2>&1
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "fleet: interrupted" >&2; exit 130' INT TERM
log() { echo "fleet: $(date -u +%T) $* (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_range_free() {  # $1 first port, $2 count: no TCP socket on any of them
  ss -Htan | awk -v lo="$1" -v hi="$(($1 + $2))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p < hi) bad = 1 } END { exit bad }'
}
# The host's own speed: the same fixed work at the start of every run and at
# its end, so runs on different machines can be told apart. The VM under
# these runs was once replaced between two runs (L and D1, 2026-12-06), and
# nginx's fixed work then cost 3-4 times the CPU under load. A million
# 512-byte read+write pairs by dd (the kernel's system-call path) and a
# pure-CPU Python loop, the best of 3 each; the boot time names the machine.
host_speed() {
  local dd_s py_s
  dd_s=$(for _ in 1 2 3; do LC_ALL=C dd if=/dev/zero of=/dev/null bs=512 count=1000000 2>&1 |
    awk '/copied/ { print $(NF-3) }'; done | sort -n | head -1)
  py_s=$(python3 -c 'import time
best = 9e9
for _ in range(3):
    t = time.perf_counter(); sum(i * i for i in range(2000000)); best = min(best, time.perf_counter() - t)
print(f"{best:.3f}")')
  echo "dd ${dd_s:-?} s, python ${py_s:-?} s; booted $(uptime -s)"
}
ulimit -n "$(ulimit -Hn)"
mkdir -p "$work/out"
{
  echo "# bench/fleet.sh $(date -u +%FT%TZ) commit $(git -C "$repo" rev-parse --short HEAD) daemon $daemon"
  echo "# $(nproc) cores; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# host speed at start: $(host_speed)"
  echo "# FLEET_SECONDS=$secs daemon_nice=${FLEET_DAEMON_NICE:-0} daemon_rt=${FLEET_DAEMON_RT:-none} redis_rt=${FLEET_REDIS_RT:-none} heartbeats=$n_heart other_keys=$n_other lapses=$n_lapses canned=$n_canned" \
    "containers=$n_containers engine=$engine kills=$n_kills kill_via=$kill_via http=$n_http hook_rate=$hook_rate hook_samples=$hook_samples baseline=$baseline"
} > "$work/out/run.txt"

# --- services ---
log "starting Redis, PostgreSQL and the $engine engine in $work"
redis_port=$(free_port)
# Redis's own latency monitor and slow log (5 ms): whether a slow answer to
# the daemon was Redis's own stall (an expire cycle, a slow command) or time
# it spent waiting for a core (its schedstat run delay over the load).
redis_rt=()
[[ -n ${FLEET_REDIS_RT:-} ]] && redis_rt=(chrt -f "$FLEET_REDIS_RT")
"${redis_rt[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --unixsocket "$work/redis.sock" --save "" --appendonly no \
  --latency-monitor-threshold 5 --slowlog-log-slower-than 5000 --slowlog-max-len 10000 --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
services_up=1
eval "$(HS_SERVICES="postgres $engine" HS_PG_PORT=${FLEET_PG_PORT:-$(free_port)} "$repo/scripts/services" start "$work/svc")"
if [[ $engine == docker ]]; then
  engine_socket=${HS_TEST_DOCKER_SOCKET:-} engine_image=${HS_TEST_DOCKER_IMAGE:-}
else
  engine_socket=${HS_TEST_ENGINE_SOCKET:-} engine_image=${HS_TEST_IMAGE:-}
fi
[[ -n ${HS_TEST_PG_DSN:-} && -n $engine_socket ]] ||
  { echo "fleet: PostgreSQL or the $engine engine did not start" >&2; exit 1; }
for _ in $(seq 50); do [[ -s $work/redis.pid && -S $work/redis.sock ]] && break; sleep 0.1; done
redis_pid=$(cat "$work/redis.pid")

# --- nginx: one listen port per HTTP target, below 25400 and the ephemeral range ---
base=""
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((10000 + RANDOM % (25400 - 10000 - n_http)))
  port_range_free "$candidate" "$n_http" || continue
  {
    echo "worker_processes 1; daemon on; pid $work/nginx.pid; error_log $work/nginx-error.log warn;"
    echo "worker_rlimit_nofile 40000; events { worker_connections 30000; }"
    echo "http { access_log off; keepalive_timeout 75s; keepalive_requests 1000000; client_body_temp_path $work/body;"
    echo "  server {"
    for ((i = 0; i < n_http; i++)); do echo "    listen 127.0.0.1:$((candidate + i));"; done
    echo "    location / { default_type text/plain; return 200 \"ok\\n\"; } } }"
  } > "$work/nginx.conf"
  if nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" 2>>"$work/nginx-error.log"; then base=$candidate; break; fi
done
[[ -n $base ]] || { echo "fleet: nginx did not start" >&2; cat "$work/nginx-error.log" >&2; exit 1; }
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$((base + n_http - 1))/" && break; sleep 0.1; done

# --- the engine: the real engine's busybox containers and the canned ones behind one socket ---
log "creating $n_containers busybox containers"
t0=$(date +%s.%N)
python3 "$repo/bench/fleet_driver.py" containers "$engine_socket" "$engine_image" "$n_containers"
log "created in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"
python3 "$repo/bench/fleet_engine.py" "$work/engine.sock" "$engine_socket" "$((n_canned + hook_samples))" \
  "$coalesce_ms" "$n_canned" 2>"$work/fleet_engine.log" &
engine_pid=$!
pids+=("$engine_pid")
for _ in $(seq 100); do [[ -S $work/engine.sock ]] && break; sleep 0.1; done

{
  for ((i = 0; i < n_honly; i++)); do echo "h-$i"; done
  for ((i = 0; i < n_http; i++)); do echo "w-$i"; done
  for ((i = 0; i < n_canned + hook_samples; i++)); do echo "t-$i"; done
  for ((i = 0; i < n_containers; i++)); do echo "c-$i"; done
} > "$work/ids"
log "priming Redis: $n_other unrelated TTL keys, $n_heart heartbeats"
python3 "$repo/bench/fleet_driver.py" prime "$work/redis.sock" "$n_other" "$work/ids" 30000

# --- the configuration: one YAML for every layer ---
hs_port=$(free_port)
token=fleet-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s' "$token" > "$work/token"
chmod 600 "$work/token"
{
  cat <<EOF
listen: "127.0.0.1:$hs_port"
auth: { token_file: $work/token }
log: { level: ${FLEET_LOG_LEVEL:-info} }
targets:
  engine_label: healthsweep.target
  static:
EOF
  for ((i = 0; i < n_honly; i++)); do echo "    - { id: h-$i }"; done
  for ((i = 0; i < n_http; i++)); do echo "    - { id: w-$i, http: \"http://127.0.0.1:$((base + i))/health/$i\" }"; done
  cat <<EOF
redis: { url: "redis://127.0.0.1:$redis_port/0" }
engine: { socket: $work/engine.sock, watch_processes: true }
postgres: { dsn: "$HS_TEST_PG_DSN", spool_dir: $work/spool }
sweeps:
  proactive: { interval: 15s, timeout: 5s }
  reactive: { enabled: true, coalesce_window: ${coalesce_ms}ms }
remediation:
  restart: { enabled: true, via: none }
EOF
} > "$work/healthsweep.yaml"
"$daemon" --check-config "$work/healthsweep.yaml" >/dev/null

# --- the driver: heartbeats now, Redis's CPU without the daemon, then the load ---
n_targets=$n_heart
nice python3 "$repo/bench/fleet_driver.py" run --duration "$secs" --baseline "$baseline" \
  --baseline-file "$work/baseline.json" --ready "$work/ready" --redis "$work/redis.sock" --redis-pid "$redis_pid" \
  --ids "$work/ids" --lapses "$n_lapses" --engine "$engine_socket" --containers "$n_containers" \
  --kills "$n_kills" --kill-via "$kill_via" --proxy "$work/engine.sock" --hook-first "$n_canned" --hook-samples "$hook_samples" \
  --token "$token" --out "$work/out" 2>"$work/driver.log" &
driver_pid=$!
pids+=("$driver_pid")
log "Redis CPU with the heartbeats alone for $baseline s"
for _ in $(seq $((baseline * 10 + 600))); do
  [[ -s $work/baseline.json ]] && break
  kill -0 "$driver_pid" 2>/dev/null || { echo "fleet: the driver exited:" >&2; cat "$work/driver.log" >&2; exit 1; }
  sleep 0.1
done

log "starting $daemon with $n_targets targets"
rt=()
[[ -n ${FLEET_DAEMON_RT:-} ]] && rt=(chrt -f "$FLEET_DAEMON_RT")
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "${rt[@]}" nice -n "${FLEET_DAEMON_NICE:-0}" "$daemon" --config "$work/healthsweep.yaml" \
  >"$work/healthsweepd.log" 2>&1 &
hs_pid=$!
hs_base=http://127.0.0.1:$hs_port
started=$(date +%s.%N)
armed=""
known=""
takeup_max=${FLEET_TAKEUP_MAX:-300}
while (( $(date +%s) - ${started%.*} < takeup_max )); do
  kill -0 "$hs_pid" 2>/dev/null || { echo "fleet: the daemon exited:" >&2; tail -20 "$work/healthsweepd.log" >&2; exit 1; }
  m=$(curl -s --max-time 30 "$hs_base/metrics" || true)
  [[ -n $m ]] || { sleep 0.25; continue; }  # keep the last answer's counts
  online=$(awk '/^healthsweep_targets\{state="online"\}/ { print $NF }' <<<"$m")
  watched=$(awk '/^healthsweep_proactive_watched_processes / { print $NF }' <<<"$m")
  total=$(awk '/^healthsweep_targets\{/ { s += $NF } END { print s + 0 }' <<<"$m")
  now=$(date +%s.%N)
  [[ -z $known && ${total%.*} -ge $n_targets ]] && known=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
  [[ -z $armed && ${watched%.*} -ge $n_containers ]] && armed=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
  [[ ${online%.*} -ge $n_targets && -n $armed ]] && break
  sleep 0.25
done
held=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[[ ${online%.*} -ge $n_targets ]] ||
  echo "startup: NOT every target online within $takeup_max s: ${online:-?} of $n_targets (last /metrics answered);" \
    "the load starts anyway" | tee -a "$work/out/run.txt" >&2
echo "startup: all $n_targets targets known after ${known:-?} s, online after $held s; watched processes reached" \
  "$n_containers after ${armed:-?} s from the daemon's start (polled every 0.25 s)" >> "$work/out/run.txt"
# The process watch inspects each canned container once after it is listed
# (then finds its process unwatchable and never asks again). Those one-off
# inspects are not hook checks: the load starts after the last of them, or
# they would count as checks closer than the coalesce window (stop 23's
# 13,011 "close pairs"; the daemon's own count of checks started showed none).
while (( $(date +%s) - ${started%.*} < takeup_max )); do
  ever=$(curl -s --max-time 5 --unix-socket "$work/engine.sock" http://d/fleet/stats |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ever_inspected"])' 2>/dev/null || echo 0)
  (( ever >= n_canned + hook_samples )) && break
  sleep 0.25
done
echo "startup: the watch's one inspect of each canned container: ${ever:-?} of $((n_canned + hook_samples)) done after" \
  "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >> "$work/out/run.txt"
log "the daemon holds the fleet ($held s; watch armed at ${armed:-?} s; canned inspected ${ever:-?}); load for $secs s"
curl -fs --max-time 30 "$hs_base/metrics" > "$work/out/metrics-start.txt"
curl -fs -X POST --unix-socket "$work/engine.sock" http://d/fleet/reset >/dev/null  # count the load's checks only
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime+stime ticks
engine_cpu0=$(cpu_of "$engine_pid"); daemon_cpu0=$(cpu_of "$hs_pid"); load_t0=$(date +%s.%N)
run_delay() { local d=0 t; for t in /proc/"$1"/task/*/schedstat; do d=$((d + $(cut -d' ' -f2 "$t"))); done; echo "$d"; }
loop_delay() { cut -d' ' -f2 "/proc/$1/task/$1/schedstat"; }  # the main thread: the event loop's
redis_wait0=$(run_delay "$redis_pid"); daemon_wait0=$(run_delay "$hs_pid"); loop_wait0=$(loop_delay "$hs_pid")
# Whose CPU the load is, taken 5 s before its end: the driver and wrk are
# gone once it ends, and a process that has exited is not seen.
python3 "$repo/bench/cpu_by_process.py" snapshot "$work/cpu-before.json"
(sleep $((secs - 5)) && exec python3 "$repo/bench/cpu_by_process.py" diff "$work/cpu-before.json" $((secs - 5)) 12) \
  >"$work/cpu-by-process.txt" 2>&1 &
pids+=($!)
redis-cli -s "$work/redis.sock" LATENCY RESET >/dev/null
redis-cli -s "$work/redis.sock" SLOWLOG RESET >/dev/null
echo "$hs_pid $hs_port" > "$work/ready.tmp" && mv "$work/ready.tmp" "$work/ready"
timeout $((secs + 60)) nice wrk -t1 -c"$hook_conns" -d"${secs}s" -s "$repo/bench/hook_paced.lua" "$hs_base/" \
  -- "$token" "$n_canned" hook "$hook_rate" "$hook_conns" >"$work/out/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")
perf_secs=${FLEET_PERF:-0}
if ((perf_secs > 0)); then
  (sleep 40 && exec perf record -q -k mono -F 999 --call-graph dwarf -t "$hs_pid" -o "$work/perf.data" \
    -- sleep "$perf_secs") >"$work/perf.log" 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
fi
wait "$driver_pid" || { echo "fleet: the driver failed:" >&2; cat "$work/driver.log" >&2; exit 1; }
wait "$wrk_pid" || log "wrk exited with $?"
curl -fs --max-time 30 "$hs_base/metrics" > "$work/out/metrics-end.txt"
awk -v e="$(($(cpu_of "$engine_pid") - engine_cpu0))" -v d="$(($(cpu_of "$hs_pid") - daemon_cpu0))" -v hz="$(getconf CLK_TCK)" \
  -v t="$(awk -v a="$load_t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
  -v w="$(( ($(run_delay "$hs_pid") - daemon_wait0) / 1000000 ))" -v lw="$(( ($(loop_delay "$hs_pid") - loop_wait0) / 1000000 ))" \
  'BEGIN { printf "cpu over the load (%.0f s): healthsweepd %.1f %% of a core, fleet_engine.py (the canned engine + proxy) %.1f %%; healthsweepd waited %d ms for a core (schedstat run delay, all its threads; its event loop %d ms)\n", t, 100 * d / hz / t, 100 * e / hz / t, w, lw }' \
  >> "$work/out/run.txt"
cat "$work/cpu-by-process.txt" >> "$work/out/run.txt"
# Redis over the load (JSON, one line each): its stalls by the latency
# monitor (each event's history: [unix second, worst ms in it]), its slow
# commands, and its wait for a core (schedstat run delay, all its threads).
{
  echo "{\"run_delay_ms\": $(( ($(run_delay "$redis_pid") - redis_wait0) / 1000000 )), \"seconds\": $(awk -v a="$load_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')}"
  latest=$(redis-cli -s "$work/redis.sock" --json LATENCY LATEST | tr -d '\n')
  echo "$latest"
  for ev in $(python3 -c 'import json,sys; print(" ".join(e[0] for e in json.load(sys.stdin)))' <<<"$latest"); do
    echo "{\"event\": \"$ev\", \"history\": $(redis-cli -s "$work/redis.sock" --json LATENCY HISTORY "$ev" | tr -d '\n')}"
  done
  echo "{\"slowlog\": $(redis-cli -s "$work/redis.sock" --json SLOWLOG GET 10000 | tr -d '\n')}"
} > "$work/out/redis-latency.jsonl"

if [[ ${FLEET_HEAP:-0} == 1 ]]; then
  log "where the memory is (gdb: malloc_stats, then malloc_trim)"
  heap_probe() {
    echo "## $1"
    grep -E '^(Rss|Pss_Anon|Pss_File|Anonymous)' "/proc/$hs_pid/smaps_rollup"
    grep -E '^(VmRSS|VmHWM|RssAnon|RssFile)' "/proc/$hs_pid/status"
  }
  heap_probe "before" > "$work/out/heap.txt"
  log_at=$(wc -c < "$work/healthsweepd.log")
  gdb -p "$hs_pid" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || echo "gdb failed" >> "$work/out/heap.txt"
  sleep 1
  tail -c +$((log_at + 1)) "$work/healthsweepd.log" | grep -E '^(Arena|system bytes|in use bytes|Total|max mmap)' >> "$work/out/heap.txt" || true
  gdb -p "$hs_pid" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
  sleep 1
  heap_probe "after malloc_trim(0)" >> "$work/out/heap.txt"
  cat "$work/out/heap.txt" >&2
fi

log "load stopped; waiting for the spool to drain (at most 60 s)"
for _ in $(seq 120); do
  spool=$(curl -fs --max-time 5 "$hs_base/metrics" | awk '/^healthsweep_store_spool_events / { print $NF }')
  [[ ${spool%.*} == 0 ]] && break
  sleep 0.5
done
psql "$HS_TEST_PG_DSN" -AtF $'\t' -c "select target, from_state, to_state, layer, reason,
  extract(epoch from at) from healthsweep_events order by id" > "$work/out/events.tsv"
curl -s --unix-socket "$work/engine.sock" http://d/fleet/stats > "$work/out/engine-stats.json"
kill -TERM "$hs_pid"
timeout 60 tail --pid="$hs_pid" -f /dev/null || kill -KILL "$hs_pid"
hs_pid=""
grep -v '^$' "$work/healthsweepd.log" | tail -200 > "$work/out/healthsweepd-tail.log"
grep 'held the loop' "$work/healthsweepd.log" > "$work/out/long-handlers.log" || true
grep 'passive: .* dead (' "$work/healthsweepd.log" > "$work/out/passive-verdicts.log" || true
grep 'reactive: .* dead (' "$work/healthsweepd.log" > "$work/out/reactive-verdicts.log" || true
[[ -n ${perf_pid:-} ]] && { wait "$perf_pid" || log "perf record exited with $?"; }
if [[ -s $work/perf.data ]]; then
  log "reading the loop's profile"
  perf script -i "$work/perf.data" -F tid,time,ip,sym 2>/dev/null | gzip -1 > "$work/out/perf-script.txt.gz"
  gzip -dc "$work/out/perf-script.txt.gz" |
    python3 "$repo/bench/long_turns.py" --hz 999 --min-ms 10 --show 30 --handlers "$work/out/long-handlers.log" \
    > "$work/out/long-turns.txt" 2>&1 || log "long_turns.py failed (see out/long-turns.txt)"
fi
cp "$work/baseline.json" "$work/out/"
{ echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg)"; echo "# host speed at end: $(host_speed)"; } >> "$work/out/run.txt"

python3 "$repo/bench/fleet_report.py" "$work/out" | tee "$work/out/report.txt"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 "$repo/bench/fleet_plot.py" "$work/out" "$work/out/fleet.png" || log "the plot failed"
fi
mkdir -p "$out"
cp "$work"/out/* "$out/"
finished=1
log "results in $out"
