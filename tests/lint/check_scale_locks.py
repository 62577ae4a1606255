#!/usr/bin/env python3
"""Each named test exists and holds RESOURCE_LOCK engine_scale.

tests/CMakeLists.txt sets the lock by the tests' full ctest names, which
gtest_discover_tests makes (the parameter appended); ctest ignores properties
set on a name it does not know, so a renamed test would silently run beside
the other engine-scale test again. Usage: check_scale_locks.py CTEST BUILD NAME...
"""
import json
import subprocess
import sys

ctest, build, names = sys.argv[1], sys.argv[2], sys.argv[3:]
listing = json.loads(subprocess.run([ctest, "--test-dir", build, "--show-only=json-v1"],
                                    check=True, capture_output=True, text=True).stdout)
locks = {t["name"]: next((p["value"] for p in t.get("properties", []) if p["name"] == "RESOURCE_LOCK"), [])
         for t in listing["tests"]}
bad = [n for n in names if "engine_scale" not in locks.get(n, [])]
for n in bad:
    print(f"{n!r}: {'no such test' if n not in locks else 'no RESOURCE_LOCK engine_scale'}")
sys.exit(1 if bad else 0)
