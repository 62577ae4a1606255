#!/usr/bin/env bash
# Arming the process watch for N new real containers (issue 15: 1,000 in
# <= 5 s). Makes N busybox containers (--network none, a label of their own)
# on the Podman of scripts/services, runs build/bench/bench_process_arming
# against them (workers 1 = one inspect after another, the baseline, then the
# daemon's 4, alternating, same run), and removes every container it made,
# whatever happens.
#   set -a; . /tmp/DIR.env; set +a   # scripts/services start DIR > /tmp/DIR.env
#   bench/bench_process_arming.sh [N=1000] [WORKERS...=1 4 1 4]
set -uo pipefail
n=${1:-1000}; shift || true
workers=("$@"); [ ${#workers[@]} -gt 0 ] || workers=(1 4 1 4)
: "${HS_TEST_PODMAN:?source the scripts/services env first}" "${HS_TEST_ENGINE_SOCKET:?}" "${HS_TEST_IMAGE:?}"
build=${BUILD:-build}
label="hs-arm-$$"
P=$HS_TEST_PODMAN
cleanup() {
  # Only the containers this run made (by its label); at most 8 removals at once.
  $P ps -aq --filter "label=$label" | xargs -r -n 50 -P 4 $P rm -f -t 0 >/dev/null 2>&1
  echo "removed; left with label $label: $($P ps -aq --filter "label=$label" | wc -l)" >&2
}
trap cleanup EXIT INT TERM
start=$(date +%s)
seq 1 "$n" | xargs -P 4 -I{} $P run -d --network none --label "$label={}" --name "$label-{}" \
  "$HS_TEST_IMAGE" sleep 3600 >/dev/null
running=$($P ps -q --filter "label=$label" | wc -l)
echo "made $running running containers in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$running" -eq "$n" ] || { echo "expected $n running" >&2; exit 1; }
"$build/bench/bench_process_arming" "$HS_TEST_ENGINE_SOCKET" "$label" "$n" "${workers[@]}"
