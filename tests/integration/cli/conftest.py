"""The CLI against a real mcpd: one process per test module, and one on PostgreSQL.

`cli` is an mcpd on SQLite started once per module (starting one costs about
1.5 s); `cli_db` is the same test on SQLite and on PostgreSQL, the latter an
mcpd shared by the whole folder. Tests share their mcpd, so each names its
objects with `Cli.name` and selects them by a label of its own; none may
change the admin's context in mcpd's state dir (login/logout use a home of
their own).

`Cli.run` invokes `mcpctl` in-process with click's `CliRunner` (fast; stdout
and stderr apart); `Cli.command` runs the installed console script, for what
only a real process shows (an editor started by `mcpctl edit`, shell
completion). Outcomes are checked against the server through `Cli.admin`.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mcpctl.cli.main import cli as mcpctl_group
from tests.support.manifests import JSON, PLURALS, binding, manifest
from tests.support.mcpd import Mcpd, running_mcpd
from tests.support.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
#: The console script installed next to the interpreter running the tests.
MCPCTL = Path(sys.executable).parent / "mcpctl"
#: The password of the users the tests create (long enough for mcpd's rule).
PASSWORD = "correct-horse-battery"
#: Variables of the developer's shell that would change what `mcpctl` does.
CLEARED = ("MCPCTL_CONTEXT", "MCPCTL_SERVER", "MCPCTL_TOKEN", "EDITOR", "VISUAL")

#: Names unique across the folder (the PostgreSQL mcpd is shared by every module).
_serial = itertools.count(1)


class Cli:
    """One running mcpd, the admin's HTTP client, and ways to run `mcpctl` against it."""

    def __init__(self, mcpd: Mcpd, database: str, database_url: str) -> None:
        self.mcpd = mcpd
        self.database = database
        self.database_url = database_url
        self.admin = mcpd.client()
        self._runner = CliRunner()

    def close(self) -> None:
        self.admin.close()

    @staticmethod
    def name(prefix: str = "t") -> str:
        """A name no other test uses."""
        return f"{prefix}-{next(_serial)}"

    def environment(
        self, home: Path | None = None, extra: Mapping[str, str | None] | None = None
    ) -> dict[str, str | None]:
        """MCPCTL_HOME (mcpd's state dir: the admin's context), nothing else of the shell's."""
        env: dict[str, str | None] = dict.fromkeys(CLEARED)
        env["MCPCTL_HOME"] = str(home or self.mcpd.state_dir)
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        input: str | None = None,
        home: Path | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        """`mcpctl ARGS...` in-process; an unexpected exception fails the test (no exit 1)."""
        result = self._runner.invoke(
            mcpctl_group,
            list(args),
            input=input,
            env=self.environment(home, env),
            catch_exceptions=False,
            prog_name="mcpctl",
        )
        assert "Traceback" not in result.output, result.output
        return result

    def command(
        self,
        *args: str,
        input: str | None = None,
        home: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The installed `mcpctl ARGS...` as a process (stdin empty unless given)."""
        environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
        for key, value in self.environment(home, env).items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        done = subprocess.run(
            [str(MCPCTL), *args],
            input=input or "",
            env=environ,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        return done

    # ---- the server's state, as the admin ---------------------------------------------

    def fetch(self, plural: str, name: str, project: str | None = None) -> JSON | None:
        """The stored object, or None if mcpd has none of that name."""
        base = f"/api/v1/projects/{project}/{plural}" if project else f"/api/v1/{plural}"
        answer = self.admin.get(f"{base}/{name}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        data: JSON = answer.json()
        return data

    def names(self, plural: str, selector: str) -> list[str]:
        """Names of the stored objects of a kind with these labels."""
        answer = self.admin.get(f"/api/v1/{plural}", params={"labelSelector": selector})
        answer.raise_for_status()
        return sorted(item["metadata"]["name"] for item in answer.json()["items"])

    def create(self, obj: JSON) -> JSON:
        """Store an object through the API (not through the CLI under test)."""
        meta = obj["metadata"]
        plural = PLURALS[obj["kind"]]
        base = f"/api/v1/projects/{meta['project']}" if meta.get("project") else "/api/v1"
        answer = self.admin.post(f"{base}/{plural}", json=obj)
        assert answer.status_code == 201, answer.text
        data: JSON = answer.json()
        return data

    def user(self, name: str, *bindings: JSON) -> str:
        """A user with a password and an Rbac granting `bindings`; a session token of theirs."""
        self.create(manifest("User", name, {"email": f"{name}@example.com"}))
        self.set_password(name)
        if bindings:
            spec = {"subjects": [{"kind": "User", "name": name}], "bindings": list(bindings)}
            self.create(manifest("Rbac", f"{name}-rbac", spec))
        answer = self.admin.post(
            "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    def set_password(self, user: str, password: str = PASSWORD) -> None:
        answer = self.admin.put(f"/api/v1/users/{user}/password", json={"password": password})
        assert answer.status_code in (200, 204), answer.text

    def identity(self, token: str) -> str | None:
        """Whom mcpd takes `token` for, or None if it refuses it."""
        with self.mcpd.client(token) as client:
            answer = client.get("/api/v1/auth/me")
        if answer.status_code == 401:
            return None
        answer.raise_for_status()
        user: str = answer.json()["user"]
        return user


def one_error_line(stderr: str) -> str:
    """The one line of an error: `error: ...`, nothing else (no traceback, no second line)."""
    assert stderr.startswith("error: "), stderr
    assert stderr.endswith("\n"), stderr
    assert stderr.count("\n") == 1, stderr
    return stderr.removesuffix("\n")


def _serve(database_url: str, base: Path, database: str) -> Iterator[Cli]:
    with running_mcpd(base / "state", database_url) as mcpd:
        cli = Cli(mcpd, database, database_url)
        try:
            yield cli
        finally:
            cli.close()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """An mcpd on SQLite for this test module."""
    base = tmp_path_factory.mktemp("cli-sqlite")
    yield from _serve(f"sqlite:///{base / 'mcpd.db'}", base, "sqlite")


@pytest.fixture(scope="package")
def cli_postgresql(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cli]:
    """An mcpd on PostgreSQL shared by the folder's tests that run on both databases."""
    base = tmp_path_factory.mktemp("cli-postgresql")
    yield from _serve(postgres.create_database(), base, "postgresql")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cli_db(request: pytest.FixtureRequest) -> Cli:
    """The module's SQLite mcpd, then the PostgreSQL one: for tests run on both databases."""
    fixture = "cli" if request.param == "sqlite" else "cli_postgresql"
    chosen: Cli = request.getfixturevalue(fixture)
    return chosen


@pytest.fixture(scope="module")
def viewer(cli: Cli) -> str:
    """A session token of a user who may view servers and nothing else."""
    return cli.user(cli.name("viewer"), binding("view", "servers"))
