#!/usr/bin/env python3
"""The engine of bench/fleet.sh (issue 15): ONE Docker-style API socket that
serves two engines' worth of containers to one healthsweepd, because the
daemon on main takes one `engine:` section:

  canned   N containers made up here, in the shape of bench_proactive_sweep's
           canned engine (Docker-style list entries with the health in the
           Status text), all running and healthy, ids t-0..t-(N-1) through the
           healthsweep.target label; their inspects are answered here, so the
           hook load's reactive checks cost no Podman CPU (Pid: this process,
           whose cgroup names no container: the daemon's process watch finds
           it unwatchable once and does not ask again);
  real     every other request goes to the real engine's socket (Podman with
           the busybox containers), unchanged: the process watch's inspects,
           /events, /info, kills. GET /containers/json is the real list with
           the canned entries appended.

It counts the reactive checks per canned target (after /fleet/reset, every
inspect of a canned container is one: the sweep reads the list, the process
watch inspected each once at the start)
and, per target, how often two checks came closer than the coalesce window.

Control, for the driver (not part of any engine API):
  POST /fleet/dead/NAME   the canned NAME is exited from now on (list and inspect)
  POST /fleet/reset       forget the counts so far (fleet.sh: when the load starts)
  GET  /fleet/stats       {"inspects":..., "targets_checked":..., "ever_inspected":..., "closer_than_window":...,
                           "max_checks_in_window":..., "min_gap_ms":..., "per_target_max": ...}

  fleet_engine.py LISTEN_SOCKET UPSTREAM_SOCKET N COALESCE_WINDOW_MS COUNTED
(COUNTED: only t-0..t-(COUNTED-1), the hook load's targets, are counted)
Only the standard library (asyncio)."""
import asyncio
import json
import os
import sys
import time
from urllib.parse import unquote, urlsplit

LABEL = "healthsweep.target"


def canned_id(i):
    # bench_proactive_sweep's ids: four 16-hex-digit words from i
    return "%016x%016x%016x%016x" % (i, (i * 7919) & 0xFFFFFFFF, (i * 104729) & 0xFFFFFFFF,
                                      (i * 2654435761) & 0xFFFFFFFF)


def list_entry(i, name, running):
    cid = canned_id(i)
    return {
        "Id": cid, "Names": ["/" + name], "Image": "registry.example.com/agents/workspace:2024.11",
        "ImageID": "sha256:" + cid, "Command": "/usr/local/bin/entrypoint --serve", "Created": 1732000000 + i,
        "Ports": [], "Labels": {LABEL: name, "com.example.team": "agents",
                                "org.opencontainers.image.version": "2024.11"},
        "State": "running" if running else "exited",
        "Status": "Up 2 hours (healthy)" if running else "Exited (137) 1 second ago",
        "HostConfig": {"NetworkMode": "none"},
        "NetworkSettings": {"Networks": {"none": {"NetworkID": cid[:40], "IPAddress": "", "Gateway": "",
                                                  "MacAddress": ""}}},
        "Mounts": [{"Type": "volume", "Name": name + "-home", "Destination": "/home/agent", "RW": True}]}


def inspect_body(i, name, running):
    cid = canned_id(i)
    state = {"Status": "running" if running else "exited", "Running": running, "Paused": False,
             "Restarting": False, "OOMKilled": False, "Dead": False, "Pid": os.getpid(),
             "ExitCode": 0 if running else 137, "Error": "",
             "StartedAt": "2026-12-04T18:00:00.000000000Z",
             "FinishedAt": "0001-01-01T00:00:00Z" if running else "2026-12-04T19:00:00.000000000Z",
             "Health": {"Status": "healthy" if running else "unhealthy", "FailingStreak": 0, "Log": []}}
    return json.dumps({"Id": cid, "Name": "/" + name, "RestartCount": 0, "State": state,
                       "Config": {"Labels": {LABEL: name}}}).encode()


class Canned:
    def __init__(self, n, window_ms, counted):
        self.n, self.window, self.counted = n, window_ms / 1000.0, counted
        self.by_key = {}
        for i in range(n):
            name = f"t-{i}"
            self.by_key[name] = self.by_key[canned_id(i)] = i
        self.dead = set()
        self.last = {}  # i -> monotonic time of its last inspect
        self.recent = {}  # i -> monotonic times of inspects within the last window
        self.checks = {}
        self.closer = 0
        self.per_target_max = {}
        self.min_gap = None
        self.inspects = 0
        self.ever = set()  # every canned container inspected at least once since the start
        self.rebuild()

    def rebuild(self, only=None):
        # One entry re-serialized per death (all 10,000 at once held this
        # loop ~0.1 s, an engine stall of the bench's own making); the list
        # answer is joined when asked for, once per sweep.
        if only is None:
            self.entries = [json.dumps(list_entry(i, f"t-{i}", True)).encode() for i in range(self.n)]
        else:
            self.entries[only] = json.dumps(list_entry(only, f"t-{only}", only not in self.dead)).encode()

    def list_part(self):
        return b",".join(self.entries)

    def inspected(self, i):
        self.ever.add(i)  # not reset: fleet.sh waits for the watch's one inspect of each
        if i >= self.counted:  # the driver's hook samples, outside the hook load
            return
        now = time.monotonic()
        self.inspects += 1
        self.checks[i] = self.checks.get(i, 0) + 1
        prev = self.last.get(i)
        if prev is not None:
            gap = now - prev
            if self.min_gap is None or gap < self.min_gap:
                self.min_gap = gap
            if gap < self.window:
                self.closer += 1
        self.last[i] = now
        window = [t for t in self.recent.get(i, ()) if now - t < self.window] + [now]
        self.recent[i] = window
        if len(window) > self.per_target_max.get(i, 0):
            self.per_target_max[i] = len(window)

    def stats(self):
        hist = {}
        for v in self.per_target_max.values():
            hist[v] = hist.get(v, 0) + 1
        return {"inspects": self.inspects, "targets_checked": len(self.checks), "ever_inspected": len(self.ever),
                "closer_than_window": self.closer, "window_ms": self.window * 1000,
                "max_checks_in_window": max(self.per_target_max.values(), default=0),
                "targets_by_max_checks_in_window": {str(k): v for k, v in sorted(hist.items())},
                "min_gap_ms": None if self.min_gap is None else self.min_gap * 1000,
                "checks_per_target_max": max(self.checks.values(), default=0),
                "dead": sorted(self.dead)}


def reply(status, body=b"", ctype="application/json", close=False):
    reason = {200: "OK", 204: "No Content", 404: "Not Found", 500: "Internal Server Error"}.get(status, "OK")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nApi-Version: 1.41\r\n"
            f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n")
    return head.encode() + body


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].decode().split(" ", 2)
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return method, target, head, body


async def upstream_exchange(upstream, head, body):
    """The request to the real engine with Connection: close; the answer's
    head rewritten to close too, then relayed as it comes."""
    r, w = await asyncio.open_unix_connection(upstream)
    lines = [ln for ln in head.rstrip(b"\r\n").split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    w.write(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
    await w.drain()
    return r, w


def fix_head(head):
    lines = [ln for ln in head.rstrip(b"\r\n").split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    return b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n"


async def relay(upstream, head, body, writer):
    r, w = await upstream_exchange(upstream, head, body)
    try:
        answer_head = await r.readuntil(b"\r\n\r\n")
        writer.write(fix_head(answer_head))
        while True:
            chunk = await r.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    finally:
        w.close()


async def upstream_list(upstream, head):
    r, w = await upstream_exchange(upstream, head, b"")
    try:
        data = await r.read()
    finally:
        w.close()
    answer_head, _, rest = data.partition(b"\r\n\r\n")
    if b"chunked" in answer_head.lower():  # de-chunk
        out, pos = b"", 0
        while True:
            eol = rest.index(b"\r\n", pos)
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                break
            out += rest[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
        rest = out
    status = int(answer_head.split(b" ", 2)[1])
    return status, rest


class Engine:
    def __init__(self, upstream, canned):
        self.upstream, self.canned = upstream, canned

    def canned_of(self, path):
        # /v1.41/containers/{id}/json, /containers/{id}/restart ...
        parts = path.split("/")
        if "containers" not in parts:
            return None, None
        k = parts.index("containers")
        if len(parts) < k + 3:
            return None, None
        i = self.canned.by_key.get(unquote(parts[k + 1]))
        return i, parts[k + 2]

    async def handle(self, reader, writer):
        try:
            while True:
                try:
                    method, target, head, body = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                path = urlsplit(target).path
                if path.startswith("/fleet/"):
                    writer.write(self.control(method, path))
                elif method == "GET" and path.endswith("/containers/json"):
                    status, real = await upstream_list(self.upstream, head)
                    if status != 200:
                        writer.write(reply(status, real))
                    else:
                        inner = real.strip()[1:-1].strip()
                        merged = b"[" + self.canned.list_part() + (b"," + inner if inner else b"") + b"]"
                        writer.write(reply(200, merged))
                else:
                    i, op = self.canned_of(path)
                    if i is None:
                        await relay(self.upstream, head, body, writer)
                        return  # the relayed answer said Connection: close
                    name = f"t-{i}"
                    if op == "json" and method == "GET":
                        self.canned.inspected(i)
                        writer.write(reply(200, inspect_body(i, name, i not in self.canned.dead)))
                    elif method == "POST" and op in ("restart", "start"):
                        if i in self.canned.dead:
                            self.canned.dead.discard(i)
                            self.canned.rebuild(i)
                        writer.write(reply(204))
                    elif method == "POST":
                        writer.write(reply(204))
                    else:
                        writer.write(reply(404, b'{"message":"not canned"}'))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def control(self, method, path):
        if method == "POST" and path.startswith("/fleet/dead/"):
            i = self.canned.by_key.get(path.rsplit("/", 1)[1])
            if i is None:
                return reply(404)
            self.canned.dead.add(i)
            self.canned.rebuild(i)
            return reply(200, b"{}")
        if method == "POST" and path == "/fleet/reset":
            c = self.canned
            c.last, c.recent, c.checks, c.per_target_max = {}, {}, {}, {}
            c.closer, c.min_gap, c.inspects = 0, None, 0
            return reply(200, b"{}")
        if path == "/fleet/stats":
            return reply(200, json.dumps(self.canned.stats()).encode())
        return reply(404)


async def main():
    listen, upstream, n, window_ms, counted = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    engine = Engine(upstream, Canned(n, window_ms, counted))
    if os.path.exists(listen):
        os.unlink(listen)
    server = await asyncio.start_unix_server(engine.handle, listen, limit=1 << 20)
    os.chmod(listen, 0o660)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
