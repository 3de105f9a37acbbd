"""Benchmark the MCP proxy `/mcp/<project>` of mcpd against the direct paths and its peers.

Everything in one run, side by side. One upstream for all: the echo server
(`tests/support/servers/echoserver.py`, the `mcp` SDK's `MCPServer` with an `echo`
tool), over stdio unless said. The server side (a proxy and the upstream it started)
is pinned to one core (`taskset`), the load generator (this process) to the other.
Every client over HTTP is raw JSON-RPC (`tests/support/mcpload.py`: httpx, one client,
so one connection and one session, per virtual client). Each path is measured at
concurrency 1 and 16, in each protocol era it speaks (2025-11-25, "legacy": initialize
and a session; 2026-07-28, "modern": no session, `_meta` and headers on each request):

- stdio in process: this process drives the upstream's pipes with mcpctl's own MCP
  channel (`mcpctl.upstream`, the proxy's link to a stdio instance): the physical limit;
- the SDK's own HTTP server: the echo server over streamable HTTP, no proxy at all;
- mcpd: `/mcp/bench`, a Project `bench` whose Server `echo` runs the echo server
  (`command`, replicas 1), with an McpToken of the project (`POST /api/v1/mcptokens`),
  the tool namespaced `echo__echo`; until the proxy is built, mcpd answers 404 there
  and its figures fail with that message while the rest of the run goes on;
- the peers a user would pick instead, each in a venv of its own made on first run from
  PyPI under `~/.cache/mcpctl-bench/` (`--peer-cache`): `mcp-proxy` (streamable HTTP in
  front of the stdio command) and FastMCP's proxy (`fastmcp.server.create_proxy`).

Per path, era and concurrency: calls/s (`tools/call echo`), the latency's p50 and p95,
the upstream requests per call (the echo server counts every message it receives by
method and writes the counts at SIGUSR1: read at the upstream, not through the proxy),
the server side's CPU per call, and the load generator's CPU share of its core (near
100 %, the generator bounds the figure). Then, per path: a `tools/list` of a server
with 500 tools (`--tools 500`; mcpd's Project `wide` answers it from its cache) at
concurrency 1 and 16, and the RSS of the server side's front process with 1,000 idle
client sessions (legacy era: opened with the handshake, then left; a path that starts
processes per session is stopped and says so).

Targets (judged on mcpd, in each era; every figure is printed with its ratio to its
target and to each peer): >= 600 calls/s at C=1 and >= 900 at C=16; p50 at C=1 no more
than 0.7 ms above the stdio-in-process p50 of the same run and era; exactly one
upstream request per proxied call; a cached `tools/list` of 500 tools >= 500 req/s;
mcpd's RSS with 1,000 idle sessions (reported). Measured before (legacy era, C=1 / C=16):
mcp-proxy 317 / 422, FastMCP 4 about 270 / 300, the SDK's HTTP server 561 / 826, stdio
in process 984 / 1751.

Each round is bounded by a count and a time (`--calls`, `--seconds`) after a warm-up;
a busy machine lowers every figure (the load average is printed at each part).

Run from the repository root (after `python3 dev.py test` made .venv):

    .venv/bin/python benchmarks/proxy.py [--quick] [--strict] [--calls 3000]
        [--seconds 20] [--sessions 1000] [--only stdio,sdk,mcpd,mcp-proxy,fastmcp]
        [--peer-cache DIR] [--work-dir DIR]

`--quick` is a smoke run (300 calls of at most 5 s per round, 100 sessions). The exit
status is 0 unless `--strict` is given and a target is missed or unmeasured (1), or
the benchmark itself cannot run (2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

from tests.support.figures import emit, load, ms  # noqa: E402
from tests.support.mcpd import Mcpd, mcpd_command, running_mcpd  # noqa: E402
from tests.support.mcpload import (  # noqa: E402
    Counts,
    EndpointError,
    McpHttpClient,
    Round,
    Tally,
    drive,
)
from tests.support.mcpservers import HttpServer  # noqa: E402
from tests.support.postgres import free_port  # noqa: E402
from tests.support.stdiopipe import running_child  # noqa: E402

from mcpctl.upstream import ChannelSettings, Era, open_channel  # noqa: E402

ECHOSERVER = REPO_ROOT / "tests" / "support" / "servers" / "echoserver.py"
ERAS: tuple[Era, ...] = ("legacy", "modern")
CONCURRENCY = (1, 16)
WIDE_TOOLS = 500
WARMUP = 100

#: The peers, pinned: a figure compared across runs must come from the same code.
PEERS = {"mcp-proxy": "mcp-proxy==0.13.0", "fastmcp": "fastmcp==4.2.3"}
PEER_CACHE = Path.home() / ".cache" / "mcpctl-bench"
#: FastMCP's proxy in front of a stdio command, run by the FastMCP venv's Python.
FASTMCP_PROXY = """
import sys
from fastmcp.server import create_proxy
proxy = create_proxy({"mcpServers": {"echo": {"command": sys.argv[2], "args": sys.argv[3:]}}},
                     name="bench")
proxy.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False,
          log_level="WARNING")
"""

RATE_TARGETS = {1: 600.0, 16: 900.0}
P50_MARGIN = 0.0007
UPSTREAM_TARGET = 1.0
LIST_TARGET = 500.0
#: Measured before (legacy era): calls/s at C=1 and C=16.
BEFORE = {
    "mcp-proxy": (317, 422),
    "fastmcp": (270, 300),
    "sdk": (561, 826),
    "stdio": (984, 1751),
}
LABELS = {
    "stdio": "stdio in process",
    "sdk": "SDK HTTP server",
    "mcpd": "mcpd /mcp/bench",
    "mcp-proxy": "mcp-proxy",
    "fastmcp": "FastMCP proxy",
}
PEER_NAMES = ("stdio", "sdk", "mcp-proxy", "fastmcp")

#: Hang guards, not budgets: a wait this long is hung, not slow.
READY_TIMEOUT = 300.0
INSTALL_TIMEOUT = 900.0

SESSION_BATCH = 50
#: processes a front may start while opening sessions before it counts as one per session
PROCESS_SLACK = 5


class BenchmarkError(Exception):
    """A path cannot be measured (a peer would not install, mcpd refused a request...)."""


class ProxyMissing(BenchmarkError):
    """mcpd has no `/mcp/<project>` yet."""


# --------------------------------------------------------------------------- processes


def cores() -> tuple[int | None, int | None]:
    """The server side's core and the load generator's: the first two this process may
    use (None, None: one core only, nothing pinned)."""
    usable = sorted(os.sched_getaffinity(0))
    return (usable[0], usable[1]) if len(usable) >= 2 else (None, None)


SERVER_CORE, LOAD_CORE = cores()


def pinned(command: Sequence[str]) -> list[str]:
    """`command` on the server side's core (its children inherit it)."""
    if SERVER_CORE is None:
        return list(command)
    return ["taskset", "-c", str(SERVER_CORE), *command]


def echo_command(counts: Path, tools: int = 1, *extra: str) -> list[str]:
    return [sys.executable, str(ECHOSERVER), "--counts", str(counts), "--tools", str(tools), *extra]


def stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def tree(root: int) -> list[int]:
    """`root` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if alive(pid):
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_of(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the live processes `pids` used themselves."""
    total = 0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchmarkError(f"no VmRSS for process {pid}")


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


# --------------------------------------------------------------------------- paths


@dataclass
class Target:
    """One way to reach the echo tool: what a virtual client posts to, and who serves."""

    name: str
    url: str
    counts: Counts
    #: the front process (the proxy, or the HTTP server itself); its tree is the server side
    front: int
    #: `Authorization` for mcpd: a secret, never shown
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self, era: Era) -> McpHttpClient:
        return McpHttpClient(self.url, era, self.headers)

    async def tool_name(self, era: Era) -> str:
        """The echo tool's name at this path (a proxy may namespace it)."""
        client = self.client(era)
        try:
            await client.open()
            listed = await client.request("tools/list")
        finally:
            await client.close()
        names: list[str] = [t["name"] for t in listed.get("tools", [])]
        found = [n for n in names if n == "echo" or n.endswith(("__echo", "_echo"))]
        if len(found) != 1:
            raise BenchmarkError(f"{self.url}: no one echo tool among {names[:10]}")
        return found[0]


@contextlib.contextmanager
def http_front(name: str, command: list[str], counts: Counts, work: Path) -> Iterator[Target]:
    """An HTTP front process at /mcp on a free port (killed with its group at the end)."""
    port = free_port()
    log = work / f"{name}-{port}.log"
    server = HttpServer(
        pinned([part.replace("{port}", str(port)) for part in command]), port, "/mcp", log=log
    )
    try:
        server.start()
    except AssertionError as e:  # the helper's way of saying it never listened
        tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
        raise BenchmarkError(f"{name} did not start: {e}; its log ends: {tail}") from None
    try:
        assert server.process is not None
        yield Target(name, server.url, counts, server.process.pid)
    finally:
        server.kill()


def peer_venv(peer: str, cache: Path) -> Path:
    """The peer's venv (made on first use, from PyPI): its bin directory."""
    spec = PEERS[peer]
    home = cache / spec.replace("==", "-")
    done = home / ".installed"
    if done.exists():
        return home / "bin"
    print(f"  installing {spec} into {home} (first run)", flush=True)
    shutil.rmtree(home, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(home)],
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
        )
        subprocess.run(
            [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", spec],
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or b"")[-600:].decode(errors="replace")
        raise BenchmarkError(f"cannot install {spec} into {home}: {tail}") from None
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"installing {spec} took over {INSTALL_TIMEOUT:g} s") from None
    done.write_text(spec + "\n")
    return home / "bin"


def front_command(name: str, upstream: list[str], cache: Path) -> list[str]:
    if name == "sdk":
        return [*upstream, "--transport", "streamable-http", "--port", "{port}"]
    bin_dir = peer_venv(name, cache)
    if name == "mcp-proxy":
        return [
            str(bin_dir / "mcp-proxy"),
            "--port",
            "{port}",
            "--host",
            "127.0.0.1",
            "--",
            *upstream,
        ]
    return [str(bin_dir / "python"), "-c", FASTMCP_PROXY, "{port}", *upstream]


# --------------------------------------------------------------------------- mcpd


def project_manifests(counts: Path, wide_counts: Path) -> list[dict[str, Any]]:
    """Project bench (Server echo) and Project wide (Server wide, 500 tools); probes once
    an hour so that none lands in a measured round."""

    def server(name: str, command: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": name},
            "spec": {
                "command": command,
                "replicas": 1,
                "healthCheck": {"intervalSeconds": 3600},
            },
        }

    def project(name: str, servers: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "mcpctl/v1",
            "kind": "Project",
            "metadata": {"name": name},
            "spec": {"servers": servers},
        }

    return [
        server("echo", echo_command(counts)),
        server("wide", echo_command(wide_counts, WIDE_TOOLS)),
        project("bench", ["echo"]),
        project("wide", ["wide"]),
    ]


def mcp_token(client: httpx.Client, project: str) -> str:
    """A fresh McpToken for `project`'s endpoint: the raw token (shown once)."""
    body = {
        "apiVersion": "mcpctl/v1",
        "kind": "McpToken",
        "metadata": {"name": f"{project}-load"},
        "spec": {"project": project},
        "bindings": [{"role": "run", "resource": "projects", "name": project}],
    }
    answer = client.post("/api/v1/mcptokens", json=body)
    if answer.status_code != 201:
        raise BenchmarkError(f"POST /api/v1/mcptokens: {answer.status_code} {answer.text[:300]}")
    token: str = answer.json()["token"]
    return token


def wait_ready(client: httpx.Client, servers: Sequence[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for name in servers:
        while True:
            status = client.get(f"/api/v1/servers/{name}").raise_for_status().json()
            if int((status.get("status") or {}).get("readyReplicas") or 0) >= 1:
                break
            if time.monotonic() > deadline:
                raise BenchmarkError(f"Server {name} not ready after {READY_TIMEOUT:g} s: {status}")
            time.sleep(0.25)


@contextlib.contextmanager
def mcpd_paths(work: Path) -> Iterator[tuple[Mcpd, Target, Target]]:
    """mcpd on the server core with projects bench and wide ready: their paths."""
    counts, wide = work / "mcpd-counts", work / "mcpd-wide-counts"
    counts.mkdir()
    wide.mkdir()
    with running_mcpd(work / "mcpd-state", command=pinned(mcpd_command())) as mcpd:
        with mcpd.client() as client:
            answer = client.post("/api/v1/apply", json={"items": project_manifests(counts, wide)})
            if answer.status_code != 200:
                raise BenchmarkError(f"apply: {answer.status_code} {answer.text[:300]}")
            wait_ready(client, ["echo", "wide"])
            tokens = {p: mcp_token(client, p) for p in ("bench", "wide")}
        yield (
            mcpd,
            Target(
                "mcpd",
                f"{mcpd.url}/mcp/bench",
                Counts(counts),
                mcpd.process.pid,
                {"Authorization": f"Bearer {tokens['bench']}"},
            ),
            Target(
                "mcpd",
                f"{mcpd.url}/mcp/wide",
                Counts(wide),
                mcpd.process.pid,
                {"Authorization": f"Bearer {tokens['wide']}"},
            ),
        )


# --------------------------------------------------------------------------- rounds


@dataclass(frozen=True)
class Settings:
    calls: int
    seconds: float
    sessions: int


@dataclass(frozen=True)
class Result:
    """One measured round: a path, an era, a concurrency, what it did."""

    path: str
    era: Era
    clients: int
    round: Round
    upstream: Tally
    server_cpu: float

    @property
    def per_call(self) -> float:
        return self.upstream.total / self.round.calls

    def line(self) -> str:
        r = self.round
        return (
            f"  {LABELS[self.path]:<17} {self.era:<6} C={self.clients:<3} "
            f"{r.rate:>7.0f}/s  p50 {ms(r.p50):>8}  p95 {ms(r.p95):>8}  "
            f"upstream/call {self.per_call:.3f} ({self.upstream.shown(r.calls)})  "
            f"server CPU/call {self.server_cpu / r.calls * 1e6:.0f} us  "
            f"load gen {r.load_share * 100:.0f} % of its core ({r.calls} calls)"
        )


@dataclass
class Run:
    """Everything measured, and why some of it could not be."""

    calls: dict[tuple[str, Era, int], Result] = field(default_factory=dict)
    lists: dict[tuple[str, Era, int], Result] = field(default_factory=dict)
    rss: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    eras: dict[str, str] = field(default_factory=dict)


async def measure(
    path: str,
    era: Era,
    clients: int,
    settings: Settings,
    counts: Counts,
    server: Callable[[], list[int]],
    call: Callable[[int, int], Awaitable[object]],
) -> Result:
    await drive(call, clients, min(WARMUP, settings.calls), settings.seconds)
    before, cpu = counts.read(), cpu_of(server())
    got = await drive(call, clients, settings.calls, settings.seconds)
    used = cpu_of(server()) - cpu
    return Result(path, era, clients, got, counts.read() - before, used)


async def http_rounds(
    target: Target, era: Era, settings: Settings, method: str, results: dict[Any, Result]
) -> None:
    """`method` (tools/call of the echo tool, or tools/list) at C=1 and C=16 over `target`."""
    tool = await target.tool_name(era) if method == "tools/call" else ""
    for clients in CONCURRENCY:
        pool = [target.client(era) for _ in range(clients)]
        try:
            for client in pool:
                await client.open()

            async def call(c: int, n: int) -> None:
                client = pool[c]  # noqa: B023 - the round's own pool, awaited within it
                if method == "tools/list":
                    listed = await client.request("tools/list")
                    if len(listed["tools"]) < WIDE_TOOLS and "nextCursor" not in listed:
                        raise BenchmarkError(f"{target.url} listed {len(listed['tools'])} tools")
                    return
                text = f"call {n}"
                result = await client.call_tool(tool, {"text": text})
                if result["content"][0].get("text") != text:
                    raise BenchmarkError(f"{target.url}: echo answered {result['content']}")

            results[(target.name, era, clients)] = got = await measure(
                target.name,
                era,
                clients,
                settings,
                target.counts,
                lambda: tree(target.front),
                call,
            )
            print(got.line(), flush=True)
        finally:
            for client in pool:
                await client.close()


async def stdio_rounds(work: Path, settings: Settings, run: Run) -> None:
    """The upstream's pipes driven by mcpctl's channel from this process (the physical limit)."""
    counts = work / "stdio-counts"
    counts.mkdir()
    for era in ERAS:
        await stdio_era(Counts(counts), era, settings, run)
    run.eras["stdio"] = "legacy, modern"


async def stdio_era(counts: Counts, era: Era, settings: Settings, run: Run) -> None:
    async with running_child(pinned(echo_command(counts.directory))) as child:
        channel = await open_channel(
            "bench-0", child.pipe, ChannelSettings(era=era, max_in_flight=64)
        )
        try:
            agreed = channel.agreement.era if channel.agreement else "none"
            if agreed != era:
                raise BenchmarkError(f"the channel agreed on the {agreed} era, not {era}")

            async def call(_: int, n: int) -> None:
                body = {
                    "jsonrpc": "2.0",
                    "id": n,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": f"call {n}"}},
                }
                answer = orjson.loads(await channel.forward(orjson.dumps(body)))
                if answer.get("result", {}).get("isError", True):
                    raise BenchmarkError(f"stdio: echo answered {answer}")

            for clients in CONCURRENCY:
                got = await measure(
                    "stdio", era, clients, settings, counts, lambda: [child.pid], call
                )
                run.calls[("stdio", era, clients)] = got
                print(got.line(), flush=True)
        finally:
            await channel.close()


async def spoken_eras(target: Target) -> tuple[list[Era], str]:
    """The eras `target` answers a `tools/list` in, and why it refuses the others."""
    spoken: list[Era] = []
    refused = []
    for era in ERAS:
        client = target.client(era)
        try:
            await client.open()
            await client.request("tools/list")
            spoken.append(era)
        except EndpointError as e:
            if target.name == "mcpd" and e.status == 404:
                where = httpx.URL(target.url).path
                raise ProxyMissing(
                    f"mcpd answered 404 at {where}: the proxy is not built"
                ) from None
            print(f"  {LABELS[target.name]}: {era} era refused: {e}", flush=True)
            refused.append(f"{era}: HTTP {e.status}" if e.status else era)
        finally:
            await client.close()
    return spoken, "; ".join(refused)


async def idle_sessions(target: Target, era: Era, count: int) -> tuple[int, int, int, str]:
    """The front's RSS before and after `count` sessions opened and left idle."""
    before_rss = rss_of(target.front)
    processes = len(tree(target.front))
    opened, note = 0, ""
    while opened < count:
        batch = [target.client(era) for _ in range(min(SESSION_BATCH, count - opened))]
        try:
            await asyncio.gather(*(c.open() for c in batch))
        finally:
            await asyncio.gather(*(c.close() for c in batch))
        opened += len(batch)
        now = len(tree(target.front))
        if now > processes + PROCESS_SLACK:
            note = f"stopped: {now - processes} more processes after {opened} sessions"
            break
    time.sleep(1.0)  # what the sessions' opening left to do is done
    return before_rss, rss_of(target.front), opened, note


async def path_rounds(target: Target, wide: Target | None, settings: Settings, run: Run) -> None:
    """Calls in each era the path speaks, then its idle sessions, then the wide list."""
    spoken, refused = await spoken_eras(target)
    run.eras[target.name] = ", ".join(spoken) + (f" (refused {refused})" if refused else "")
    for era in spoken:
        await http_rounds(target, era, settings, "tools/call", run.calls)
    if "legacy" in spoken:
        run.rss[target.name] = rss = await idle_sessions(target, "legacy", settings.sessions)
        print(
            f"  {LABELS[target.name]:<17} RSS {mib(rss[0])} -> {mib(rss[1])} with {rss[2]} "
            f"idle sessions {rss[3]}",
            flush=True,
        )
    if wide is not None:
        for era in spoken:
            await http_rounds(wide, era, settings, "tools/list", run.lists)


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Figure:
    """One judged figure of mcpd's, or why it is missing."""

    name: str
    value: float | None
    shown: str
    target: float | None
    target_shown: str
    higher_is_better: bool
    peers: str
    why_missing: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        if self.value is None:
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def verdict(self) -> str:
        return "INFO" if self.ok is None else "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        if self.value is None:
            return f"{self.name}: {self.verdict} (target {self.target_shown}): {self.why_missing}"
        judged = self.verdict
        if self.target is not None:
            judged += f" (target {self.target_shown}, ratio {self.value / self.target:.2f})"
        return f"{self.name}: {self.shown} {judged}; {self.peers}"


def ratios(value: float | None, others: dict[str, float]) -> str:
    if not others:
        return "no peer measured"
    if value is None:
        return "peers: " + ", ".join(f"{LABELS[k]} {v:.4g}" for k, v in others.items())
    return "vs " + ", ".join(
        f"{LABELS[k]} {v:.4g} (x{value / v:.2f})" if v else f"{LABELS[k]} 0"
        for k, v in others.items()
    )


def verdicts(run: Run) -> list[Figure]:
    figures: list[Figure] = []
    missing = run.missing.get("mcpd", "not measured in this run (--only)")
    for era in ERAS:
        for clients in CONCURRENCY:
            mine = run.calls.get(("mcpd", era, clients))
            others = {
                p: r.round.rate
                for p in PEER_NAMES
                if (r := run.calls.get((p, era, clients))) is not None
            }
            target = RATE_TARGETS[clients]
            figures.append(
                Figure(
                    f"mcpd {era} C={clients} calls/s",
                    mine.round.rate if mine else None,
                    f"{mine.round.rate:.0f}/s" if mine else "",
                    target,
                    f">= {target:.0f}/s",
                    True,
                    ratios(mine.round.rate if mine else None, others),
                    missing,
                )
            )
        mine = run.calls.get(("mcpd", era, 1))
        stdio = run.calls.get(("stdio", era, 1))
        p50_others = {
            p: r.round.p50 * 1000
            for p in PEER_NAMES
            if (r := run.calls.get((p, era, 1))) is not None
        }
        # judged against the stdio-in-process p50 of this run: without it, unmeasured
        p50 = mine.round.p50 * 1000 if mine and stdio else None
        figures.append(
            Figure(
                f"mcpd {era} C=1 p50",
                p50,
                ms(p50 / 1000) if p50 is not None else "",
                (stdio.round.p50 + P50_MARGIN) * 1000 if stdio else 0.0,
                f"<= stdio in process {ms(stdio.round.p50)} + {ms(P50_MARGIN)}"
                if stdio
                else f"<= stdio in process + {ms(P50_MARGIN)}",
                False,
                ratios(p50, p50_others) + " (ms)",
                missing if not mine else "the stdio-in-process p50 of this run is missing",
            )
        )
        per_call = [r.per_call for (p, e, _), r in run.calls.items() if p == "mcpd" and e == era]
        figures.append(
            Figure(
                f"mcpd {era} upstream requests per call",
                max(per_call) if per_call else None,
                f"{max(per_call):.3f}" if per_call else "",
                UPSTREAM_TARGET,
                "exactly 1",
                False,
                ratios(
                    max(per_call) if per_call else None,
                    {
                        p: r.per_call
                        for p in PEER_NAMES
                        if p != "stdio" and (r := run.calls.get((p, era, 16))) is not None
                    },
                ),
                missing,
            )
        )
        for clients in CONCURRENCY:
            mine = run.lists.get(("mcpd", era, clients))
            figures.append(
                Figure(
                    f"mcpd {era} C={clients} cached tools/list of {WIDE_TOOLS} tools",
                    mine.round.rate if mine else None,
                    f"{mine.round.rate:.0f}/s" if mine else "",
                    LIST_TARGET,
                    f">= {LIST_TARGET:.0f}/s",
                    True,
                    ratios(
                        mine.round.rate if mine else None,
                        {
                            p: r.round.rate
                            for p in PEER_NAMES
                            if (r := run.lists.get((p, era, clients))) is not None
                        },
                    ),
                    missing,
                )
            )
    rss = run.rss.get("mcpd")
    figures.append(
        Figure(
            "mcpd RSS with idle sessions",
            rss[1] if rss else None,
            f"{mib(rss[1])} with {rss[2]} sessions ({mib(rss[0])} before)" if rss else "",
            None,
            "reported",
            False,
            "peers: "
            + ", ".join(
                f"{LABELS[p]} {mib(v[1])} with {v[2]} ({mib(v[0])} before)"
                + (f" {v[3]}" if v[3] else "")
                for p, v in run.rss.items()
                if p != "mcpd"
            ),
            missing,
        )
    )
    return figures


def peer_table(run: Run) -> None:
    """The peers against mcpd's targets, for scale, and beside the figures measured before."""
    print("\n== every path against the proxy's targets (calls/s; ratio to target) ==")
    for path in (*PEER_NAMES, "mcpd"):
        for era in ERAS:
            cells = []
            for clients in CONCURRENCY:
                got = run.calls.get((path, era, clients))
                if got is not None:
                    target = RATE_TARGETS[clients]
                    cells.append(
                        f"C={clients} {got.round.rate:.0f} (x{got.round.rate / target:.2f})"
                    )
            if cells:
                before = BEFORE.get(path)
                was = f"; before {before[0]} / {before[1]}" if before and era == "legacy" else ""
                print(f"  {LABELS[path]:<17} {era:<6} " + ", ".join(cells) + was)
    for path, why in run.missing.items():
        print(f"  {LABELS[path]:<17} not measured: {why}")


# --------------------------------------------------------------------------- main


async def measure_all(work: Path, settings: Settings, only: set[str], cache: Path) -> Run:
    run = Run()

    async def guarded(name: str, part: Callable[[], Awaitable[None]]) -> None:
        print(f"\n== {LABELS[name]} (load average {load()}) ==", flush=True)
        try:
            await part()
        except (BenchmarkError, EndpointError, OSError, httpx.HTTPError) as e:
            run.missing[name] = str(e)
            print(f"  {LABELS[name]}: not measured: {e}", flush=True)

    if "stdio" in only:
        await guarded("stdio", lambda: stdio_rounds(work, settings, run))
    for name in ("sdk", "mcp-proxy", "fastmcp"):
        if name not in only:
            continue

        async def peer(name: str = name) -> None:
            counts, wide = work / f"{name}-counts", work / f"{name}-wide-counts"
            counts.mkdir()
            wide.mkdir()
            with (
                http_front(
                    name, front_command(name, echo_command(counts), cache), Counts(counts), work
                ) as target,
                http_front(
                    name,
                    front_command(name, echo_command(wide, WIDE_TOOLS), cache),
                    Counts(wide),
                    work,
                ) as listing,
            ):
                await path_rounds(target, listing, settings, run)

        await guarded(name, peer)
    if "mcpd" in only:

        async def mcpd() -> None:
            with mcpd_paths(work) as (_, target, wide):
                await path_rounds(target, wide, settings, run)

        await guarded("mcpd", mcpd)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--calls", type=int, help="calls per round (default 3000)")
    parser.add_argument("--seconds", type=float, help="a round's time bound (default 20)")
    parser.add_argument("--sessions", type=int, help="idle sessions for the RSS (default 1000)")
    parser.add_argument(
        "--only", help="paths to measure, comma-separated (default all): " + ",".join(LABELS)
    )
    parser.add_argument("--peer-cache", type=Path, default=PEER_CACHE, help="the peers' venvs")
    parser.add_argument("--work-dir", type=Path, help="keep logs and state here (empty or new)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(LABELS)
    if not only <= set(LABELS):
        parser.error(f"--only takes {', '.join(LABELS)}, not {', '.join(only - set(LABELS))}")
    settings = Settings(
        args.calls or (300 if args.quick else 3000),
        args.seconds or (5.0 if args.quick else 20.0),
        args.sessions or (100 if args.quick else 1000),
    )
    if settings.calls < 1 or settings.seconds <= 0 or settings.sessions < 1:
        parser.error("--calls, --seconds and --sessions must be positive")
    if args.work_dir is not None and args.work_dir.exists() and any(args.work_dir.iterdir()):
        parser.error(f"--work-dir {args.work_dir} is not empty")
    if LOAD_CORE is not None:
        os.sched_setaffinity(0, {LOAD_CORE})
    print(
        f"MCP proxy benchmark ({os.cpu_count()} CPUs; server side on core {SERVER_CORE}, "
        f"load generator on core {LOAD_CORE}; {settings.calls} calls of at most "
        f"{settings.seconds:g} s per round; {sys.executable})"
    )
    print(f"load average {load()} (1, 5, 15 min)", flush=True)
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if args.work_dir is None:
                work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcpctl-")))
            else:
                work = args.work_dir.resolve()
                work.mkdir(parents=True, exist_ok=True)
            run = asyncio.run(measure_all(work, settings, only, args.peer_cache))
    except (BenchmarkError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"benchmark: cannot go on: {e}", file=sys.stderr)
        return 2
    peer_table(run)
    print("\n== mcpd's targets ==")
    figures: list[Figure] = []
    for figure in verdicts(run):
        emit(figures, figure)
    judged = [f for f in figures if f.ok is not None]
    met = [f for f in judged if f.ok]
    print(
        f"\nsummary: {len(met)} of {len(judged)} targets met; eras: "
        + "; ".join(f"{LABELS[p]} {e}" for p, e in run.eras.items())
        + (f"; not measured: {', '.join(LABELS[p] for p in run.missing)}" if run.missing else "")
        + f"; load average {load()}; took {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return 1 if args.strict and len(met) < len(judged) else 0


if __name__ == "__main__":
    sys.exit(main())
