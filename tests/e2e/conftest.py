"""Fixtures for the end-to-end tests: the installed `mcpctl` command, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
#: The console script installed next to the interpreter running the tests.
MCPCTL = Path(sys.executable).parent / "mcpctl"


class Command(Protocol):
    def __call__(
        self, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...


def run_command(
    argv: list[str], cwd: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, input=input, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def mcpctl(tmp_path: Path) -> Command:
    """Run the installed `mcpctl ARGS...` in a temp directory (stdin empty unless given)."""
    assert MCPCTL.is_file(), f"mcpctl is not installed next to {sys.executable}"

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_command([str(MCPCTL), *args], tmp_path, input if input is not None else "")

    return run
