"""Benchmark mcpd replicas sharing one PostgreSQL database: issue 10's cluster figures.

Starts its own PostgreSQL (`tests/support/postgres.py`) and mcpd replicas on
127.0.0.1 (the installed `mcpd`, as the tests start it), each with a state dir
of its own, all on one database. A fresh database for each part: its first
replica bootstraps it alone and is restarted, so that the leader's exportLag
(kept in its process) counts only the writes of the part. Every write creates
a small Server (POST /api/v1/servers); its resourceVersion is the seq of its
change. Replicas are stopped with SIGINT, followers first: on SIGTERM, uvicorn
raises the signal again once it stopped serving, and mcpd dies before its own
stop (no final export, the lease left to run out). Three parts:

1. Failover. Three replicas, the default lease (6 s). The leader's process
   group is killed (SIGKILL); from that instant, a write goes through a
   surviving replica every 100 ms (round-robin) while the survivors' gitops
   status is polled every 20 ms. The failover time runs from the kill until
   the first write made after it is both acknowledged and exported (status
   exportedChange >= its resourceVersion): writes are committed again. Also
   shown: when a survivor first said it leads, and how many writes the
   survivors acknowledged meanwhile (they write to the database and need no
   leader; their export waits for one). The killed replica is restarted on
   its state dir between rounds, and each round kills whoever leads then.
   Target: under 10 s in every round.

2. Export lag at a steady rate. Three replicas; writes at a fixed schedule
   (20/s for 15 s), round-robin over the replicas (three sending threads at
   least, so that one slow answer delays no other write). Two figures:
   - the leader's own: `exportLag` of its gitops status, from each change's
     timestamp (taken in the write's transaction, before the answer) to the
     leader recording it exported. This one is authoritative: it covers the
     whole path, including the notification of writes made on followers, and
     owes nothing to the client's polling or to when the client's threads get
     a CPU;
   - the client's: from the write's acknowledgement until the leader's state
     repo holds it (`main` at a commit whose `Mcpctl-Change` trailer is at
     least its resourceVersion), watching the leader's repo on disk every
     millisecond (no request to mcpd, whose event loop does the export). It
     starts later (at the answer) and ends a little earlier (the ref moves
     just before exportedChange is recorded), so it is the part of the lag a
     client can see after its write returned; a commit can even land before
     the answer reaches the client (counted as 0).
   Target: p95 under 100 ms. The same writes then go to one replica alone,
   for comparison (not judged): what the followers cost the leader (each
   commit it publishes, every follower fetches from it: git on both sides).

3. Write throughput, one replica against three. N writer threads (8), each
   with its own keep-alive httpx client, create a fixed count of Servers
   (2,000) as fast as they are answered; with three replicas the writers are
   spread over them. Writes/s by wall time, per-write latency, and the time
   the leader then needs to export the lot; the ratio three/one. On PostgreSQL
   every write takes the change log's advisory lock (changes become visible in
   seq order), and on a small machine the replicas, PostgreSQL and the client
   share the same CPUs: read the ratio with the load average and CPU times
   printed beside it.

Each figure is printed on its own line, then a one-line summary. The mcpd logs
are scanned when each part ends: ERROR lines and tracebacks are printed (and
counted in the summary), warnings are summarised (those logged while the
replicas stopped apart). The load average is printed at each part: on a busy
machine, every figure here is slower.

Run from the repository root (after `python3 dev.py test` made .venv):

    .venv/bin/python benchmarks/cluster.py [--quick] [--strict] [--work-dir DIR]

`--quick` is a smoke run (one failover round, 3 s of steady writes, 200 writes
per throughput run); `--only failover|lag|throughput` runs one part; `--work-dir`
keeps the state dirs and mcpd logs.

The exit status is 0 unless `--strict` is given and a target is missed (1), or
the benchmark itself cannot run (2).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pygit2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the test harness starts mcpd and PostgreSQL
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.figures import emit, load, ms, percentile, secs, spread  # noqa: E402
from tests.support.mcpd import mcpd_command  # noqa: E402
from tests.support.postgres import PostgresServer, free_port, running_postgres  # noqa: E402

FAILOVER_TARGET = 10.0
LAG_P95_TARGET = 0.100
LEASE_SECONDS = 6.0

#: Hang guards, not budgets: a start, a request or a wait this long is hung, not slow.
READY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 60.0
SETTLE_TIMEOUT = 120.0
FAILOVER_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0

#: During a failover: a write every FAILOVER_WRITE_EVERY, a status poll every STATUS_POLL.
FAILOVER_WRITE_EVERY = 0.100
STATUS_POLL = 0.020
FAILOVER_REQUEST_TIMEOUT = 10.0
#: The client's watch of the leader's `main`.
WATCH_POLL = 0.001
#: A steady write that starts later than this behind its schedule is counted as late.
LATE = 0.050
#: Threads that send the steady writes at least (a slow answer delays no other write).
STEADY_LANES = 3

CHANGE_TRAILER = re.compile(r"^Mcpctl-Change:\s*(\d+)\s*$", re.MULTILINE)
LOGGED_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
LOGGED_WARNING = re.compile(r"\bWARNING\b")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
NUMBERS = re.compile(r"\d+")

Doc = dict[str, Any]


class BenchmarkError(Exception):
    """The benchmark cannot go on (a replica did not start, a write was refused, ...)."""


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One measured figure, with its verdict (None: reported, not judged)."""

    name: str
    shown: str
    ok: bool | None
    detail: str

    @property
    def verdict(self) -> str:
        return "INFO" if self.ok is None else "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        return f"{self.name}: {self.shown} {self.verdict}; {self.detail}"


# --------------------------------------------------------------------------- replicas


def server(name: str) -> Doc:
    """A small Server: the written object of every part (a Group or a User would change who
    may do what, and each write of one costs more the more of them are stored)."""
    spec = {"command": ["uvx", "mcp-server-time"], "env": [{"name": "TZ", "value": "UTC"}]}
    return {"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": name}, "spec": spec}


def create(client: httpx.Client, name: str) -> int:
    """Create Server `name`; its resourceVersion (the seq of its change)."""
    response = client.post("/api/v1/servers", json=server(name))
    if response.status_code != 201:
        raise BenchmarkError(
            f"POST {client.base_url}/api/v1/servers ({name}): {response.status_code} "
            f"{response.text[:1000]}"
        )
    return int(response.json()["metadata"]["resourceVersion"])


class Replica:
    """One mcpd process of the cluster: its state dir, its log and (while it runs) its port."""

    def __init__(self, name: str, base: Path, database_url: str, lease_seconds: float) -> None:
        self.name = name
        self.state_dir = base / name
        self.log = base / f"{name}.log"
        self.database_url = database_url
        self.lease_seconds = lease_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start mcpd on a new free port (it keeps its state dir); `wait_ready` follows."""
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        line = [
            *mcpd_command(),
            *("--state-dir", str(self.state_dir), "--host", "127.0.0.1", "--port", str(port)),
            *("--database-url", self.database_url, "--replica-name", self.name),
            *("--lease-seconds", f"{self.lease_seconds:g}"),
        ]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                line, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-40:])
        except OSError:
            return "(no log)"

    def wait_ready(self) -> str:
        """Wait until `/readyz` answers 200; the role it gives."""
        end = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise BenchmarkError(f"{self.name} exited ({code}):\n{self._tail()}")
            role = self.role()
            if role is not None:
                return role
            if time.monotonic() > end:
                raise BenchmarkError(
                    f"{self.name} not ready after {READY_TIMEOUT}s:\n{self._tail()}"
                )
            time.sleep(0.05)

    def role(self) -> str | None:
        """leader, follower, ... (None: not ready, or not answering)."""
        try:
            response = httpx.get(f"{self.url}/readyz", timeout=5.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return str(response.json().get("role"))

    def client(self, token: str, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the process group (mcpd and its git children): a crash."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """A clean stop: mcpd exports what is left and lets the lease go.

        SIGINT, not SIGTERM: on SIGTERM, uvicorn (0.54) raises the signal again once it
        has stopped serving, and the default action ends mcpd before its own stop runs
        (exit status -15, the lease left to run out: a restarted replica waits for it).
        """
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # mcpd alone: its git children end their work
        end = time.monotonic() + STOP_TIMEOUT
        # wait for its exit without reaping it, so that its group id stays its own
        while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() > end:
                print(f"  {self.name} did not stop in {STOP_TIMEOUT:g}s: killed", flush=True)
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):  # whatever is left of its group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)

    def cpu(self) -> tuple[float, float]:
        """The CPU seconds (user + system) mcpd has used so far, and those of its children
        that ended (git: upload-pack on a leader, fetch on a follower); 0 without /proc."""
        if self.process is None:
            return 0.0, 0.0
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0, 0.0
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick, (
            int(fields[13]) + int(fields[14])
        ) / tick


def cpu_used(replicas: Sequence[Replica], before: Sequence[tuple[float, float]]) -> str:
    """What each replica used since `before` (its `cpu()` then)."""
    used = []
    for replica, (own, children) in zip(replicas, before, strict=True):
        now_own, now_children = replica.cpu()
        used.append(f"{replica.name} {now_own - own:.1f} s + git {now_children - children:.1f} s")
    return ", ".join(used)


@dataclass
class Cluster:
    replicas: list[Replica]
    token: str = ""

    def start(self) -> None:
        """The first replica bootstraps the database alone and is restarted (its leader's
        exportLag then holds no write of the bootstrap); it leads, the others follow."""
        first, others = self.replicas[0], self.replicas[1:]
        first.start()
        first.wait_ready()
        config = yaml.safe_load((first.state_dir / "config").read_text())
        self.token = str(config["contexts"][0]["token"])
        first.stop()
        first.start()
        first.wait_ready()
        end = time.monotonic() + SETTLE_TIMEOUT
        while (role := first.role()) != "leader":
            if time.monotonic() > end:
                raise BenchmarkError(f"{first.name} restarted as {role}, not as the leader")
            time.sleep(0.05)
        for replica in others:
            replica.start()
        for replica in others:
            replica.wait_ready()
        self.settle()

    def stop(self) -> None:
        """Stop the followers, then the leader (no follower sees its leader go)."""
        roles = {r.name: r.role() for r in self.replicas if r.running}
        for replica in sorted(self.replicas, key=lambda r: roles.get(r.name) == "leader"):
            replica.stop()

    def status(self, replica: Replica, client: httpx.Client | None = None) -> Doc:
        if client is not None:
            response = client.get("/api/v1/gitops/status")
        else:
            with replica.client(self.token) as own:
                response = own.get("/api/v1/gitops/status")
        if response.status_code != 200:
            raise BenchmarkError(
                f"{replica.name}: gitops status {response.status_code} {response.text[:500]}"
            )
        status: Doc = response.json()
        return status

    def leader(self) -> Replica:
        leaders = [r for r in self.replicas if r.running and r.role() == "leader"]
        if len(leaders) != 1:
            raise BenchmarkError(f"{len(leaders)} replicas say they lead")
        return leaders[0]

    def settle(self) -> Doc:
        """Wait until one replica leads, every write is exported and every replica's `main`
        is the leader's; the leader's status then."""
        end = time.monotonic() + SETTLE_TIMEOUT
        seen = ""
        while time.monotonic() < end:
            running = [r for r in self.replicas if r.running]
            roles = {r.name: r.role() for r in running}
            leaders = [r for r in running if roles[r.name] == "leader"]
            if len(leaders) == 1 and all(roles.values()):
                lead = self.status(leaders[0])
                heads = {r.name: self.status(r)["head"] for r in running}
                if not lead["pending"] and set(heads.values()) == {lead["head"]}:
                    return lead
                seen = f"roles {roles}, pending {lead['pending']}, heads {heads}"
            else:
                seen = f"roles {roles}"
            time.sleep(0.05)
        raise BenchmarkError(f"the cluster did not settle in {SETTLE_TIMEOUT:g}s: {seen}")

    def log_sizes(self) -> dict[str, int]:
        return {r.name: r.log.stat().st_size if r.log.exists() else 0 for r in self.replicas}

    def scan_logs(self, part: str, stopping: dict[str, int]) -> int:
        """Print the ERROR lines and tracebacks of the replicas' logs and a summary of the
        warnings, those logged while the replicas stopped (from `stopping`, the logs' sizes
        then) apart; the count of ERROR lines and tracebacks."""
        errors: list[str] = []
        warnings: dict[str, Counter[str]] = {"": Counter(), " while stopping": Counter()}
        for replica in self.replicas:
            try:
                text = replica.log.read_bytes()
            except OSError:
                continue
            split = stopping.get(replica.name, len(text))
            for when, part_text in (("", text[:split]), (" while stopping", text[split:])):
                for line in part_text.decode("utf-8", "replace").splitlines():
                    if LOGGED_ERROR.search(line):
                        errors.append(f"{replica.name}{when}: {line}")
                    elif LOGGED_WARNING.search(line):
                        # one entry per message, whatever its pids, ports and counts
                        warnings[when][NUMBERS.sub("N", TIMESTAMP.sub("", line))] += 1
        counts = ", ".join(f"{sum(c.values())} warning(s){when}" for when, c in warnings.items())
        print(
            f"mcpd logs ({part}): {len(errors)} ERROR line(s) or traceback(s), {counts}",
            flush=True,
        )
        for line in errors[:20]:
            print(f"  {line}", flush=True)
        for when, counter in warnings.items():
            for message, count in counter.most_common(8):
                print(f"  {count}x{when}: {message}", flush=True)
        return len(errors)


@contextmanager
def running_cluster(
    pg: PostgresServer, base: Path, part: str, count: int, lease: float, errors: list[int]
) -> Iterator[Cluster]:
    """`count` replicas on a fresh database, under `base/part`; stopped (and their logs
    scanned, the count of errors appended to `errors`) at the end."""
    where = base / part
    where.mkdir()
    url = pg.create_database()
    cluster = Cluster([Replica(f"r{i}", where, url, lease) for i in range(count)])
    started = time.monotonic()
    try:
        cluster.start()
        print(
            f"{part}: {count} replica(s) ready in {time.monotonic() - started:.1f} s "
            f"(leader {cluster.leader().name}); load average {load()}",
            flush=True,
        )
        yield cluster
    finally:
        stopping = cluster.log_sizes()
        cluster.stop()
        errors.append(cluster.scan_logs(part, stopping))


# --------------------------------------------------------------------------- 1. failover


@dataclass(frozen=True)
class FailoverRound:
    seconds: float
    line: str


def failover_round(cluster: Cluster, number: int) -> FailoverRound:
    """Kill the leader; write through the survivors until a write made after the kill is
    exported. The killed replica is restarted afterwards and the cluster settles."""
    before = cluster.settle()
    killed = cluster.leader()
    term = before["leader"]["term"]
    survivors = [r for r in cluster.replicas if r is not killed]
    clients = [r.client(cluster.token, FAILOVER_REQUEST_TIMEOUT) for r in survivors]
    try:
        for replica, client in zip(survivors, clients, strict=True):
            cluster.status(replica, client)  # the connections are open before the kill
        killed_at = time.monotonic()
        killed.kill()
        writes: list[tuple[float, int]] = []  # (acknowledged, seq)
        refused: Counter[str] = Counter()
        slowest = 0.0
        leading: tuple[float, str] | None = None
        exported: tuple[float, Doc] | None = None
        next_write, polls = killed_at, 0
        while exported is None:
            now = time.monotonic()
            if now - killed_at > FAILOVER_TIMEOUT:
                raise BenchmarkError(
                    f"round {number}: no write exported {FAILOVER_TIMEOUT:g}s after the kill "
                    f"(writes acknowledged: {len(writes)}, refused: {dict(refused)})"
                )
            if now >= next_write:
                client = clients[len(writes) % len(clients)]
                try:
                    seq = create(client, f"failover-{number}-{len(writes) + sum(refused.values())}")
                except (BenchmarkError, httpx.HTTPError) as e:
                    refused[type(e).__name__] += 1
                else:
                    done = time.monotonic()
                    slowest = max(slowest, done - now)
                    writes.append((done, seq))
                next_write = now + FAILOVER_WRITE_EVERY
            replica, client = survivors[polls % 2], clients[polls % 2]
            polls += 1
            try:
                status = cluster.status(replica, client)
            except (BenchmarkError, httpx.HTTPError):
                status = None
            seen = time.monotonic()
            if status is not None:
                if leading is None and status["replica"]["role"] == "leader":
                    leading = (seen - killed_at, replica.name)
                if writes and status["exportedChange"] >= writes[0][1]:
                    exported = (seen - killed_at, status)
            time.sleep(STATUS_POLL)
    finally:
        for client in clients:
            client.close()
    seconds, status = exported
    new = status["leader"] or {}
    said = (
        f"{leading[1]} said it leads after {secs(leading[0])}"
        if leading
        else "no status polled said 'leader' before the write was exported"
    )
    line = (
        f"{killed.name} (term {term}) killed, {new.get('name')} leads (term {new.get('term')}); "
        f"{said}; first write after the kill acknowledged after "
        f"{secs(writes[0][0] - killed_at)}; {len(writes)} writes acknowledged by the survivors "
        f"before it was exported (slowest answer {secs(slowest)})"
        + (f", refused: {dict(refused)}" if refused else "")
    )
    restarted = time.monotonic()
    killed.start()
    role = killed.wait_ready()
    cluster.settle()
    line += f"; {killed.name} restarted as {role}, settled in {time.monotonic() - restarted:.1f} s"
    return FailoverRound(seconds, line)


def bench_failover(cluster: Cluster, rounds: int, lease: float) -> list[Figure]:
    figures: list[Figure] = []
    results: list[float] = []
    for number in range(1, rounds + 1):
        result = failover_round(cluster, number)
        results.append(result.seconds)
        emit(
            figures,
            Figure(
                f"failover round {number} (lease {lease:g} s), kill to a write committed again",
                secs(result.seconds),
                result.seconds < FAILOVER_TARGET,
                result.line,
            ),
        )
    worst = max(results)
    emit(
        figures,
        Figure(
            f"failover, worst of {rounds} round(s)",
            secs(worst),
            worst < FAILOVER_TARGET,
            f"target < {FAILOVER_TARGET:g} s (ratio {worst / FAILOVER_TARGET:.2f}); "
            f"mean {secs(statistics.mean(results))}, best {secs(min(results))}",
        ),
    )
    return figures


# --------------------------------------------------------------------------- 2. export lag


class HeadWatcher:
    """Watches `main` of a state repo on disk: when it moves, the time and the change its
    commit reflects (`Mcpctl-Change`). No request to mcpd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[tuple[float, int]] = []  # (monotonic, change), both increasing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="head-watcher", daemon=True)
        self.failure: BaseException | None = None

    def __enter__(self) -> HeadWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def latest(self) -> int:
        return self.seen[-1][1] if self.seen else 0

    def _run(self) -> None:
        try:
            repo = pygit2.Repository(str(self.path))
            last: pygit2.Oid | None = None
            while not self._stop.is_set():
                reference = repo.references.get("refs/heads/main")
                target = reference.target if reference is not None else None
                if isinstance(target, pygit2.Oid) and target != last:
                    at = time.monotonic()
                    try:
                        message = repo[target].peel(pygit2.Commit).message
                    except KeyError:  # in a pack made since: look again with a fresh handle
                        repo = pygit2.Repository(str(self.path))
                        continue
                    last = target
                    found = CHANGE_TRAILER.findall(message)
                    if found and int(found[-1]) > self.latest():
                        self.seen.append((at, int(found[-1])))
                time.sleep(WATCH_POLL)
        except BaseException as e:  # reported by the caller
            self.failure = e

    def visible_at(self, seq: int) -> float | None:
        """When `main` first held change `seq` (None: not seen)."""
        changes = [change for _, change in self.seen]
        index = bisect.bisect_left(changes, seq)
        return self.seen[index][0] if index < len(self.seen) else None

    def wait_for(self, seq: int) -> None:
        end = time.monotonic() + SETTLE_TIMEOUT
        while self.latest() < seq:
            if self.failure is not None:
                raise BenchmarkError(f"watching {self.path} failed: {self.failure!r}")
            if time.monotonic() > end:
                raise BenchmarkError(f"main of {self.path} did not reach change {seq}")
            time.sleep(0.01)


@dataclass(frozen=True)
class SteadyWrite:
    replica: str
    late: float
    """How long after its scheduled time it was sent."""
    acknowledged: float
    seq: int


def steady_writes(cluster: Cluster, rate: float, seconds: float) -> list[SteadyWrite]:
    """count = rate x seconds writes at a fixed schedule over `lanes` threads (at least 3,
    each with its keep-alive client): write i goes through lane i mod lanes, and lane k
    through replica k mod n (so round-robin over the replicas)."""
    count = max(1, round(rate * seconds))
    replicas = cluster.replicas
    lanes = max(STEADY_LANES, len(replicas))
    done: list[SteadyWrite] = []
    failures: list[BaseException] = []
    clients = [replicas[k % len(replicas)].client(cluster.token) for k in range(lanes)]
    for k, client in enumerate(clients):  # the connections are open before the schedule starts
        cluster.status(replicas[k % len(replicas)], client)
    start = time.monotonic() + 0.2

    def writer(k: int) -> None:
        try:
            for i in range(k, count, lanes):
                due = start + i / rate
                time.sleep(max(0.0, due - time.monotonic()))
                sent = time.monotonic()
                seq = create(clients[k], f"steady-{i:05d}")
                name = replicas[k % len(replicas)].name
                done.append(SteadyWrite(name, sent - due, time.monotonic(), seq))
        except BaseException as e:  # raised below
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(lanes)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + SETTLE_TIMEOUT)
    finally:
        for client in clients:
            client.close()
    if failures:
        raise BenchmarkError(f"a steady write failed: {failures[0]!r}")
    if len(done) != count:
        raise BenchmarkError(f"{len(done)} of {count} steady writes done")
    return done


def bench_lag(cluster: Cluster, rate: float, seconds: float, *, judged: bool) -> list[Figure]:
    """The lag figures (judged against the target, or for comparison only)."""
    figures: list[Figure] = []
    count = len(cluster.replicas)
    replicas = f"{count} replica{'s' if count > 1 else ''}"
    leader = cluster.leader()
    before = cluster.settle()
    if before["exportLag"]:
        print(f"  (the leader's exportLag holds writes already: {before['exportLag']})")
    cpu = [r.cpu() for r in cluster.replicas]
    with HeadWatcher(leader.state_dir / "state.git") as watcher:
        writes = steady_writes(cluster, rate, seconds)
        last = max(w.seq for w in writes)
        watcher.wait_for(last)
    used = cpu_used(cluster.replicas, cpu)
    after = cluster.settle()
    if cluster.leader() is not leader:
        raise BenchmarkError("the leader changed during the steady writes")
    lag = after["exportLag"] or {}
    lags: list[float] = []
    by_origin: dict[str, list[float]] = {"leader": [], "followers": []}
    early = 0
    for write in writes:
        visible = watcher.visible_at(write.seq)
        assert visible is not None  # waited for above
        early += visible < write.acknowledged
        lags.append(max(0.0, visible - write.acknowledged))
        by_origin["leader" if write.replica == leader.name else "followers"].append(lags[-1])
    sent = len(writes)
    late = [w.late for w in writes if w.late > LATE]
    p95 = float(lag.get("p95", float("inf")))
    target = f"target < {ms(LAG_P95_TARGET)}" if judged else "for comparison, not judged"
    origins = f"through the leader {spread(by_origin['leader'])}"
    if count > 1:
        origins += f"; through followers {spread(by_origin['followers'])}"
    emit(
        figures,
        Figure(
            f"export lag at a steady rate ({replicas}), leader's exportLag p95 (authoritative)",
            ms(p95),
            p95 < LAG_P95_TARGET if judged else None,
            f"{target}; p50 {ms(lag.get('p50', 0.0))}, "
            f"max {ms(lag.get('max', 0.0))}, over {lag.get('writes')} writes "
            f"(change timestamp to exportedChange recorded, on {leader.name})",
        ),
    )
    client_p95 = percentile(lags, 0.95)
    emit(
        figures,
        Figure(
            f"export lag at a steady rate ({replicas}), client-side p95 (answer to main)",
            ms(client_p95),
            client_p95 < LAG_P95_TARGET if judged else None,
            f"{target}; {spread(lags)}; {early} of {sent} commits were on main before the "
            f"client had the answer; {origins}",
        ),
    )
    emit(
        figures,
        Figure(
            f"steady write schedule ({replicas})",
            f"{sent} writes",
            None,
            f"{rate:g}/s for {seconds:g} s round-robin over {replicas}; "
            f"{len(late)} sent over {ms(LATE)} behind schedule"
            + (f" (worst {ms(max(late))})" if late else "")
            + f"; mcpd CPU {used}",
        ),
    )
    return figures


# --------------------------------------------------------------------------- 3. throughput


@dataclass(frozen=True)
class Throughput:
    per_second: float
    detail: str


def bench_throughput(cluster: Cluster, writers: int, total: int, prefix: str) -> Throughput:
    """`total` creates by `writers` threads (writer k through replica k mod n)."""
    replicas = cluster.replicas
    clients = [replicas[k % len(replicas)].client(cluster.token) for k in range(writers)]
    latencies: list[list[float]] = [[] for _ in range(writers)]
    last_seq: list[int] = [0] * writers
    failures: list[BaseException] = []
    barrier = threading.Barrier(writers + 1)

    def writer(k: int) -> None:
        try:
            barrier.wait(timeout=REQUEST_TIMEOUT)
            for i in range(k, total, writers):
                sent = time.perf_counter()
                last_seq[k] = max(last_seq[k], create(clients[k], f"{prefix}-{i:05d}"))
                latencies[k].append(time.perf_counter() - sent)
        except BaseException as e:  # raised below
            failures.append(e)

    try:
        for k, client in enumerate(clients):  # connections open before the clock starts
            cluster.status(replicas[k % len(replicas)], client)
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
        for thread in threads:
            thread.start()
        cpu = [r.cpu() for r in replicas]
        barrier.wait(timeout=REQUEST_TIMEOUT)
        started = time.perf_counter()
        for thread in threads:
            thread.join(timeout=SETTLE_TIMEOUT * 10)
        wall = time.perf_counter() - started
        used = cpu_used(replicas, cpu)
    finally:
        for client in clients:
            client.close()
    if failures:
        raise BenchmarkError(f"a write failed: {failures[0]!r}")
    leader, last = cluster.leader(), max(last_seq)
    with leader.client(cluster.token) as client:
        backlog = last - cluster.status(leader, client)["exportedChange"]
        backlog_at = time.perf_counter()
        status = export_done(cluster, leader, client, last)
        exported_at = time.perf_counter()
    drained = exported_at - backlog_at
    lag = status["exportLag"] or {}
    every = [s for per in latencies for s in per]
    return Throughput(
        total / wall,
        f"{total:,} writes by {writers} writers in {wall:.2f} s; per write {spread(every)}; "
        f"mcpd CPU {used} (of {wall * (os.cpu_count() or 1):.1f} CPU-s available); "
        f"{backlog} writes not yet exported at the last answer, exported in {secs(drained)} "
        f"({backlog / drained if drained > 0 else 0:,.0f} commits/s); the leader's exportLag "
        f"p50 {ms(lag.get('p50', 0.0))}, p95 {ms(lag.get('p95', 0.0))}, "
        f"max {ms(lag.get('max', 0.0))} (its last {lag.get('writes')} writes)",
    )


def export_done(cluster: Cluster, leader: Replica, client: httpx.Client, seq: int) -> Doc:
    """Poll the leader (every 20 ms) until exportedChange >= seq; its status then."""
    end = time.monotonic() + SETTLE_TIMEOUT * 5
    while (status := cluster.status(leader, client))["exportedChange"] < seq:
        if time.monotonic() > end:
            raise BenchmarkError(f"the leader did not export change {seq}")
        time.sleep(STATUS_POLL)
    return status


# --------------------------------------------------------------------------- main


@dataclass
class Options:
    rounds: int
    rate: float
    seconds: float
    writers: int
    writes: int
    lease: float
    parts: list[str] = field(default_factory=lambda: ["failover", "lag", "throughput"])


def run(options: Options, base: Path) -> tuple[list[Figure], str, int]:
    """Every part; the figures, the summary's text and the count of mcpd log errors."""
    figures: list[Figure] = []
    summary: list[str] = []
    errors: list[int] = []

    def part(name: str, count: int, body: Callable[[Cluster], None]) -> None:
        print(f"\n== {name} (load average {load()}) ==", flush=True)
        with running_cluster(pg, base, name, count, options.lease, errors) as cluster:
            body(cluster)

    with running_postgres() as pg:
        if "failover" in options.parts:

            def failover(cluster: Cluster) -> None:
                done = bench_failover(cluster, options.rounds, options.lease)
                figures.extend(done)
                worst = done[-1]
                summary.append(f"failover worst {worst.shown} {worst.verdict}")

            part("failover", 3, failover)
        if "lag" in options.parts:

            def lag(cluster: Cluster) -> None:
                done = bench_lag(cluster, options.rate, options.seconds, judged=True)
                figures.extend(done)
                summary.append(
                    f"export lag p95 (3 replicas) {done[0].shown} (leader) {done[0].verdict}, "
                    f"{done[1].shown} (client) {done[1].verdict}"
                )

            def lag_alone(cluster: Cluster) -> None:
                done = bench_lag(cluster, options.rate, options.seconds, judged=False)
                figures.extend(done)
                summary.append(f"(1 replica: {done[0].shown} leader, {done[1].shown} client)")

            part("export-lag", 3, lag)
            part("export-lag-1", 1, lag_alone)
        if "throughput" in options.parts:
            measured: dict[int, Throughput] = {}

            def throughput(count: int) -> Callable[[Cluster], None]:
                def body(cluster: Cluster) -> None:
                    result = bench_throughput(cluster, options.writers, options.writes, "tp")
                    measured[count] = result
                    emit(
                        figures,
                        Figure(
                            f"write throughput, {count} replica(s)",
                            f"{result.per_second:,.0f} writes/s",
                            None,
                            result.detail,
                        ),
                    )

                return body

            part("throughput-1", 1, throughput(1))
            part("throughput-3", 3, throughput(3))
            ratio = measured[3].per_second / measured[1].per_second
            emit(
                figures,
                Figure(
                    "write throughput, three replicas against one",
                    f"ratio {ratio:.2f}",
                    None,
                    f"{measured[1].per_second:,.0f} writes/s with one replica, "
                    f"{measured[3].per_second:,.0f} writes/s with three",
                ),
            )
            summary.append(
                f"throughput {measured[1].per_second:,.0f}/s (1 replica), "
                f"{measured[3].per_second:,.0f}/s (3), ratio {ratio:.2f}"
            )
    return figures, "; ".join(summary), sum(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="failover rounds (default 3; quick 1)")
    parser.add_argument("--rate", type=float, help="steady writes per second (default 20)")
    parser.add_argument("--seconds", type=float, help="steady writing time (default 15; quick 3)")
    parser.add_argument("--writers", type=int, help="concurrent writers (default 8)")
    parser.add_argument(
        "--writes", type=int, help="writes per throughput run (default 2000; quick 200)"
    )
    parser.add_argument(
        "--lease-seconds", type=float, default=LEASE_SECONDS, help="the replicas' lease (default 6)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=("failover", "lag", "throughput"),
        help="run only this part (repeatable)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep the replicas' state dirs and logs here (an empty or new directory; "
        "default: a temporary one, removed at the end)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.work_dir is not None and args.work_dir.exists() and any(args.work_dir.iterdir()):
        parser.error(f"--work-dir {args.work_dir} is not empty")
    quick = args.quick
    options = Options(
        rounds=args.rounds or (1 if quick else 3),
        rate=args.rate or 20.0,
        seconds=args.seconds or (3.0 if quick else 15.0),
        writers=args.writers or 8,
        writes=args.writes or (200 if quick else 2000),
        lease=args.lease_seconds,
        parts=args.only or ["failover", "lag", "throughput"],
    )
    if min(options.rounds, options.writers, options.writes) < 1 or options.rate <= 0:
        parser.error("--rounds, --writers, --writes and --rate must be positive")

    print(f"mcpd cluster benchmark ({sys.platform}, {os.cpu_count()} CPUs, {sys.executable})")
    print(f"load average {load()} (1, 5, 15 min)", flush=True)
    began = time.monotonic()
    try:
        with ExitStack() as stack:
            if args.work_dir is None:
                work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcpctl-")))
            else:
                work = args.work_dir.resolve()
                work.mkdir(parents=True, exist_ok=True)
            figures, summary, errors = run(options, work)
    except (
        BenchmarkError,
        RuntimeError,
        OSError,
        httpx.HTTPError,
        subprocess.SubprocessError,
    ) as e:
        print(f"benchmark: cannot go on: {e}", file=sys.stderr)
        return 2
    judged = [f for f in figures if f.ok is not None]
    missed = [f for f in judged if not f.ok]
    print(
        f"\nsummary: {summary}; {len(judged) - len(missed)} of {len(judged)} targets met; "
        f"mcpd log errors {errors}; load average {load()}; "
        f"took {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
