#!/usr/bin/env bash
# The store under a mass death (issue 15), bench/bench_store.cpp, against a
# PostgreSQL of its own:
#   bench/bench_store.sh [BUILD_DIR [N [OUT]]]
#     BUILD_DIR  holds bench/bench_store (default build/ of the repo root)
#     N          events, default 10000
#     OUT        also write the output there (e.g. bench/results/store-DATE-runK.txt)
# Starts PostgreSQL alone with scripts/services (HS_SERVICES=postgres, port
# HS_PG_PORT, default 55911) in a temporary directory under /var/tmp (a real
# disk: the spool files go there too, and fdatasync on tmpfs costs nothing);
# the benchmark makes and drops a database of its own. On exit, however it
# exits, PostgreSQL is stopped and the directory deleted. Bounded: about a
# minute for N=10000 on a 2-core VM.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$repo/build}")
n=${2:-10000}
out=${3:-/dev/null}
[[ -x $build/bench/bench_store ]] || { echo "bench_store: no $build/bench/bench_store (build it first)" >&2; exit 2; }

dir=$(mktemp -d /var/tmp/hs-bench-store.XXXXXX)
cleanup() { "$repo/scripts/services" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export HS_PG_PORT=${HS_PG_PORT:-55911}
eval "$(HS_SERVICES=postgres "$repo/scripts/services" start "$dir")"
[[ -n ${HS_TEST_PG_DSN:-} ]] || { echo "bench_store: PostgreSQL did not start" >&2; exit 1; }
{
  echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$repo" rev-parse --short HEAD)," \
       "nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  mkdir -p "$dir/spool"
  timeout 300 "$build/bench/bench_store" "$HS_TEST_PG_DSN" "$dir/spool" "$n"
} 2>&1 | tee "$out"
exit "${PIPESTATUS[0]}"
