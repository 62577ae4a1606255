#!/usr/bin/env bash
# Hook ingest with keep-alive (issue 6, "Performance"): POST
# /hooks/connection-error for 1,000 targets against GET /healthz, same
# daemon, same wrk, same Lua machinery, same run.
#
#   bench/bench_hook.sh [DAEMON [ROUNDS [SECONDS [TARGETS]]]]
#     DAEMON   default build/healthsweepd of the repo root
#     ROUNDS   default 3; hook and healthz are measured once per round, interleaved
#     SECONDS  wrk duration, default 10
#     TARGETS  default 1000 (ids t-0 .. t-(TARGETS-1))
#
# The daemon runs with a token file and TARGETS static targets, each with only
# `tcp: 127.0.0.1:P` where P is a loopback port nobody listens on. Why TCP to a
# closed port and not a missing container: every report that is not coalesced
# starts a real reactive check, about 500 a second here (1,000 targets, one
# check per target per 2 s coalesce_window). A closed loopback port answers
# the connect with RST at once: one socket + connect + close in the daemon,
# about 20 us, a dead verdict, no other process involved. An engine inspect
# of a missing container would make Podman serve 500 inspects/s, about a core
# of Podman CPU on this 2-core machine: we would measure Podman, not the hook.
# No engine, Redis or PostgreSQL section; poll interval 1h (only the sweep at
# start); remediation via none; log level warn.
#
# Load: `wrk -t2 -c64 -dSECONDSs --latency -s bench/hook_post.lua` on 127.0.0.1:
#   hook     POST /hooks/connection-error, valid bodies cycling over every id,
#            bearer header (THE TARGET: >= 40,000 accepted req/s, p99 < 5 ms)
#   healthz  GET /healthz through the same script (THE BASELINE)
# Checked: wrk's non-2xx count and socket errors; the daemon's own
# healthsweep_hook_requests_total{code} before and after each run (accepted
# req/s = 202 answers / duration; any other code is printed); coalesced
# answers and checks started (healthsweep_reactive_coalesced_total).
# cpu-us/req = the daemon's user+system CPU during the run / requests.
# Bounded: every wrk and wait has a timeout; everything started is killed on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
rounds=${2:-3}
secs=${3:-10}
targets=${4:-1000}
script=$repo/bench/hook_post.lua
[[ -x $daemon ]] || { echo "bench_hook: no executable at $daemon" >&2; exit 2; }
. "$repo/scripts/lib/packages.sh"
ensure_packages wrk curl python3

work=$(mktemp -d /tmp/hs-bench-hook.XXXXXX)
hs_pid=""
cleanup() {
  if [[ -n $hs_pid ]]; then
    kill "$hs_pid" 2>/dev/null || true
    timeout 10 tail --pid="$hs_pid" -f /dev/null 2>/dev/null || kill -KILL "$hs_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

hs_port=$(free_port)
closed_port=$(free_port)  # bound and released: nobody listens on it
token=bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s' "$token" > "$work/token"
{
  cat <<EOF
listen: "127.0.0.1:$hs_port"
auth:
  token_file: $work/token
log:
  level: warn
targets:
  engine_label: ""
  static:
EOF
  for ((i = 0; i < targets; i++)); do
    echo "    - { id: t-$i, tcp: \"127.0.0.1:$closed_port\" }"
  done
  cat <<EOF
sweeps:
  proactive: { interval: 1h, timeout: 2s }
  reactive: { enabled: true, coalesce_window: 2s }
remediation:
  restart: { enabled: true, via: none }
liveness: { stale_after: 2h }  # must exceed the poll interval
EOF
} > "$work/healthsweep.yaml"

env -u NOTIFY_SOCKET -u WATCHDOG_USEC "$daemon" --config "$work/healthsweep.yaml" >"$work/healthsweepd.log" 2>&1 &
hs_pid=$!
base=http://127.0.0.1:$hs_port
for _ in $(seq 100); do
  curl -fs -o /dev/null --max-time 1 "$base/healthz" && break
  kill -0 "$hs_pid" 2>/dev/null || { echo "bench_hook: daemon exited:" >&2; cat "$work/healthsweepd.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs -o /dev/null --max-time 1 "$base/healthz" || { echo "bench_hook: daemon did not answer" >&2; exit 1; }

# One valid report by hand: 202 and the JSON the SPEC promises.
answer=$(curl -s --max-time 5 -w ' %{http_code}' -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"target":"t-0","error":"connect ECONNREFUSED","source":"bench"}' \
  "$base/hooks/connection-error")
[[ $answer == '{"accepted":true,"coalesced":false} 202' ]] ||
  { echo "bench_hook: unexpected answer to a valid report: $answer" >&2; exit 1; }

hz=$(getconf CLK_TCK)
cpu_ticks() {  # user+system ticks of the daemon so far
  local f; f=$(sed 's/^.*) //' "/proc/$hs_pid/stat")
  echo $(($(cut -d' ' -f12 <<<"$f") + $(cut -d' ' -f13 <<<"$f")))
}
# "code=count ..." of healthsweep_hook_requests_total, and the coalesced count.
hook_counters() {
  curl -fs --max-time 5 "$base/metrics" | awk '
    /^healthsweep_hook_requests_total\{/ { match($0, /code="[0-9]+"/); c = substr($0, RSTART + 6, RLENGTH - 7); printf "%s=%s ", c, $NF }
    /^healthsweep_reactive_coalesced_total / { co = $NF }
    END { printf "coalesced=%s\n", (co == "" ? 0 : co) }'
}

echo "# bench_hook $(date -u +%FT%TZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "# daemon=$daemon  $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)  targets=$targets (tcp to closed 127.0.0.1:$closed_port)"
echo "# command: wrk -t2 -c64 -d${secs}s --latency -s bench/hook_post.lua $base/ -- TOKEN $targets {hook|healthz}; rounds=$rounds"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %5s %10s %10s %9s %9s %11s %7s %10s %9s %8s  %s\n' \
  what round req/s accepted/s p50 p99 cpu-us/req non2xx coalesced checks other load

for r in $(seq "$rounds"); do
  for mode in hook healthz; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(hook_counters)
    c0=$(cpu_ticks)
    out=$(timeout $((secs + 30)) wrk -t2 -c64 -d"${secs}s" --latency -s "$script" "$base/" -- "$token" "$targets" "$mode")
    c1=$(cpu_ticks)
    after=$(hook_counters)
    echo "$out" >> "$work/wrk.log"
    read -r rps p50 p99 total bad dur < <(awk '
      / requests in /             { total = $1; d = $4; sub(/,$/, "", d) }
      /Requests\/sec:/            { rps = $2 }
      /^ +50%/                    { p50 = $2 }
      /^ +99%/                    { p99 = $2 }
      /Non-2xx or 3xx responses:/ { bad = $NF }
      /Socket errors:/            { bad = bad "+sockerr" }
      END { printf "%s %s %s %s %s %s\n", rps, p50, p99, total, (bad == "" ? 0 : bad), d }' <<<"$out")
    read -r accepted_s coalesced checks other < <(python3 - "$before" "$after" "$dur" "$mode" <<'PY'
import re, sys
def parse(s): return {k: float(v) for k, v in (kv.split("=") for kv in s.split())}
b, a, dur, mode = parse(sys.argv[1]), parse(sys.argv[2]), sys.argv[3], sys.argv[4]
m = re.fullmatch(r"([\d.]+)(ms|s|m)", dur)
secs = float(m.group(1)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(2)]
delta = {k: a.get(k, 0) - b.get(k, 0) for k in a}
acc = delta.get("202", 0)
other = ",".join(f"{k}:{int(v)}" for k, v in delta.items() if k not in ("202", "coalesced") and v) or "-"
co = delta.get("coalesced", 0)
print(f"{acc / secs:.0f} {int(co)} {int(acc - co)} {other}" if mode == "hook" else "- - - -")
PY
)
    cpu_us=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.1f", c / hz * 1e6 / n }')
    printf '%-8s %5s %10s %10s %9s %9s %11s %7s %10s %9s %8s  %s\n' \
      "$mode" "$r" "$rps" "$accepted_s" "$p50" "$p99" "$cpu_us" "$bad" "$coalesced" "$checks" "$other" "$load"
    echo "$mode $rps $p50 $p99 $cpu_us $bad $accepted_s" >> "$work/results"
  done
done

kill -0 "$hs_pid" 2>/dev/null || { echo "bench_hook: the daemon died during the run" >&2; exit 1; }
echo
python3 - "$work/results" <<'PY'
import statistics, sys
def ms(s):  # wrk latency text -> ms
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit): return float(s[: -len(unit)]) * f
    return float(s)
runs = {}
for line in open(sys.argv[1]):
    mode, rps, p50, p99, cpu, bad, acc = line.split()
    runs.setdefault(mode, []).append(dict(rps=float(rps), p50=ms(p50), p99=ms(p99), cpu=float(cpu),
                                          bad=bad, acc=None if acc == "-" else float(acc)))
def summary(mode):
    rs = runs[mode]
    key = "acc" if mode == "hook" else "rps"
    vals = sorted(r[key] for r in rs)
    return dict(best=vals[-1], median=statistics.median(vals),
                p99_best=min(r["p99"] for r in rs), p99_median=statistics.median(r["p99"] for r in rs),
                cpu=statistics.median(r["cpu"] for r in rs),
                clean=all(r["bad"] == "0" for r in rs))
h, z = summary("hook"), summary("healthz")
print(f"hook accepted (202) req/s: best {h['best']:,.0f}  median {h['median']:,.0f};  p99 best {h['p99_best']:.2f} ms"
      f"  median {h['p99_median']:.2f} ms;  cpu-us/req median {h['cpu']:.1f}")
print(f"healthz req/s (baseline):  best {z['best']:,.0f}  median {z['median']:,.0f};  p99 best {z['p99_best']:.2f} ms"
      f"  median {z['p99_median']:.2f} ms;  cpu-us/req median {z['cpu']:.1f}")
print(f"ratio hook/healthz: req/s best {h['best'] / z['best']:.2f}  median {h['median'] / z['median']:.2f};"
      f"  CPU per request {h['cpu'] / z['cpu']:.2f}x")
print(f"every answer 2xx: {'yes' if h['clean'] and z['clean'] else 'NO (see non2xx)'}")
print(f"target >= 40,000 accepted req/s (best round): {'met' if h['best'] >= 40000 else 'NOT met'};"
      f"  p99 < 5 ms (best round): {'met' if h['p99_best'] < 5 else 'NOT met'}"
      f"  (median round: {'met' if h['p99_median'] < 5 else 'NOT met'})")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
