"""Fixtures for the CLI's unit tests: run `mcpctl` in-process (`write`, which writes
manifests into a temp dir, is tests/support/manifests.py's).

Commands run through click's `CliRunner`, so stdout is not a terminal (no
colour unless asked) and stdout and stderr are captured apart. No mcpd runs
here: commands that talk to one are tested against the real mcpd in
tests/integration/cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest
from click.testing import CliRunner, Result

from mcpctl.cli.main import cli

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"


class Run(Protocol):
    def __call__(self, *args: str, input: str | bytes | None = None) -> Result: ...


@pytest.fixture
def run() -> Run:
    """Invoke `mcpctl ARGS...`; unexpected exceptions propagate instead of becoming exit 1."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        return runner.invoke(
            cli, list(args), input=input, catch_exceptions=False, prog_name="mcpctl"
        )

    return invoke


@pytest.fixture(autouse=True)
def mcpctl_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config directory of the test's own: no test reads or writes ~/.mcpctl."""
    home = tmp_path / "mcpctl-home"
    monkeypatch.setenv("MCPCTL_HOME", str(home))
    for name in ("MCPCTL_CONTEXT", "MCPCTL_SERVER", "MCPCTL_TOKEN", "EDITOR", "VISUAL"):
        monkeypatch.delenv(name, raising=False)
    return home
