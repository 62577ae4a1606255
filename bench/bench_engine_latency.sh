#!/usr/bin/env bash
# Detection latency against a real Podman API service:
#   issue 6: hook received -> verdict for a dead container   (bench_reactive_latency)
#   issue 8: kill -> offline, events only vs the process watch (bench_event_latency)
#
#   bench/bench_engine_latency.sh [BUILD_DIR [N [SPACING_MS [WHICH]]]]
#     BUILD_DIR   holds healthsweepd and bench/bench_reactive_latency,
#                 bench/bench_event_latency (default build/ of the repo root)
#     N           containers per benchmark, default 50
#     SPACING_MS  time between two kills in the events benchmark, default 300
#     WHICH       reactive | events | both (default both)
#
# Starts a Podman API service of its own exactly as scripts/services does
# (same flags, same busybox image built from /bin/busybox), but in a
# temporary directory of its own with its own --root/--runroot, so it shares
# nothing with the test suite's service. Creates N containers hsr-0.. without
# a label (static targets of the reactive benchmark) and N containers hse-0..
# labelled healthsweep.target=e-i (the events benchmark), all --network none
# running `sleep 100000`. On exit, however it exits: every container removed,
# the API service stopped (by its pid), the directory deleted.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$repo/build}")
n=${2:-50}
spacing=${3:-300}
which=${4:-both}
for b in healthsweepd bench/bench_reactive_latency bench/bench_event_latency; do
  [[ -x $build/$b ]] || { echo "bench_engine_latency: no $build/$b (build it first)" >&2; exit 2; }
done
command -v podman >/dev/null || { echo "bench_engine_latency: podman missing" >&2; exit 2; }

dir=$(mktemp -d /tmp/hs-bench-engine.XXXXXX)
chmod 755 "$dir"
P=(podman --runtime runc --cgroup-manager cgroupfs --root "$dir/podman/root" --runroot "$dir/podman/run"
   --tmpdir "$dir/podman/tmp" --events-backend file)
export CONTAINERS_CONF="$dir/containers.conf"
service_pid=""
driver_pid=""
cleanup() {
  set +e
  # A driver stopped early leaves its daemon behind: stop both by pid.
  [[ -n $driver_pid ]] && kill "$driver_pid" 2>/dev/null
  for f in "$dir"/work/*.log.pid; do [[ -s $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  "${P[@]}" rm -af -t 0 >/dev/null 2>&1
  if [[ -n $service_pid ]]; then
    kill "$service_pid" 2>/dev/null
    timeout 10 tail --pid="$service_pid" -f /dev/null 2>/dev/null || kill -KILL "$service_pid" 2>/dev/null
  fi
  "${P[@]}" system prune -f >/dev/null 2>&1
  # A conmon of ours that survived (a container that could not be removed):
  # by the pid it wrote under this run's directory.
  find "$dir/podman/run" -name conmon.pid 2>/dev/null | while read -r f; do kill -KILL "$(cat "$f")" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the Podman API service, as scripts/services start_podman -------------------
mkdir -p "$dir/podman/tmp" "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/work"
printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"
cp /bin/busybox "$dir/rootfs/bin/"
for c in sh sleep echo cat test touch rm kill true false; do ln -sf busybox "$dir/rootfs/bin/$c"; done
tar -C "$dir/rootfs" -cf "$dir/bb.tar" .
"${P[@]}" import -q "$dir/bb.tar" localhost/hs-bench:latest >/dev/null
sock=$dir/engine.sock
setsid "${P[@]}" system service --time=0 "unix://$sock" >"$dir/podman/service.log" 2>&1 </dev/null &
service_pid=$!
for _ in $(seq 100); do
  curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --unix-socket "$sock" http://d/_ping >/dev/null || { echo "bench_engine_latency: podman API did not answer" >&2; exit 1; }

echo "# bench_engine_latency $(date -u +%FT%TZ)  nproc=$(nproc)  $(podman --version)  N=$n spacing=${spacing}ms"
echo "# load before creating containers: $(cut -d' ' -f1-3 /proc/loadavg)"
create() {  # PREFIX [TARGET_PREFIX]: N running containers PREFIX0..; labelled
            # healthsweep.target=TARGET_PREFIXi when TARGET_PREFIX is given
  local prefix=$1 target=${2:-} names=() label=()
  for ((i = 0; i < n; i++)); do
    label=()
    [[ -n $target ]] && label=(--label "healthsweep.target=$target$i")
    "${P[@]}" create -q --network none --name "$prefix$i" "${label[@]}" localhost/hs-bench:latest sleep 100000 >/dev/null
    names+=("$prefix$i")
  done
  "${P[@]}" start "${names[@]}" >/dev/null
}

# Runs a driver in the background so that a signal to this script stops it
# at once (the trap runs when `wait` is interrupted).
run_driver() {
  timeout 600 "$@" &
  driver_pid=$!
  local status=0
  wait "$driver_pid" || status=$?
  driver_pid=""
  return "$status"
}

rc=0
if [[ $which == reactive || $which == both ]]; then
  create hsr-
  echo "## issue 6: hook received -> verdict for a dead container"
  echo "# command: $build/bench/bench_reactive_latency $build/healthsweepd ENGINE_SOCKET WORKDIR hsr- $n"
  run_driver "$build/bench/bench_reactive_latency" "$build/healthsweepd" "$sock" "$dir/work" hsr- "$n" || rc=1
  "${P[@]}" rm -af -t 0 >/dev/null 2>&1
fi
if [[ $which == events || $which == both ]]; then
  create hse- e-
  echo "## issue 8: kill -> offline: events only, then with the process watch"
  echo "# command: $build/bench/bench_event_latency $build/healthsweepd ENGINE_SOCKET WORKDIR hse- $n $spacing"
  run_driver "$build/bench/bench_event_latency" "$build/healthsweepd" "$sock" "$dir/work" hse- "$n" "$spacing" || rc=1
fi
[[ $rc == 0 ]] || { echo "bench_engine_latency: a driver failed; logs:" >&2; tail -n 30 "$dir"/work/*.log >&2; }
exit $rc
