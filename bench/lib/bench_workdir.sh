# shellcheck shell=bash
# A scratch directory of a benchmark's own, and the EXIT trap that kills the
# processes the script records in `pids`, stops the services started in the
# directory (scripts/services) and removes it, on any exit.
#   . bench/lib/bench_workdir.sh; bench_workdir PREFIX    (sets dir and pids)
bench_workdir() {
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$repo/scripts/services" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
