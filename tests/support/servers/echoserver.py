"""The proxy benchmark's upstream: an echo tool on the `mcp` SDK's `MCPServer`, that counts
what it receives.

A standalone script (it imports nothing of mcpctl's, so mcpd, a peer proxy in a venv of
its own, or the benchmark itself can run it as a child):

    python echoserver.py [--transport stdio|streamable-http] [--port P]
                         [--tools N] [--counts DIR]

Tools: `echo` (its text back) and, with `--tools N`, N - 1 more (`tool_0001`, ...,
each with a one-string schema and a short description) so that a project's
`tools/list` has N entries. The benchmark judges how many upstream requests a proxy
sends per call it proxies, so every message reaching the server is counted by method
(a middleware wraps every inbound request and notification, `initialize` included) and
the counts are read without asking the server through the proxy being measured: with
`--counts DIR`, the server writes `DIR/<pid>.json` at start and again at each SIGUSR1,
`{"pid", "dumps", "requests": {method: n}, "notifications": {method: n}}`, written
whole (to a temporary name, then renamed), `dumps` counting the writes so that a
reader knows its signal was served; and a last time when it ends (its stdin closed, or
SIGTERM), so that the counts of an upstream a peer started for one session and ended
are not lost. It writes one line to stderr at start (its log)
and binds 127.0.0.1 only.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations.
import argparse
import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", default="stdio", choices=["stdio", "streamable-http"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--tools", type=int, default=1, help="tools in all, echo included")
    parser.add_argument("--counts", type=Path, help="where to write the counts at SIGUSR1")
    args = parser.parse_args(argv)
    if args.tools < 1:
        parser.error(f"--tools must be at least 1, not {args.tools}")
    print(f"echoserver starting (pid {os.getpid()}, {args.transport})", file=sys.stderr)
    sys.stderr.flush()

    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from mcp.server.mcpserver import MCPServer

    requests: Counter[str] = Counter()
    notifications: Counter[str] = Counter()
    dumps = 0

    async def counting(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        (notifications if ctx.request_id is None else requests)[ctx.method] += 1
        return await call_next(ctx)

    def dump() -> None:
        nonlocal dumps
        if args.counts is None:
            return
        dumps += 1
        pid = os.getpid()
        body = {
            "pid": pid,
            "dumps": dumps,
            "requests": dict(requests),
            "notifications": dict(notifications),
        }
        partial = args.counts / f".{pid}.json.part"
        partial.write_text(json.dumps(body))
        partial.rename(args.counts / f"{pid}.json")

    # WARNING: no log line per request (uvicorn logs each at INFO); the figures are serving
    server = MCPServer("echoserver", middleware=[counting], log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text."""
        return text

    def other(text: str) -> str:
        return text

    for n in range(1, args.tools):
        server.add_tool(
            other, name=f"tool_{n:04d}", description=f"Tool {n} of the benchmark's wide server."
        )

    def end(code: int) -> None:
        dump()
        os._exit(code)  # a signal's end: nothing of the server's is worth a clean stop

    async def serve() -> None:
        # the loop's own handlers: the signal wakes the loop, whichever thread it reached
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, dump)
        # a proxy that ends its upstream (a session's end) must not take the counts along
        loop.add_signal_handler(signal.SIGTERM, end, 128 + signal.SIGTERM)
        dump()
        try:
            if args.transport == "stdio":
                await server.run_stdio_async()
            else:
                await server.run_streamable_http_async(host="127.0.0.1", port=args.port)
        finally:
            dump()  # stdin closed: the last counts of a server that a session started

    asyncio.run(serve())


if __name__ == "__main__":
    main()
