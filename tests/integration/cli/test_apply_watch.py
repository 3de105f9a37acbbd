"""`mcpctl apply -f DIR --watch`, run as the installed command against a real mcpd.

Each test starts the watch as a process, waits for the line saying it is
watching, edits the files as an editor would, and waits (with a deadline) for
the lines of the round that follows; outcomes are checked on the server. The
process is always stopped at the end: with SIGINT, as Ctrl-C would, which
must end it with status 0 and no traceback.

The watch is started with SIGINT at its default whatever the test run's is. An
ignored signal is inherited across exec, a shell without job control ignores
SIGINT in the jobs it puts in the background (`pytest ... &` in a script), and
Python installs its KeyboardInterrupt handler only over the default: started
from such a run, the watch would ignore every Ctrl-C and each test time out
waiting for it to end.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.manifests import Write, manifest, to_yaml
from tests.support.postgres import free_port

from .conftest import CLEARED, MCPCTL, Cli, one_error_line
from .test_apply import server_set

pytestmark = pytest.mark.integration

#: Seconds a round may take to show: a hang guard (a round takes well under a second on
#: an idle machine, the watch waiting 0.1 s of quiet before it starts one).
ROUND_TIMEOUT = 60.0
STAMP = r"^\[\d\d:\d\d:\d\d\] "
#: Runs the command after it (same process, by exec) with SIGINT at its default; not
#: preexec_fn, which is unsafe with the reader threads of other watches running.
SIGINT_DEFAULT = (
    sys.executable,
    "-I",
    "-S",
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execv(sys.argv[1], sys.argv[1:])",
)
#: mcpctl, with a Ctrl-C at the start of each round whose KeyboardInterrupt is raised
#: inside a finalizer, which Python drops without a word (as it may be when the signal
#: lands while an object freed runs its `close`).
DROPPING_CTRL_C = """
import io, signal, sys, threading
import mcpctl.cli.watching as watching
from mcpctl.cli.main import main

class Freed(io.BufferedIOBase):
    def close(self):
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # handled right here
        super().close()

def describe_changes(paths, known, real=watching.describe_changes):
    Freed()  # freed at once: close() runs as its finalizer
    return real(paths, known)

watching.describe_changes = describe_changes
sys.argv[0] = "mcpctl"
main()
"""


class Watch:
    """A running `mcpctl apply --watch`, its output read line by line as it comes."""

    def __init__(
        self, cli: Cli, *args: str, cwd: Path, program: Sequence[str] = (str(MCPCTL),)
    ) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
        environ.update({k: v for k, v in cli.environment().items() if v is not None})
        self.process = subprocess.Popen(
            [*SIGINT_DEFAULT, *program, "apply", *args, "--watch"],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._seen = 0
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout: float = ROUND_TIMEOUT) -> list[str]:
        """The lines after the last wait, up to the first matching `pattern` (a regex)."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._seen, len(self.lines)):
                if re.search(pattern, self.lines[index]):
                    new = self.lines[self._seen : index + 1]
                    self._seen = index + 1
                    return new
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in:\n" + self.output)
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"exited before {pattern!r}:\n" + self.output)
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The watch stopped (SIGSTOP) while the block changes files.

        What the block does then reaches the watcher as one burst, once it goes on: a
        busy machine that is slow between two writes (or between a file's truncation
        and its new content) cannot split them into rounds of their own.
        """
        self.process.send_signal(signal.SIGSTOP)
        try:
            eventually(self._stopped)
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def _stopped(self) -> bool:
        """Whether every thread of the watch is stopped (Linux: /proc)."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        states = []
        for stat_file in tasks.glob("*/stat"):
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                states.append(stat_file.read_text().rsplit(")", 1)[1].split()[0])
        return bool(states) and all(state in ("T", "t") for state in states)

    def interrupt(self) -> tuple[int, list[str]]:
        """Ctrl-C: the exit status and the lines not read yet."""
        self.process.send_signal(signal.SIGINT)
        return self.wait()

    def wait(self) -> tuple[int, list[str]]:
        status = self.process.wait(timeout=ROUND_TIMEOUT)
        self._reader.join(timeout=ROUND_TIMEOUT)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        rest = self.lines[self._seen :]
        self._seen = len(self.lines)
        assert "Traceback" not in self.output, self.output
        return status, rest

    def close(self) -> None:
        """Kill the process if it still runs, and let go of its output."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=ROUND_TIMEOUT)
        self._reader.join(timeout=ROUND_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def watch(cli: Cli, tmp_path: Path) -> Iterator[Callable[..., Watch]]:
    """Start `mcpctl apply ARGS... --watch` in the test's directory; killed at the end."""
    started: list[Watch] = []

    def start(*args: str) -> Watch:
        process = Watch(cli, *args, cwd=tmp_path)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.close()


def watching_a_set(cli: Cli, write: Write, watch: Callable[..., Watch]) -> tuple[str, Path, Watch]:
    """A set of manifests in m/set.yaml under a new name, watched once applied: the name,
    the file and the watch."""
    n = cli.name("set")
    path = write("m/set.yaml", server_set(n))
    process = watch("-f", "m")
    process.until("watching m for changes")
    return n, path, process


def eventually(check: Callable[[], bool], timeout: float = ROUND_TIMEOUT) -> None:
    """Poll `check` until it holds, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


def replicas(cli: Cli, server: str) -> object:
    stored = cli.fetch("servers", server)
    return None if stored is None else stored["spec"].get("replicas")


def edit(watch: Watch, path: Path, old: str, new: str) -> None:
    """Replace `old` with `new` in the file, the watch paused meanwhile (see `paused`)."""
    text = path.read_text()
    assert old in text, text
    with watch.paused():
        path.write_text(text.replace(old, new))


def test_watch_applies_then_applies_each_change_again_showing_its_fields(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    n = cli.name("set")
    path = write("m/set.yaml", server_set(n))

    process = watch("-f", "m")
    first = process.until("watching m for changes")
    with process.paused():
        path.write_text(
            path.read_text()
            .replace("[uvx, mcp-server-time]", "[uvx, mcp-server-time, -v]")
            .replace(f"ghp-value-{n}", f"ghp-changed-{n}")
        )
    second = process.until(r"applied \d changes?")

    assert first[:3] == [
        f"secret/{n}-gh created",
        f"server/{n}-time created",
        f"project/{n}-demo created",
    ]
    assert re.match(STAMP + r"applied 3 changes \(3 created\)$", first[3]), first
    assert second[0].endswith("] m/set.yaml changed"), second
    assert second[1:] == [
        f"secret/{n}-gh configured",
        "    ~ spec.data.TOKEN: (hidden) -> (hidden)",
        f"server/{n}-time configured",
        '    ~ spec.command: ["uvx", "mcp-server-time"] -> ["uvx", "mcp-server-time", "-v"]',
        second[-1],
    ]
    assert re.match(STAMP + r"applied 2 changes \(2 configured\), 1 unchanged$", second[-1])
    server = cli.fetch("servers", f"{n}-time")
    assert server is not None
    assert server["spec"]["command"] == ["uvx", "mcp-server-time", "-v"]
    status, rest = process.interrupt()
    assert status == 0
    assert re.match(STAMP + "stopped watching$", rest[-1]), rest
    assert f"ghp-changed-{n}" not in process.output
    assert f"ghp-value-{n}" not in process.output


def test_an_invalid_edit_is_reported_by_file_and_line_and_the_fix_is_applied(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    n, path, process = watching_a_set(cli, write, watch)

    edit(
        process,
        path,
        "command: [uvx, mcp-server-time]",
        "command: [uvx, mcp-server-time]\n  replicas: -1",
    )
    invalid = process.until("error: ")
    invalid += process.until("error: ")
    refused_server = cli.fetch("servers", f"{n}-time")
    edit(process, path, "replicas: -1", "replicas: 2")
    fixed = process.until("applied ")

    assert invalid[0].endswith("] m/set.yaml changed"), invalid
    assert invalid[1].startswith("m/set.yaml:17:3: error: "), invalid
    assert "spec.replicas" in invalid[1]
    assert re.match(STAMP + "error: the manifests are invalid: nothing was sent$", invalid[-1])
    assert refused_server is not None
    assert refused_server["metadata"]["generation"] == 1
    assert process.process.poll() is None  # still watching
    assert f"server/{n}-time configured" in fixed
    assert "    + spec.replicas: 2" in fixed or "    ~ spec.replicas: 1 -> 2" in fixed, fixed
    eventually(lambda: replicas(cli, f"{n}-time") == 2)
    assert process.interrupt()[0] == 0


def test_issues_mcpd_finds_point_at_the_file_and_the_watch_goes_on(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    n, path, process = watching_a_set(cli, write, watch)

    edit(process, path, f"servers: [{n}-time]", f"servers: [{n}-nope]")
    refused = process.until("error: mcpd refused")
    edit(process, path, f"servers: [{n}-nope]", f"servers: [{n}-time]")
    restored = process.until(r"no changes|applied ")

    assert refused[1].startswith(f"m/set.yaml:27:13: error: Project '{n}-demo' refers to"), refused
    assert re.match(STAMP + "error: mcpd refused the manifests: nothing was changed$", refused[-1])
    project = cli.fetch("projects", f"{n}-demo")
    assert project is not None
    assert project["spec"]["servers"] == [f"{n}-time"]
    assert re.match(STAMP + r"no changes \(3 unchanged\)$", restored[-1]), restored
    assert process.interrupt()[0] == 0


def test_with_prune_a_deleted_file_prunes_its_objects(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))
    extra = write(
        "m/more/extra.yaml",
        to_yaml(manifest("Server", f"{n}-extra", {"command": ["x"]}, labels={"set": n})),
    )
    process = watch("-f", "m", "--prune", "-l", f"set={n}")
    process.until("watching m for changes")
    assert cli.fetch("servers", f"{n}-extra") is not None

    extra.unlink()
    pruned = process.until("applied ")

    assert pruned[0].endswith("] m/more/extra.yaml deleted"), pruned
    assert pruned[1:-1] == [f"server/{n}-extra pruned"]
    assert re.match(STAMP + r"applied 1 change \(1 pruned\), 3 unchanged$", pruned[-1])
    assert cli.fetch("servers", f"{n}-extra") is None
    assert cli.names("servers", f"set={n}") == [f"{n}-time"]
    assert process.interrupt()[0] == 0


def test_without_prune_a_deleted_file_leaves_its_objects_and_says_so_once(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    n = cli.name("set")
    write("m/set.yaml", server_set(n))
    one = write("m/one.yaml", to_yaml(manifest("Server", f"{n}-one", {"command": ["x"]})))
    two = write("m/two.yaml", to_yaml(manifest("Server", f"{n}-two", {"command": ["x"]})))
    process = watch("-f", "m")
    process.until("watching m for changes")

    one.unlink()
    first = process.until("no changes")
    two.unlink()
    second = process.until("no changes")

    assert first[1:] == [
        f"server/{n}-one is in no file any more: left on mcpd",
        "  (objects taken out of the files stay; --prune -l SELECTOR deletes them)",
        first[-1],
    ]
    assert second[1:] == [f"server/{n}-two is in no file any more: left on mcpd", second[-1]]
    assert cli.fetch("servers", f"{n}-one") is not None
    assert cli.fetch("servers", f"{n}-two") is not None
    assert process.interrupt()[0] == 0


def test_editor_swap_backup_and_hidden_files_start_no_round(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    _, path, process = watching_a_set(cli, write, watch)

    for junk in ("m/.set.yaml.swp", "m/set.yaml~", "m/#set.yaml#", "m/4913", "m/.hidden/x.yaml"):
        write(junk, "not: a manifest\n")
    edit(process, path, "[uvx, mcp-server-time]", "[uvx, mcp-server-time, -q]")
    round_ = process.until("applied ")

    assert round_[0].endswith("] m/set.yaml changed"), round_
    status, rest = process.interrupt()
    assert status == 0
    assert len(rest) == 1, rest  # `stopped watching`: no other round started


def test_a_save_burst_is_one_round(cli: Cli, write: Write, watch: Callable[..., Watch]) -> None:
    _, path, process = watching_a_set(cli, write, watch)

    # as an editor saving by replacing: write a new file, rename it over the old one
    text = path.read_text().replace("[uvx, mcp-server-time]", "[uvx, mcp-server-time, -b]")
    scratch = path.with_name("set.yaml.tmp")
    with process.paused():  # one burst however slow the machine is between the writes
        scratch.write_text(text)
        os.replace(scratch, path)
        path.write_text(text)  # and touched again at once
    round_ = process.until("applied ")

    assert round_[0].endswith("] m/set.yaml changed"), round_
    status, rest = process.interrupt()
    assert status == 0
    assert len(rest) == 1, rest


def test_when_mcpd_is_out_of_reach_each_round_says_so_and_the_watch_goes_on(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    n = cli.name("set")
    path = write("m/set.yaml", server_set(n))
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens
    process = Watch(
        cli, "-f", "m", "--server", closed, "--token", "x", "--watch-limit", "1", cwd=tmp_path
    )
    try:
        first = process.until("watching m for changes")
        edit(process, path, "[uvx, mcp-server-time]", "[uvx, mcp-server-time, -o]")
        status, rest = process.wait()
    finally:
        process.close()

    assert re.match(STAMP + f"error: cannot reach mcpd at {closed}", first[0]), first
    assert status == 0  # --watch-limit 1: one round after the first apply
    assert rest[0].endswith("] m/set.yaml changed"), rest
    assert re.match(STAMP + "error: cannot reach mcpd", rest[1]), rest
    assert cli.fetch("servers", f"{n}-time") is None


def test_ctrl_c_stops_the_watch_with_status_0_and_no_traceback(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    write("m/set.yaml", server_set(cli.name("set")))
    process = watch("-f", "m")
    process.until("watching m for changes")

    status, rest = process.interrupt()

    assert status == 0
    assert len(rest) == 1, rest
    assert re.match(STAMP + "stopped watching$", rest[0]), rest


def test_ctrl_c_reaches_the_watch_even_when_the_test_run_ignores_it(
    cli: Cli, write: Write, watch: Callable[..., Watch]
) -> None:
    write("m/set.yaml", server_set(cli.name("set")))
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in `pytest &` from a script
    try:
        process = watch("-f", "m")
    finally:
        signal.signal(signal.SIGINT, ignored)
    process.until("watching m for changes")

    status, rest = process.interrupt()

    assert status == 0
    assert re.match(STAMP + "stopped watching$", rest[-1]), rest


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_ctrl_c_at_any_moment_of_a_round_stops_the_watch(
    cli: Cli, write: Write, watch: Callable[..., Watch], delay: float
) -> None:
    _, path, process = watching_a_set(cli, write, watch)

    # the quiet wait, loading, the request or the report: wherever this lands
    edit(process, path, "[uvx, mcp-server-time]", "[uvx, mcp-server-time, -i]")
    time.sleep(delay)
    status, rest = process.interrupt()

    assert status == 0
    assert re.match(STAMP + "stopped watching$", rest[-1]), rest


def test_ctrl_c_whose_keyboardinterrupt_is_dropped_still_stops_the_watch_sending_nothing(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    n = cli.name("set")
    path = write("m/set.yaml", server_set(n))
    process = Watch(cli, "-f", "m", cwd=tmp_path, program=(sys.executable, "-c", DROPPING_CTRL_C))
    try:
        process.until("watching m for changes")
        edit(process, path, "[uvx, mcp-server-time]", "[uvx, mcp-server-time, -d]")
        status, rest = process.wait()
    finally:
        process.close()

    assert status == 0
    assert rest[0].endswith("] m/set.yaml changed"), rest
    assert re.match(STAMP + "stopped watching$", rest[-1]), rest
    assert len(rest) == 2, rest
    server = cli.fetch("servers", f"{n}-time")
    assert server is not None
    assert server["spec"]["command"] == ["uvx", "mcp-server-time"]


def test_ctrl_c_while_mcpd_has_the_request_stops_at_once_and_says_what_it_means(
    write: Write, watch: Callable[..., Watch]
) -> None:
    write("m/one.yaml", to_yaml(manifest("Server", "one", {"command": ["x"]})))
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes the request, never answers
        silent.settimeout(ROUND_TIMEOUT)
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = watch("-f", "m", "--server", server, "--token", "x")
        connection, _ = silent.accept()
        with connection:
            connection.settimeout(ROUND_TIMEOUT)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                assert chunk, received  # the watch hung up
                received += chunk
            assert received.startswith(b"POST /api/v1/apply "), received
            # at once: had it waited out the request's 30 s, it would say it timed out
            status, rest = process.interrupt()

    assert status == 0
    assert len(rest) == 2, rest
    assert re.match(
        STAMP + r"interrupted while applying: mcpd applied all or nothing;"
        r" `mcpctl diff -f m` shows which$",
        rest[0],
    ), rest
    assert re.match(STAMP + "stopped watching$", rest[1]), rest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "-"], "--watch needs files or directories: stdin (-) cannot be watched"),
        (["-f", "nowhere"], "nowhere: no such file or directory"),
        (["-f", "m", "--dry-run"], "--watch applies"),
        (["-f", "m", "-o", "json"], "-o json does not go with it"),
        ([], "give the manifests with -f PATH"),
    ],
)
def test_watch_used_wrongly_is_a_usage_error(
    cli: Cli, write: Write, args: list[str], message: str
) -> None:
    write("m/set.yaml", server_set(cli.name("set")))

    result = cli.run("apply", *args, "--watch")

    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


def test_the_test_hook_is_hidden_from_help(cli: Cli) -> None:
    result = cli.run("apply", "--help")

    assert "--watch " in result.stdout
    assert "--watch-limit" not in result.stdout
