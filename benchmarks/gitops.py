"""How fast writes reach the state repo: mcpd's export of each write to git.

Starts mcpd (SQLite, and PostgreSQL with --postgres), seeds 10,000 objects,
then measures:

- one-object write to visible commit: the time from the API's answer to a
  PUT until `main` holds the commit (the time the export adds), p50 and p95
  over many writes; target p95 under 20 ms;
- a 1,000-object batch apply to its commit (request plus export);
- `gitops verify` over the 10,000 objects (the invariant check).

Import, restore and disaster recovery (issue 4's other figures) are not
built yet and are not measured here.

Run: .venv/bin/python benchmarks/gitops.py [--writes 200] [--postgres] [--strict]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the test harness starts mcpd and PostgreSQL
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.mcpd import running_mcpd  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402

SEED = 10_000
BATCH = 1000
ADDED_P95_TARGET = 0.020
POLL = 0.001


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


def wait_head_change(client: httpx.Client, old: str | None, deadline: float = 30.0) -> float:
    """Poll until `main` moves past `old` and nothing is pending; the monotonic time then."""
    end = time.monotonic() + deadline
    while True:
        status = head(client)
        if status["head"] != old and not status["pending"]:
            return time.monotonic()
        if time.monotonic() > end:
            raise RuntimeError(f"no commit within {deadline} s: {status}")
        time.sleep(POLL)


def wait_quiet(client: httpx.Client, deadline: float = 300.0) -> None:
    end = time.monotonic() + deadline
    while head(client)["pending"]:
        if time.monotonic() > end:
            raise RuntimeError("the export did not finish")
        time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    database: str, url: str | None, state: Path, writes: int
) -> list[tuple[str, bool | None, str]]:
    results: list[tuple[str, bool | None, str]] = []
    with running_mcpd(state, url) as mcpd, mcpd.client() as client:
        started = time.perf_counter()
        for start in range(0, SEED, BATCH):
            items = [server(f"s{i}") for i in range(start, start + BATCH)]
            client.post("/api/v1/apply", json={"items": items}).raise_for_status()
        wait_quiet(client)
        seeding = time.perf_counter() - started
        print(f"[{database}] seeded {SEED:,} servers and exported them in {seeding:.1f} s")

        added: list[float] = []
        total: list[float] = []
        for i in range(writes):
            old = head(client)["head"]
            body = client.get(f"/api/v1/servers/s{i}").raise_for_status().json()
            body["spec"]["replicas"] = 2 + (i % 5)
            sent = time.monotonic()
            client.put(f"/api/v1/servers/s{i}", json=body).raise_for_status()
            answered = time.monotonic()
            visible = wait_head_change(client, old)
            added.append(visible - answered)
            total.append(visible - sent)
        p50, p95 = statistics.median(added), percentile(added, 0.95)
        line = (
            f"one-object write to visible commit, {writes} writes: added p50 {p50 * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms "
            f"(request + export p50 {statistics.median(total) * 1000:.1f} ms)"
        )
        print(f"[{database}] {line}")
        results.append(
            (f"{database}: one-object commit p95 added < 20 ms", p95 < ADDED_P95_TARGET, line)
        )

        old = head(client)["head"]
        items = [server(f"batch{i}") for i in range(BATCH)]
        sent = time.monotonic()
        client.post("/api/v1/apply", json={"items": items}).raise_for_status()
        answered = time.monotonic()
        visible = wait_head_change(client, old)
        line = (
            f"{BATCH:,}-object apply to commit: {visible - sent:.2f} s "
            f"(request {answered - sent:.2f} s, export {visible - answered:.2f} s)"
        )
        print(f"[{database}] {line}")
        results.append((f"{database}: batch apply to commit", None, line))

        started = time.perf_counter()
        verify = client.get("/api/v1/gitops/verify", timeout=300).raise_for_status().json()
        took = time.perf_counter() - started
        line = f"verify over {SEED + BATCH:,} objects: {took:.2f} s, in sync: {verify['inSync']}"
        print(f"[{database}] {line}")
        results.append((f"{database}: verify", verify["inSync"], line))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=200, help="single-object writes to time")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    options = parser.parse_args()
    results: list[tuple[str, bool | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="mcpctl-bench-gitops-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        results += run("sqlite", f"sqlite:///{base / 'mcpd.db'}", base / "sqlite", options.writes)
        if options.postgres:
            pg = stack.enter_context(running_postgres())
            results += run("postgresql", pg.create_database(), base / "pg", options.writes)
    print("\nsummary:")
    failed = False
    for name, ok, line in results:
        label = "INFO" if ok is None else ("PASS" if ok else "FAIL")
        failed |= ok is False
        print(f"  {label}  {name}: {line}")
    return 1 if failed and options.strict else 0


if __name__ == "__main__":
    sys.exit(main())
