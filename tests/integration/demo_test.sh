#!/usr/bin/env bash
# ctest demo_once (label integration): runs `scripts/demo --once` with this
# build's daemon and checks its timeline: each of the five steps is there,
# seen by the layer that must see it and answered by the action it calls
# for (the `=> ...` summary lines the demo builds from the daemon's log,
# /metrics and Alertmanager's API), and nothing it started is left: the
# network namespace, the temporary directory.
#
# Usage: tests/integration/demo_test.sh SOURCE_DIR BUILD_DIR
# Exit 0 pass, 1 fail, 77 skipped loudly (not root; a failure under CI=true).
set -uo pipefail
src=$(cd "${1:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)

if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true): the demo needs root (a network namespace)" >&2; exit 1; fi
  echo "SKIPPED LOUDLY: demo_once: the demo needs root (a network namespace, a private engine)" >&2
  exit 77
fi

out=$(mktemp "${TMPDIR:-/tmp}/hs-demo-test.XXXXXX")
trap 'rm -f "$out"' EXIT
HS_DEMO_DAEMON="$build/healthsweepd" "$src/scripts/demo" --once >"$out" 2>&1
rc=$?
cat "$out"
fail=0
[ $rc = 0 ] || { echo "FAIL: scripts/demo --once exited $rc"; fail=1; }

# One pattern per step: the step, the layer that saw it, what the daemon did.
expect=(
  '=> kill: seen by proactive .*did: restart done; now online'
  '=> freeze: seen by passive .*after the TTL deadline; did: restart done; now online'
  '=> hook: seen by reactive .*did: restart done; now online'
  '=> fail-safe: 8 offline seen by proactive; FAIL-SAFE ACTIVE .*did: restart suppressed x[1-8], restarted 0; Alertmanager: HealthsweepFailSafeActive active'
  '=> fail-safe cleared .*the daemon restarted the 6 it held \(restart done x6\); 8 of 8 online'
  '=> crash loop: seen by proactive; did: restart x3 .*then quarantined'
  '=> reset: (healthsweepctl|curl) reset; now online'
)
for pattern in "${expect[@]}"; do
  grep -Eq -- "$pattern" "$out" || { echo "FAIL: no timeline line matching: $pattern"; fail=1; }
done

ns=$(sed -n 's/^demo: namespace \(hs-demo-[0-9]*\) .*/\1/p' "$out")
dir=$(sed -n 's/^demo: namespace .*, directory \(.*\)$/\1/p' "$out")
[ -n "$ns" ] || { echo "FAIL: the demo did not name its namespace"; fail=1; }
if [ -n "$ns" ] && ip netns list | grep -qw "$ns"; then echo "FAIL: namespace $ns left behind"; fail=1; fi
if [ -n "$dir" ] && [ -e "$dir" ]; then echo "FAIL: directory $dir left behind"; fail=1; fi
[ $fail = 0 ] && echo "demo_once: every step of the timeline, nothing left behind"
exit $fail
