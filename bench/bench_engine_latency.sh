#!/usr/bin/env bash
# Detection latency against a real container engine:
#   issue 6: hook received -> verdict for a dead container   (bench_reactive_latency)
#   issue 8: kill -> offline, events only vs the process watch (bench_event_latency)
#
#   bench/bench_engine_latency.sh [BUILD_DIR [N [SPACING_MS [WHICH [ENGINE]]]]]
#     BUILD_DIR   holds healthsweepd and bench/bench_reactive_latency,
#                 bench/bench_event_latency (default build/ of the repo root)
#     N           containers per benchmark, default 50
#     SPACING_MS  time between two kills in the events benchmark, default 300
#     WHICH       reactive | events | both (default both)
#     ENGINE      podman | docker (default podman)
#
# podman: starts a Podman API service of its own exactly as scripts/services
# does (same flags, same busybox image built from /bin/busybox), but in a
# temporary directory of its own with its own --root/--runroot, so it shares
# nothing with the test suite's service.
# docker: starts a private Docker Engine (dockerd of the docker.io package)
# exactly as scripts/services does (--bridge=none, no iptables, vfs, data-
# and exec-root in the temporary directory), the same busybox image imported.
# Creates N containers hsr-0.. without a label (static targets of the
# reactive benchmark) and N containers hse-0.. labelled
# healthsweep.target=e-i (the events benchmark), all --network none running
# `sleep 100000`. On exit, however it exits: every container removed, the
# engine stopped (by its pid; dockerd's containerd waited for), the directory
# deleted.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$repo/build}")
n=${2:-50}
spacing=${3:-300}
which=${4:-both}
engine=${5:-podman}
for b in healthsweepd bench/bench_reactive_latency bench/bench_event_latency; do
  [[ -x $build/$b ]] || { echo "bench_engine_latency: no $build/$b (build it first)" >&2; exit 2; }
done
. "$repo/scripts/lib/packages.sh"
case $engine in
  podman) ensure_packages "${PODMAN_PACKAGES[@]}" busybox-static curl ;;
  docker) ensure_packages docker.io busybox-static curl ;;
  *) echo "bench_engine_latency: ENGINE is podman or docker, not $engine" >&2; exit 2 ;;
esac

dir=$(mktemp -d /tmp/hs-bench-engine.XXXXXX)
chmod 755 "$dir"
if [[ $engine == podman ]]; then
  P=(podman --runtime runc --cgroup-manager cgroupfs --root "$dir/podman/root" --runroot "$dir/podman/run"
     --tmpdir "$dir/podman/tmp" --events-backend file)
  image=localhost/hs-bench:latest
  run_flags=(--network none)
else
  # The Debian package's client (another docker earlier in PATH may be newer).
  P=(/usr/bin/docker -H "unix://$dir/docker.sock")
  image=hs-bench:latest
  run_flags=(--network none --pull never)
fi
export CONTAINERS_CONF="$dir/containers.conf"
service_pid=""
driver_pid=""
# Running, an orphan's zombie not counted.
running() { local s; s=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null); [[ -n $s && $s != Z ]]; }
cleanup() {
  set +e
  # A driver stopped early leaves its daemon behind: stop both by pid.
  [[ -n $driver_pid ]] && kill "$driver_pid" 2>/dev/null
  for f in "$dir"/work/*.log.pid; do [[ -s $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  if [[ $engine == podman ]]; then
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1
    if [[ -n $service_pid ]]; then
      kill "$service_pid" 2>/dev/null
      timeout 10 tail --pid="$service_pid" -f /dev/null 2>/dev/null || kill -KILL "$service_pid" 2>/dev/null
    fi
    "${P[@]}" system prune -f >/dev/null 2>&1
    # A conmon of ours that survived (a container that could not be removed):
    # by the pid it wrote under this run's directory.
    find "$dir/podman/run" -name conmon.pid 2>/dev/null | while read -r f; do kill -KILL "$(cat "$f")" 2>/dev/null; done
  else
    local ids cpid
    ids=$("${P[@]}" ps -aq 2>/dev/null)
    [[ -n $ids ]] && "${P[@]}" rm -f $ids >/dev/null 2>&1
    cpid=$(cat "$dir/x/containerd/containerd.pid" 2>/dev/null)
    if [[ -n $service_pid ]]; then
      kill "$service_pid" 2>/dev/null
      for _ in $(seq 150); do running "$service_pid" || { [[ -n $cpid ]] && running "$cpid"; } || break; sleep 0.1; done
      for p in $service_pid $cpid; do running "$p" && kill -KILL "$p"; done
    fi
    # shims of containers that could not be removed ([.]: not grep itself)
    for p in $(grep -l -s -- "$dir/x/containerd/containerd[.]sock" /proc/[0-9]*/cmdline | cut -d/ -f3); do
      kill -KILL "$p" 2>/dev/null
    done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/work"
cp /bin/busybox "$dir/rootfs/bin/"
for c in sh sleep echo cat test touch rm kill true false; do ln -sf busybox "$dir/rootfs/bin/$c"; done
tar -C "$dir/rootfs" -cf "$dir/bb.tar" .
if [[ $engine == podman ]]; then
# --- the Podman API service, as scripts/services start_podman -------------------
  # --- the Podman API service, as scripts/services start_podman -----------------
  mkdir -p "$dir/podman/tmp"
  printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"
  "${P[@]}" import -q "$dir/bb.tar" "$image" >/dev/null
  sock=$dir/engine.sock
  setsid "${P[@]}" system service --time=0 "unix://$sock" >"$dir/podman/service.log" 2>&1 </dev/null &
  service_pid=$!
  version=$(podman --version)
else
  # --- the Docker Engine, as scripts/services start_docker --------------------
  sock=$dir/docker.sock
  setsid dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/x" --pidfile "$dir/docker.pid" \
    --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs >"$dir/dockerd.log" 2>&1 </dev/null &
  service_pid=$!
  version="dockerd $(dockerd --version)"
fi
for _ in $(seq 300); do
  curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --unix-socket "$sock" http://d/_ping >/dev/null || { echo "bench_engine_latency: $engine API did not answer" >&2; exit 1; }
[[ $engine == docker ]] && "${P[@]}" import "$dir/bb.tar" "$image" >/dev/null

echo "# bench_engine_latency $(date -u +%FT%TZ)  nproc=$(nproc)  engine=$engine ($version)  N=$n spacing=${spacing}ms"
echo "# load before creating containers: $(cut -d' ' -f1-3 /proc/loadavg)"
create() {  # PREFIX [TARGET_PREFIX]: N running containers PREFIX0..; labelled
            # healthsweep.target=TARGET_PREFIXi when TARGET_PREFIX is given
  local prefix=$1 target=${2:-} names=() label=()
  for ((i = 0; i < n; i++)); do
    label=()
    [[ -n $target ]] && label=(--label "healthsweep.target=$target$i")
    "${P[@]}" create "${run_flags[@]}" --name "$prefix$i" "${label[@]}" "$image" sleep 100000 >/dev/null
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
  if [[ $engine == podman ]]; then "${P[@]}" rm -af -t 0 >/dev/null 2>&1
  else "${P[@]}" rm -f $("${P[@]}" ps -aq) >/dev/null 2>&1; fi
fi
if [[ $which == events || $which == both ]]; then
  create hse- e-
  echo "## issue 8: kill -> offline: events only, then with the process watch"
  echo "# command: $build/bench/bench_event_latency $build/healthsweepd ENGINE_SOCKET WORKDIR hse- $n $spacing"
  run_driver "$build/bench/bench_event_latency" "$build/healthsweepd" "$sock" "$dir/work" hse- "$n" "$spacing" || rc=1
fi
[[ $rc == 0 ]] || { echo "bench_engine_latency: a driver failed; logs:" >&2; tail -n 30 "$dir"/work/*.log >&2; }
exit $rc
