#!/usr/bin/env bash
# Start-to-READY=1 and idle RSS of healthsweepd (issue 3, "Performance").
#
#   bench/bench_startup.sh [DAEMON [RUNS]]
#     DAEMON  default build/healthsweepd of the repo root
#     RUNS    launches per round, default 20
#   env CONFIG=path   config to copy (default config/healthsweep.yaml); only
#                     its `listen` line is changed, to a free 127.0.0.1 port
#   env IDLE=2        seconds of idle before VmRSS is read
#
# Per launch: spawn with NOTIFY_SOCKET = a unix datagram socket of our own,
# time spawn -> READY=1, sleep IDLE, read VmRSS/VmHWM from /proc/PID/status,
# SIGTERM, time SIGTERM -> exit and check the exit status is 0. Baseline in the
# same run: spawn -> exit of /bin/true through the same spawning code, so the
# ratio shows what the daemon costs over a bare fork+exec. Targets: READY
# under 100 ms, idle RSS under 15 MiB.
# Bounded: each wait has a timeout; everything started is killed on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
daemon=$(realpath "${1:-$repo/build/healthsweepd}")
runs=${2:-20}
config_src=${CONFIG:-$repo/config/healthsweep.yaml}
idle=${IDLE:-2}
[[ -x $daemon ]] || { echo "bench_startup: no executable at $daemon" >&2; exit 2; }
[[ -r $config_src ]] || { echo "bench_startup: no config at $config_src" >&2; exit 2; }

work=$(mktemp -d /tmp/hs-bench-startup.XXXXXX)
driver=""
# The driver kills its own daemon on errors; this covers us being killed too.
cleanup() {
  [[ -n $driver ]] && kill "$driver" 2>/dev/null
  [[ -s $work/daemon.pid ]] && kill -KILL "$(cat "$work/daemon.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: bind port 0, read it back, release it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -E "s|^listen:.*|listen: \"127.0.0.1:$port\"|" "$config_src" > "$work/healthsweep.yaml"
grep -q "^listen: \"127.0.0.1:$port\"" "$work/healthsweep.yaml" ||
  { echo "bench_startup: could not set listen in the copy of $config_src" >&2; exit 2; }

echo "# bench_startup $(date -u +%FT%TZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "# daemon=$daemon runs=$runs idle=${idle}s config=$config_src (listen 127.0.0.1:$port)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"

timeout 600 python3 - "$daemon" "$work/healthsweep.yaml" "$runs" "$idle" "$work" <<'PY' &
import os, signal, socket, statistics, subprocess, sys, time

daemon, config, runs, idle, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

def pct(xs, p):  # nearest-rank percentile
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]

def summary(name, xs, unit="ms"):
    print(f"{name:<30} p50 {pct(xs,50):8.2f} {unit}  p99 {pct(xs,99):8.2f} {unit}  "
          f"max {max(xs):8.2f} {unit}  min {min(xs):8.2f} {unit}")

def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} missing for {pid}")

# Baseline: the same Popen path, /bin/true to exit. For information also
# `healthsweepd --version` to exit: the dynamic loading and static
# initialisation of the binary and its libraries, before any config or socket.
def spawn_to_exit(argv):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        subprocess.Popen(argv, stdout=subprocess.DEVNULL).wait()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out
true_ms = spawn_to_exit(["/bin/true"])
version_ms = spawn_to_exit([daemon, "--version"])

sock_path = os.path.join(work, "notify.sock")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(sock_path)
env = dict(os.environ, NOTIFY_SOCKET=sock_path)
env.pop("WATCHDOG_USEC", None)

def wait_message(word, deadline_s):
    """Next datagram containing the line `word`; the time it arrived."""
    notify.settimeout(deadline_s)
    while True:
        data = notify.recv(4096)
        now = time.perf_counter_ns()
        if word in data.decode(errors="replace").split("\n"):
            return now

ready_ms, stop_ms, rss_kib, hwm_kib, anon_kib = [], [], [], [], []
log = open(os.path.join(work, "daemon.log"), "ab")
for i in range(runs):
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen([daemon, "--config", config], env=env, stdout=log, stderr=log)
    with open(os.path.join(work, "daemon.pid"), "w") as f:  # for the shell's trap
        f.write(str(proc.pid))
    try:
        try:
            t_ready = wait_message("READY=1", 10)
        except socket.timeout:
            sys.exit(f"run {i}: no READY=1 within 10 s (log: see daemon.log)")
        ready_ms.append((t_ready - t0) / 1e6)
        time.sleep(idle)
        rss_kib.append(status_kib(proc.pid, "VmRSS"))
        hwm_kib.append(status_kib(proc.pid, "VmHWM"))
        anon_kib.append(status_kib(proc.pid, "RssAnon"))  # the rest is mapped files
        t1 = time.perf_counter_ns()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
        stop_ms.append((time.perf_counter_ns() - t1) / 1e6)
        if rc != 0:
            sys.exit(f"run {i}: exit status {rc} after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.unlink(os.path.join(work, "daemon.pid"))

summary("/bin/true spawn->exit", true_ms)
summary("healthsweepd --version ->exit", version_ms)
summary("healthsweepd spawn->READY=1", ready_ms)
summary("healthsweepd SIGTERM->exit", stop_ms)
print(f"{'idle VmRSS after %gs' % idle:<30} median {statistics.median(rss_kib)/1024:6.2f} MiB  "
      f"max {max(rss_kib)/1024:6.2f} MiB   (VmHWM max {max(hwm_kib)/1024:6.2f} MiB, "
      f"RssAnon median {statistics.median(anon_kib)/1024:.2f} MiB)")
ratio = statistics.median(ready_ms) / statistics.median(true_ms)
print(f"ratio READY p50 / true p50   {ratio:.1f}x")
ok_ready, ok_rss = pct(ready_ms, 99) < 100, max(rss_kib) < 15 * 1024
print(f"target READY < 100 ms (p99): {'met' if ok_ready else 'NOT met'};  "
      f"idle RSS < 15 MiB (max): {'met' if ok_rss else 'NOT met'}")
PY
driver=$!
wait "$driver"
driver=""
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
