#!/usr/bin/env python3
"""Makes the demo's Prometheus, Alertmanager and daemon reachable from the
host (a browser): listens on the host's 127.0.0.1 and relays each connection
to the same service on the demo namespace's loopback. Loopback on both
sides, nothing else.
  forward.py NETNS_PATH NAME=PORT...   prints "NAME=http://127.0.0.1:HOSTPORT ..."
The host port is the service's own when it is free, else one the kernel picks."""

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def listen(port):
    for p in (port, 0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            s.close()
            continue
        s.listen(64)
        return s
    raise OSError(f"no port for {port}")


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def relay_to(port):
    async def relay(client_reader, client_writer):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))
    return relay


async def main(netns, pairs):
    # The listening sockets belong to the host's namespace: made before setns.
    socks = [(name, int(port), listen(int(port))) for name, port in (p.split("=") for p in pairs)]
    fd = os.open(netns, os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)
    # From here every new socket (the relays' connections) is the namespace's.
    servers = [await asyncio.start_server(relay_to(port), sock=s) for _, port, s in socks]
    print(" ".join(f"{name}=http://127.0.0.1:{s.getsockname()[1]}" for name, _, s in socks), flush=True)
    await asyncio.gather(*(srv.serve_forever() for srv in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
