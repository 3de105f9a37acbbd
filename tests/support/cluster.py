"""Several real mcpd replicas on one PostgreSQL database: start them, find the leader, break it.

`running_cluster` starts mcpd processes (one process group, one log file and, unless
they share one, one state dir each) on one database, waits until each answers
`/readyz`, and takes the admin's token from the state dir of the replica that
bootstrapped the database (followers write no `config`). A `Replica` can be killed
(-9), paused (SIGSTOP) and resumed, stopped and started again on its state dir.

The oracle, as for one mcpd (docs/architecture.md, "The flows and the invariant"),
holds for the cluster: once it is `quiet` (nothing pending on the leader, every
replica's `main` at the cluster's), `main` is the export of the database on every
replica, and each write is one commit (its `Mcpctl-Change` trailer once, the
trailers strictly increasing along `main`). `Writing` makes numbered writes from
threads through the replicas as a client behind a load balancer would, each retried
on the next replica until one acknowledges it.

Every wait polls a condition; its limit is a hang guard (`WAIT_TIMEOUT`), never a
time budget. The lease itself is read from the database (`Cluster.lease`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from tests.support.manifests import server
from tests.support.mcpd import REQUEST_TIMEOUT, START_TIMEOUT, WAIT_TIMEOUT, Mcpd, mcpd_command
from tests.support.postgres import free_port

#: The lease the tests give the replicas (seconds): short, so that takeovers are quick.
LEASE_SECONDS = 3
#: The trailer naming the last change a commit holds.
TRAILER = "Mcpctl-Change"
GIT_TIMEOUT = 60.0
POLL = 0.05


class ReplicaExited(RuntimeError):
    """A replica's process exited while the harness waited for it."""


# ---- one replica -----------------------------------------------------------------------------


@dataclass
class Replica:
    """One mcpd process of the cluster (started again on the same state dir and port)."""

    name: str
    state_dir: Path
    port: int
    log: Path
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False
    #: the harness ended it (killed or stopped): its exit is no failure
    ended: bool = False
    #: where the current start's lines begin in `log` (which accumulates over restarts)
    log_offset: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def live(self) -> bool:
        """Running and not paused: it answers."""
        return self.running and not self.paused

    def start(self) -> None:
        assert not self.running, f"{self.name} runs already"
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("MCPD_")},
            )
        self.paused = self.ended = False

    def logged(self) -> str:
        """What this start of the replica has logged so far."""
        return self.log.read_bytes()[self.log_offset :].decode("utf-8", "replace")

    def readyz(self) -> dict[str, Any] | None:
        """Its `/readyz` answer when ready (None: not ready, or not answering)."""
        try:
            answer = httpx.get(f"{self.url}/readyz", timeout=5.0)
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        ready: dict[str, Any] = answer.json()
        return ready

    def role(self) -> str | None:
        ready = self.readyz()
        return None if ready is None else str(ready["role"])

    def wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not self.running:
                code = self.process.returncode if self.process else None
                raise ReplicaExited(f"{self.name} exited with {code}:\n{self.logged()}")
            ready = self.readyz()
            if ready is not None:
                return ready
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} not ready after {START_TIMEOUT}s:\n{self.logged()}"
                )
            time.sleep(POLL)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """kill -9 of its whole process group (mcpd and the git it runs)."""
        assert self.running, f"{self.name} is not running"
        self.ended = True
        self._signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=WAIT_TIMEOUT)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: it keeps its sockets and connections and does nothing."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM (a clean stop), SIGKILL after the hang guard."""
        if not self.running:
            return
        self.ended = True
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(timeout=WAIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=WAIT_TIMEOUT)

    # ---- its state repo, read with the git CLI -------------------------------------------

    def git(self, *args: str, check: bool = True) -> str:
        """A git command on this replica's bare state repo (reading only); its output."""
        done = subprocess.run(
            ["git", "--git-dir", str(self.state_dir / "state.git"), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=_git_env(),
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} on {self.name}: {done.stderr}")
        return done.stdout

    def head(self) -> str:
        return self.git("rev-parse", "--verify", "-q", "refs/heads/main", check=False).strip()

    def history(self, rev: str = "main") -> list[Commit]:
        return history(self, rev)

    def tree(self, rev: str = "main") -> dict[str, str]:
        """Every file at `rev`: path -> blob id."""
        out: dict[str, str] = {}
        for line in self.git("ls-tree", "-r", "--full-tree", rev).splitlines():
            meta, _, path = line.partition("\t")
            out[path] = meta.split()[2]
        return out

    def is_ancestor(self, older: str, newer: str = "main") -> bool:
        done = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.state_dir / "state.git"),
                "merge-base",
                "--is-ancestor",
                older,
                newer,
            ],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=_git_env(),
        )
        return done.returncode == 0

    def branches(self, prefix: str = "refs/heads/") -> dict[str, str]:
        """The refs under `prefix`: name -> commit."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            refs[name] = sha
        return refs


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MCPD_"))}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", LANG="C.UTF-8")
    return env


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: list[str]
    #: the `Mcpctl-Change` trailers of its message
    changes: list[int]
    author: str
    subject: str


def history(replica: Replica | Path, rev: str = "main") -> list[Commit]:
    """The commits of `rev` (a replica's state repo, or any bare repo), oldest first."""
    git_dir = replica.state_dir / "state.git" if isinstance(replica, Replica) else replica
    fmt = f"%H%x1f%P%x1f%(trailers:key={TRAILER},valueonly,separator=%x2C)%x1f%an%x1f%s"
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "log", "--reverse", f"--format={fmt}", rev],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=True,
        env=_git_env(),
    )
    out: list[Commit] = []
    for line in done.stdout.splitlines():
        sha, parents, trailers, author, subject = line.split("\x1f")
        numbers = [int(n) for n in trailers.split(",") if n.strip()]
        out.append(Commit(sha, parents.split(), numbers, author, subject))
    return out


# ---- the lease, read from the database -------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """The `leases` row as the database has it, and the database's time of the read."""

    holder: str
    url: str
    term: int
    acquired_at: float
    renewed_at: float
    expires_at: float
    now: float

    @property
    def replica(self) -> str:
        """The holding replica's name (the holder is `name#incarnation`)."""
        return self.holder.partition("#")[0]

    @property
    def held(self) -> bool:
        return bool(self.holder) and self.expires_at > self.now


# ---- writes through the replicas -------------------------------------------------------------


@dataclass
class Writing:
    """Numbered writes (one Server each, applied) made from `threads` threads through the
    replicas `through()` names at each attempt: a write refused with 503 or cut off (its
    replica killed) goes to the next replica, until one acknowledges it. Apply is
    idempotent, so a write that committed before its answer was lost changes nothing the
    second time."""

    token: str
    through: Callable[[], Sequence[Replica]]
    names: list[str]
    threads: int = 3
    acknowledged: list[str] = field(default_factory=list)
    #: attempts answered 503 or cut off, by replica
    retried: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Writing:
        for t in range(self.threads):
            worker = threading.Thread(
                target=self._run, args=(self.names[t :: self.threads], t), daemon=True
            )
            self._workers.append(worker)
            worker.start()
        return self

    def _run(self, names: list[str], offset: int) -> None:
        clients: dict[str, httpx.Client] = {}
        try:
            for number, name in enumerate(names):
                if not self._write(name, number + offset, clients):
                    return
        except Exception as e:  # the thread's end: the test reads it in `errors`
            with self._lock:
                self.errors.append(f"writer {offset} failed: {e!r}")
        finally:
            for client in clients.values():
                client.close()

    def _write(self, name: str, number: int, clients: dict[str, httpx.Client]) -> bool:
        body = {"items": [server(name, replicas=0)]}
        deadline = time.monotonic() + WAIT_TIMEOUT
        attempt = 0
        while True:
            targets = list(self.through())
            target = targets[(number + attempt) % len(targets)] if targets else None
            attempt += 1
            if target is not None:
                client = clients.get(target.name)
                if client is None:
                    client = clients[target.name] = httpx.Client(
                        base_url=target.url,
                        headers={"Authorization": f"Bearer {self.token}"},
                        timeout=REQUEST_TIMEOUT,
                    )
                try:
                    answer = client.post("/api/v1/apply", json=body)
                except httpx.TransportError:
                    client.close()
                    del clients[target.name]
                    answer = None
                if answer is not None and answer.status_code == 200:
                    with self._lock:
                        self.acknowledged.append(name)
                    return True
                if answer is not None and answer.status_code != 503:
                    with self._lock:
                        self.errors.append(
                            f"{name} via {target.name}: {answer.status_code} {answer.text}"
                        )
                    return False
                with self._lock:
                    self.retried[target.name] = self.retried.get(target.name, 0) + 1
            if time.monotonic() > deadline:
                with self._lock:
                    self.errors.append(f"{name}: no replica acknowledged it in {WAIT_TIMEOUT}s")
                return False
            time.sleep(POLL)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def wait_for(self, count: int) -> None:
        """Wait until `count` writes are acknowledged."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while self.count() < count:
            assert not self.errors, self.errors
            assert any(w.is_alive() for w in self._workers), "the writers stopped early"
            assert time.monotonic() < deadline, f"only {self.count()} writes acknowledged"
            time.sleep(POLL)

    def join(self) -> list[str]:
        """Wait for every write; the acknowledged ones (all of them, or the test fails)."""
        for worker in self._workers:
            worker.join(timeout=WAIT_TIMEOUT * 2)
            assert not worker.is_alive(), "a writer hangs"
        assert not self.errors, self.errors
        assert sorted(self.acknowledged) == sorted(self.names)
        return list(self.acknowledged)


# ---- the cluster -----------------------------------------------------------------------------


@dataclass
class Cluster:
    base: Path
    database_url: str
    #: arguments every replica gets (the lease, a remote, ...)
    args: list[str]
    #: one state dir for every replica (a shared volume), or None: one each
    shared_state: Path | None = None
    replicas: list[Replica] = field(default_factory=list)
    _token: str | None = None

    def replica(self, name: str | None = None, *, state_dir: Path | None = None) -> Replica:
        """A new replica (not started), named `name` (default: r<N>)."""
        name = name or f"r{len(self.replicas)}"
        state = state_dir or self.shared_state or self.base / f"{name}-state"
        port = free_port()
        command = [
            *mcpd_command(),
            *("--state-dir", str(state), "--port", str(port)),
            *("--database-url", self.database_url, "--replica-name", name),
            *self.args,
        ]
        made = Replica(name, state, port, self.base / f"{name}.log", command)
        self.replicas.append(made)
        return made

    def start(self, replicas: Sequence[Replica]) -> None:
        """Start `replicas` together and wait until each is ready."""
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()

    def add(self, name: str | None = None, *, state_dir: Path | None = None) -> Replica:
        """A new replica, started and ready."""
        made = self.replica(name, state_dir=state_dir)
        self.start([made])
        return made

    def by_name(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.live]

    # ---- the admin's token -----------------------------------------------------------

    def bootstrapped(self) -> list[Path]:
        """The state dirs holding the first start's `config` (one, once bootstrapped)."""
        dirs = {r.state_dir for r in self.replicas} | (
            {self.shared_state} if self.shared_state else set()
        )
        return sorted(d for d in dirs if (d / "config").exists())

    @property
    def token(self) -> str:
        """The admin's token, from the state dir of the replica that bootstrapped."""
        if self._token is None:
            deadline = time.monotonic() + WAIT_TIMEOUT
            while not self.bootstrapped():
                assert time.monotonic() < deadline, "no replica wrote the admin's config"
                time.sleep(POLL)
            config = yaml.safe_load((self.bootstrapped()[0] / "config").read_text())
            self._token = str(config["contexts"][0]["token"])
        return self._token

    def client(self, replica: Replica) -> httpx.Client:
        return httpx.Client(
            base_url=replica.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=REQUEST_TIMEOUT,
        )

    def as_mcpd(self, replica: Replica) -> Mcpd:
        """The replica as tests/support's `Mcpd` (for `Clone.of`)."""
        assert replica.process is not None
        return Mcpd(replica.url, replica.state_dir, self.token, "", replica.process, replica.log)

    def status(self, replica: Replica) -> dict[str, Any]:
        with self.client(replica) as client:
            answer: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
        return answer

    def verify(self, replica: Replica) -> dict[str, Any]:
        with self.client(replica) as client:
            answer: dict[str, Any] = client.get("/api/v1/gitops/verify").raise_for_status().json()
        return answer

    # ---- the lease and the leader -----------------------------------------------------

    def lease(self) -> Lease:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            row = connection.execute(
                "SELECT holder, url, term, acquired_at, renewed_at, expires_at,"
                " extract(epoch from clock_timestamp())::float8"
                " FROM leases WHERE name = 'leader'"
            ).fetchone()
        assert row is not None, "no lease row"
        return Lease(*row)

    def writes_since(self, seq: int) -> list[int]:
        """The writes the change log holds after change `seq`: the last change of each, in
        order (what their commits' trailers say). A sequence number that a transaction
        rolled back (cut off by a kill) leaves a gap: these are not consecutive."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT max(seq) FROM changes WHERE seq > %s GROUP BY write_id ORDER BY 1", (seq,)
            ).fetchall()
        return [int(row[0]) for row in rows]

    def leader(self, *, after_term: int = 0) -> Replica:
        """Wait until exactly one live replica leads, in a term after `after_term`, and the
        lease says so; that replica."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        seen: dict[str, str | None] = {}
        while True:
            self.check_running()
            seen = {r.name: r.role() for r in self.live()}
            leaders = [name for name, role in seen.items() if role == "leader"]
            if len(leaders) == 1:
                lease = self.lease()
                if lease.held and lease.replica == leaders[0] and lease.term > after_term:
                    return self.by_name(leaders[0])
            assert time.monotonic() < deadline, f"no single leader: roles {seen}, {self.lease()}"
            time.sleep(POLL)

    def check_running(self) -> None:
        """Fail if a replica exited that the harness did not end."""
        for replica in self.replicas:
            process = replica.process
            if process is not None and process.poll() is not None and not replica.ended:
                raise ReplicaExited(
                    f"{replica.name} exited with {process.returncode}:\n{replica.logged()}"
                )

    def followers(self) -> list[Replica]:
        leader = self.leader()
        return [r for r in self.live() if r is not leader]

    # ---- quiet -------------------------------------------------------------------------

    def quiet(self, *, mirrored: bool = False) -> str:
        """Wait until the leader has exported every write (and, `mirrored`, pushed `main` to
        the remote) and every live replica's `main` is the cluster's; that commit."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            leader = self.leader()
            status = self.status(leader)
            cluster = status["clusterHead"]
            heads = {r.name: self.status(r)["head"] for r in self.live()}
            settled = not status["pending"] and set(heads.values()) == {cluster}
            if mirrored:
                settled = settled and (status["remote"] or {}).get("lastPushed") == cluster
            if settled and self.leader() is leader:
                return str(cluster)
            assert time.monotonic() < deadline, f"not quiet: heads {heads}, leader {status}"
            time.sleep(POLL)

    def writing(
        self,
        count: int,
        *,
        prefix: str = "w",
        threads: int = 3,
        through: Callable[[], Sequence[Replica]] | None = None,
    ) -> Writing:
        """Start `count` writes (Servers `<prefix>-<n>`) from `threads` threads through the
        live replicas (or those `through()` names)."""
        names = [f"{prefix}-{n}" for n in range(count)]
        return Writing(self.token, through or self.live, names, threads).start()

    def stop(self) -> None:
        """Stop every replica (all at once: a leader stopping first would hand over)."""
        for replica in self.replicas:
            if replica.running:
                replica.stop()
        for replica in self.replicas:
            replica.wait_stopped()


@contextmanager
def running_cluster(
    base: Path,
    database_url: str,
    count: int = 3,
    *,
    shared_state: bool = False,
    at_once: bool = False,
    lease_seconds: float | None = LEASE_SECONDS,
    args: Sequence[str] = (),
) -> Iterator[Cluster]:
    """`count` replicas on `database_url`, ready; stopped at the end.

    The first one starts alone and leads (it bootstraps the database), then the others
    start together; `at_once` starts them all together instead. `shared_state` gives
    them one state dir. `lease_seconds` None leaves mcpd's default lease.
    """
    base.mkdir(parents=True, exist_ok=True)
    lease = ["--lease-seconds", str(lease_seconds)] if lease_seconds is not None else []
    cluster = Cluster(
        base, database_url, [*lease, *args], base / "shared-state" if shared_state else None
    )
    failed = True
    try:
        made = [cluster.replica() for _ in range(count)]
        if at_once:
            cluster.start(made)
        elif made:
            cluster.start(made[:1])
            cluster.start(made[1:])
        yield cluster
        failed = False
    finally:
        cluster.stop()
        if failed:  # pytest shows it with the failure
            print(logs(cluster))


def logs(cluster: Cluster, lines: int = 300) -> str:
    """The end of every replica's log (for a failure's report)."""
    out = []
    for replica in cluster.replicas:
        if replica.log.exists():
            tail = replica.log.read_text("utf-8", "replace").splitlines()[-lines:]
            out.append(f"==== {replica.name} ({replica.log})\n" + "\n".join(tail))
    return "\n".join(out)
