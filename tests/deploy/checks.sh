# Sourced by the deploy tests (check_deploy.sh, systemd_test.sh): the one
# way they run a named check and keep going.
#
# check NAME FUNCTION [ARGS...]: runs FUNCTION in a subshell with `set -e`,
# so any failing command inside fails the check; its output (kept in
# $check_out) is shown only when it fails. Every check runs; the caller
# reports ${failures[@]} at the end. Lines go through check_say, which a test
# may redefine (systemd_test.sh stamps them with the elapsed time).
failures=()
check_say() { echo "$*"; }
check() {
  local name=$1; shift
  local rc=0
  set +e
  ( set -e; "$@" ) >"$check_out" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    check_say "ok   $name"
  else
    check_say "FAIL $name"
    sed 's/^/     /' "$check_out"
    failures+=("$name")
  fi
}
fail() { echo "$*" >&2; return 1; }
