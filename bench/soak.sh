#!/usr/bin/env bash
# Soak (issue 13 section 7): a fleet of 10,000 targets with churn for
# DURATION seconds, the daemon sampled all along, then checked.
#
#   bench/soak.sh DURATION
#
# Environment (defaults in brackets):
#   HS_SOAK_DAEMON      the daemon [build/healthsweepd]; for CI the sanitizer
#                       build, build-asan/healthsweepd (scripts/test --sanitize)
#   HS_SOAK_TARGETS     targets in all [10000]
#   HS_SOAK_CONTAINERS  real busybox containers among them [300]
#   HS_SOAK_HOOK_RATE   hook requests per second [2000]
#   HS_SOAK_OUT         where samples.csv, actions.jsonl, events.tsv, summary.txt,
#                       soak.png (bench/soak_plot.py) and the daemon's log are copied
#                       at the end [$TMPDIR/hs-soak-results]
#   HS_SOAK_SAMPLE      seconds between two samples [5]
#
# Samples: bench/soak_sample.py (via the driver).
#
# The fleet (all targets heart-beat in a private Redis, TTL 30 s, refreshed
# every 10 s by bench/soak_driver.py; the `passive` layer):
#   c-0..   HS_SOAK_CONTAINERS containers on a private Podman API service
#           (scripts/services, --network none), found by label; 1 % of them
#           killed per minute (SIGKILL through the API, each one once), to be
#           taken offline and restarted by the daemon (`proactive`, remediation
#           via engine)
#   t-0..   200 static targets with a `tcp:` check on a loopback listener of
#           the driver's that accepts; the hook load names them (`reactive`:
#           each report not coalesced is a real TCP check, which finds them alive)
#   h-0..   the rest, heartbeat only; one every 30 s has its heartbeat
#           stopped (it must go offline, `heartbeat expired`) and resumed
#           20 s after its deadline (it must come back online)
# Hook load: wrk -t1 -c40 with bench/hook_paced.lua (hook_post.lua's bodies,
# paced to HS_SOAK_HOOK_RATE). One PostgreSQL restart (down 15 s) in the
# middle: the private PostgreSQL of scripts/services (its own initdb).
#
# Checked at the end by bench/soak_check.py (exit status non-zero when any
# check fails): RSS flat, descriptors flat, every expected verdict made, none
# unexpected, no event lost across the PostgreSQL restart, a clean exit on
# SIGTERM, no sanitizer report. Loopback and unix sockets only; bounded;
# everything started is stopped on any exit, Ctrl-C included.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:?usage: bench/soak.sh DURATION_SECONDS}
daemon=$(realpath "${HS_SOAK_DAEMON:-$repo/build/healthsweepd}")
n_targets=${HS_SOAK_TARGETS:-10000}
n_containers=${HS_SOAK_CONTAINERS:-300}
n_tcp=200
hook_rate=${HS_SOAK_HOOK_RATE:-2000}
sample=${HS_SOAK_SAMPLE:-5}
out=${HS_SOAK_OUT:-${TMPDIR:-/tmp}/hs-soak-results}
hook_conns=40
[[ -x $daemon ]] || { echo "soak: no executable daemon at $daemon" >&2; exit 2; }
(( duration >= 120 )) || { echo "soak: DURATION must be at least 120 s" >&2; exit 2; }
(( n_targets > n_containers + n_tcp )) || { echo "soak: HS_SOAK_TARGETS too small" >&2; exit 2; }
. "$repo/scripts/lib/packages.sh"
ensure_packages "${SOAK_PACKAGES[@]}"

work=$(mktemp -d /tmp/hs-soak.XXXXXX)
chmod 755 "$work"
pids=()          # our own processes, stopped by pid
hs_pid=""
services_up=""
finished=""
cleanup() {
  set +e
  if [[ -z $finished ]]; then  # a failed run: keep what it collected, logs included
    mkdir -p "$out" && cp "$work"/out/* "$work"/*.log "$out/" 2>/dev/null
    echo "soak: what the failed run collected, and its logs, are in $out" >&2
  fi
  [[ -n $hs_pid ]] && kill -KILL "$hs_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ -f $work/redis.pid ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  # every container, the Podman service and PostgreSQL (by its data dir)
  [[ -n $services_up ]] && "$repo/scripts/services" stop "$work/svc" >/dev/null 2>&1
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "soak: interrupted" >&2; exit 130' INT TERM
log() { echo "soak: $(date -u +%T) $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- services: Redis of our own; PostgreSQL and Podman from scripts/services ---
log "starting Redis, PostgreSQL and the Podman API service in $work"
redis-server --port 0 --unixsocket "$work/redis.sock" --save "" --appendonly no \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
pg_port=$(free_port)
services_up=1
eval "$(HS_SERVICES='postgres podman' HS_PG_PORT=$pg_port "$repo/scripts/services" start "$work/svc")"
[[ -n ${HS_TEST_PG_DSN:-} && -n ${HS_TEST_ENGINE_SOCKET:-} ]] ||
  { echo "soak: PostgreSQL or the Podman API did not start" >&2; exit 1; }
for _ in $(seq 50); do [[ -S $work/redis.sock ]] && break; sleep 0.1; done

log "creating $n_containers containers"
python3 "$repo/bench/soak_driver.py" containers "$HS_TEST_ENGINE_SOCKET" "$HS_TEST_IMAGE" "$n_containers"

# --- the fleet, the tcp listener, the heartbeats before the daemon starts ---
n_heart=$((n_targets - n_containers - n_tcp))
{
  for ((i = 0; i < n_containers; i++)); do echo "c-$i"; done
  for ((i = 0; i < n_tcp; i++)); do echo "t-$i"; done
  for ((i = 0; i < n_heart; i++)); do echo "h-$i"; done
} > "$work/ids"
python3 "$repo/bench/soak_driver.py" tcp-listener "$work/tcp.port" &
pids+=($!)
for _ in $(seq 50); do [[ -s $work/tcp.port ]] && break; sleep 0.1; done
tcp_port=$(cat "$work/tcp.port")
python3 "$repo/bench/soak_driver.py" prime "$work/redis.sock" 30000 "$work/ids"

hs_port=$(free_port)
token=soak-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s' "$token" > "$work/token"
chmod 600 "$work/token"
{
  cat <<EOF
listen: "127.0.0.1:$hs_port"
auth: { token_file: $work/token }
log: { level: info }
targets:
  engine_label: healthsweep.target
  static:
EOF
  for ((i = 0; i < n_tcp; i++)); do echo "    - { id: t-$i, tcp: \"127.0.0.1:$tcp_port\" }"; done
  for ((i = 0; i < n_heart; i++)); do echo "    - { id: h-$i }"; done
  cat <<EOF
redis: { url: "unix://$work/redis.sock?db=0" }
engine: { socket: $HS_TEST_ENGINE_SOCKET }
postgres: { dsn: "$HS_TEST_PG_DSN", spool_dir: $work/spool }
sweeps:
  proactive: { interval: 15s, timeout: 5s }
  reactive: { enabled: true, coalesce_window: 2s }
remediation:
  restart: { enabled: true, via: engine }
EOF
} > "$work/healthsweep.yaml"

# The driver: heartbeats from now on (the daemon must never see them lapse
# while it takes up the fleet); load, faults and samples once ready.
mkdir -p "$work/out"
pg_opts="-k $work/svc/pg -p $pg_port -c listen_addresses=127.0.0.1"
python3 "$repo/bench/soak_driver.py" run --duration "$duration" --sample "$sample" --ready "$work/ready" \
  --ids "$work/ids" --redis "$work/redis.sock" --engine "$HS_TEST_ENGINE_SOCKET" \
  --pg-data "$work/svc/pg/data" --pg-opts "$pg_opts" --kill-per-min "$(awk -v n="$n_containers" 'BEGIN { print n / 100 }')" \
  --out "$work/out" &
driver_pid=$!
pids+=($driver_pid)

# --- the daemon ---
log "starting $daemon with $n_targets targets"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "$daemon" --config "$work/healthsweep.yaml" >"$work/healthsweepd.log" 2>&1 &
hs_pid=$!
base=http://127.0.0.1:$hs_port
# Taking up the fleet: every target known and judged (none `unknown` any
# more). Timed, with the slowest /metrics answer meanwhile (the loop's
# longest stall that this coarse poll saw); printed in the summary.
started=$(date +%s.%N)
slowest=0
for _ in $(seq 600); do
  kill -0 "$hs_pid" 2>/dev/null || { echo "soak: the daemon exited:" >&2; tail -20 "$work/healthsweepd.log" >&2; exit 1; }
  answer=$(curl -s --max-time 30 -w '\n%{time_total}' "$base/metrics" || true)
  slowest=$(awk -v a="$slowest" -v b="${answer##*$'\n'}" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
  online=$(awk '/^healthsweep_targets\{state="online"\}/ { print $NF }' <<<"$answer")
  [[ ${online%.*} == "$n_targets" ]] && break
  sleep 0.5
done
[[ ${online%.*} == "$n_targets" ]] || { echo "soak: only ${online:-0} of $n_targets targets online after 300 s" >&2; exit 1; }
startup=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "all $n_targets targets online after $startup s (slowest /metrics meanwhile ${slowest} s); the soak runs for $duration s (load $(cut -d' ' -f1-3 /proc/loadavg))"

# --- load and faults for DURATION, sampled (the clock starts now) ---
echo "$hs_pid $hs_port" > "$work/ready.tmp" && mv "$work/ready.tmp" "$work/ready"
timeout $((duration + 60)) wrk -t1 -c"$hook_conns" -d"$((duration + 5))s" -s "$repo/bench/hook_paced.lua" "$base/" \
  -- "$token" "$n_tcp" hook "$hook_rate" "$hook_conns" >"$work/out/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=($wrk_pid)
wait "$driver_pid"
wait "$wrk_pid" || log "wrk exited with $?"

# --- let the last restarts and the spool finish, then collect ---
log "load stopped; waiting for the fleet to settle (at most 120 s)"
settled=""
for _ in $(seq 240); do
  m=$(curl -fs --max-time 5 "$base/metrics" || true)
  online=$(awk '/^healthsweep_targets\{state="online"\}/ { print $NF }' <<<"$m")
  spool=$(awk '/^healthsweep_store_spool_events / { print $NF }' <<<"$m")
  [[ ${online%.*} == "$n_targets" && ${spool%.*} == 0 ]] && { settled=1; break; }
  sleep 0.5
done
[[ -n $settled ]] || log "not settled: online ${online:-?} of $n_targets, spool ${spool:-?}"
curl -fs --max-time 5 "$base/metrics" > "$work/out/metrics-end.txt"
psql "$HS_TEST_PG_DSN" -AtF $'\t' -c "select id, target, from_state, to_state, layer, reason,
  extract(epoch from at) from healthsweep_events order by id" > "$work/out/events.tsv"
curl -s --unix-socket "$HS_TEST_ENGINE_SOCKET" "http://d/v1.41/containers/json?all=1" > "$work/out/containers-end.json"

log "stopping the daemon (SIGTERM)"
kill -TERM "$hs_pid"
exit_status=0
timeout 60 tail --pid="$hs_pid" -f /dev/null || { log "the daemon did not stop within 60 s"; kill -KILL "$hs_pid"; }
wait "$hs_pid" || exit_status=$?
hs_pid=""
cp "$work/healthsweepd.log" "$work/out/"

rc=0
python3 "$repo/bench/soak_check.py" --dir "$work/out" --duration "$duration" --targets "$n_targets" \
  --daemon "$daemon" --exit-status "$exit_status" --settled "${settled:-0}" --startup "$startup $slowest" | tee "$work/out/summary.txt" || rc=$?
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  title="healthsweepd soak: $n_targets targets ($n_containers containers), hook $hook_rate req/s, ${duration} s, $(git -C "$repo" rev-parse --short HEAD 2>/dev/null), $(basename "$(dirname "$daemon")")/$(basename "$daemon")"
  /usr/bin/python3 "$repo/bench/soak_plot.py" "$work/out/samples.csv" "$work/out/actions.jsonl" "$work/out/soak.png" "$title" ||
    log "the plot failed"
else
  log "no plot: python3-matplotlib is missing"
fi
mkdir -p "$out"
cp "$work"/out/* "$out/"
finished=1
log "results in $out"
exit "$rc"
