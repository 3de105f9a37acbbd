"""The state repo over git's smart HTTP protocol: `/git/state.git` (clone, fetch, push).

git's own `upload-pack` and `receive-pack` speak the protocol (run with
`--stateless-rpc`, as `git http-backend` runs them); mcpd authenticates the
request, checks RBAC, and decides every push in the repo's pre-receive hook.
The hook is a few lines of stdlib Python that hands the ref updates to mcpd
over a private Unix socket, tagged with a one-time ticket of the HTTP
request, so the push is judged as its user:

- only `refs/heads/main`, only a fast-forward of what `main` is now;
- only files of the layout, each a valid manifest for its path, secret values
  only sealed (every issue with file and line, printed on the pusher's
  terminal as `remote: ...`);
- applied to the database in one transaction, as the pusher, with RBAC per
  object, before git stores anything: a rejected push leaves no trace.

From the hook's answer until `receive-pack` has moved the ref, mcpd holds the
replica's lock, so no other commit lands in between. Then the exporter commits
on top whatever the database holds differently (the database's version of a
conflicting object, the canonical form of a file pushed in another form),
retried when another writer holds the repo (`errors.Contention`).
A push to the repo on disk, without mcpd, is refused by the same hook.

The other replicas of a cluster fetch this replica's own repo at
`/cluster/v1/state.git` with the cluster's replication secret (fetch only; it
opens nothing else), which no replica relays to the leader.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mcpctl.access import Principal
from mcpctl.access.audit import record_audit_apart
from mcpctl.errors import Contention, Forbidden, InvalidManifest, ManifestIssue, McpctlError
from mcpctl.escaping import escape
from mcpctl.faults import fault
from mcpctl.identity import IdentityService
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.importing import GitImporter, ImportReport
from mcpctl.reconciler.mirroring import GitMirror
from mcpctl.reconciler.operations import REPLICATION_PREFIX, authorize_fetch, replica_principal
from mcpctl.reconciler.supervisor import retry_contended
from mcpctl.staterepo import REF, Author
from mcpctl.staterepo.merging import commit_at, descends_from
from mcpctl.staterepo.receiving import configure_receiving, main_target, open_with_pushed
from mcpctl.staterepo.replication import PEER_PATH

log = logging.getLogger(__name__)

PREFIX = "/git/state.git"
#: The same repo as this replica holds it, for the other replicas only (fetch, with the
#: cluster's replication secret): never relayed to the leader, so a leader taking over
#: fetches the old leader's last commits from any follower that has them.
PEER_PREFIX = PEER_PATH
ZERO = "0" * 40
#: The largest push or fetch request body accepted (packs of many manifests are small).
MAX_PACK = 256 * 1024 * 1024
#: How long one git process may take.
GIT_TIMEOUT = 300.0
_SERVICES = ("git-upload-pack", "git-receive-pack")

HOOK = """\
#!{python} -IS
# Written by mcpd at every start: mcpd decides every push to this repository.
import json, os, socket, sys

path, ticket = os.environ.get("MCPD_HOOK_SOCKET"), os.environ.get("MCPD_PUSH_TICKET")
if not path or not ticket:
    sys.stderr.write(
        "mcpd: this repository is written by mcpd only: push to its /git/state.git endpoint\\n"
    )
    sys.exit(1)
request = {{
    "ticket": ticket,
    "updates": sys.stdin.read(),
    "objects": os.environ.get("GIT_OBJECT_DIRECTORY", ""),
}}
with socket.socket(socket.AF_UNIX) as s:
    s.connect(path)
    s.sendall(json.dumps(request).encode() + b"\\n")
    s.shutdown(socket.SHUT_WR)
    reply = json.loads(b"".join(iter(lambda: s.recv(65536), b"")) or b"{{}}")
for line in reply.get("lines", ["mcpd: no answer"]):
    sys.stderr.write(line + "\\n")
sys.exit(0 if reply.get("ok") else 1)
"""


def install_hooks(repo_path: Path) -> None:
    """Write the pre-receive hook and the receive settings into the bare repo."""
    hooks = repo_path / "hooks"
    hooks.mkdir(exist_ok=True)
    for sample in hooks.glob("*.sample"):
        sample.unlink()
    hook = hooks / "pre-receive"
    tmp = hook.with_suffix(".tmp")
    tmp.write_text(HOOK.format(python=sys.executable), encoding="utf-8")
    tmp.chmod(0o700)  # git runs it as mcpd's user; nobody else needs it (the state dir is private)
    tmp.replace(hook)
    configure_receiving(repo_path)


@dataclass
class _Push:
    """One receive-pack request, as the hook sees it."""

    principal: Principal
    locked: bool = False
    old: str = ""
    new: str = ""
    report: ImportReport | None = None
    lines: list[str] = field(default_factory=list)


class GitEndpoint:
    """The `/git/state.git` routes and the hook's socket."""

    def __init__(
        self,
        repo_path: Path,
        identity: IdentityService,
        importer: GitImporter,
        replica: GitReplica,
        mirror: GitMirror | None = None,
    ) -> None:
        self.mirror = mirror
        self.repo_path = repo_path
        self.identity = identity
        self.importer = importer
        self.replica = replica
        self._pushes: dict[str, _Push] = {}
        self._dir: str | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def socket_path(self) -> str:
        assert self._dir is not None
        return os.path.join(self._dir, "hook.sock")

    async def start(self) -> None:
        await asyncio.to_thread(install_hooks, self.repo_path)
        # a short private path: Unix socket paths are limited to about 100 bytes
        self._dir = tempfile.mkdtemp(prefix="mcpd-git-")
        self._server = await asyncio.start_unix_server(self._hook_client, path=self.socket_path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/info/refs", self.info_refs, methods=["GET"]),
            Route(f"{PREFIX}/git-upload-pack", self.upload_pack, methods=["POST"]),
            Route(f"{PREFIX}/git-receive-pack", self.receive_pack, methods=["POST"]),
            Route(f"{PEER_PREFIX}/info/refs", self.peer_info_refs, methods=["GET"]),
            Route(f"{PEER_PREFIX}/git-upload-pack", self.peer_upload_pack, methods=["POST"]),
        ]

    # ---- HTTP ------------------------------------------------------------------------

    async def _principal(
        self, request: Request, *, fetch: bool, peer: bool = False
    ) -> Principal | Response:
        """The caller, or the 401/403 answer git understands (it then asks for credentials).

        Another replica fetching (`peer`, at `PEER_PREFIX`) presents the cluster's
        replication secret, which fetches there and nowhere else; people and tokens use
        `PREFIX`."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        raw: str | None = None
        if scheme.lower() == "bearer":
            raw = value.strip()
        elif scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return _text(400, "mcpd: malformed Basic credentials\n")
            raw = password or user  # the token as password (any user name), or as user
        if not raw:
            return _text(
                401,
                "mcpd: authentication required: use a token as the password\n",
                {"WWW-Authenticate": 'Basic realm="mcpd"'},
            )
        if peer or raw.startswith(REPLICATION_PREFIX):
            replica = await replica_principal(self.importer.objects.sessions, raw)
            if replica is None or not fetch or not peer:
                return _text(
                    403,
                    f"mcpd: {PEER_PREFIX} is for the cluster's replicas: they fetch there with "
                    "the replication secret, which does nothing else\n",
                )
            return replica
        try:
            principal = await self.identity.authenticate(raw)
        except McpctlError as e:
            return _text(401, f"mcpd: {e}\n", {"WWW-Authenticate": 'Basic realm="mcpd"'})
        try:
            await authorize_fetch(self.importer.objects.sessions, principal)
        except Forbidden as e:
            await self._audit_denied(principal, "fetch", str(e))
            return _text(403, f"mcpd: {e} (the state repo shows every kind it holds)\n")
        return principal

    async def _audit_denied(
        self, principal: Principal, verb: str, reason: str, *, commit: str | None = None
    ) -> None:
        """The audit entry of a refused fetch or push (in a transaction of its own)."""
        details: dict[str, Any] = {"path": PREFIX, "reason": reason}
        if commit is not None:
            details["commit"] = commit
        await record_audit_apart(
            self.importer.objects.sessions, principal, verb=verb, outcome="denied", details=details
        )

    async def info_refs(self, request: Request, *, peer: bool = False) -> Response:
        service = request.query_params.get("service")
        if service not in _SERVICES:
            return _text(
                403, "mcpd: only git's smart HTTP protocol is served (git 1.6.6 or newer)\n"
            )
        principal = await self._principal(request, fetch=service == "git-upload-pack", peer=peer)
        if isinstance(principal, Response):
            return principal
        out = await self._git(service, "--advertise-refs", body=b"")
        header = _pkt_line(f"# service={service}\n") + b"0000"
        return Response(
            header + out,
            media_type=f"application/x-{service}-advertisement",
            headers={"Cache-Control": "no-cache"},
        )

    async def peer_info_refs(self, request: Request) -> Response:
        return await self.info_refs(request, peer=True)

    async def peer_upload_pack(self, request: Request) -> Response:
        return await self.upload_pack(request, peer=True)

    async def upload_pack(self, request: Request, *, peer: bool = False) -> Response:
        principal = await self._principal(request, fetch=True, peer=peer)
        if isinstance(principal, Response):
            return principal
        body = await _body(request)
        if isinstance(body, Response):
            return body
        process = await self._spawn("git-upload-pack", env={})
        assert process.stdin is not None
        assert process.stdout is not None

        async def feed() -> None:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                process.stdin.write(body)
                await process.stdin.drain()
                process.stdin.close()

        feeder = asyncio.create_task(feed())

        async def stream() -> Any:
            assert process.stdout is not None
            try:
                while chunk := await process.stdout.read(65536):
                    yield chunk
                await feeder
            finally:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                await process.wait()

        return StreamingResponse(
            stream(),
            media_type="application/x-git-upload-pack-result",
            headers={"Cache-Control": "no-cache"},
        )

    async def receive_pack(self, request: Request) -> Response:
        principal = await self._principal(request, fetch=False)
        if isinstance(principal, Response):
            return principal
        body = await _body(request)
        if isinstance(body, Response):
            return body
        ticket = secrets.token_urlsafe(32)
        push = _Push(principal)
        self._pushes[ticket] = push
        try:
            out = await self._git(
                "git-receive-pack",
                body=body,
                env={"MCPD_HOOK_SOCKET": self.socket_path, "MCPD_PUSH_TICKET": ticket},
            )
        finally:
            del self._pushes[ticket]
            if push.locked:
                try:
                    await self._after_push(push)
                finally:
                    push.locked = False
                    self.replica.lock.release()
                self.replica.notify()  # the cluster's main moved: published by the exporter
                if self.mirror is not None:
                    self.mirror.notify()
        return Response(
            out,
            media_type="application/x-git-receive-pack-result",
            headers={"Cache-Control": "no-cache"},
        )

    async def _after_push(self, push: _Push) -> None:
        """With the lock still held: export what the database holds that the push left out.

        Retried when it meets contention (another git process writing the repo). The push
        itself has landed by then, so its answer stands if the retries run out: the
        exporter's next round commits what the database holds."""
        try:
            await retry_contended(
                "push",
                log,
                lambda: self._commit_on_top(push),
                counted=lambda: self.replica.contention.update(("push",)),
            )
        except Contention as e:
            log.warning("after the push of %s: %s; the exporter goes on", push.new[:12], e)
            self.replica.notify()

    async def _commit_on_top(self, push: _Push) -> None:
        await self.replica.catch_up_locked()
        report = push.report
        if report is None:
            return
        if report.conflicts:
            summary = (
                f"Keep mcpd's version of {len(report.conflicts)} object(s) over "
                f"{report.commit[:12]} (the database wins)\n\n"
                + "\n".join(f"- {c.message()}" for c in report.conflicts)
            )
        else:
            summary = f"Canonical form of the files pushed in {report.commit[:12]}"
        await self.replica.export_keys(report.keys, Author("mcpd", "mcpd@localhost"), summary)

    async def _spawn(self, service: str, *args: str, env: dict[str, str]) -> Any:
        return await asyncio.create_subprocess_exec(
            "git",
            # a fetch over HTTP is two requests: a commit advertised by the first may be
            # behind main by the second (a busy leader); it is still ours to send
            "-c",
            "uploadpack.allowReachableSHA1InWant=true",
            service.removeprefix("git-"),
            "--stateless-rpc",
            *args,
            str(self.repo_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(env),
        )

    async def _git(
        self, service: str, *args: str, body: bytes, env: dict[str, str] | None = None
    ) -> bytes:
        process = await self._spawn(service, *args, env=env or {})
        try:
            out, err = await asyncio.wait_for(process.communicate(body), GIT_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            log.warning(
                "git %s exited with %s: %s",
                service,
                process.returncode,
                err.decode(errors="replace").strip()[-2000:],
            )
        return bytes(out)

    # ---- the hook --------------------------------------------------------------------

    async def _hook_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            raw = await reader.read(1024 * 1024)
            request = json.loads(raw)
            push = self._pushes.get(str(request.get("ticket")))
            if push is None:
                ok, lines = False, ["mcpd: this push is not one mcpd is serving"]
            else:
                ok = await self._pre_receive(push, request)
                lines = push.lines
        except Exception:  # the hook must always get an answer
            log.exception("the pre-receive check failed")
            ok, lines = False, ["mcpd: internal error while checking the push; see mcpd's log"]
        try:
            # each line stays one line on the pusher's terminal, whatever a file name holds
            shown = [escape(line) for line in lines]
            writer.write(json.dumps({"ok": ok, "lines": shown}).encode())
            await writer.drain()
        finally:
            writer.close()

    async def _pre_receive(self, push: _Push, request: dict[str, Any]) -> bool:
        updates = [line.split() for line in str(request.get("updates", "")).splitlines() if line]
        for update in updates:
            if len(update) != 3:
                push.lines = ["mcpd: malformed ref update"]
                return False
            if update[2] != REF:
                push.lines = [
                    f"mcpd: only {REF} can be pushed, not {update[2]} "
                    "(timelines/ branches are written by mcpd)"
                ]
                return False
            if update[1] == ZERO:
                push.lines = [f"mcpd: {REF} cannot be deleted"]
                return False
        if not updates:
            push.lines = []
            return True
        old, new, _ = updates[0]
        objects = str(request.get("objects", ""))
        if not _inside(objects, self.repo_path / "objects"):
            push.lines = ["mcpd: the pushed objects are not where receive-pack puts them"]
            return False
        await self.replica.lock.acquire()
        push.locked = True
        try:
            ok = await self._check_and_import(push, old, new, objects)
        except BaseException:
            ok = False
            raise
        finally:
            if not ok:
                push.locked = False
                self.replica.lock.release()
        return ok

    async def _check_and_import(self, push: _Push, old: str, new: str, objects: str) -> bool:
        repo = open_with_pushed(self.repo_path, objects)
        current = main_target(repo)
        if current is None or current != old:
            push.lines = [
                f"mcpd: main is now {str(current)[:12]}, not {old[:12]}: "
                "fetch, rebase your commits on it, and push again"
            ]
            return False
        new_commit = commit_at(repo, new)
        if old != ZERO and not descends_from(repo, new_commit.id, old):
            push.lines = [
                "mcpd: not a fast-forward of main: fetch, rebase your commits on it, "
                "and push again (nothing is ever force-pushed)"
            ]
            return False
        base = commit_at(repo, old) if old != ZERO else None
        try:
            report = await self.importer.import_commit(
                push.principal, repo, base, new_commit, source="push", verb="push"
            )
        except InvalidManifest as e:
            push.lines = [
                f"mcpd: push rejected: {len(e.issues)} issue(s) in {new[:12]}",
                *(f"mcpd: {_issue_line(i)}" for i in e.issues),
            ]
            return False
        except Forbidden as e:
            push.lines = [f"mcpd: push rejected: {e}"]
            await self._audit_denied(push.principal, "push", str(e), commit=new)
            return False
        except McpctlError as e:
            push.lines = [f"mcpd: push rejected: {e}"]
            return False
        fault("import.after-db")
        push.old, push.new, push.report = old, new, report
        push.lines = report.lines()
        return True


def _issue_line(issue: ManifestIssue) -> str:
    if issue.file is None and issue.object_ref is not None:
        return f"{issue.object_ref} (stored in mcpd): {issue.message}" + (
            f" (field {issue.field})" if issue.field else ""
        )
    return str(issue)


def _inside(path: str, root: Path) -> bool:
    if not path:
        return False
    try:
        return Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _git_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


async def _body(request: Request) -> bytes | Response:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PACK:
            return _text(413, f"mcpd: the request is larger than {MAX_PACK} bytes\n")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_PACK)
        except zlib.error:
            return _text(400, "mcpd: the gzip request body is damaged\n")
        if inflater.unconsumed_tail:
            return _text(413, f"mcpd: the request is larger than {MAX_PACK} bytes\n")
    elif encoding not in ("", "identity"):
        return _text(415, f"mcpd: unsupported Content-Encoding {encoding!r}\n")
    return body


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=headers)
