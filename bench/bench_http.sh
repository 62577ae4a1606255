#!/usr/bin/env bash
# GET /healthz with keep-alive: healthsweepd against nginx (issue 3, "Performance").
#
#   bench/bench_http.sh [DAEMON [ROUNDS [SECONDS]]]
#     DAEMON   default build/healthsweepd of the repo root
#     ROUNDS   default 3; every target is measured once per round, interleaved,
#              so a burst of load from elsewhere hits all of them alike
#     SECONDS  wrk duration, default 10
#   env CONFIG=path  config to copy (default config/healthsweep.yaml); only
#                    `listen` is changed, to a free 127.0.0.1 port
#   env NICE=-15     run servers and wrk at this nice level (root only), to try
#                    to get ahead of others' builds; it made no visible difference
#                    on the issue-3 machine (other cgroups?); default: unchanged
#
# Load: `wrk -t2 -c64 -dSECONDSs --latency` on 127.0.0.1 against
#   hs        healthsweepd  GET /healthz   (the target: >= 60,000 req/s)
#   nginx-1   nginx worker_processes 1     (THE BASELINE: one worker, like the
#             daemon's one io_context thread)
#   nginx-a   nginx worker_processes auto  (2 workers here; for information)
#   hs-metrics healthsweepd GET /metrics (for information)
# nginx serves a 2-byte static file "ok" at /healthz with access_log off,
# open_file_cache on and keepalive_requests raised: like healthsweepd, it
# neither logs, nor touches the file system per request (3 syscalls a request
# left: recvfrom, pread, writev), nor closes keep-alive connections mid-run.
# Prints per-round figures, then best and median per target and the ratios.
# Bounded: every wrk and wait has a timeout; everything started is killed on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
rounds=${2:-3}
secs=${3:-10}
config_src=${CONFIG:-$repo/config/healthsweep.yaml}
[[ -x $daemon ]] || { echo "bench_http: no executable at $daemon" >&2; exit 2; }
[[ -r $config_src ]] || { echo "bench_http: no config at $config_src" >&2; exit 2; }
. "$repo/scripts/lib/packages.sh"
ensure_packages wrk nginx-light curl python3

prio=()
[[ -n ${NICE:-} ]] && prio=(nice -n "$NICE")

work=$(mktemp -d /tmp/hs-bench-http.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls URL until it answers 200 (at most 10 s).
wait_http() {
  for _ in $(seq 100); do
    curl -fs -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "bench_http: $1 did not answer within 10 s" >&2
  return 1
}

# --- healthsweepd -----------------------------------------------------------
hs_port=$(free_port)
sed -E "s|^listen:.*|listen: \"127.0.0.1:$hs_port\"|" "$config_src" > "$work/healthsweep.yaml"
grep -q "^listen: \"127.0.0.1:$hs_port\"" "$work/healthsweep.yaml" ||
  { echo "bench_http: could not set listen in the copy of $config_src" >&2; exit 2; }
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "${prio[@]}" "$daemon" --config "$work/healthsweep.yaml" \
  >"$work/healthsweepd.log" 2>&1 &
pids+=($!)
hs_pid=$!
wait_http "http://127.0.0.1:$hs_port/healthz"

# --- nginx, one instance per worker setting ---------------------------------
# Files readable by the unprivileged worker; every path nginx writes is under
# its own prefix, so it touches nothing of the system's nginx.
chmod 755 "$work"
start_nginx() {  # NAME WORKERS -> port on stdout
  local name=$1 workers=$2 port dir
  port=$(free_port)
  dir=$work/$name
  mkdir -p "$dir/html" "$dir/tmp"
  printf ok > "$dir/html/healthz"
  cat > "$dir/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  open_file_cache max=16 inactive=60s;  # no open/fstat/close per request
  open_file_cache_valid 60s;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  default_type text/plain;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $dir/html;
  }
}
EOF
  chmod -R a+rX "$dir"
  "${prio[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  echo "$!" > "$dir/master.pid"
  echo "$port"
}
# Called without a subshell so that pids+= sticks.
start_nginx nginx-1 1 > "$work/port1"; n1_port=$(cat "$work/port1")
start_nginx nginx-a auto > "$work/porta"; na_port=$(cat "$work/porta")
wait_http "http://127.0.0.1:$n1_port/healthz"
wait_http "http://127.0.0.1:$na_port/healthz"

# Server processes of a target: nginx master and its workers.
n1_pids="$(cat "$work/nginx-1/master.pid") $(pgrep -d' ' -P "$(cat "$work/nginx-1/master.pid")")"
na_pids="$(cat "$work/nginx-a/master.pid") $(pgrep -d' ' -P "$(cat "$work/nginx-a/master.pid")")"
declare -A server=([hs]=$hs_pid [nginx-1]=$n1_pids [nginx-a]=$na_pids [hs-metrics]=$hs_pid)

# User+system CPU ticks (1/CLK_TCK s) used so far by the given processes.
cpu_ticks() {
  local sum=0 p f
  for p in "$@"; do
    f=$(sed 's/^.*) //' "/proc/$p/stat")  # fields after "(comm) "
    sum=$((sum + $(cut -d' ' -f12 <<<"$f") + $(cut -d' ' -f13 <<<"$f")))
  done
  echo "$sum"
}
hz=$(getconf CLK_TCK)

declare -A url=(
  [hs]="http://127.0.0.1:$hs_port/healthz"
  [nginx-1]="http://127.0.0.1:$n1_port/healthz"
  [nginx-a]="http://127.0.0.1:$na_port/healthz"
  [hs-metrics]="http://127.0.0.1:$hs_port/metrics"
)
order=(hs nginx-1 nginx-a hs-metrics)

echo "# bench_http $(date -u +%FT%TZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "# daemon=$daemon  $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)  $(nginx -v 2>&1)"
echo "# command: ${prio[*]}${prio:+ }wrk -t2 -c64 -d${secs}s --latency URL; rounds=$rounds"
echo "# cpu-us/req = server processes' user+system CPU time during the run / requests"
echo "#   (less sensitive to load from elsewhere than req/s; $hz ticks/s resolution)"
for t in "${order[@]}"; do echo "#   $t: ${url[$t]}"; done
printf '%-11s %5s %12s %10s %10s %11s %8s  %s\n' target round req/s p50 p99 cpu-us/req non2xx load

# One wrk run -> "req/s p50 p99 requests non2xx" (latencies as wrk prints them).
run_wrk() {
  local out
  out=$(timeout $((secs + 30)) "${prio[@]}" wrk -t2 -c64 -d"${secs}s" --latency "$1")
  echo "$out" >> "$work/wrk.log"
  awk '
    / requests in /             { total = $1 }
    /Requests\/sec:/            { rps = $2 }
    /^ +50%/                    { p50 = $2 }
    /^ +99%/                    { p99 = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/            { bad = bad "+sockerr" }
    END { printf "%s %s %s %s %s\n", rps, p50, p99, total, (bad == "" ? 0 : bad) }' <<<"$out"
}

for r in $(seq "$rounds"); do
  for t in "${order[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086  # word splitting of the pid list is intended
    c0=$(cpu_ticks ${server[$t]})
    read -r rps p50 p99 total bad < <(run_wrk "${url[$t]}")
    # shellcheck disable=SC2086
    c1=$(cpu_ticks ${server[$t]})
    cpu_us=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.1f", c / hz * 1e6 / n }')
    printf '%-11s %5s %12s %10s %10s %11s %8s  %s\n' "$t" "$r" "$rps" "$p50" "$p99" "$cpu_us" "$bad" "$load"
    echo "$t $rps $p50 $p99 $cpu_us" >> "$work/results"
  done
done

# Best and median req/s per target (latencies of the median run), and ratios.
echo
python3 - "$work/results" "${order[@]}" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    t, *row = line.split()
    runs.setdefault(t, []).append(row)
order = sys.argv[2:]
stats = {}
print(f"{'target':<11} {'best req/s':>12} {'median req/s':>13} {'best cpu-us/req':>16}  latency of the median run (p50 / p99)")
for t in order:
    rows = sorted(runs[t], key=lambda r: float(r[0]))
    med = rows[(len(rows) - 1) // 2]  # the median run (lower middle when even)
    best = float(rows[-1][0]); median = statistics.median(float(r[0]) for r in rows)
    cpu = min(float(r[3]) for r in rows)
    stats[t] = (best, median, cpu)
    print(f"{t:<11} {best:>12,.0f} {median:>13,.0f} {cpu:>16.1f}  {med[1]} / {med[2]}")
print()
for base in ("nginx-1", "nginx-a"):
    b, m = stats["hs"][0] / stats[base][0], stats["hs"][1] / stats[base][1]
    label = "baseline" if base == "nginx-1" else "for information"
    c = stats[base][2] / stats["hs"][2]
    print(f"ratio healthsweepd/{base} ({label}): req/s best {b:.2f}  median {m:.2f};"
          f"  requests per CPU-second {c:.2f}")
print(f"target >= 60,000 req/s (best of runs): {'met' if stats['hs'][0] >= 60000 else 'NOT met'}"
      f" ({stats['hs'][0]:,.0f})")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
