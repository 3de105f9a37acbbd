"""A stand-in mcpd for the CLI's tests: a real HTTP server on 127.0.0.1 with a dict for a store.

It speaks the parts of docs/api.md the CLI uses (objects, apply, references,
events, login/logout) simply, so that the tests exercise the real client,
sockets included, without the real mcpd. `script` queues canned answers that
win over the routes (503s for the retry tests, a 422 with issues, ...);
`requests` records what arrived.
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
from urllib.parse import parse_qs, unquote, urlsplit

PROBLEM = "https://mcpctl.dev/problems/"
PLURALS = {
    "secretbackends": "SecretBackend",
    "secrets": "Secret",
    "llms": "Llm",
    "templates": "Template",
    "servers": "Server",
    "projects": "Project",
    "prompts": "Prompt",
    "users": "User",
    "groups": "Group",
    "serviceaccounts": "ServiceAccount",
    "rbacs": "Rbac",
    "mcptokens": "McpToken",
    "instances": "Instance",
    "events": "Event",
}
KIND_PLURAL = {kind: plural for plural, kind in PLURALS.items()}


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
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


Key = tuple[str, str | None, str]


@dataclass
class FakeMcpd:
    """State of the fake: stored objects by (plural, project, name), tokens, script, log."""

    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=lambda: {"good-token"})
    passwords: dict[str, str] = field(default_factory=lambda: {"admin": "secret"})
    script: list[Canned] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    references: dict[str, Any] = field(default_factory=lambda: {"uses": [], "usedBy": []})
    events: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    version: int = 0
    #: Exceptions raised while serving (a client hanging up early, say).
    errors: list[BaseException] = field(default_factory=list)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object as mcpd would (server metadata filled in)."""
        self.version += 1
        meta = obj.setdefault("metadata", {})
        meta.setdefault("createdAt", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = str(self.version)
        key = (KIND_PLURAL[obj["kind"]], meta.get("project"), meta["name"])
        self.objects[key] = obj
        return obj

    def answer_for_get(self, plural: str, name: str, project: str | None = None) -> Canned:
        """The answer a GET of a stored object gets (to queue ahead of a canned failure)."""
        return Canned(200, self.objects[(plural, project, name)])

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    # -- routing ------------------------------------------------------------------------

    def answer(self, req: Request) -> Canned:
        self.requests.append(req)
        if self.script:
            return self.script.pop(0)
        if req.path == "/api/v1/auth/login":
            user, password = req.body.get("username"), req.body.get("password")
            if self.passwords.get(user) != password:
                return problem(401, "unauthenticated", "wrong username or password")
            self.tokens.add(f"sess-{user}")
            return Canned(200, {"token": f"sess-{user}", "expiresAt": "2026-02-01T00:00:00Z"})
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return problem(401, "unauthenticated", "token expired or revoked")
        if req.path == "/api/v1/auth/logout":
            self.tokens.discard(token)
            return Canned(204)
        if req.path == "/api/v1/apply":
            return self.apply(req.body)
        if req.path == "/api/v1/events" and req.method == "GET":
            return Canned(200, {"apiVersion": "mcpctl/v1", "kind": "List", "items": self.events})
        parts = [unquote(p) for p in req.path.removeprefix("/api/v1/").split("/")]
        project = None
        if parts[0] == "projects" and len(parts) >= 3:
            project, parts = parts[1], parts[2:]
        return self.objects_route(req, parts, project)

    def objects_route(self, req: Request, parts: list[str], project: str | None) -> Canned:
        plural = parts[0]
        if plural not in PLURALS:
            return problem(404, "not-found", f"no route {req.path}")
        if len(parts) == 1:
            if req.method == "GET":
                items = [
                    o
                    for (p, proj, _), o in sorted(self.objects.items())
                    if p == plural
                    and proj == project
                    and _selected(o, req.query.get("labelSelector"))
                ]
                return Canned(200, {"apiVersion": "mcpctl/v1", "kind": "List", "items": items})
            if req.method == "POST":
                body = json.loads(json.dumps(req.body))
                bindings = body.pop("bindings", None)
                key = (plural, project, body["metadata"]["name"])
                if key in self.objects:
                    return problem(409, "conflict", f"{PLURALS[plural]} {key[2]!r} exists")
                stored = self.put(body)
                if plural == "mcptokens":
                    return Canned(201, {"token": "mcpctl_pat_abc", "object": stored, "b": bindings})
                return Canned(201, stored)
        name = parts[1]
        key = (plural, project, name)
        if len(parts) == 3 and parts[2] == "references":
            return Canned(200, self.references)
        if len(parts) == 3 and parts[2] == "password":
            return Canned(204)
        if key not in self.objects:
            return problem(404, "not-found", f"{PLURALS[plural]} {name!r} not found")
        if req.method == "GET":
            return Canned(200, self.objects[key])
        if req.method == "DELETE":
            del self.objects[key]
            return Canned(200, {})
        if req.method == "PUT":
            wanted = (req.body.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and wanted != self.objects[key]["metadata"]["resourceVersion"]:
                return problem(409, "conflict", "the object changed since it was read")
            return Canned(200, self.put(json.loads(json.dumps(req.body))))
        return problem(400, "bad-request", "unsupported")

    def apply(self, body: dict[str, Any]) -> Canned:
        changes = []
        unchanged = 0
        seen = set()
        for item in body["items"]:
            meta = item["metadata"]
            key = (KIND_PLURAL[item["kind"]], meta.get("project"), meta["name"])
            seen.add(key)
            change: dict[str, Any] = {"kind": item["kind"], "name": meta["name"]}
            if meta.get("project"):
                change["project"] = meta["project"]
            old = self.objects.get(key)
            if old is None:
                changes.append({**change, "action": "add", "fields": []})
            elif old.get("spec") != item.get("spec"):
                field_ = {"path": "spec", "old": old.get("spec"), "new": item.get("spec")}
                changes.append({**change, "action": "change", "fields": [field_]})
            else:
                unchanged += 1
                continue
            if not body.get("dryRun"):
                self.put(json.loads(json.dumps(item)))
        if body.get("prune"):
            for key, obj in list(self.objects.items()):
                if key not in seen and _selected(obj, body.get("selector")):
                    changes.append(
                        {"action": "remove", "kind": obj["kind"], "name": key[2], "fields": []}
                    )
                    if not body.get("dryRun"):
                        del self.objects[key]
        counts = {a: sum(c["action"] == a for c in changes) for a in ("add", "change", "remove")}
        summary = {**counts, "unchanged": unchanged}
        return Canned(200, {"changes": changes, "summary": summary, "dryRun": body.get("dryRun")})


def _selected(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def problem(status: int, slug: str, detail: str, **extra: Any) -> Canned:
    body = {"type": PROBLEM + slug, "title": slug, "status": status, "detail": detail, **extra}
    return Canned(status, body, {"Content-Type": "application/problem+json"})


def _handler(state: FakeMcpd) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = Request(self.command, url.path, query, json.loads(raw) if raw else None, headers)
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
        """Keep a failure for the test to see; printing it would land in a CliRunner's stderr."""
        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)


@contextmanager
def serve(state: FakeMcpd | None = None) -> Iterator[FakeMcpd]:
    """Run a fake mcpd on a free port of 127.0.0.1 until the block ends."""
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
