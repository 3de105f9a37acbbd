"""The project's own MCP test server, on the `mcp` SDK's `MCPServer`.

A standalone script (it imports nothing of mcpctl's, so it runs in a container
image and as a child of mcpd alike):

    python testserver.py [--transport stdio|sse|streamable-http] [--port P]
                         [--exit-at-once CODE] [--never-answer] [--name NAME]

Tools: `echo` (its text back), `add`, `sleep` (seconds, then "slept"), `crash`
(the process exits with a code at once), `whoami` (the server's name and pid),
`has_env` (whether a variable is set, never its value: the tests of secrets
resolved into the environment check its hash, `env_sha256`), `hold` (answers once a
file is gone: a health check that hangs while a test holds the file). For the MCP
channel's tests: `progress` (reports `steps` progress notifications, then
answers), `header_sha256` (the hash of an HTTP request header the client sent),
`tools_changed` (tells the client its tool list changed, in either era),
`list_roots` and `ping_client` (the server asks the client, and says what it
answered; legacy era only, the modern one has no server-to-client requests),
`routed` (an argument marked `x-mcp-header`, and the header it came with).
Modes for the
runtime's failure tests: `--exit-at-once` exits before serving (a crash loop),
`--never-answer` reads requests and answers none (a probe times out). It writes a
line to stderr at start (its log) and binds 127.0.0.1 only.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, and
# `Context` is imported inside `main` (after `--exit-at-once`, which must not pay for it).
import argparse
import asyncio
import hashlib
import os
import sys
import warnings
from typing import Annotated


def _never_answer() -> None:
    """Read stdin until it closes, answering nothing (or, over HTTP, hold every request)."""
    for _ in sys.stdin.buffer:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", default="stdio", choices=["stdio", "sse", "streamable-http"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--exit-at-once", type=int, default=None, metavar="CODE")
    parser.add_argument("--never-answer", action="store_true")
    parser.add_argument("--name", default=os.environ.get("TESTSERVER_NAME", "testserver"))
    args = parser.parse_args(argv)

    print(f"testserver {args.name} starting (pid {os.getpid()}, {args.transport})", file=sys.stderr)
    sys.stderr.flush()
    if args.exit_at_once is not None:
        print(f"testserver exits at once with {args.exit_at_once}", file=sys.stderr)
        sys.exit(args.exit_at_once)
    if args.never_answer and args.transport == "stdio":
        _never_answer()
        return

    from mcp.server.mcpserver import Context, MCPServer
    from mcp.shared.exceptions import MCPError
    from pydantic import Field

    # list_roots is deprecated by 2026-07-28 (SEP-2577); this server asks for it on purpose.
    warnings.simplefilter("ignore", DeprecationWarning)
    server = MCPServer(args.name, instructions="The mcpctl test server.")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return "slept"

    @server.tool()
    async def hold(path: str) -> str:
        """Answer once the file at `path` is gone (at once if there is none)."""
        while os.path.exists(path):
            await asyncio.sleep(0.05)
        return "released"

    @server.tool()
    def crash(code: int = 1) -> str:
        """Exit the process at once with `code`."""
        print(f"testserver crashes with {code}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(code)

    @server.tool()
    def whoami() -> str:
        """The server's name and process id."""
        return f"{args.name} {os.getpid()}"

    @server.tool()
    def has_env(name: str) -> bool:
        """Whether the environment variable is set (never its value)."""
        return name in os.environ

    @server.tool()
    def env_sha256(name: str) -> str:
        """The SHA-256 of an environment variable's value ("" if unset)."""
        value = os.environ.get(name)
        return "" if value is None else hashlib.sha256(value.encode()).hexdigest()

    @server.tool()
    async def progress(steps: int, ctx: Context) -> str:
        """Report `steps` progress notifications, then answer."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        return f"{steps} steps"

    @server.tool()
    def header_sha256(name: str, ctx: Context) -> str:
        """The SHA-256 of an HTTP request header's value ("" if absent or not over HTTP)."""
        value = (ctx.headers or {}).get(name.lower())
        return "" if value is None else hashlib.sha256(value.encode()).hexdigest()

    @server.tool()
    def routed(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], ctx: Context
    ) -> str:
        """The region argument, and the `Mcp-Param-Region` header it came with (modern HTTP
        clients mirror it there; the SDK's server refuses a call whose two disagree)."""
        return f"{region} {(ctx.headers or {}).get('mcp-param-region', '-')}"

    @server.tool()
    async def tools_changed(ctx: Context) -> str:
        """Tell the client the tool list changed (a listen stream's event in the modern
        era, a notification on the session in the legacy one)."""
        await ctx.notify_tools_changed()
        if ctx.protocol_version != "2026-07-28":
            await ctx.session.send_tool_list_changed()
        return "told"

    @server.tool()
    async def list_roots(ctx: Context) -> str:
        """Ask the client for its roots; their URIs, or the error it answered."""
        try:
            roots = await ctx.session.list_roots()
        except MCPError as e:
            return f"error {e.code}: {e.error.message}"
        return " ".join(str(root.uri) for root in roots.roots)

    @server.tool()
    async def ping_client(ctx: Context) -> str:
        """Ping the client; "pong" if it answered."""
        await ctx.session.send_ping()
        return "pong"

    @server.prompt()
    def greet(who: str) -> str:
        """A greeting."""
        return f"Hello, {who}!"

    @server.resource("test://static")
    def static() -> str:
        """A fixed text."""
        return "static text"

    if args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "sse":
        asyncio.run(server.run_sse_async(host=args.host, port=args.port))
    else:
        asyncio.run(server.run_streamable_http_async(host=args.host, port=args.port))


if __name__ == "__main__":
    main()
