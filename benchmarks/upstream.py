"""Benchmark the MCP channel (`mcpctl.upstream`) against the `mcp` SDK's own `Client`.

One server (the project's test server, `tests/support/servers/testserver.py`, over
stdio) and one connection to it; N concurrent callers (1, 16, 64 by default) each make
`tools/call echo` calls one after the other until the round's calls are done. The
channel forwards pre-encoded request bytes (`Channel.forward`, the proxy's path); the
SDK's `Client` makes the same calls with `call_tool`. Each (client, N) round starts a
fresh server, warms up, then measures (best of `--repeats` rounds, the two clients'
rounds interleaved: the machine is shared, and a busy moment should not decide):

- calls/s: wall throughput (on this machine the server, a Python process doing a
  pydantic round per call, is usually what bounds it);
- client CPU per call: this process's CPU time (`time.process_time`) over the round,
  divided by its calls: the channel (or the SDK client) plus the callers' own loop;
- server CPU per call: the server process's CPU time from /proc, for scale.

The ratios compare the channel with the SDK's client at each N (throughput: higher is
better for the channel; client CPU: lower is better).

Run from the repository root:

    .venv/bin/python benchmarks/upstream.py [--calls 3000] [--callers 1,16,64] [--repeats 3]
                                            [--era auto|legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.support.mcpservers import project_server_command  # noqa: E402
from tests.support.stdiopipe import running_child  # noqa: E402

from mcpctl.upstream import ChannelSettings, open_channel  # noqa: E402

WARMUP = 200


@dataclass(frozen=True)
class Round:
    client: str
    callers: int
    calls: int
    wall: float
    client_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def client_us(self) -> float:
        return self.client_cpu / self.calls * 1e6

    @property
    def server_us(self) -> float:
        return self.server_cpu / self.calls * 1e6


def best_of(a: Round, b: Round) -> Round:
    """The better round: the higher throughput, with the lower CPU per call of either."""
    fast = a if a.rate >= b.rate else b
    return Round(
        fast.client,
        fast.callers,
        fast.calls,
        fast.wall,
        min(a.client_cpu, b.client_cpu),
        min(a.server_cpu, b.server_cpu),
    )


def process_cpu(pid: int) -> float:
    """A process's user + system CPU seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def drive(call: Callable[[int], Awaitable[None]], callers: int, calls: int) -> None:
    """`calls` calls, shared by `callers` concurrent callers, each one after the other."""
    counter = iter(range(calls))

    async def caller() -> None:
        for n in counter:
            await call(n)

    await asyncio.gather(*(caller() for _ in range(callers)))


async def measure(
    client: str, callers: int, calls: int, server_pid: int, call: Callable[[int], Awaitable[None]]
) -> Round:
    await drive(call, callers, WARMUP)
    cpu, server, start = time.process_time(), process_cpu(server_pid), time.perf_counter()
    await drive(call, callers, calls)
    wall = time.perf_counter() - start
    return Round(
        client, callers, calls, wall, time.process_time() - cpu, process_cpu(server_pid) - server
    )


async def channel_round(callers: int, calls: int, era: str) -> Round:
    async with running_child(project_server_command()) as child:
        settings = ChannelSettings(
            era="legacy" if era == "legacy" else "auto", max_in_flight=max(64, callers)
        )
        channel = await open_channel("bench-0", child.pipe, settings)
        bodies = [
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": n,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": f"call {n}"}},
                }
            )
            for n in range(max(calls, WARMUP))
        ]

        async def call(n: int) -> None:
            answer = await channel.forward(bodies[n])
            if b'"error"' in answer[:40]:
                raise RuntimeError(answer.decode())

        try:
            return await measure("mcpctl channel", callers, calls, child.pid, call)
        finally:
            await channel.close()


async def sdk_round(callers: int, calls: int, era: str) -> Round:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    command = project_server_command()
    parameters = StdioServerParameters(command=command[0], args=command[1:])
    # (the test server's one start-up line goes to the SDK client's stderr)
    async with Client(
        parameters, mode="legacy" if era == "legacy" else "auto", cache=None
    ) as client:
        pid = _child_pid()

        async def call(n: int) -> None:
            result = await client.call_tool("echo", {"text": f"call {n}"})
            if result.is_error:
                raise RuntimeError(str(result))

        return await measure("mcp SDK Client", callers, calls, pid, call)


def _child_pid() -> int:
    """The SDK client's server: this process's one child running the test server."""
    mine = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if (
                stat.rsplit(")", 1)[1].split()[1] == mine
                and "testserver" in (entry / "cmdline").read_text()
            ):
                return int(entry.name)
    raise RuntimeError("the SDK client's server process was not found")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--callers", default="1,16,64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--era", choices=["auto", "legacy"], default="auto")
    args = parser.parse_args()
    counts = [int(n) for n in args.callers.split(",")]
    print(
        f"{args.calls} tools/call echo per round, test server over stdio, era {args.era}; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    print(
        f"{'client':<16} {'callers':>7} {'calls/s':>9} {'client CPU/call':>16} "
        f"{'server CPU/call':>16}"
    )
    rows: dict[tuple[str, int], Round] = {}
    for callers in counts:
        for run in [channel_round, sdk_round] * args.repeats:
            got = asyncio.run(run(callers, args.calls, args.era))
            best = rows.get((got.client, callers))
            rows[(got.client, callers)] = got if best is None else best_of(best, got)
        for client in ("mcpctl channel", "mcp SDK Client"):
            result = rows[(client, callers)]
            print(
                f"{result.client:<16} {callers:>7} {result.rate:>9.0f} "
                f"{result.client_us:>13.0f} us {result.server_us:>13.0f} us",
                flush=True,
            )
    print("\nchannel / SDK client")
    for callers in counts:
        ours, theirs = rows[("mcpctl channel", callers)], rows[("mcp SDK Client", callers)]
        print(
            f"  {callers:>3} callers: throughput x{ours.rate / theirs.rate:.2f}, "
            f"client CPU per call x{ours.client_us / theirs.client_us:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
