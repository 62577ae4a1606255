#!/usr/bin/env bash
# The clang-tidy result cache (tests/lint/clang_tidy_run.py), with the real
# clang-tidy on a two-file tree of its own: a file is analysed once, then
# taken from the cache; a change in a header it includes, in .clang-tidy or
# in its compile command makes it analysed again; a finding comes back from
# the cache with the paths of the tree that asked (a clone elsewhere hits
# what another stored); HS_TIDY_CACHE=off analyses every time.
# Usage: tests/lint/tidy_cache_test.sh SOURCE_DIR (ctest: lint_tidy_cache).
# Exit 77: no clang-tidy or no clang++ of its version (a failure under CI=true).
set -euo pipefail
repo=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)
runner=$repo/tests/lint/clang_tidy_run.py
tidy=$(command -v clang-tidy || true)
major= clangxx=
if [ -n "$tidy" ]; then
  major=$("$tidy" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -1)
  clangxx=$(command -v "clang++-$major" || true)
fi
if [ -z "$tidy" ] || [ -z "$clangxx" ]; then
  echo "SKIPPED LOUDLY: needs clang-tidy and clang++ of its version (Debian clang-tidy, clang)"
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi

work=$(mktemp -d /tmp/hs-tidy-cache.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HS_TIDY_CACHE=$work/cache
failures=0
check() {  # NAME EXPECTED_REGEX TEXT
  if grep -Eq -- "$2" <<<"$3"; then echo "ok    $1"
  else echo "FAIL  $1: expected /$2/ in:"; sed 's/^/      /' <<<"$3"; failures=$((failures + 1)); fi
}

make_tree() {  # DIR: src/lib/{a.cpp,a.hpp}, src/.clang-tidy, build/compile_commands.json
  local d=$1
  mkdir -p "$d/src/lib" "$d/build"
  printf 'Checks: "-*,bugprone-integer-division"\nWarningsAsErrors: "*"\n' > "$d/src/.clang-tidy"
  printf '#pragma once\ninline double ratio(int a, int b) { return double(a) / b; }\n' > "$d/src/lib/a.hpp"
  printf '#include "lib/a.hpp"\ndouble half(int a) { return ratio(a, 2); }\n' > "$d/src/lib/a.cpp"
  printf '[{"directory": "%s", "file": "%s", "command": "%s -std=c++20 -I%s -o a.o -c %s"}]\n' \
    "$d/build" "$d/src/lib/a.cpp" "$clangxx" "$d/src" "$d/src/lib/a.cpp" > "$d/build/compile_commands.json"
}
run() {  # DIR: the runner's stdout and summary line together
  python3 "$runner" "$1/src" "$1/build" "$tidy" 1 "^$1/src/lib/" "$1/src/lib/a.cpp" 2>&1
}

make_tree "$work/one"
check "first run: analysed" "0 unchanged .*1 analysed" "$(run "$work/one")"
check "second run: from the cache" "1 unchanged .*0 analysed" "$(run "$work/one")"

printf '#pragma once\ninline double ratio(int a, int b) { return a / b * 1.0; }\n' > "$work/one/src/lib/a.hpp"
out=$(run "$work/one")
check "a changed header: analysed again" "0 unchanged .*1 analysed" "$out"
check "  and its finding reported" "^$work/one/src/lib/a.hpp:2:.*bugprone-integer-division" "$out"
out=$(run "$work/one")
check "the finding again: from the cache" "1 unchanged .*0 analysed" "$out"
check "  and still reported" "^$work/one/src/lib/a.hpp:2:.*bugprone-integer-division" "$out"

cp -a "$work/one" "$work/two"
sed -i "s#$work/one#$work/two#g" "$work/two/build/compile_commands.json"
out=$(run "$work/two")
check "a clone elsewhere: from the cache" "1 unchanged .*0 analysed" "$out"
check "  with the clone's own paths" "^$work/two/src/lib/a.hpp:2:.*bugprone-integer-division" "$out"

printf 'Checks: "-*,bugprone-use-after-move"\nWarningsAsErrors: "*"\n' > "$work/one/src/.clang-tidy"
out=$(run "$work/one")
check "a changed .clang-tidy: analysed again" "0 unchanged .*1 analysed" "$out"
check "  and clean under its checks" "^clang-tidy: 1 files" "$(head -1 <<<"$out")"

sed -i 's#-std=c++20#-std=c++20 -DHS_SOMETHING=1#' "$work/two/build/compile_commands.json"
check "a changed compile command: analysed again" "0 unchanged .*1 analysed" "$(run "$work/two")"

check "HS_TIDY_CACHE=off: analysed every time" "0 unchanged .*1 analysed.*no cache" "$(HS_TIDY_CACHE=off run "$work/two")"

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
