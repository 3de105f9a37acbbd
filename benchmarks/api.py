"""Benchmark mcpd's API against its targets, on SQLite and on PostgreSQL.

For each database, a fresh mcpd (started from the installed `mcpd`, as the
tests start it: `tests/support/`) and then:

1. `mcpctl get servers` against it (a small set: 50 servers), cold, against
   `python -c pass` (best of N, interleaved);
2. apply 1,000 objects in one request (`POST /api/v1/apply`: secrets,
   servers referring to them, projects referring to the servers, users), a
   few rounds under new names, and once more unchanged;
3. seed servers up to 10,000 (a few applies), then list all 10,000
   (`GET /api/v1/servers?limit=5000`, following `continue`), best of N;
4. 1,000 single GETs (`GET /api/v1/servers/NAME`), one after the other;
5. with access to check: 300 Rbacs and 50 Groups stored (created through the
   API with 200 users: Groups of 3-10 members, Rbacs binding a mix of users
   and groups to a mix of roles, some on one object, some `run`), 1,000
   single GETs again, once as the admin and once as a user who is not an
   admin and may view servers through one of those groups (logged in with a
   password, so a session token). 20 GETs first, not counted, on each
   connection.

Times are taken on loopback with one keep-alive connection, from sending a
pre-encoded body until the whole answer is read; decoding the JSON of the
answer is not counted ("requests" below), so they are mcpd's time plus the
transfer, as close to server-side as a black-box client gets. Walls with the
client's JSON decoding are shown too, and mcpd's own CPU time for the same
requests (from /proc): on a busy machine, walls include waiting for a CPU and
the CPU times say what the server itself spent. Targets are judged on walls.
Single GETs go through a raw keep-alive socket with the request bytes made
once (`RawConnection`): httpx's own work per request is about as long as
mcpd's, and would be measured instead of mcpd.

Targets: apply 1,000 objects < 2 s; the 10,000-object list < 0.5 s;
`mcpctl get servers` within 2x `python -c pass` + 150 ms; on SQLite, single
GETs with 300 Rbacs and 50 Groups stored >= 1,500/s, as the admin and as the
group's viewer alike (a request's authentication and authorization must cost
microseconds, not a reload of every Rbac and Group).

Run from the repository root:

    .venv/bin/python benchmarks/api.py [--database sqlite|postgresql|both] [--strict]

The exit status is 0 unless `--strict` is given and a target is missed (1),
or the benchmark itself cannot run (2).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the test harness starts mcpd and PostgreSQL
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.mcpd import Mcpd, running_mcpd  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402

API_VERSION = "mcpctl/v1"
APPLY_TARGET = 2.0
LIST_TARGET = 0.5
LIST_COUNT = 10_000
PAGE = 5000
GET_COUNT = 1000
GET_WARMUP = 20
ACCESS_GET_TARGET = 1500.0  # per second, on SQLite
ACCESS_MIX = {"User": 200, "Group": 50, "Rbac": 300}
VIEWER = "bench-viewer"
VIEWER_GROUP = "bench-viewers"
COLD_START_FACTOR = 2.0
COLD_START_SLACK = 0.150

Doc = dict[str, Any]

#: The 1,000 objects of one apply, by kind.
APPLY_MIX = {"Secret": 150, "Server": 600, "Project": 50, "User": 200}
SMALL_MIX = {"Secret": 10, "Server": 50, "Project": 5, "User": 10}
SEED_BATCH = 2500

WORDS = (
    "jira", "confluence", "slack", "postgres", "redis", "sentry", "grafana", "vault",
    "linear", "notion", "stripe", "figma", "k8s", "terraform", "docs", "search",
)  # fmt: skip
TEAMS = tuple(f"team-{w}" for w in ("core", "infra", "data", "web", "mobile", "ml", "sec", "ops"))
ACCESS_RESOURCES = ("servers", "projects", "prompts", "templates", "llms", "events", "instances")
ACCESS_OPERATIONS = ("logs", "sync", "approve-prompts")


# --------------------------------------------------------------------------- objects


def envelope(kind: str, name: str, spec: Doc, labels: dict[str, str] | None = None) -> Doc:
    metadata: Doc = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


@dataclass
class Generator:
    """Valid, realistic objects under unique names; servers refer to secrets already made."""

    rng: random.Random
    secrets: list[tuple[str, list[str]]] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)

    def secret(self, name: str) -> Doc:
        keys = ["token", *self.rng.sample(("apiKey", "password", "clientSecret", "url"), 2)]
        data = {k: f"{k}-{self.rng.getrandbits(64):016x}" for k in keys}
        self.secrets.append((name, keys))
        return envelope("Secret", name, {"data": data}, {"team": self.rng.choice(TEAMS)})

    def _secret_ref(self) -> Doc:
        name, keys = self.rng.choice(self.secrets)
        return {"secretRef": {"name": name, "key": self.rng.choice(keys)}}

    def server(self, name: str) -> Doc:
        word = self.rng.choice(WORDS)
        flavour = self.rng.randrange(10)
        spec: Doc
        if flavour < 5:  # a local command, credentials from secrets
            spec = {
                "command": ["uvx", f"mcp-server-{word}", f"--instance={name}"],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": f"{word.upper()}_TOKEN", "valueFrom": self._secret_ref()},
                ],
            }
        elif flavour < 7:  # a container image serving HTTP
            spec = {
                "image": f"ghcr.io/example/mcp-{word}:1.{flavour}.0",
                "transport": "streamable-http",
                "containerPort": 8000,
                "env": [{"name": "API_TOKEN", "valueFrom": self._secret_ref()}],
            }
        elif flavour < 9:  # a remote server mcpctl only proxies to
            spec = {
                "externalUrl": f"https://{name}.{word}.example.com/mcp",
                "transport": "streamable-http",
                "headers": [{"name": "Authorization", "valueFrom": self._secret_ref()}],
            }
        else:
            spec = {"template": "time"}
        self.servers.append(name)
        labels = {"team": self.rng.choice(TEAMS), "tier": self.rng.choice(("prod", "dev"))}
        return envelope("Server", name, spec, labels)

    def project(self, name: str, members: Sequence[str]) -> Doc:
        spec = {
            "description": f"Tools for {self.rng.choice(TEAMS)}",
            "servers": list(members),
            "gated": self.rng.random() < 0.5,
            "instructions": "Call begin_session first.\n",
        }
        return envelope("Project", name, spec)

    def user(self, name: str) -> Doc:
        return envelope("User", name, {"email": f"{name}@example.com", "displayName": name})

    def access(self, prefix: str, mix: dict[str, int]) -> list[Doc]:
        """Users, Groups of them and Rbacs naming both; plus the viewer, a user who may
        view servers through the group `VIEWER_GROUP` (one of the Groups) and nothing more."""
        users = [f"{prefix}-user-{i:04d}" for i in range(mix["User"])]
        docs = [self.user(name) for name in [*users, VIEWER]]
        groups = [VIEWER_GROUP] + [f"{prefix}-group-{i:03d}" for i in range(mix["Group"] - 1)]
        for name in groups:
            members = self.rng.sample(users, self.rng.randint(3, 10))
            if name == VIEWER_GROUP:
                members.append(VIEWER)
            group: Doc = {"description": f"{self.rng.choice(TEAMS)} people", "members": members}
            docs.append(envelope("Group", name, group))
        viewing = {
            "subjects": [{"kind": "Group", "name": VIEWER_GROUP}],
            "bindings": [{"role": "view", "resource": "servers"}],
        }
        docs.append(envelope("Rbac", f"{prefix}-rbac-viewers", viewing))
        others = [g for g in groups if g != VIEWER_GROUP]
        for i in range(mix["Rbac"] - 1):
            subjects = [
                {"kind": "Group", "name": self.rng.choice(others)}
                if self.rng.random() < 0.5
                else {"kind": "User", "name": self.rng.choice(users)}
                for _ in range(self.rng.randint(1, 3))
            ]
            unique = list({(s["kind"], s["name"]): s for s in subjects}.values())
            spec = {"subjects": unique, "bindings": self._bindings()}
            docs.append(envelope("Rbac", f"{prefix}-rbac-{i:03d}", spec))
        return docs

    def _bindings(self) -> list[Doc]:
        bindings: list[Doc] = []
        for _ in range(self.rng.randint(1, 4)):
            kind = self.rng.randrange(10)
            if kind < 6:  # a role on a kind
                role = self.rng.choice(("view", "view", "create", "edit", "delete"))
                resource = self.rng.choice(ACCESS_RESOURCES)
                bindings.append({"role": role, "resource": resource})
            elif kind < 9 and self.servers:  # a role on one server
                role = self.rng.choice(("view", "edit"))
                name = self.rng.choice(self.servers)
                bindings.append({"role": role, "resource": "servers", "name": name})
            else:  # an operation
                bindings.append({"role": "run", "action": self.rng.choice(ACCESS_OPERATIONS)})
        return bindings

    def batch(self, prefix: str, mix: dict[str, int]) -> list[Doc]:
        """`mix` objects named `prefix-...`: secrets first, so the servers can refer to them."""
        docs = [self.secret(f"{prefix}-secret-{i:05d}") for i in range(mix.get("Secret", 0))]
        new_servers = [self.server(f"{prefix}-server-{i:05d}") for i in range(mix.get("Server", 0))]
        docs += new_servers
        names = [d["metadata"]["name"] for d in new_servers] or self.servers
        for i in range(mix.get("Project", 0)):
            members = self.rng.sample(names, min(len(names), self.rng.randint(3, 12)))
            docs.append(self.project(f"{prefix}-project-{i:04d}", members))
        docs += [self.user(f"{prefix}-user-{i:05d}") for i in range(mix.get("User", 0))]
        return docs


# --------------------------------------------------------------------------- measuring


@dataclass
class Target:
    database: str
    name: str
    passed: bool | None
    """None: measured for information, or not measured."""
    detail: str

    @property
    def verdict(self) -> str:
        return "INFO" if self.passed is None else "PASS" if self.passed else "FAIL"


class BenchmarkError(Exception):
    """The benchmark cannot go on (mcpd refused the generated objects, ...)."""


class ServerCpu:
    """The CPU time mcpd has used (user + system), from /proc: what the server itself
    spent, whatever else keeps the machine busy. None where /proc is missing."""

    def __init__(self, pid: int) -> None:
        self.stat = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        try:
            fields = self.stat.read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def since(self, before: float | None) -> float | None:
        now = self.seconds()
        return None if now is None or before is None else now - before


def fmt_cpu(seconds: float | None, prefix: str = "") -> str:
    return "" if seconds is None else f" ({prefix}mcpd CPU {fmt_s(seconds)})"


def timed_request(
    client: httpx.Client, method: str, url: str, body: bytes | None = None
) -> tuple[float, httpx.Response]:
    """(seconds from sending to the whole answer read, the answer)."""
    headers = {"content-type": "application/json"} if body is not None else None
    start = time.perf_counter()
    response = client.request(method, url, content=body, headers=headers)
    elapsed = time.perf_counter() - start
    if response.status_code >= 400:
        raise BenchmarkError(f"{method} {url}: {response.status_code} {response.text[:2000]}")
    return elapsed, response


def apply(client: httpx.Client, items: list[Doc]) -> tuple[float, Doc]:
    body = json.dumps({"items": items}).encode()
    seconds, response = timed_request(client, "POST", "/api/v1/apply", body)
    result: Doc = response.json()
    return seconds, result


@dataclass
class ListRun:
    requests: float
    wall: float
    pages: int
    items: int
    size: int
    cpu: float | None


def wait_exported(client: httpx.Client, deadline: float = 120.0) -> None:
    """Wait until mcpd has committed every write to its state repo (it does so after answering)."""
    end = time.monotonic() + deadline
    while client.get("/api/v1/gitops/status").raise_for_status().json()["pending"]:
        if time.monotonic() > end:
            raise BenchmarkError("the state repo export did not finish in time")
        time.sleep(0.05)


def list_all(client: httpx.Client, plural: str, cpu: ServerCpu) -> ListRun:
    """Every object of a kind, a page of PAGE at a time."""
    before = cpu.seconds()
    requests = 0.0
    pages = items = size = 0
    token: str | None = None
    start = time.perf_counter()
    while True:
        url = f"/api/v1/{plural}?limit={PAGE}" + (f"&continue={token}" if token else "")
        seconds, response = timed_request(client, "GET", url)
        requests += seconds
        pages += 1
        size += len(response.content)
        page = response.json()
        items += len(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
    wall = time.perf_counter() - start
    return ListRun(requests, wall, pages, items, size, cpu.since(before))


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(
        list(argv), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return time.perf_counter() - start, done.returncode, (done.stderr or done.stdout).strip()


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "inf/s"


# --------------------------------------------------------------------------- one database


@dataclass
class Options:
    rounds: int
    list_runs: int
    cold_runs: int
    seed: int
    skip_cli: bool


def bench_database(database: str, mcpd: Mcpd, options: Options) -> list[Target]:
    targets: list[Target] = []
    gen = Generator(random.Random(options.seed))
    cpu = ServerCpu(mcpd.process.pid)
    with mcpd.client() as client:
        client.timeout = httpx.Timeout(300.0)
        # 1. mcpctl get servers, cold, against a small set.
        apply(client, gen.batch("small", SMALL_MIX))
        cold = bench_cli(database, mcpd, options)
        targets.append(cold)

        # 2. apply 1,000 objects in one request, a few rounds under new names.
        total = sum(APPLY_MIX.values())
        kinds = ", ".join(f"{n} {k}" for k, n in APPLY_MIX.items())
        rounds: list[tuple[float, float | None]] = []
        last: list[Doc] = []
        for r in range(options.rounds):
            last = gen.batch(f"r{r}", APPLY_MIX)
            wait_exported(client)  # each round alone, not beside the last one's git export
            before = cpu.seconds()
            seconds, result = apply(client, last)
            rounds.append((seconds, cpu.since(before)))
            if result["summary"]["add"] != total:
                raise BenchmarkError(f"apply added {result['summary']}, not {total}")
        best, best_cpu = min(rounds)
        median = statistics.median(t for t, _ in rounds)
        wait_exported(client)
        before = cpu.seconds()
        unchanged, result = apply(client, last)
        unchanged_cpu = cpu.since(before)
        print(
            f"apply {total:,} objects in one request ({kinds}): best {fmt_s(best)}"
            f"{fmt_cpu(best_cpu)}, median {fmt_s(median)} of {options.rounds} rounds "
            f"= {rate(total, best)}; re-applied unchanged: {fmt_s(unchanged)}"
            f"{fmt_cpu(unchanged_cpu)} ({result['summary']['unchanged']:,} unchanged)"
        )
        targets.append(
            Target(
                database,
                f"apply {total:,} objects in one request < {APPLY_TARGET:.0f} s",
                best < APPLY_TARGET,
                f"best {fmt_s(best)}{fmt_cpu(best_cpu)}, median {fmt_s(median)} "
                f"({rate(total, best)})",
            )
        )
        targets.append(
            Target(
                database,
                f"re-apply {total:,} unchanged objects",
                None,
                fmt_s(unchanged) + fmt_cpu(unchanged_cpu),
            )
        )

        # 3. seed servers up to 10,000, then list them all.
        have = list_all(client, "servers", cpu).items
        start = time.perf_counter()
        seeded = 0
        while have + seeded < LIST_COUNT:
            count = min(SEED_BATCH, LIST_COUNT - have - seeded)
            apply(client, gen.batch(f"seed{seeded // SEED_BATCH}", {"Server": count}))
            seeded += count
        seeding = time.perf_counter() - start
        print(f"seeded {seeded:,} servers in {fmt_s(seeding)} ({rate(seeded, seeding)})")
        wait_exported(client)
        runs = [list_all(client, "servers", cpu) for _ in range(options.list_runs)]
        fastest = min(runs, key=lambda r: r.requests)
        if fastest.items != LIST_COUNT:
            raise BenchmarkError(f"listed {fastest.items} servers, not {LIST_COUNT}")
        least_cpu = min((r.cpu for r in runs if r.cpu is not None), default=None)
        print(
            f"list {fastest.items:,} servers ({fastest.pages} pages of up to {PAGE:,}, "
            f"{fastest.size / 1e6:.1f} MB): best of {options.list_runs}: "
            f"{fmt_s(fastest.requests)} in requests{fmt_cpu(least_cpu, 'least ')}, "
            f"{fmt_s(fastest.wall)} wall with the client's JSON decoding; "
            f"median {fmt_s(statistics.median(r.requests for r in runs))}"
        )
        targets.append(
            Target(
                database,
                f"list {LIST_COUNT:,} objects < {LIST_TARGET} s",
                fastest.requests < LIST_TARGET,
                f"{fmt_s(fastest.requests)} in requests{fmt_cpu(least_cpu, 'least ')} "
                f"({fmt_s(fastest.wall)} wall)",
            )
        )

        # 4. 1,000 single GETs.
        names = random.Random(options.seed).sample(gen.servers, GET_COUNT)
        gets = single_gets(client, names, cpu)
        print(f"{GET_COUNT:,} single GETs in {fmt_s(gets.seconds)}: {gets.detail}")
        targets.append(Target(database, f"{GET_COUNT:,} single GETs", None, gets.detail))

        # 5. 1,000 single GETs with 300 Rbacs and 50 Groups stored, as the admin and as a
        # user who may view servers through a group.
        targets += bench_access(database, mcpd, client, gen, names, cpu)

    # 6. For information: mcpctl get servers with all 10,000 (when it runs at all).
    if cold.passed is not None:
        seconds, code, output = run(mcpctl_get(), env=mcpd.env())
        detail = fmt_s(seconds) if code == 0 else f"failed (exit {code}): {_last_line(output)}"
        print(f"mcpctl get servers with {LIST_COUNT:,} servers: {detail}")
        targets.append(
            Target(database, f"mcpctl get servers, {LIST_COUNT:,} servers", None, detail)
        )
    return targets


@dataclass
class GetsRun:
    seconds: float
    """The requests' times added up (one after the other on one connection)."""
    latencies: list[float]
    cpu: float | None

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else float("inf")

    @property
    def detail(self) -> str:
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
        count = len(ordered)
        each = "" if self.cpu is None else f", mcpd CPU {self.cpu / count * 1000:.2f} ms each"
        return (
            f"{rate(count, self.seconds)} (p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms{each})"
        )


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded GETs and reads each
    answer by its Content-Length: the timing holds mcpd and the loopback, not the
    client library's own work per request (httpx spends about as long as mcpd)."""

    def __init__(self, client: httpx.Client) -> None:
        url = client.base_url
        self.sock = socket.create_connection((url.host, url.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        auth = client.headers.get("authorization", "")
        self.head = f"Host: {url.host}:{url.port}\r\nAuthorization: {auth}\r\n\r\n".encode()
        self.buffer = b""

    def get(self, path: str) -> float:
        """Seconds from sending `GET path` to the whole answer read (a 200)."""
        request = b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head
        start = time.perf_counter()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        elapsed = time.perf_counter() - start
        self.buffer = rest[length:]
        status = head.split(b" ", 2)[1]
        if status != b"200":
            raise BenchmarkError(f"GET {path}: {status.decode()} {rest[:2000]!r}")
        return elapsed

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise BenchmarkError("mcpd closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def single_gets(client: httpx.Client, names: Sequence[str], cpu: ServerCpu) -> GetsRun:
    """`GET /api/v1/servers/NAME` for each name, one after the other on one kept-alive
    connection authenticated as `client` is, after GET_WARMUP of them not counted."""
    connection = RawConnection(client)
    try:
        for name in names[:GET_WARMUP]:
            connection.get(f"/api/v1/servers/{name}")
        before = cpu.seconds()
        latencies = [connection.get(f"/api/v1/servers/{n}") for n in names]
        return GetsRun(sum(latencies), latencies, cpu.since(before))
    finally:
        connection.close()


def bench_access(
    database: str,
    mcpd: Mcpd,
    admin: httpx.Client,
    gen: Generator,
    names: Sequence[str],
    cpu: ServerCpu,
) -> list[Target]:
    """Single GETs with ACCESS_MIX stored, as the admin and as the group's viewer."""
    docs = gen.access("acl", ACCESS_MIX)
    seconds, result = apply(admin, docs)
    if result["summary"]["add"] != len(docs):
        raise BenchmarkError(f"apply added {result['summary']}, not {len(docs)}")
    stored = {
        k: len(admin.get(f"/api/v1/{k}?limit=1000").raise_for_status().json()["items"])
        for k in ("rbacs", "groups")
    }
    password = os.urandom(16).hex()
    url = f"/api/v1/users/{VIEWER}/password"
    timed_request(admin, "PUT", url, json.dumps({"password": password}).encode())
    login = json.dumps({"username": VIEWER, "password": password}).encode()
    token = timed_request(admin, "POST", "/api/v1/auth/login", login)[1].json()["token"]
    print(
        f"stored {stored['rbacs']} Rbacs and {stored['groups']} Groups "
        f"({len(docs)} objects with their users, applied in {fmt_s(seconds)})"
    )
    wait_exported(admin)
    targets: list[Target] = []
    with mcpd.client(token) as viewer:
        viewer.timeout = httpx.Timeout(300.0)
        for who, client in (("the admin", admin), (f"{VIEWER}, viewing through a group", viewer)):
            gets = single_gets(client, names, cpu)
            print(f"{len(names):,} single GETs as {who}: {gets.detail}")
            name = f"single GETs as {who}, {stored['rbacs']} Rbacs and {stored['groups']} Groups"
            if database == "sqlite":
                name += f" >= {ACCESS_GET_TARGET:,.0f}/s"
                passed: bool | None = gets.per_second >= ACCESS_GET_TARGET
            else:
                passed = None
            targets.append(Target(database, name, passed, gets.detail))
    return targets


def mcpctl_get() -> list[str]:
    return [str(Path(sys.executable).parent / "mcpctl"), "get", "servers"]


def _last_line(text: str) -> str:
    lines = text.splitlines()
    return lines[-1] if lines else "no output"


def bench_cli(database: str, mcpd: Mcpd, options: Options) -> Target:
    name = f"mcpctl get servers within 2x python + {COLD_START_SLACK * 1000:.0f} ms"
    if options.skip_cli:
        return Target(database, name, None, "skipped (--skip-cli)")
    env = mcpd.env()
    _, code, output = run(mcpctl_get(), env=env)
    if code != 0:
        print(f"mcpctl get: not available (exit {code}: {_last_line(output)})")
        return Target(database, name, None, "not available")
    get_times: list[float] = []
    pass_times: list[float] = []
    for _ in range(options.cold_runs):  # interleaved, so that noise hits both alike
        pass_times.append(run([sys.executable, "-c", "pass"])[0])
        seconds, code, output = run(mcpctl_get(), env=env)
        if code != 0:
            raise BenchmarkError(f"mcpctl get servers failed: {output[-2000:]}")
        get_times.append(seconds)
    get_s, pass_s = min(get_times), min(pass_times)
    budget = COLD_START_FACTOR * pass_s + COLD_START_SLACK
    print(
        f"mcpctl get servers ({SMALL_MIX['Server']} servers), best of {options.cold_runs}: "
        f"{fmt_s(get_s)}; python -c pass {fmt_s(pass_s)}; budget {fmt_s(budget)}"
    )
    return Target(database, name, get_s <= budget, f"{fmt_s(get_s)} vs budget {fmt_s(budget)}")


# --------------------------------------------------------------------------- main


@contextmanager
def started(database: str, stack: ExitStack, tmp: Path) -> Iterator[Mcpd]:
    url: str | None = None
    if database == "postgresql":
        url = stack.enter_context(running_postgres()).create_database()
    start = time.perf_counter()
    with running_mcpd(tmp / f"state-{database}", url) as mcpd:
        print(f"mcpd started in {fmt_s(time.perf_counter() - start)}: {mcpd.url} ({database})")
        yield mcpd


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql", "both"), default="both", help="where"
    )
    parser.add_argument("--rounds", type=int, default=3, help="applies of 1,000 objects")
    parser.add_argument("--list-runs", type=int, default=3, help="lists of 10,000 (best kept)")
    parser.add_argument("--cold-runs", type=int, default=7, help="runs of each cold-start probe")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--skip-cli", action="store_true", help="do not run `mcpctl get`")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.rounds, args.list_runs, args.cold_runs) < 1:
        parser.error("--rounds, --list-runs and --cold-runs must be at least 1")
    options = Options(args.rounds, args.list_runs, args.cold_runs, args.seed, args.skip_cli)
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]

    one, five, _ = os.getloadavg()
    print(f"mcpd API benchmark ({sys.platform}, {os.cpu_count()} CPUs, {sys.executable})")
    print(f"load average: {one:.2f} (1 min), {five:.2f} (5 min)")
    began = time.perf_counter()
    targets: list[Target] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mcpctl-api-bench-") as tmp_name:
            for database in databases:
                print(f"\n== {database} ==")
                with ExitStack() as stack, started(database, stack, Path(tmp_name)) as mcpd:
                    targets += bench_database(database, mcpd, options)
    except (BenchmarkError, RuntimeError, httpx.HTTPError, subprocess.SubprocessError) as e:
        print(f"benchmark: cannot go on: {e}", file=sys.stderr)
        return 2

    print("\nsummary:")
    for t in targets:
        print(f"  {t.verdict}  {t.database:<10}  {t.name}: {t.detail}")
    print(f"(benchmark took {time.perf_counter() - began:.0f}s)")
    failed = any(t.passed is False for t in targets)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
