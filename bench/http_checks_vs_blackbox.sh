#!/usr/bin/env bash
# Issues 8 and 15: CPU per HTTP health probe, healthsweep's HttpChecker with
# the daemon's default pool against prometheus-blackbox-exporter, over the
# same loopback URLs served by nginx (a separate process, so the server's CPU
# is nobody's). Three modes:
#   keepalive  URLS plain http URLs; ours reuses connections as the daemon
#              does (its default pool: max_idle decides how many stay open);
#   newconn    the same URLs, ours parks no connection (max_idle 0): every
#              probe connects anew;
#   https      HTTPS_URLS https URLs under a CA made here with the openssl CLI;
#              ours with the daemon's pool (keep-alive), then with a new
#              connection (and full handshake) per probe. The checker verifies
#              with OpenSSL's default paths, as in the daemon: SSL_CERT_FILE
#              points them at this CA for the bench process only. blackbox
#              gets the same CA through tls_config.ca_file.
# blackbox_exporter's http prober never reuses a connection across probes
# (its HTTP client is built per probe with keep-alives disabled), so it is
# measured once per scheme and is the baseline of both of ours.
#
#   bench/http_checks_vs_blackbox.sh [BUILD_DIR]
#
# Env: URLS (10000) distinct http URLs, one nginx listen port each (a fleet of
# targets, not one server); HTTPS_URLS (1000, 0 skips https); INTERVAL_MS
# (15000, the daemon's proactive.interval) between sweep starts; ROUNDS (2)
# measured sweeps after one warm-up; PARALLEL (64) concurrent /probe calls to
# blackbox; WHAT_IF_MAX_IDLE (unset) adds two runs of ours, http and https,
# with max_idle set to it instead of the daemon's default, printed apart as a
# what-if (never the quoted comparison). CPU over the measured sweeps, idle time between them included:
# ours with getrusage inside bench_http_checks, blackbox's from /proc/PID/stat
# (utime+stime). Bounded: about 20 s + 6 x (ROUNDS+1) x INTERVAL_MS (5 min at
# the defaults); every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
BENCH=$BUILD/bench/bench_http_checks
URLS=${URLS:-10000}
HTTPS_URLS=${HTTPS_URLS:-1000}
INTERVAL_MS=${INTERVAL_MS:-15000}
ROUNDS=${ROUNDS:-2}
PARALLEL=${PARALLEL:-64}
WHAT_IF_MAX_IDLE=${WHAT_IF_MAX_IDLE:-}

[[ -x $BENCH ]] || { echo "missing $BENCH (cmake --build $BUILD --target bench_http_checks)" >&2; exit 2; }
. "$ROOT/scripts/lib/packages.sh"
ensure_packages nginx-light prometheus-blackbox-exporter openssl curl

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

ulimit -n "$(ulimit -Hn)"  # thousands of listening sockets plus their connections
echo "host: $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

port_range_free() {  # $1 first port, $2 count: no TCP socket on any of them (any state: bind needs that)
  ss -Htan | awk -v lo="$1" -v hi="$(($1 + $2))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p < hi) bad = 1 } END { exit bad }'
}

# --- a local CA and a server certificate for 127.0.0.1 it signs
make_ca() {
  local d=$TMP/ca
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=healthsweep-bench-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=127.0.0.1 -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}
[[ $HTTPS_URLS -gt 0 ]] && make_ca

start_nginx() {  # $1 base port: URLS plain ports, then HTTPS_URLS ssl ports
  local base=$1 conf=$TMP/nginx.conf
  {
    echo "worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log warn;"
    echo "worker_rlimit_nofile 40000; events { worker_connections 30000; }"
    echo "http { access_log off; keepalive_timeout 75s; keepalive_requests 1000000;"
    echo "  client_body_temp_path $TMP/body;"
    echo "  server {"
    for ((i = 0; i < URLS; i++)); do echo "    listen 127.0.0.1:$((base + i));"; done
    echo "    location / { default_type text/plain; return 200 \"ok\\n\"; }"
    echo "  }"
    if [[ $HTTPS_URLS -gt 0 ]]; then
      echo "  server {"
      for ((i = 0; i < HTTPS_URLS; i++)); do echo "    listen 127.0.0.1:$((base + URLS + i)) ssl;"; done
      echo "    ssl_certificate $TMP/ca/server.pem; ssl_certificate_key $TMP/ca/server.key;"
      echo "    location / { default_type text/plain; return 200 \"ok\\n\"; }"
      echo "  }"
    fi
    echo "}"
  } >"$conf"
  nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$conf" &
  NGINX_PID=$!
  for _ in $(seq 200); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$((base + URLS - 1))/health" 2>/dev/null &&
      { [[ $HTTPS_URLS -eq 0 ]] ||
        curl -fsS -o /dev/null --cacert "$TMP/ca/ca.pem" "https://127.0.0.1:$((base + URLS + HTTPS_URLS - 1))/health" 2>/dev/null; }; then
      return 0
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=""
  return 1
}

# Below the ephemeral range (32768-60999 here), so no outgoing connection
# takes one of these ports while nginx starts.
PORTS=$((URLS + HTTPS_URLS))
BASE=""
for _ in 1 2 3 4 5; do
  candidate=$((10000 + RANDOM % (32768 - 10000 - PORTS)))
  if port_range_free "$candidate" "$PORTS" && start_nginx "$candidate"; then BASE=$candidate; break; fi
done
[[ -n $BASE ]] || { echo "could not start nginx on $PORTS free loopback ports" >&2; cat "$TMP/nginx-error.log" >&2 || true; exit 1; }

for ((i = 0; i < URLS; i++)); do echo "http://127.0.0.1:$((BASE + i))/health/$i"; done >"$TMP/http.txt"
for ((i = 0; i < HTTPS_URLS; i++)); do echo "https://127.0.0.1:$((BASE + URLS + i))/health/$i"; done >"$TMP/https.txt"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') (pid $NGINX_PID, 1 worker) serves $URLS http URLs on" \
  "127.0.0.1:$BASE-$((BASE + URLS - 1))$([[ $HTTPS_URLS -gt 0 ]] && echo " and $HTTPS_URLS https URLs on 127.0.0.1:$((BASE + URLS))-$((BASE + PORTS - 1)) (EC P-256 certificate from a local CA)")"

declare -A OURS_RSS OURS_US OURS_PCT OURS_FAIL OURS_MAXMS OURS_CONN OURS_PROBES BB_US BB_PCT BB_FAIL BB_MAXMS BB_PROBES
result_field() { sed -n "s/^RESULT.* $1=\([0-9.]*\).*/\1/p" "$2"; }

run_ours() {  # $1 mode label, $2 URL file, then bench_http_checks options
  local label=$1 urls=$2 out=$TMP/ours-$1.txt rc=0 env=()
  shift 2
  [[ $urls == "$TMP/https.txt" ]] && env=("SSL_CERT_FILE=$TMP/ca/ca.pem")
  echo
  echo "--- healthsweep, $label${env:+ (${env[*]})}"
  env "${env[@]}" "$BENCH" --urls "$urls" --interval-ms "$INTERVAL_MS" --warmup 1 --rounds "$ROUNDS" "$@" | tee "$out" || rc=$?
  OURS_US[$label]=$(result_field healthsweep_us_per_probe "$out")
  OURS_PCT[$label]=$(result_field core_pct_at_15s "$out")
  OURS_FAIL[$label]=$(result_field failures "$out")
  OURS_MAXMS[$label]=$(result_field max_sweep_ms "$out")
  OURS_CONN[$label]=$(result_field connections_opened_measured "$out")
  OURS_PROBES[$label]=$(result_field probes "$out")
  OURS_RSS[$label]=$(result_field max_rss_kib "$out")
  [[ $rc -eq 0 ]] || echo "healthsweep $label: exit $rc (a dead probe or a sweep longer than the interval)"
}

run_ours keepalive "$TMP/http.txt"
run_ours newconn "$TMP/http.txt" --new-connection-per-probe
if [[ $HTTPS_URLS -gt 0 ]]; then
  run_ours https-keepalive "$TMP/https.txt"
  run_ours https-newconn "$TMP/https.txt" --new-connection-per-probe
fi
if [[ -n $WHAT_IF_MAX_IDLE ]]; then
  run_ours whatif "$TMP/http.txt" --what-if-max-idle "$WHAT_IF_MAX_IDLE"
  [[ $HTTPS_URLS -gt 0 ]] && run_ours https-whatif "$TMP/https.txt" --what-if-max-idle "$WHAT_IF_MAX_IDLE"
fi

# --- prometheus-blackbox-exporter
BB_PORT=""
for _ in 1 2 3 4 5; do
  candidate=$((10000 + RANDOM % 22000))
  ((candidate >= BASE && candidate < BASE + PORTS)) && continue
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
  https_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls_config:
        ca_file: $TMP/ca/ca.pem
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

bb_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$BB_PID/stat"; }
TICKS=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }

run_blackbox() {  # $1 label, $2 module, $3 URL file
  local label=$1 module=$2 urls=$3 n out=$TMP/bb-out
  n=$(wc -l <"$urls")
  mkdir -p "$out"
  awk -v port="$BB_PORT" -v module="$module" -v dir="$out" '{
    enc = $0; gsub(/%/, "%25", enc); gsub(/:/, "%3A", enc); gsub(/\//, "%2F", enc)
    printf "url = \"http://127.0.0.1:%s/probe?module=%s&target=%s\"\noutput = \"%s/%d\"\n", port, module, enc, dir, NR
  }' "$urls" >"$TMP/curl.cfg"
  echo
  echo "--- blackbox ($BB_VERSION, pid $BB_PID), $label: $n URLs, $PARALLEL /probe calls at a time"
  local ticks0=0 failed=0 maxms=0 round start ok t0 t1 wall rest
  for ((round = 0; round <= ROUNDS; round++)); do
    start=$(now_ms)
    [[ $round -eq 1 ]] && ticks0=$(bb_cpu_ticks)
    rm -f "$out"/*
    t0=$(bb_cpu_ticks)
    curl --parallel --parallel-max "$PARALLEL" -K "$TMP/curl.cfg" --silent 2>/dev/null || true
    ok=$( (grep -l '^probe_success 1' "$out"/* 2>/dev/null || true) | wc -l)
    t1=$(bb_cpu_ticks)
    wall=$(($(now_ms) - start))
    echo "round $((round + 1))$([[ $round -eq 0 ]] && echo " (warm-up)"): $ok of $n probes succeeded," \
      "sweep $wall ms wall, $(((t1 - t0) * 1000 / TICKS)) ms CPU"
    if [[ $round -ge 1 ]]; then
      failed=$((failed + n - ok))
      ((wall > maxms)) && maxms=$wall
    fi
    rest=$((INTERVAL_MS - ($(now_ms) - start)))
    ((rest > 0)) && sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
  done
  local ticks1
  ticks1=$(bb_cpu_ticks)
  read -r BB_US[$label] BB_PCT[$label] < <(awk -v t="$((ticks1 - ticks0))" -v hz="$TICKS" -v n="$((n * ROUNDS))" \
    -v r="$ROUNDS" 'BEGIN { cpu = t / hz; printf "%.2f %.4f\n", cpu * 1e6 / n, cpu / r / 15 * 100 }')
  BB_FAIL[$label]=$failed
  BB_MAXMS[$label]=$maxms
  BB_PROBES[$label]=$((n * ROUNDS))
}

run_blackbox http http_2xx "$TMP/http.txt"
[[ $HTTPS_URLS -gt 0 ]] && run_blackbox https https_2xx "$TMP/https.txt"

row() {  # $1 ours label, $2 blackbox label, $3 description
  local o=$1 b=$2
  awk -v d="$3" -v op="${OURS_PROBES[$o]:-0}" -v ou="${OURS_US[$o]:-0}" -v oc="${OURS_PCT[$o]:-0}" \
    -v of="${OURS_FAIL[$o]:-?}" -v om="${OURS_MAXMS[$o]:-0}" -v on="${OURS_CONN[$o]:-0}" \
    -v bp="${BB_PROBES[$b]:-0}" -v bu="${BB_US[$b]:-0}" -v bc="${BB_PCT[$b]:-0}" -v bf="${BB_FAIL[$b]:-?}" \
    -v bm="${BB_MAXMS[$b]:-0}" 'BEGIN {
      printf "%-26s %7d %9.2f %8.4f %5s %8.0f %8d | %7d %9.2f %8.4f %5s %8.0f | %6.1fx\n",
        d, op, ou, oc, of, om, on, bp, bu, bc, bf, bm, (ou > 0 ? bu / ou : 0) }'
}

echo
echo "== CPU per HTTP probe: $ROUNDS measured sweeps ${INTERVAL_MS} ms apart (after one warm-up), daemon's default pool"
echo "   core % = CPU of one sweep every 15 s as a share of one core; fail = probes not alive over the measured sweeps;"
echo "   max ms = longest sweep (wall); conns = connections ours opened over the measured sweeps"
printf '%-26s %7s %9s %8s %5s %8s %8s | %7s %9s %8s %5s %8s | %7s\n' "mode" "probes" "us/probe" "core %" "fail" \
  "max ms" "conns" "bb prb" "bb us/pr" "bb core%" "fail" "max ms" "ratio"
row keepalive http "http $URLS keep-alive"
row newconn http "http $URLS new conn/probe"
if [[ $HTTPS_URLS -gt 0 ]]; then
  row https-keepalive https "https $HTTPS_URLS keep-alive"
  row https-newconn https "https $HTTPS_URLS new conn/probe"
fi
echo "ratio = blackbox us/probe / healthsweep us/probe (blackbox opens a new connection per probe in every mode)"
echo "bench process peak RSS (KiB): http keep-alive ${OURS_RSS[keepalive]:-?}, new conn ${OURS_RSS[newconn]:-?}," \
  "https keep-alive ${OURS_RSS[https-keepalive]:-?}, https new conn ${OURS_RSS[https-newconn]:-?}"
if [[ -n $WHAT_IF_MAX_IDLE ]]; then
  echo
  echo "== WHAT-IF (not the daemon's defaults): max_idle $WHAT_IF_MAX_IDLE instead of the pool's default"
  row whatif http "http $URLS max_idle $WHAT_IF_MAX_IDLE"
  [[ $HTTPS_URLS -gt 0 ]] && row https-whatif https "https $HTTPS_URLS max_idle $WHAT_IF_MAX_IDLE"
  echo "bench process peak RSS (KiB): http ${OURS_RSS[whatif]:-?}, https ${OURS_RSS[https-whatif]:-?}"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
