#!/usr/bin/env bash
# Takeover after kill -9 (issue 14: p99 <= lease + 1 s over 20 kills). Three
# daemons (a, b, c) share 300 static targets on a PostgreSQL of the script's
# own; 20 times: kill -9 one, time until its targets are judged by the
# survivors (polling their /admin/targets), against the baseline measured in
# the same run, the time until its lease row expires as PostgreSQL sees it;
# then start it again and wait until every target is judged exactly once.
# The driver is bench/bench_takeover.py (its docstring says what it measures).
#   bench/bench_takeover.sh [DAEMON [KILLS [LEASE [RENEW [OUT]]]]]
# DAEMON defaults to build/healthsweepd of the repo root; KILLS 20; LEASE 3s,
# RENEW 1s (the integration tests' values); OUT: a copy of the output
# (default: none). Bounded: about 10 s a kill (3.5 min for 20), every wait in
# the driver has a limit. Stops every daemon and PostgreSQL on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
kills=${2:-20}
lease=${3:-3s}
renew=${4:-1s}
out=${5:--}
[[ -x $daemon ]] || { echo "bench_takeover: no $daemon (build it first)" >&2; exit 2; }

dir=$(mktemp -d /tmp/hs-bench-takeover.XXXXXX)
cleanup() {
  # The driver stops its daemons; these are the ones a killed driver left.
  if [[ -f $dir/pids ]]; then
    # (only a pid that is still one of them: a reaped one may have been reused)
    while read -r p; do
      { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$dir/" && kill -9 "$p" 2>/dev/null || true
    done < "$dir/pids"
  fi
  "$repo/scripts/services" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$repo/bench/lib/bench_postgres.sh"
bench_postgres bench_takeover "$dir" 25913
psql "$server dbname=healthsweep" -qAtc "create database takeover" >/dev/null
timeout 600 python3 "$repo/bench/bench_takeover.py" "$daemon" "$dir" "$server dbname=takeover" "$lease" "$renew" \
  "$kills" "$out"
