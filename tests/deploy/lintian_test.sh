#!/usr/bin/env bash
# lintian on the Debian package (cmake/packaging.cmake): every tag lintian
# reports, at any level down to info and pedantic, must be one the packaging
# explains (listed below, and named in cmake/packaging.cmake's comment).
#
# Usage: tests/deploy/lintian_test.sh SOURCE_DIR BUILD_DIR   (ctest: deploy_lintian)
# The package is built with cpack from BUILD_DIR into a temporary directory
# (or taken from HS_DEB=path/to.deb). Exit 0 clean, 1 a tag not explained,
# 77 skipped (lintian not installed; a failure under CI=true).
set -euo pipefail

src=$(cd "${1:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)

# Explained in cmake/packaging.cmake (and the README).
explained=(hardening-no-bindnow hardening-no-fortify-functions
  package-supports-alternative-init-but-no-init.d-script spelling-error-in-binary)

if ! command -v lintian >/dev/null; then
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true): lintian is not installed (scripts/test installs it)" >&2; exit 1; fi
  echo "SKIPPED LOUDLY: deploy_lintian: lintian is not installed (apt-get install lintian; scripts/test does)" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hs-lintian.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -n "${HS_DEB:-}" ]; then
  deb=$HS_DEB
else
  (cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work/cpack") >"$work/cpack.log" 2>&1 ||
    { echo "FAIL: cpack: $(tail -20 "$work/cpack.log")" >&2; exit 1; }
  deb=$(ls "$work"/cpack/healthsweepd_*_amd64.deb)
fi

rc=0
for tag in "${explained[@]}"; do
  grep -q -- "$tag" "$src/cmake/packaging.cmake" ||
    { echo "FAIL: $tag is allowed here but not explained in cmake/packaging.cmake" >&2; rc=1; }
done

# lintian refuses nothing as root but says so on stderr; its exit status is
# non-zero on errors only, so the tags are judged here.
lintian -I -E --pedantic --show-overrides "$deb" >"$work/lintian.out" 2>"$work/lintian.err" || true
if grep -vq 'running with root privileges' "$work/lintian.err"; then
  cat "$work/lintian.err" >&2
fi
cat "$work/lintian.out"
allowed=$(printf '%s\n' "${explained[@]}")
while read -r level _pkg tag _rest; do
  [ -n "${tag:-}" ] || continue
  case $level in E:|W:|I:|P:|X:|O:|N:) ;; *) continue ;; esac
  if ! grep -qxF -- "$tag" <<<"$allowed"; then
    echo "FAIL: lintian $level $tag is not explained (cmake/packaging.cmake)" >&2
    rc=1
  fi
done <"$work/lintian.out"
[ "$rc" -eq 0 ] && echo "deploy_lintian: $(grep -c . "$work/lintian.out" || true) tag(s), all explained"
exit "$rc"
