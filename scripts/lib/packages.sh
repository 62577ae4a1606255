# Debian packages by purpose, and ensure_packages, the one place that installs
# them. Sourced by scripts/setup, scripts/test, scripts/fuzz, scripts/demo and
# the benchmark drivers; each installs only what it uses.
#   . scripts/lib/packages.sh; ensure_packages "${TEST_PACKAGES[@]}"

# Building and running the daemon (scripts/setup, the README's first command).
# GoogleTest and google-benchmark are here too: they are build-time libraries
# (headers and static archives, no service, no daemon), and CMakeLists.txt
# configures one tree with the daemon, its tests and benchmarks, so build/
# stays the tree every other script (test, package, bench) reuses. python3:
# tests/CMakeLists.txt's find_package(Python3) (the lint tests) needs it at
# configure time (a fresh minbase Debian 12 has none).
BUILD_PACKAGES=(cmake ninja-build g++ pkg-config ccache python3
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libhiredis-dev libpq-dev prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev
  libsystemd-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev)

# What ctest's tests start or call (scripts/test): the services (Redis,
# PostgreSQL, Podman, Docker, Prometheus, Alertmanager), the deploy checks
# (promtool, amtool, systemd-analyze, dpkg-shlibdeps, mmdebstrap, lintian),
# the fault tests (libfaketime, iproute2 and iptables for their network
# namespaces), clang-tidy (label lint), openssl (the HTTPS probe's
# certificates) and the demo's ctest (scripts/demo --once).
TEST_PACKAGES=(redis-server postgresql podman runc busybox-static uidmap docker.io
  prometheus prometheus-alertmanager curl procps systemd openssl python3 util-linux
  dpkg-dev mmdebstrap lintian faketime libfaketime iproute2 iptables clang-tidy)

# bench/soak.sh (also the last phase of scripts/test --all): wrk drives the
# hook, matplotlib draws the plot; its own Redis, PostgreSQL and Podman.
SOAK_PACKAGES=(wrk curl python3 python3-matplotlib redis-server postgresql podman runc
  busybox-static uidmap util-linux)

# scripts/fuzz: libFuzzer, the ASan and UBSan runtimes, llvm-symbolizer-14.
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev llvm-14)

# scripts/demo: what it plays with. The container engine is added by the demo
# itself (docker.io's when present, else Podman's packages).
DEMO_PACKAGES=(redis-server busybox-static prometheus prometheus-alertmanager
  curl iproute2 procps python3)
PODMAN_PACKAGES=(podman runc uidmap)

# Installs those of NAME... that are missing (apt runs only then). Packages'
# own services (redis, postgresql, nginx, docker, prometheus) must not start:
# the tests and the demo start their own instances on their own ports, and
# the README's first command starts nothing. An existing policy-rc.d (an
# administrator's) is left as it is.
ensure_packages() {
  local p missing=() own_policy=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing ${missing[*]}" >&2
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  return $rc
}
