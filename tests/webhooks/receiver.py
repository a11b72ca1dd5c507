#!/usr/bin/env python3
"""A webhook receiver for orgd's tests.

Every delivery is verified with the `standardwebhooks` package from PyPI, an implementation of
the Standard Webhooks scheme independent of orgd's. Listens on a free loopback port and prints
it on its first line.

  POST /hooks/NAME          a delivery for the endpoint NAME: verified, recorded, answered 204
                            (or 500 while NAME is set to fail)
  POST /_config/NAME        {"secrets": [...], "fail": N}: the secrets NAME's deliveries are
                            checked against (in order), and how many next deliveries to fail
  GET  /_received           every delivery so far: name, webhook-id, the event's id and type,
                            which secret verified it (null: none did), what was answered, the
                            number of signatures, and when it arrived (ms since the epoch)
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

lock = threading.Lock()
secrets = {}
failing = {}
received = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, obj=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        if data:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_received":
            with lock:
                return self.answer(200, list(received))
        self.answer(404, {"error": "no such path"})

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = self.path.strip("/").split("/")
        if len(parts) != 2:
            return self.answer(404, {"error": "no such path"})
        kind, name = parts
        if kind == "_config":
            config = json.loads(data)
            with lock:
                if "secrets" in config:
                    secrets[name] = list(config["secrets"])
                if "fail" in config:
                    failing[name] = int(config["fail"])
            return self.answer(200, {})
        if kind != "hooks":
            return self.answer(404, {"error": "no such path"})
        arrived = int(time.time() * 1000)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            candidates = list(secrets.get(name, []))
        verified_with = None
        for i, secret in enumerate(candidates):
            try:
                Webhook(secret).verify(data, headers)
                verified_with = i
                break
            except Exception:
                pass
        try:
            event = json.loads(data)
        except ValueError:
            event = {}
        with lock:
            fail = failing.get(name, 0) > 0
            if fail:
                failing[name] -= 1
            received.append({
                "name": name,
                "webhook_id": headers.get("webhook-id"),
                "id": event.get("id"),
                "type": event.get("type"),
                "organization_id": event.get("organization_id"),
                "verified_with": verified_with,
                "answered": 500 if fail else 204,
                "signatures": len(headers.get("webhook-signature", "").split()),
                "arrived_ms": arrived,
            })
        if fail:
            return self.answer(500, {"error": "failing on purpose"})
        self.answer(204)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
