"""Benchmark the runtime reconciler: 50 process instances of one Server under a real mcpd.

Starts mcpd on 127.0.0.1 (the installed `mcpd`, as the tests start it:
`tests/support/mcpd.py`) with a short restart back-off (`--restart-backoff
0.5,5,600`), and applies one Server, `bench`, running the project's test server
(`tests/support/servers/testserver.py`, over stdio) with `replicas` 50: one
Server, so that the figures are those of the instances and not of many Servers'
bookkeeping. The Server is first applied with `replicas` 0 and left to settle,
so that the measured apply only changes its replicas. Figures:

1. Apply to all ready: from the `POST /api/v1/apply` that sets replicas 50
   until every Instance at `GET /api/v1/instances` says `status.ready`
   (polled every 0.25 s, with the Server's `readyReplicas`: when it said 50,
   and how many Instances said ready then, is shown). Not judged:
   each test server is a Python process importing the `mcp` SDK, so on two
   cores this is mostly the servers' own start-up.
2. mcpd's CPU per instance start: mcpd's own utime + stime (/proc/PID/stat,
   children excluded) from before that apply until all are ready, divided by
   50. The readiness polls are requests mcpd answers: their cost is measured
   after (a burst of the same GETs) and shown subtracted too; the judged figure
   is the raw one. Target: at most 20 ms.
3. mcpd's RSS with the 50 instances running (VmRSS of /proc/PID/status), and
   before the apply for comparison. Not judged.
4. mcpd's idle CPU: with the 50 instances ready and probed every 30 s (the
   default `healthCheck`), and no request from the benchmark, the CPU mcpd
   uses over `--idle-seconds` (default 60) as a share of one core.
   Target: under 1 %.
5. Restart after a kill: one instance at a time (10 of them, each killed once,
   so each waits the first back-off), its server's pid (from the instance's log
   at `GET /api/v1/instances/{name}/log`) is sent SIGKILL; the new pid is read
   from the same log, and its start time (/proc/PID/stat, clock ticks since
   boot, so a resolution of one tick, 10 ms) is compared with the kill's
   CLOCK_BOOTTIME. The figure is that delay minus the back-off (0.5 s): mcpd
   seeing the death, its round, and the fork. mcpd's own log line
   "instance X ... started: pid N" (after the spawn returned) is shown beside
   it. Each restarted instance is left to get ready again before the next kill.
   Target: p95 under 100 ms beyond the back-off.

Each figure is printed on one line with its target, PASS or FAIL and the ratio
of figure to target, then a one-line summary. The load average is printed at
each part: on a busy machine, every figure here is larger (read the judged
ones with it). mcpd's log is scanned at the end: ERROR lines and tracebacks are
printed and counted (those logged while mcpd stopped apart). After mcpd
stopped, no test server it started may be left running (checked by the pids
seen and by every process whose working directory is under mcpd's state dir;
any found is killed and the run fails).

Run from the repository root (after `python3 dev.py test` made .venv):

    .venv/bin/python benchmarks/runtime.py [--quick] [--strict] [--instances 50]
                                           [--idle-seconds 60] [--kills 10]

`--quick` is a smoke run (10 instances, 10 s idle, 3 kills). The exit status is
0 unless `--strict` is given and a target is missed (1), or the benchmark itself
cannot run or left a process behind (2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the test harness starts mcpd
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.figures import emit, load, ms, percentile, spread  # noqa: E402
from tests.support.mcpd import Mcpd, running_mcpd  # noqa: E402

TESTSERVER = REPO_ROOT / "tests" / "support" / "servers" / "testserver.py"
SERVER = "bench"
BACKOFF_FIRST = 0.5
BACKOFF = f"{BACKOFF_FIRST:g},5,600"

START_CPU_TARGET = 0.020
IDLE_CPU_TARGET = 0.01
RESTART_TARGET = 0.100

#: Hang guards, not budgets: a wait this long is hung, not slow.
READY_TIMEOUT = 600.0
RESTART_TIMEOUT = 120.0

READY_POLL = 0.25
#: how long a server may outlive mcpd before it counts as left behind
LEFTOVER_GRACE = 10.0
LOG_POLL = 0.05
#: requests of the burst that prices one readiness poll
POLL_COST_REQUESTS = 40

LOGGED_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
#: what mcpctl.runtime.process logs once it started an instance
STARTED = ") started: pid "
TESTSERVER_PID = re.compile(r"\(pid (\d+), ")
TICK = os.sysconf("SC_CLK_TCK")

Doc = dict[str, Any]


class BenchmarkError(Exception):
    """The benchmark cannot go on (mcpd refused a request, an instance never got ready...)."""


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One figure and its target (None: reported, not judged); `lower` figures are better."""

    name: str
    value: float
    shown: str
    target: float | None
    target_shown: str
    detail: str

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    @property
    def verdict(self) -> str:
        return "INFO" if self.ok is None else "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        judged = self.verdict
        if self.target is not None:
            ratio = self.value / self.target if self.target else float("inf")
            judged += f" (target {self.target_shown}, ratio {ratio:.2f})"
        return f"{self.name}: {self.shown} {judged}; {self.detail}"


# --------------------------------------------------------------------------- /proc


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (field 3 on), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def cpu_of(pid: int) -> float:
    """The CPU seconds (user + system) `pid` used itself, its children left out."""
    fields = stat_fields(pid)
    if fields is None:
        raise BenchmarkError(f"process {pid} is gone")
    return (int(fields[11]) + int(fields[12])) / TICK


def started_at(pid: int) -> float | None:
    """When `pid` started, in seconds since boot (CLOCK_BOOTTIME), to one clock tick."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[19]) / TICK


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def rss_of(pid: int) -> int:
    """VmRSS of `pid`, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchmarkError(f"no VmRSS for process {pid}")


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def processes_under(directory: Path) -> list[int]:
    """The live processes whose working directory is under `directory` (an instance's
    home is its working directory: what is left of mcpd's servers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(directory) + os.sep) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


# --------------------------------------------------------------------------- mcpd


def manifest(replicas: int) -> Doc:
    return {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": SERVER},
        "spec": {"command": [sys.executable, str(TESTSERVER)], "replicas": replicas},
    }


def apply(client: httpx.Client, replicas: int) -> None:
    answer = client.post("/api/v1/apply", json={"items": [manifest(replicas)]})
    if answer.status_code != 200:
        raise BenchmarkError(f"apply (replicas {replicas}): {answer.status_code} {answer.text}")


def server_status(client: httpx.Client) -> Doc:
    body: Doc = client.get(f"/api/v1/servers/{SERVER}").raise_for_status().json()
    return body.get("status") or {}


def instances(client: httpx.Client) -> list[Doc]:
    items: list[Doc] = client.get("/api/v1/instances").raise_for_status().json()["items"]
    return [i for i in items if i["spec"]["server"] == SERVER]


def until(condition: Callable[[], Any], what: str, timeout: float, every: float) -> Any:
    """Poll `condition` until it answers something true; that answer (a hang guard)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise BenchmarkError(f"never happened within {timeout:g} s: {what}")
        time.sleep(every)


def pids_in_log(client: httpx.Client, instance: str) -> list[int]:
    """The pids the instance's runs wrote to its log, oldest first ("... (pid N, stdio)")."""
    answer = client.get(f"/api/v1/instances/{instance}/log")
    if answer.status_code != 200:
        return []
    return [int(p) for p in TESTSERVER_PID.findall(answer.text)]


def logged_start(log: str, instance: str, pid: int) -> float | None:
    """When mcpd logged that it started `instance` as `pid` (epoch seconds), or None."""
    pattern = re.compile(
        rf"^(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) INFO mcpctl\.runtime\.process: "
        rf"instance {re.escape(instance)} \(.*\) started: pid {pid}$",
        re.MULTILINE,
    )
    found = pattern.search(log)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


# --------------------------------------------------------------------------- parts


@dataclass
class Run:
    """What the parts share: the mcpd, its client, every server pid seen."""

    mcpd: Mcpd
    client: httpx.Client
    count: int
    seen: set[int]

    @property
    def pid(self) -> int:
        return self.mcpd.process.pid


def bench_start(run: Run, figures: list[Figure]) -> None:
    """Figures 1 to 3: the apply to all ready, mcpd's CPU per start, its RSS."""
    client, count = run.client, run.count
    apply(client, 0)
    until(
        lambda: server_status(client).get("health") == "Stopped",
        "the Server at 0 replicas Stopped",
        READY_TIMEOUT,
        READY_POLL,
    )
    time.sleep(1.0)  # the apply's export and rounds are done: the CPU counted is the start's
    rss_before = rss_of(run.pid)
    cpu_before = cpu_of(run.pid)
    began = time.monotonic()
    apply(client, count)
    polls = 0
    log_from = len(run.mcpd.logged())
    #: mcpd's CPU when its log first showed every instance started (the launches' share)
    launched: tuple[float, float] | None = None
    #: when the Server's readyReplicas first said all, and how many Instances said ready then
    counted: tuple[float, int, float] | None = None
    found: list[Doc] = []

    def all_ready() -> bool:
        nonlocal polls, launched, counted, found
        polls += 1
        if launched is None and run.mcpd.logged()[log_from:].count(STARTED) >= count:
            launched = (time.monotonic() - began, cpu_of(run.pid) - cpu_before)
        found = instances(client)
        ready = sum(1 for i in found if i["status"].get("ready"))
        if counted is None and int(server_status(client).get("readyReplicas") or 0) >= count:
            counted = (time.monotonic() - began, ready, cpu_of(run.pid) - cpu_before)
        return len(found) == count and ready == count

    until(all_ready, f"{count} ready instances", READY_TIMEOUT, READY_POLL)
    took = time.monotonic() - began
    cpu_used = cpu_of(run.pid) - cpu_before
    rss = rss_of(run.pid)
    for item in found:
        run.seen.update(pids_in_log(client, item["metadata"]["name"]))

    cpu_polls = cpu_of(run.pid)
    for _ in range(POLL_COST_REQUESTS):
        instances(client)
        server_status(client)
    per_poll = (cpu_of(run.pid) - cpu_polls) / POLL_COST_REQUESTS
    counted_at, counted_ready, counted_cpu = counted or (took, count, cpu_used)
    net = max(0.0, cpu_used - polls * per_poll)
    launched_at, launch_cpu = launched or (took, cpu_used)

    emit(
        figures,
        Figure(
            f"apply to {count} ready",
            took,
            f"{took:.2f} s",
            None,
            "",
            f"one Server, replicas 0 -> {count}, the test server over stdio; "
            f"{took / count * 1000:.0f} ms per instance; the last start logged at "
            f"{launched_at:.2f} s; the Server's readyReplicas said {count} at "
            f"{counted_at:.2f} s, when {counted_ready} Instances said ready; "
            f"load average {load()}",
        ),
    )
    emit(
        figures,
        Figure(
            "mcpd CPU per instance start",
            cpu_used / count,
            ms(cpu_used / count),
            START_CPU_TARGET,
            f"<= {ms(START_CPU_TARGET)}",
            f"{cpu_used:.2f} CPU-s of mcpd itself (children excluded) for {count} starts, "
            f"probes to ready included; {polls} readiness polls at about "
            f"{ms(per_poll)} each: {ms(net / count)} per start without them; "
            f"{ms(launch_cpu / count)} per start until the last start was logged "
            f"(creating and launching, first probes), {ms((cpu_used - launch_cpu) / count)} "
            f"after it (probes to ready, status writes); {ms(counted_cpu / count)} per start "
            f"until readyReplicas said {count}",
        ),
    )
    emit(
        figures,
        Figure(
            f"mcpd RSS with {count} instances",
            rss,
            mib(rss),
            None,
            "",
            f"{mib(rss_before)} before the apply ({mib((rss - rss_before) // count)} per instance)",
        ),
    )


def bench_idle(run: Run, figures: list[Figure], seconds: float) -> None:
    """Figure 4: mcpd's CPU with the instances ready, probed, and no request."""
    time.sleep(2.0)  # the readiness rounds' last writes
    rss_before = rss_of(run.pid)
    cpu_before, began = cpu_of(run.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_of(run.pid) - cpu_before, time.monotonic() - began
    share = used / wall
    emit(
        figures,
        Figure(
            f"mcpd idle CPU with {run.count} instances",
            share,
            f"{share * 100:.2f} % of a core",
            IDLE_CPU_TARGET,
            f"< {IDLE_CPU_TARGET * 100:g} %",
            f"{used:.2f} CPU-s over {wall:.0f} s, probes every 30 s (about "
            f"{run.count * wall / 30:.0f} probes), a round every 10 s; RSS "
            f"{mib(rss_before)} -> {mib(rss_of(run.pid))}; load average {load()}",
        ),
    )


def bench_restarts(run: Run, figures: list[Figure], kills: int) -> None:
    """Figure 5: kill -9 of an instance's server to its next process's start."""
    client = run.client
    state = run.mcpd.state_dir
    names = sorted(i["metadata"]["name"] for i in instances(client))[:kills]
    beyond: list[float] = []
    logged: list[float] = []
    for name in names:
        old = pids_in_log(client, name)[-1]
        cwd = os.readlink(f"/proc/{old}/cwd")
        if not cwd.startswith(str(state) + os.sep) or not alive(old):
            raise BenchmarkError(f"pid {old} of {name} is not a live server of this mcpd")
        killed_boot, killed_wall = time.clock_gettime(time.CLOCK_BOOTTIME), time.time()
        os.kill(old, signal.SIGKILL)
        new = until(
            lambda: next((p for p in pids_in_log(client, name) if p not in run.seen), None),  # noqa: B023
            f"a new server process for {name}",
            RESTART_TIMEOUT,
            LOG_POLL,
        )
        run.seen.add(new)
        start = started_at(new)
        if start is None:
            raise BenchmarkError(f"the new process {new} of {name} ended at once")
        beyond.append(start - killed_boot - BACKOFF_FIRST)
        at = logged_start(run.mcpd.logged(), name, new)
        if at is not None:
            logged.append(at - killed_wall - BACKOFF_FIRST)
        until(
            lambda: any(
                i["metadata"]["name"] == name and i["status"].get("ready")  # noqa: B023
                for i in instances(client)
            ),
            f"{name} ready again",
            RESTART_TIMEOUT,
            READY_POLL,
        )
    p95 = percentile(beyond, 0.95)
    emit(
        figures,
        Figure(
            "restart after kill -9, beyond the back-off, p95",
            p95,
            ms(p95),
            RESTART_TARGET,
            f"< {ms(RESTART_TARGET)} + the back-off",
            f"{len(beyond)} instances killed one at a time, back-off {BACKOFF_FIRST:g} s "
            f"subtracted; kill to the new process's fork: {spread(beyond)} (to a clock "
            f"tick, {ms(1 / TICK)}); kill to mcpd's 'started' log line: "
            + (spread(logged) if logged else "not logged")
            + f"; load average {load()}",
        ),
    )


# --------------------------------------------------------------------------- main


def scan_log(text: str, stopping_at: int) -> tuple[int, int]:
    """Print the ERROR lines and tracebacks of mcpd's log; their count before `stopping_at`
    (an offset in `text`: where mcpd was asked to stop), and after it."""
    before = after = 0
    offset = 0
    for line in text.splitlines(keepends=True):
        if LOGGED_ERROR.search(line):
            when = "while stopping" if offset >= stopping_at else "while running"
            print(f"  mcpd log ({when}): {line.rstrip()[:300]}")
            if offset >= stopping_at:
                after += 1
            else:
                before += 1
        offset += len(line)
    return before, after


def end_leftovers(state: Path, seen: set[int]) -> None:
    """Fail if a server of mcpd's outlived it (each killed): the pids seen, and whatever
    runs in a directory of its state dir. Its servers get a moment to go (the death
    signal the kernel sends them when mcpd ends is delivered as they next run)."""
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        left = [pid for pid in sorted(seen) if alive(pid)]
        left += [pid for pid in processes_under(state) if pid not in left]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if left:
        raise BenchmarkError(f"server processes left after mcpd stopped (killed now): {left}")


def run_all(work: Path, count: int, idle: float, kills: int) -> tuple[list[Figure], str]:
    figures: list[Figure] = []
    state = work / "state"
    seen: set[int] = set()
    args = ["--restart-backoff", BACKOFF, "--stop-grace", "5"]
    try:
        with running_mcpd(state, args=args) as mcpd:
            stopping_at = 0
            try:
                with mcpd.client() as client:
                    run = Run(mcpd, client, count, seen)
                    print(f"\n== start {count} instances (load average {load()}) ==", flush=True)
                    bench_start(run, figures)
                    print(f"\n== idle {idle:g} s (load average {load()}) ==", flush=True)
                    bench_idle(run, figures, idle)
                    print(f"\n== restarts (load average {load()}) ==", flush=True)
                    bench_restarts(run, figures, kills)
            finally:
                stopping_at = len(mcpd.logged())
    finally:  # mcpd has stopped (SIGTERM); its servers end with it, even after a failure
        end_leftovers(state, seen)
    errors, stop_errors = scan_log(mcpd.logged(), stopping_at)
    summary = "; ".join(f"{f.name} {f.shown} {f.verdict}" for f in figures)
    summary += (
        f"; mcpd log errors {errors} (while stopping {stop_errors}); "
        f"{len(seen)} server processes, none left"
    )
    return figures, summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--instances", type=int, help="replicas of the Server (default 50)")
    parser.add_argument("--idle-seconds", type=float, help="idle measurement (default 60)")
    parser.add_argument("--kills", type=int, help="instances killed one at a time (default 10)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep mcpd's state dir and log here (an empty or new directory; "
        "default: a temporary one, removed at the end)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.work_dir is not None and args.work_dir.exists() and any(args.work_dir.iterdir()):
        parser.error(f"--work-dir {args.work_dir} is not empty")
    count = args.instances or (10 if args.quick else 50)
    idle = args.idle_seconds or (10.0 if args.quick else 60.0)
    kills = args.kills or (3 if args.quick else 10)
    if count < 1 or idle <= 0 or not 1 <= kills <= count:
        parser.error("--instances and --idle-seconds must be positive, --kills 1..instances")

    print(f"mcpd runtime benchmark ({sys.platform}, {os.cpu_count()} CPUs, {sys.executable})")
    print(f"load average {load()} (1, 5, 15 min)", flush=True)
    began = time.monotonic()
    try:
        if args.work_dir is None:
            with tempfile.TemporaryDirectory(prefix="mcpctl-") as temporary:
                figures, summary = run_all(Path(temporary), count, idle, kills)
        else:
            work = args.work_dir.resolve()
            work.mkdir(parents=True, exist_ok=True)
            figures, summary = run_all(work, count, idle, kills)
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
        f"load average {load()}; took {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
