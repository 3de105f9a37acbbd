"""The logs of running instances: `GET /api/v1/instances/{name}/log` and
`GET /api/v1/servers/{name}/log`, streamed as text.

The leader's drivers hold the logs (a process's stderr in its bounded files, a
container's output), so a follower relays these routes to the leader
(`api.forwarding`). The caller needs `run logs` and `view` on the Server: a log
says what a server did. Query: `tail` (lines), `since` (a duration such as
`10m`, or an RFC 3339 time), `follow` (`true`: the lines to come, until the
instance ends or the caller goes). A Server's log merges its instances' lines,
each prefixed with `[instance] ` when it has more than one (or `instance=NAME`
picks one). What a server writes is its own: mcpd adds nothing of its own to
it, and the environment it resolved (secrets) never enters a log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mcpctl.access.policy import policy_of, require, require_run
from mcpctl.api.requests import principal_of
from mcpctl.api.services import Services
from mcpctl.errors import BackendUnavailable, InvalidInput, NotFound
from mcpctl.parameters import int_param, parse_duration, parse_timestamp
from mcpctl.reconciler.running import RuntimeReconciler

__all__ = ["instance_log", "server_log"]


#: The most lines `tail` asks for: more than any log holds, and small enough for the
#: drivers' buffers (a deque's length, the engine's count), which a larger one overflows.
MAX_TAIL = 1_000_000_000


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    if value[:1].isdigit() and ("T" in value or "-" in value[1:]):
        try:
            return parse_timestamp(value)
        except InvalidInput as e:
            raise InvalidInput(f"since: {e}") from None
    seconds = parse_duration(value, "since")
    try:
        return datetime.now(UTC) - timedelta(seconds=seconds)
    except OverflowError:  # before the year 1
        raise InvalidInput(f"since: {value!r} reaches back too far") from None


def _tail(value: str | None) -> int | None:
    if not value:
        return None
    lines = int_param(value, "tail", 0)
    if lines > MAX_TAIL:
        raise InvalidInput(f"tail must be at most {MAX_TAIL}")
    return lines


def _follow(value: str | None) -> bool:
    if value is None or value.lower() in ("false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes", ""):
        return True
    raise InvalidInput(f"follow must be true or false, not {value!r}")


async def _authorized(request: Request, services: Services, server: str) -> None:
    principal = await principal_of(request, services.identity)
    async with services.sessions() as session:
        policy = await policy_of(session, principal)
    require_run(policy, "logs")
    require(policy, "view", "servers", server)


async def instance_log(request: Request, services: Services) -> Response:
    name = request.path_params["name"]
    runtime = _runtime(services)
    tracked = runtime.tracked.get(name) if runtime is not None else None
    await _authorized(request, services, tracked.server if tracked else name)
    if tracked is None or runtime is None:
        raise NotFound(f"instance {name!r} not found (or not run by this mcpd){_none(services)}")
    query = request.query_params
    lines = runtime.logs(
        name,
        tail=_tail(query.get("tail")),
        since=_since(query.get("since")),
        follow=_follow(query.get("follow")),
    )
    return _stream(lines)


async def server_log(request: Request, services: Services) -> Response:
    server = request.path_params["name"]
    await _authorized(request, services, server)
    runtime = _runtime(services)
    query = request.query_params
    if runtime is None:
        raise NotFound(f"Server {server!r} has no instances{_none(services)}")
    names = sorted(t.name for t in runtime.tracked.values() if t.server == server)
    picked = query.get("instance")
    if picked is not None:
        if picked not in names:
            raise NotFound(f"instance {picked!r} of Server {server!r} not found")
        names = [picked]
    if not names:
        raise NotFound(f"Server {server!r} has no instances")
    tail = _tail(query.get("tail"))
    since, follow = _since(query.get("since")), _follow(query.get("follow"))
    streams = [(name, runtime.logs(name, tail=tail, since=since, follow=follow)) for name in names]
    return _stream(_merged(streams, prefix=len(names) > 1))


def _runtime(services: Services) -> RuntimeReconciler | None:
    """The runtime of this replica, which leads (None: it runs no servers, `--runtimes
    none`); 503 while it is deposed or not started yet (the client retries)."""
    runtime = services.runtime
    leadership = services.leadership
    if runtime is None and (leadership is None or not leadership.in_office()):
        raise BackendUnavailable("this replica does not lead (any more): retry")
    return runtime


def _none(services: Services) -> str:
    return "" if services.runtime is not None else ": this mcpd runs no servers (--runtimes)"


async def _merged(
    streams: list[tuple[str, AsyncIterator[bytes]]], *, prefix: bool
) -> AsyncIterator[bytes]:
    """The lines of several instances as they come, each prefixed with its instance."""
    if len(streams) == 1 and not prefix:
        async for line in streams[0][1]:
            yield line
        return
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1000)

    async def pump(name: str, lines: AsyncIterator[bytes]) -> None:
        try:
            async for line in lines:
                await queue.put(f"[{name}] ".encode() + line if prefix else line)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(name, lines)) for name, lines in streams]
    try:
        left = len(tasks)
        while left:
            item = await queue.get()
            if item is None:
                left -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _stream(lines: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(
        lines,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
