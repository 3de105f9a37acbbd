"""How fast the database and the state repo follow each other: issue 4's GitOps figures.

Starts mcpd (SQLite, and PostgreSQL with --postgres), seeds 10,000 objects,
then measures the flows of docs/architecture.md ("The flows and the invariant"):

- one-object write to visible commit: the time from the API's answer to a
  PUT until `main` holds the commit (the time the export adds), p50 and p95
  over many writes; target p95 under 20 ms;
- a 1,000-object batch apply to its commit (request plus export);
- `gitops verify` over the 11,000 objects (the invariant check);
- import of a pushed commit changing 1,000 files: a clone over HTTP changes
  a label in 1,000 canonical server files, commits, and `git push` is timed
  until it returns (mcpd applies the push to the database inside it), then
  until the API shows the change and until mcpd is quiet; target under 3 s;
- a full restore: `POST /api/v1/gitops/restore` to the commit of the first
  1,000 seeded objects (10,000 objects deleted), then back to the timeline
  the restore saved (10,000 objects written again); target under 10 s each;
- disaster recovery: mcpd stopped and started on the same state dir with an
  empty database (a new SQLite file, a new PostgreSQL database), timed from
  the process start to ready, with the objects it restored; target under 10 s.

Each figure is printed on one line with its target, PASS or FAIL, and the
ratio of figure to target; a summary repeats them at the end.

Run: .venv/bin/python benchmarks/gitops.py [--writes 200] [--postgres] [--strict]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the test harness starts mcpd, PostgreSQL and git
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.gitrepo import Clone  # noqa: E402
from tests.support.mcpd import Mcpd, running_mcpd  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402

SEED = 10_000
BATCH = 1000
PUSHED = 1000
ADDED_P95_TARGET = 0.020
PUSH_TARGET = 3.0
RESTORE_TARGET = 10.0
POLL = 0.001
RECOVERED = re.compile(r"disaster recovery done: (\d+) object\(s\) restored")


@dataclass(frozen=True)
class Figure:
    """One measured figure, with its target (None: reported, not judged)."""

    database: str
    name: str
    seconds: float
    target: float | None
    detail: str

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.seconds < self.target

    def line(self) -> str:
        shown = f"{self.seconds * 1000:.1f} ms" if self.seconds < 1 else f"{self.seconds:.2f} s"
        if self.target is None:
            judged = "INFO"
        else:
            limit = f"{self.target * 1000:g} ms" if self.target < 1 else f"{self.target:g} s"
            verdict = "PASS" if self.ok else "FAIL"
            judged = f"{verdict} (target < {limit}, ratio {self.seconds / self.target:.2f})"
        return f"[{self.database}] {self.name}: {shown} {judged}; {self.detail}"


def server(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": name, "labels": {"bench": "gitops"}},
        "spec": {"command": ["mcp-server-time"], "replicas": replicas},
    }


def head(client: httpx.Client) -> dict[str, Any]:
    status: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
    return status


def main_ref(state: Path) -> Path:
    """The file of `main` in the state repo (mcpd writes loose refs)."""
    return state / "state.git" / "refs" / "heads" / "main"


def read_main(state: Path) -> str:
    try:
        return main_ref(state).read_text("ascii").strip()
    except FileNotFoundError:  # between git's rename and the next read: not moved yet
        return ""


def wait_head_change(state: Path, old: str | None, deadline: float = 30.0) -> float:
    """Poll the ref file until `main` moves past `old`; the monotonic time then.

    The file, not the API: polling mcpd would take its event loop from the exporter
    being measured.
    """
    end = time.monotonic() + deadline
    while True:
        now = read_main(state)
        if now and now != old:
            return time.monotonic()
        if time.monotonic() > end:
            raise RuntimeError(f"main did not move within {deadline} s (still {old})")
        time.sleep(POLL)


def wait_quiet(client: httpx.Client, deadline: float = 300.0) -> dict[str, Any]:
    """Poll until every committed write is exported; the replica's status then."""
    end = time.monotonic() + deadline
    while True:
        status = head(client)
        if not status["pending"]:
            return status
        if time.monotonic() > end:
            raise RuntimeError("the export did not finish")
        time.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def emit(results: list[Figure], figure: Figure) -> None:
    results.append(figure)
    print(figure.line(), flush=True)


def seed(client: httpx.Client, database: str) -> str:
    """10,000 servers in batches of 1,000; the commit holding only the first batch."""
    started = time.perf_counter()
    first = ""
    for start in range(0, SEED, BATCH):
        items = [server(f"s{i}") for i in range(start, start + BATCH)]
        client.post("/api/v1/apply", json={"items": items}, timeout=120).raise_for_status()
        if not first:
            first = wait_quiet(client)["head"]
    wait_quiet(client)
    print(
        f"[{database}] seeded {SEED:,} servers and exported them in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return first


def one_object_writes(mcpd: Mcpd, client: httpx.Client, database: str, writes: int) -> Figure:
    added: list[float] = []
    total: list[float] = []
    for i in range(writes):
        old = head(client)["head"]
        body = client.get(f"/api/v1/servers/s{i}").raise_for_status().json()
        body["spec"]["replicas"] = 2 + (i % 5)
        sent = time.monotonic()
        client.put(f"/api/v1/servers/s{i}", json=body).raise_for_status()
        answered = time.monotonic()
        visible = wait_head_change(mcpd.state_dir, old)
        added.append(visible - answered)
        total.append(visible - sent)
    return Figure(
        database,
        "one-object write to visible commit, added p95",
        percentile(added, 0.95),
        ADDED_P95_TARGET,
        f"{writes} writes, added p50 {statistics.median(added) * 1000:.1f} ms, "
        f"max {max(added) * 1000:.1f} ms; request + export p50 "
        f"{statistics.median(total) * 1000:.1f} ms, p95 {percentile(total, 0.95) * 1000:.1f} ms",
    )


def batch_apply(mcpd: Mcpd, client: httpx.Client, database: str) -> Figure:
    old = head(client)["head"]
    items = [server(f"batch{i}") for i in range(BATCH)]
    sent = time.monotonic()
    client.post("/api/v1/apply", json={"items": items}, timeout=120).raise_for_status()
    answered = time.monotonic()
    visible = wait_head_change(mcpd.state_dir, old, deadline=120)
    return Figure(
        database,
        f"{BATCH:,}-object apply to commit",
        visible - sent,
        None,
        f"request {answered - sent:.2f} s, export {visible - answered:.2f} s",
    )


def verify(client: httpx.Client, database: str, objects: int) -> Figure:
    started = time.perf_counter()
    result = client.get("/api/v1/gitops/verify", timeout=300).raise_for_status().json()
    took = time.perf_counter() - started
    if not result["inSync"]:
        raise RuntimeError(f"main differs from the database: {result['differences'][:10]}")
    return Figure(database, f"verify over {objects:,} objects", took, None, "in sync")


def push_import(mcpd: Mcpd, client: httpx.Client, database: str, work: Path) -> Figure:
    """A clone changes 1,000 canonical files (a label: the form mcpd writes); push is timed."""
    clone = Clone.of(mcpd, work / f"{database}-clone")
    names = [f"s{i}" for i in range(SEED - PUSHED, SEED)]  # untouched by the writes above
    for name in names:
        path = clone.path / "servers" / f"{name}.yaml"
        text = path.read_text("utf-8")
        changed = text.replace("    bench: gitops\n", "    bench: pushed\n")
        if changed == text:
            raise RuntimeError(f"{path.name} is not in the expected form:\n{text}")
        path.write_text(changed, "utf-8")
    pushed = clone.commit(f"Label {PUSHED} servers")
    started = time.monotonic()
    done = clone.push()
    returned = time.monotonic()
    if done.returncode != 0:
        raise RuntimeError(f"git push failed:\n{done.stderr}")
    while True:
        shown = client.get(f"/api/v1/servers/{names[-1]}").raise_for_status().json()
        if shown["metadata"]["labels"]["bench"] == "pushed":
            break
        if time.monotonic() - started > 60:
            raise RuntimeError("the pushed change did not reach the API")
        time.sleep(POLL)
    shown_at = time.monotonic()
    status = wait_quiet(client)
    quiet_at = time.monotonic()
    on_top = "none" if status["head"] == pushed else "one (canonical form or conflict)"
    return Figure(
        database,
        f"push of {PUSHED:,} changed files applied (git push returned)",
        returned - started,
        PUSH_TARGET,
        f"API shows it after {shown_at - started:.2f} s, mcpd quiet after "
        f"{quiet_at - started:.2f} s, commits mcpd added on top: {on_top}",
    )


def restore(client: httpx.Client, database: str, to: str, what: str) -> tuple[Figure, str]:
    """A restore to `to`; its figure and the timeline it saved."""
    started = time.monotonic()
    report = (
        client.post("/api/v1/gitops/restore", json={"to": to}, timeout=300)
        .raise_for_status()
        .json()
    )
    took = time.monotonic() - started
    summary = ", ".join(f"{n:,} {verb}" for verb, n in sorted(report["summary"].items()))
    figure = Figure(
        database,
        f"restore {what}",
        took,
        RESTORE_TARGET,
        f"{summary or 'nothing'} (timeline {report['timeline']})",
    )
    return figure, str(report["timeline"])


def timeline_restores(client: httpx.Client, database: str, first: str) -> list[Figure]:
    figure, saved = restore(client, database, first, f"to the first {BATCH:,} objects")
    timelines = client.get("/api/v1/gitops/timelines").raise_for_status().json()["items"]
    if saved not in {t["name"] for t in timelines}:
        raise RuntimeError(f"the restore saved {saved}, the timelines are {timelines}")
    back, _ = restore(client, database, f"timelines/{saved}", "back to the saved timeline")
    return [figure, back]


def recover(state: Path, url: str, database: str) -> Figure:
    """mcpd on `state` with the empty database at `url`: start to ready, objects restored."""
    log = state.parent / f"{state.name}-mcpd.log"
    before = log.read_text("utf-8", errors="replace") if log.exists() else ""
    started = time.monotonic()
    with running_mcpd(state, url) as mcpd:
        ready = time.monotonic() - started
        text = log.read_text("utf-8", errors="replace")[len(before) :]
        found = RECOVERED.search(text)
        with mcpd.client() as client:
            wait_quiet(client)
            result = client.get("/api/v1/gitops/verify", timeout=300).raise_for_status().json()
    restored = f"{int(found.group(1)):,} objects restored" if found else "no recovery logged"
    return Figure(
        database,
        "disaster recovery from an empty database, start to ready",
        ready,
        RESTORE_TARGET,
        f"{restored}, in sync afterwards: {result['inSync']}",
    )


def run(
    database: str, url: str, empty: Callable[[], str], state: Path, writes: int
) -> list[Figure]:
    """Every figure on one database; `empty` makes another, empty database (recovery's)."""
    results: list[Figure] = []
    with running_mcpd(state, url) as mcpd, mcpd.client() as client:
        first = seed(client, database)
        emit(results, one_object_writes(mcpd, client, database, writes))
        emit(results, batch_apply(mcpd, client, database))
        emit(results, verify(client, database, SEED + BATCH))
        emit(results, push_import(mcpd, client, database, state.parent))
        for figure in timeline_restores(client, database, first):
            emit(results, figure)
        emit(results, verify(client, database, SEED + BATCH))
    emit(results, recover(state, empty(), database))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=200, help="single-object writes to time")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    options = parser.parse_args()
    results: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="mcpctl-bench-gitops-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        results += run(
            "sqlite",
            f"sqlite:///{base / 'mcpd.db'}",
            lambda: f"sqlite:///{base / 'recovered.db'}",
            base / "sqlite",
            options.writes,
        )
        if options.postgres:
            pg = stack.enter_context(running_postgres())
            results += run(
                "postgresql", pg.create_database(), pg.create_database, base / "pg", options.writes
            )
    print("\nsummary:")
    for figure in results:
        print(f"  {figure.line()}")
    failed = any(figure.ok is False for figure in results)
    return 1 if failed and options.strict else 0


if __name__ == "__main__":
    sys.exit(main())
