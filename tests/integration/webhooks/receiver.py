"""A real webhook receiver on loopback, verifying every request with `standardwebhooks`.

Each path is one endpoint with its own secret and scripted answers; the receiver can be
stopped (connection refused) and started again on the same port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: dict | None  # None: the signature did not verify
    status: int


@dataclass
class Endpoint:
    secret: str | None = None
    # Answer for the n-th request (0-based) to this path: status, or (status, headers).
    answer: Callable[[int], int | tuple[int, dict[str, str]]] = lambda n: 200
    seen: int = 0


@dataclass
class Receiver:
    port: int = 0
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def endpoint(self, path: str, **kwargs) -> Endpoint:
        self.endpoints[path] = Endpoint(**kwargs)
        return self.endpoints[path]

    def verified(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.payload is not None and path in (None, r.path)]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    endpoint = receiver.endpoints.setdefault(self.path, Endpoint())
                    n, endpoint.seen = endpoint.seen, endpoint.seen + 1
                payload = None
                if endpoint.secret:
                    try:
                        payload = Webhook(endpoint.secret).verify(body, headers)
                    except WebhookVerificationError:
                        payload = None
                answer = endpoint.answer(n) if payload is not None else 401
                status, extra = answer if isinstance(answer, tuple) else (answer, {})
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.path, headers.get("webhook-id", ""), headers, body, payload, status
                        )
                    )
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                reply = json.dumps({"ok": 200 <= status < 300}).encode()
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.request_queue_size = 256
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
