#!/usr/bin/env bash
# Issue 8 benchmark: CPU per HTTP health probe, healthsweep's HttpChecker
# against prometheus-blackbox-exporter, over the same 1,000 loopback URLs
# served by nginx (a separate process, so the server's CPU is nobody's).
#
#   bench/http_checks_vs_blackbox.sh [BUILD_DIR]
#
# Env: URLS (1000) distinct URLs, one nginx listen port each (a fleet of
# targets, not one server); INTERVAL_MS (5000) between sweeps; ROUNDS (3)
# measured sweeps after one warm-up; PARALLEL (64) concurrent /probe calls.
# Both sides are measured over the same number of sweeps, idle time between
# sweeps included: ours with getrusage inside bench_http_checks, blackbox's
# from /proc/PID/stat (utime+stime). Bounded: about 15 s + 2 x (ROUNDS+1) x
# INTERVAL_MS; every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
BENCH=$BUILD/bench/bench_http_checks
URLS=${URLS:-1000}
INTERVAL_MS=${INTERVAL_MS:-5000}
ROUNDS=${ROUNDS:-3}
PARALLEL=${PARALLEL:-64}

[[ -x $BENCH ]] || { echo "missing $BENCH (cmake --build $BUILD --target bench_http_checks)" >&2; exit 2; }
. "$ROOT/scripts/lib/packages.sh"
ensure_packages nginx-light prometheus-blackbox-exporter

TMP=$(mktemp -d /tmp/hs-bench-http.XXXXXX)
NGINX_PID=""
BB_PID=""
cleanup() {
  [[ -n $BB_PID ]] && kill "$BB_PID" 2>/dev/null && wait "$BB_PID" 2>/dev/null || true
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"  # 1,000 listening sockets plus their connections

port_range_free() {  # $1 first port, $2 count: none of them listening?
  ss -Htln | awk -v lo="$1" -v hi="$(($1 + $2))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p < hi) bad = 1 } END { exit bad }'
}

start_nginx() {  # $1 base port
  local base=$1 conf=$TMP/nginx.conf
  {
    echo "worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log warn;"
    echo "worker_rlimit_nofile 16384; events { worker_connections 16384; }"
    echo "http { access_log off; keepalive_timeout 75s; keepalive_requests 1000000;"
    echo "  client_body_temp_path $TMP/body;"
    echo "  server {"
    for ((i = 0; i < URLS; i++)); do echo "    listen 127.0.0.1:$((base + i));"; done
    echo "    location / { default_type text/plain; return 200 \"ok\\n\"; }"
    echo "  }"
    echo "}"
  } >"$conf"
  nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$conf" &
  NGINX_PID=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$((base + URLS - 1))/health" 2>/dev/null && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=""
  return 1
}

BASE=""
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 30000))
  if port_range_free "$candidate" "$URLS" && start_nginx "$candidate"; then BASE=$candidate; break; fi
done
[[ -n $BASE ]] || { echo "could not start nginx on $URLS free loopback ports" >&2; cat "$TMP/nginx-error.log" >&2 || true; exit 1; }

for ((i = 0; i < URLS; i++)); do echo "http://127.0.0.1:$((BASE + i))/health/$i"; done >"$TMP/urls.txt"
echo "nginx (pid $NGINX_PID) serves $URLS URLs on 127.0.0.1:$BASE-$((BASE + URLS - 1))"

# --- healthsweep
"$BENCH" --urls "$TMP/urls.txt" --interval-ms "$INTERVAL_MS" --warmup 1 --rounds "$ROUNDS" | tee "$TMP/ours.txt"
OURS_US=$(sed -n 's/^RESULT .*healthsweep_us_per_probe=\([0-9.]*\).*/\1/p' "$TMP/ours.txt")
OURS_PCT=$(sed -n 's/^RESULT .*core_pct_at_15s=\([0-9.]*\).*/\1/p' "$TMP/ours.txt")

# --- prometheus-blackbox-exporter
BB_PORT=""
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 30000))
  port_range_free "$candidate" 1 && { BB_PORT=$candidate; break; }
done
cat >"$TMP/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
EOF
prometheus-blackbox-exporter --config.file="$TMP/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" \
  --log.level=warn >"$TMP/blackbox.log" 2>&1 &
BB_PID=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$BB_PORT/metrics" 2>/dev/null && break
  sleep 0.05
done
kill -0 "$BB_PID" || { echo "blackbox exporter did not start" >&2; cat "$TMP/blackbox.log" >&2; exit 1; }
BB_VERSION=$(prometheus-blackbox-exporter --version 2>&1 | head -1)

mkdir -p "$TMP/bb-out"
i=0
while read -r url; do
  enc=$(printf '%s' "$url" | sed 's/%/%25/g; s/:/%3A/g; s|/|%2F|g')
  printf 'url = "http://127.0.0.1:%s/probe?module=http_2xx&target=%s"\noutput = "%s/bb-out/%d"\n' \
    "$BB_PORT" "$enc" "$TMP" "$i"
  i=$((i + 1))
done <"$TMP/urls.txt" >"$TMP/curl.cfg"

bb_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$BB_PID/stat"; }
TICKS=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }

echo "blackbox ($BB_VERSION, pid $BB_PID) probing the same URLs, $PARALLEL at a time"
BB_TICKS0=0
BB_FAILED=0
for ((round = 0; round <= ROUNDS; round++)); do
  start=$(now_ms)
  [[ $round -eq 1 ]] && BB_TICKS0=$(bb_cpu_ticks)
  rm -f "$TMP"/bb-out/*
  t0=$(bb_cpu_ticks)
  curl --parallel --parallel-max "$PARALLEL" -K "$TMP/curl.cfg" --silent 2>/dev/null || true
  ok=$( (grep -l '^probe_success 1' "$TMP"/bb-out/* 2>/dev/null || true) | wc -l)
  t1=$(bb_cpu_ticks)
  label=$([[ $round -eq 0 ]] && echo " (warm-up)" || echo "")
  echo "round $((round + 1))$label: $ok of $URLS probes succeeded, sweep $(($(now_ms) - start)) ms wall," \
    "$(((t1 - t0) * 1000 / TICKS)) ms CPU"
  [[ $round -ge 1 && $ok -ne $URLS ]] && BB_FAILED=1
  rest=$((INTERVAL_MS - ($(now_ms) - start)))
  ((rest > 0)) && sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
done
BB_TICKS1=$(bb_cpu_ticks)

read -r BB_US BB_PCT RATIO < <(awk -v t="$((BB_TICKS1 - BB_TICKS0))" -v hz="$TICKS" -v n="$((URLS * ROUNDS))" \
  -v r="$ROUNDS" -v ours="$OURS_US" 'BEGIN {
    cpu = t / hz; us = cpu * 1e6 / n; printf "%.2f %.4f %.1f\n", us, cpu / r / 15 * 100, (ours > 0 ? us / ours : 0) }')

echo
echo "== CPU per HTTP probe, $URLS loopback URLs, $ROUNDS sweeps ${INTERVAL_MS} ms apart (after one warm-up sweep)"
printf '%-34s %10s us/probe   %8s %% of a core at one sweep / 15 s\n' "healthsweep HttpChecker" "$OURS_US" "$OURS_PCT"
printf '%-34s %10s us/probe   %8s %% of a core at one sweep / 15 s\n' "prometheus-blackbox-exporter" "$BB_US" "$BB_PCT"
echo "ratio (blackbox / healthsweep): ${RATIO}x"
[[ $BB_FAILED -eq 0 ]] || echo "WARNING: some blackbox probes failed; its figure is not comparable" >&2
