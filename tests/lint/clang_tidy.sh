#!/usr/bin/env bash
# clang-tidy (Debian's; the checks are in .clang-tidy: bugprone-* and
# clang-analyzer-*, every finding an error) over the product code: the
# translation units of config/ metrics/ clients/ sweeps/ store/ ctl/ daemon/ in
# BUILD_DIR/compile_commands.json, and the headers of those directories they
# include. Not clients/boost_impl.cpp: it only compiles Asio's and Beast's own
# sources once (separate compilation), nothing of ours is in it.
#
# Usage: tests/lint/clang_tidy.sh SOURCE_DIR BUILD_DIR   (ctest: lint_clang_tidy)
# HS_LINT_JOBS (default 2) files at a time; HS_LINT_ONLY=REGEX only the
# files whose path matches (by hand, e.g. HS_LINT_ONLY=store/); HS_TIDY_CACHE
# where unchanged files' results are kept ("off": none; clang_tidy_run.py).
# Exit 0 clean, 1 a finding (or a
# file clang-tidy cannot parse), 77 skipped (no clang-tidy; a failure under
# CI=true).
set -euo pipefail
src=$(cd "${1:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: $0 SOURCE_DIR BUILD_DIR}" && pwd)
jobs=${HS_LINT_JOBS:-2}

tidy=$(command -v clang-tidy || true)
if [ -z "$tidy" ]; then
  echo "SKIPPED LOUDLY: clang-tidy is not installed (Debian package clang-tidy)"
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS)"; exit 1; }

dirs='config|metrics|clients|sweeps|store|ctl|cluster|daemon'
files=$(python3 - "$src" "$build" "$dirs" <<'PY'
import json, re, sys
src, build, dirs = sys.argv[1:4]
keep = re.compile("^" + re.escape(src) + "/(" + dirs + ")/")
skip = {src + "/clients/boost_impl.cpp"}
seen = []
for entry in json.load(open(build + "/compile_commands.json")):
    f = entry["file"]
    if keep.search(f) and f not in skip and f not in seen:
        seen.append(f)
print("\n".join(seen))
PY
)
[ -z "${HS_LINT_ONLY:-}" ] || files=$(echo "$files" | grep -E -- "$HS_LINT_ONLY" || true)
[ -n "$files" ] || { echo "no product files in $build/compile_commands.json"; exit 1; }
echo "clang-tidy $("$tidy" --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1): $(echo "$files" | wc -l) files, $jobs at a time"

out=$(mktemp); trap 'rm -f "$out"' EXIT
# One clang-tidy per file, JOBS at a time, each file's result remembered
# under a key of everything clang-tidy reads for it (clang_tidy_run.py says
# what and why; HS_TIDY_CACHE=off analyses every file). --quiet drops the
# "N warnings generated" lines. Its summary line goes to stderr, straight out.
mapfile -t file_list <<<"$files"
status=0
python3 "$src/tests/lint/clang_tidy_run.py" "$src" "$build" "$tidy" "$jobs" "^$src/($dirs)/" "${file_list[@]}" >"$out" || status=$?
if [ $status -ne 0 ]; then
  cat "$out"; echo "clang-tidy crashed or could not run (status $status)"; exit 1
fi

# The verdict is read from the diagnostics, not from clang-tidy's status, for
# one narrow exception: clang-analyzer-* findings whose location is inside
# Asio's coroutine frame machinery (boost/asio/impl/awaitable.hpp,
# use_awaitable.hpp, co_spawn.hpp). The analyzer of clang 14 does not model
# C++20 coroutine frames: it follows `co_await async_initiate(...,
# use_awaitable)` into awaitable_frame_base::after_suspend and reports the
# frame's resume_context_, set by the frame when it is resumed, as an
# undefined pointer (core.NullDereference, core.CallAndMessage). Such a
# finding is printed as ignored; any other warning or error fails, a file
# clang-tidy cannot parse (clang-diagnostic-error) included.
asio_frame='/boost/asio/impl/(awaitable|use_awaitable|co_spawn)\.hpp:[0-9]+:[0-9]+: (warning|error): .*\[clang-analyzer-'
diag=': (warning|error): |^Error while processing'
failed=0 ignored=0
while IFS= read -r line; do
  if [[ $line =~ $asio_frame ]]; then
    ignored=$((ignored + 1)); echo "ignored (Asio coroutine frame, see tests/lint/clang_tidy.sh): $line"
  elif [[ $line =~ $diag ]]; then
    failed=$((failed + 1)); echo "$line"
  else
    # notes and source excerpts of the finding above
    case $line in *" warnings generated."|"Suppressed "*|"Use -header-filter="*) ;; *) echo "$line" ;; esac
  fi
done <"$out"
if [ $failed -ne 0 ]; then
  echo "clang-tidy: $failed finding(s) ($ignored ignored): fix them, or disable a check in .clang-tidy with its reason"
  exit 1
fi
echo "clang-tidy: clean ($ignored analyzer finding(s) inside Asio's coroutine frame ignored)"
