#!/usr/bin/env python3
"""A loopback HTTP server for the daemon's HTTP health-check and webhook tests.

Answers every request with the status code written in STATUS_FILE (re-read
on each request, so a test flips a target between healthy and not by
writing the file). The body of every POST is appended, one per line, to
STATUS_FILE.posts. When STATUS_FILE.delay holds a number of seconds, a POST
is answered that much later, and its body then appended to
STATUS_FILE.answered (orders in flight: a shutdown test). Prints
"listening on PORT" once bound.
Usage: status_server.py STATUS_FILE
"""
import http.server
import os
import sys
import time

STATUS_FILE = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def status(self):
        with open(STATUS_FILE) as f:
            return int(f.read().strip() or "200")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(STATUS_FILE + ".posts", "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        code = self.status()
        if os.path.exists(STATUS_FILE + ".delay"):
            with open(STATUS_FILE + ".delay") as f:
                time.sleep(float(f.read().strip() or "0"))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()
        with open(STATUS_FILE + ".answered", "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")

    def do_GET(self):
        code = self.status()
        body = b"status %d\n" % code
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# A fleet's worth of orders may arrive at once: a deep accept queue.
http.server.ThreadingHTTPServer.request_queue_size = 1024
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
