"""A real mcpd process on a free loopback port, with its own state dir and database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.support.postgres import free_port

#: Hang guards, not time budgets: a start, a request or a wait that takes this long on
#: a busy machine is hung, not slow.
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 120.0
WAIT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Mcpd:
    url: str
    state_dir: Path
    admin_token: str
    admin_password: str
    process: subprocess.Popen[bytes]
    log: Path
    #: where this start's lines begin in `log` (which accumulates over restarts)
    log_offset: int = 0

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client authenticated as the admin (or with `token`; "" for none)."""
        use = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {use}"} if use else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=REQUEST_TIMEOUT)

    def logged(self) -> str:
        """What this mcpd has logged so far."""
        return self.log.read_bytes()[self.log_offset :].decode("utf-8", "replace")

    def wait_logged(self, text: str) -> None:
        """Wait until this mcpd has logged `text` (a fault point saying it holds, say)."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while text not in self.logged():
            assert self.process.poll() is None, f"mcpd exited:\n{self.logged()}"
            assert time.monotonic() < deadline, f"mcpd did not log {text!r}:\n{self.logged()}"
            time.sleep(0.02)

    def env(self) -> dict[str, str]:
        """Environment for `mcpctl` commands that should use this mcpd's context."""
        return {**os.environ, "MCPCTL_HOME": str(self.state_dir)}


class McpdExited(RuntimeError):
    """mcpd exited while `running_mcpd` waited for it to get ready."""

    def __init__(self, returncode: int, log: str) -> None:
        super().__init__(f"mcpd exited with {returncode}:\n{log}")
        self.returncode = returncode


@dataclass(frozen=True)
class FailedStart:
    """An mcpd that exited before it was ready: its exit status and what it logged."""

    returncode: int
    log: str


def mcpd_command() -> list[str]:
    return [str(Path(sys.executable).parent / "mcpd")]


def unguarded_mcpd_command() -> list[str]:
    """mcpd with the write guards switched off (`mcpctl.access.guard.ENFORCED`), for the
    property test to show what they stop: `tests/support/unguarded_mcpd.py`."""
    return [sys.executable, str(Path(__file__).with_name("unguarded_mcpd.py"))]


def failed_start(
    state_dir: Path,
    database_url: str | None = None,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> FailedStart:
    """Start mcpd expecting it to refuse: wait (bounded) for it to exit on its own.

    An mcpd that gets ready instead, or neither exits nor gets ready in time, is
    stopped and fails the test. The log is what this start wrote (the file, as
    for `running_mcpd`, accumulates over restarts).
    """
    log = state_dir.parent / f"{state_dir.name}-mcpd.log"
    offset = log.stat().st_size if log.exists() else 0
    try:
        with running_mcpd(state_dir, database_url, args=args, env=env):
            pass
    except McpdExited as e:
        return FailedStart(e.returncode, log.read_bytes()[offset:].decode("utf-8", "replace"))
    except RuntimeError as e:  # not ready in time
        raise AssertionError(str(e)) from None
    raise AssertionError(f"mcpd became ready instead of refusing to start:\n{log.read_text()}")


@dataclass(frozen=True)
class Spawned:
    """An mcpd process started and not waited for (see `spawned_mcpd`)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    #: where this start's lines begin in `log`
    log_offset: int = 0

    def logged(self) -> str:
        return self.log.read_bytes()[self.log_offset :].decode("utf-8", "replace")

    def settle(self) -> bool:
        """Wait until this mcpd is ready (True) or has exited (False)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mcpd not ready after {START_TIMEOUT}s:\n{self.logged()}")
            time.sleep(0.05)


@contextmanager
def spawned_mcpd(
    state_dir: Path,
    database_url: str | None = None,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    log: Path | None = None,
    port: int | None = None,
) -> Iterator[Spawned]:
    """Start mcpd without waiting for it (several at once, say); stop it (and its
    children) at the end. Its output goes to `log` (default: beside the state dir); it
    listens on `port` (default: a free one)."""
    port = port or free_port()
    log = log or state_dir.parent / f"{state_dir.name}-mcpd.log"
    offset = log.stat().st_size if log.exists() else 0
    line = [
        *(command or mcpd_command()),
        *("--state-dir", str(state_dir), "--port", str(port)),
        *args,
    ]
    if database_url:
        line += ["--database-url", database_url]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            line,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        yield Spawned(f"http://127.0.0.1:{port}", process, log, offset)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:  # a stop that a busy machine makes slow is still a clean stop
                process.wait(timeout=WAIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=WAIT_TIMEOUT)


@contextmanager
def running_mcpd(
    state_dir: Path,
    database_url: str | None = None,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    log: Path | None = None,
    port: int | None = None,
) -> Iterator[Mcpd]:
    """Start mcpd; wait until it is ready; stop it (and its children) at the end.

    `args` go to mcpd's command line; `env` is added to its environment (e.g.
    `MCPD_FAULTS` for crash tests: a process killed by a fault is fine here);
    `command` starts it instead of `mcpd_command()` (e.g. `unguarded_mcpd_command()`);
    `log` is where its output goes (default: beside the state dir); `port` where it
    listens (default: a free one; a restart on the same port keeps clients' URLs). The admin's
    token and password are read from the state dir (where this mcpd, or one sharing
    the state dir, created the admin).
    """
    with spawned_mcpd(
        state_dir, database_url, args=args, env=env, command=command, log=log, port=port
    ) as spawned:
        if not spawned.settle():
            raise McpdExited(spawned.process.returncode, spawned.log.read_text())
        config = yaml.safe_load((state_dir / "config").read_text())
        # a restarted mcpd keeps the context of its first start (another port, here)
        contexts = config["contexts"]
        url = spawned.url
        token = next((c["token"] for c in contexts if c["server"] == url), contexts[0]["token"])
        password = (state_dir / "initial-admin-password").read_text().strip()
        yield Mcpd(
            url, state_dir, token, password, spawned.process, spawned.log, spawned.log_offset
        )
