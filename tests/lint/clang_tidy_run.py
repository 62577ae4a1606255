#!/usr/bin/env python3
"""Runs clang-tidy over translation units, JOBS at a time, and remembers each
file's result under a key of everything clang-tidy reads for it.

Usage: clang_tidy_run.py SRC BUILD TIDY JOBS HEADER_FILTER FILE...
Prints every clang-tidy's output, file by file in the order given, then one
summary line. Exit 0 when every clang-tidy ran to its end (status 0-125: 1
is a finding, judged by the caller from the diagnostics), 2 when one was
killed or could not run (its output is printed).

Why a cache: clang-tidy costs ~9 s of CPU per file here (its matchers walk
every node Asio and Beast instantiate), 15 minutes of CPU for the tree, the
largest single item of the CI budget (tests/RELIABILITY.md). Its result is a
function of its inputs, so a file whose inputs did not change since a run on
this machine is not analysed again. The key holds:
  - the clang-tidy binary's version line,
  - every .clang-tidy file from the file's folder up to SRC,
  - the header filter and the file's compile command,
  - the file preprocessed by clang (the same version's driver, the same
    command with -E): every header it includes, as clang-tidy sees them,
with SRC and BUILD written as placeholders, so another clone of the tree
(CI's) hits what this one stored. Preprocessing takes ~0.3 s a file. The
stored output has the placeholders too, and gets this tree's paths back.
Entries live in HS_TIDY_CACHE (default ~/.cache/healthsweep/clang-tidy;
"off" turns the cache off), one small file each, and go after 30 days unused.
Without a clang++ of the same version the cache is skipped, never guessed.
"""
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

# Part of every key: change it when the clang-tidy command line in one() or
# what an entry holds changes, so that no entry of the old form is used.
SCHEMA = "healthsweep-clang-tidy-cache 1"
UNUSED_DAYS = 30


def normalize(text, src, build):
    return text.replace(build, "@BUILD@").replace(src, "@SRC@")


def restore(text, src, build):
    return text.replace("@BUILD@", build).replace("@SRC@", src)


def compile_args(entry):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a != "-c" and a != entry["file"]:
            out.append(a)
    return out


def tidy_configs(path, src):
    d, found = os.path.dirname(path), []
    while True:
        cfg = os.path.join(d, ".clang-tidy")
        if os.path.isfile(cfg):
            with open(cfg, "rb") as f:
                found.append(hashlib.sha256(f.read()).hexdigest())
        if d == src or len(d) <= len(src):
            return found
        d = os.path.dirname(d)


class Runner:
    def __init__(self, src, build, tidy, header_filter):
        self.src, self.build, self.tidy, self.header_filter = src, build, tidy, header_filter
        self.entries = {}
        with open(os.path.join(build, "compile_commands.json")) as f:
            for e in json.load(f):
                self.entries.setdefault(e["file"], e)
        version = subprocess.run([tidy, "--version"], capture_output=True, text=True).stdout
        self.version = version.strip()
        self.cache = self.cache_dir()
        self.clangxx = self.find_clangxx(version) if self.cache else None

    @staticmethod
    def cache_dir():
        configured = os.environ.get("HS_TIDY_CACHE")
        if configured == "off":
            return None
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = configured or os.path.join(base, "healthsweep", "clang-tidy")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            return None
        return path

    @staticmethod
    def find_clangxx(tidy_version):
        m = re.search(r"version (\d+)\.", tidy_version)
        if not m:
            return None
        for name in ("clang++-" + m.group(1), "clang++"):
            exe = shutil.which(name)
            if exe:
                v = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
                if ("version " + m.group(1) + ".") in v:
                    return exe
        return None

    def key(self, path):
        """The file's cache key, or None when it cannot be made."""
        entry = self.entries.get(path)
        if not entry or not self.clangxx:
            return None
        args = compile_args(entry)
        pre = subprocess.run([self.clangxx, *args, "-E", path], cwd=entry["directory"],
                             capture_output=True)
        if pre.returncode != 0:
            return None
        h = hashlib.sha256()
        for part in (SCHEMA, self.version, *tidy_configs(path, self.src),
                     normalize(self.header_filter, self.src, self.build),
                     normalize("\0".join(args), self.src, self.build),
                     normalize(os.path.relpath(path, self.src), self.src, self.build)):
            h.update(part.encode())
            h.update(b"\0")
        h.update(normalize(pre.stdout.decode("utf-8", "surrogateescape"), self.src, self.build)
                 .encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    def lookup(self, key):
        if not key:
            return None
        entry = os.path.join(self.cache, key)
        try:
            with open(entry) as f:
                stored = json.load(f)
            os.utime(entry)
        except (OSError, ValueError):
            return None
        return stored["status"], restore(stored["output"], self.src, self.build)

    def store(self, key, status, output):
        # A cache that cannot be written (a full disk, a read-only home) costs
        # the next run its time, never this run its verdict.
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=".tmp-")
            with os.fdopen(fd, "w") as f:
                json.dump({"status": status, "output": normalize(output, self.src, self.build)}, f)
            os.replace(tmp, os.path.join(self.cache, key))
        except OSError as e:
            print(f"clang-tidy cache: not stored ({e})", file=sys.stderr)
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def one(self, path):
        """(status, output, from_cache, cpu_seconds) for one file."""
        key = self.key(path) if self.cache else None
        hit = self.lookup(key)
        if hit:
            return hit[0], hit[1], True, 0.0
        proc = subprocess.Popen([self.tidy, "--quiet", "-p", self.build,
                                 "--header-filter=" + self.header_filter, path],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.read().decode("utf-8", "replace")
        proc.stdout.close()
        # wait4: this clang-tidy's own CPU time (os.times' children total is
        # shared by the pool's threads). Popen is told the status, so it
        # never waits for the pid again.
        _, wait_status, usage = os.wait4(proc.pid, 0)
        status = proc.returncode = os.waitstatus_to_exitcode(wait_status)
        # Only a clang-tidy that ran to its end is remembered (0 clean, 1 a finding).
        if key and status in (0, 1):
            self.store(key, status, output)
        return status, output, False, usage.ru_utime + usage.ru_stime

    def prune(self):
        limit = time.time() - UNUSED_DAYS * 86400
        try:
            names = os.listdir(self.cache)
        except OSError:
            return
        for name in names:
            p = os.path.join(self.cache, name)
            try:
                if os.path.getmtime(p) < limit:
                    os.unlink(p)
            except OSError:
                pass


def main(argv):
    if len(argv) < 7:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    src, build = os.path.realpath(argv[1]), os.path.realpath(argv[2])
    tidy, jobs, header_filter, files = argv[3], int(argv[4]), argv[5], argv[6:]
    runner = Runner(src, build, tidy, header_filter)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(runner.one, files))
    crashed = 0
    for path, (status, output, _, _) in zip(files, results):
        sys.stdout.write(output)
        if not 0 <= status <= 125:
            crashed += 1
            print(f"clang-tidy on {path} ended with status {status} (killed or not runnable)")
    if runner.cache:
        runner.prune()
    hits = sum(1 for r in results if r[2])
    cpu = sum(r[3] for r in results)
    where = (f"cache {runner.cache}" if runner.clangxx else
             "no cache (HS_TIDY_CACHE=off)" if not runner.cache else
             "no cache (no clang++ of clang-tidy's version to preprocess with)")
    print(f"clang-tidy: {len(files)} files, {hits} unchanged since an earlier run (from the cache), "
          f"{len(files) - hits} analysed ({cpu:.0f} s of CPU); {where}", file=sys.stderr)
    return 2 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
