"""A stand-in for mcpd: a real HTTP server on 127.0.0.1 that plays back canned answers.

Every CLI command is tested against the real mcpd (tests/integration/cli).
This stand-in serves only the HTTP client's tests (test_client.py), for
answers a real mcpd cannot be made to give on demand:

- 429 and 503 with `Retry-After`, over and over (mcpd never rate-limits, and
  answers 503 only when its database or secret backend is down), to test
  the retries, their backoff and the total deadline;
- a 500, a 400, an answer that is not JSON, a 422 whose issues are
  malformed (mcpd answers none of these);
- an answer slower than the client's timeout;
- what the request carried (mcpd does not record the User-Agent).

Each request gets the next answer of `script` (a 500 when none is left) and
is recorded in `requests`, so that a test can count the attempts.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PROBLEM = "https://mcpctl.dev/problems/"


@dataclass
class Canned:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (to provoke the client's timeout).
    delay: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeMcpd:
    """The stand-in's state: the answers still to give, the requests received."""

    script: list[Canned] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    #: Exceptions raised while serving (a client hanging up early, say).
    errors: list[BaseException] = field(default_factory=list)

    def answer(self, req: Request) -> Canned:
        self.requests.append(req)
        if self.script:
            return self.script.pop(0)
        return problem(500, "internal", "the stand-in has no answer left for this request")


def problem(status: int, slug: str, detail: str, **extra: Any) -> Canned:
    body = {"type": PROBLEM + slug, "title": slug, "status": status, "detail": detail, **extra}
    return Canned(status, body, {"Content-Type": "application/problem+json"})


def _handler(state: FakeMcpd) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            req = Request(self.command, path, json.loads(raw) if raw else None, headers)
            canned = state.answer(req)
            if canned.delay:
                time.sleep(canned.delay)
            data = b"" if canned.body is None else json.dumps(canned.body).encode()
            if isinstance(canned.body, str):
                data = canned.body.encode()
            self.send_response(canned.status)
            headers_out = {"Content-Type": "application/json", **canned.headers}
            for name, value in headers_out.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    errors: list[BaseException]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep a failure for the test to see; printing it would land in the test's output."""
        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)


@contextmanager
def serve(state: FakeMcpd | None = None) -> Iterator[FakeMcpd]:
    """Run the stand-in on a free port of 127.0.0.1 until the block ends."""
    state = state or FakeMcpd()
    server = _Server(("127.0.0.1", 0), _handler(state))
    server.errors = state.errors
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
