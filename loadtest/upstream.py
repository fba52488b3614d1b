#!/usr/bin/env python3
"""A slow content service for herd.sh: answers every GET after DELAY_MS with a ~6 KiB
fragment (Cache-Control: public, max-age=300), on 127.0.0.1:PORT, one thread per
connection; GET /_count answers at once with how many fragments it was asked for.

  upstream.py PORT DELAY_MS
"""

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global COUNT
        if self.path == "/_count":
            with LOCK:
                body = str(COUNT).encode()
        else:
            with LOCK:
                COUNT += 1
            time.sleep(DELAY)
            body = ('<div class="inpage">' + "<p>feature tile</p>" * 300 + "</div>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "public, max-age=300")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    DELAY = int(sys.argv[2]) / 1000.0
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
