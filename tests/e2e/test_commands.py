"""The installed commands: exit statuses 0/1/2 and their output, through real processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpctl import __version__

from .conftest import EXAMPLES, Command, run_command

pytestmark = pytest.mark.e2e

USER = (
    "apiVersion: mcpctl/v1\nkind: User\nmetadata:\n  name: alice\nspec:\n  email: a@example.com\n"
)
#: USER with an unknown field at line 7, column 3.
BROKEN_USER = USER + "  colour: red\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_python_m_mcpctl_prints_the_version(tmp_path: Path) -> None:
    done = run_command([sys.executable, "-m", "mcpctl", "--version"], tmp_path)

    assert done.returncode == 0
    assert done.stdout == f"mcpctl {__version__}\n"


def test_the_command_prints_the_version(mcpctl: Command) -> None:
    done = mcpctl("--version")

    assert (done.returncode, done.stdout) == (0, f"mcpctl {__version__}\n")


class TestValidate:
    def test_valid_examples_exit_zero(self, mcpctl: Command) -> None:
        done = mcpctl("validate", str(EXAMPLES))

        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.endswith(": valid\n")

    def test_an_invalid_manifest_exits_one_with_file_line_and_column(
        self, mcpctl: Command, tmp_path: Path
    ) -> None:
        write(tmp_path / "users.yaml", BROKEN_USER)

        done = mcpctl("validate", "users.yaml")

        assert done.returncode == 1
        assert done.stdout.startswith("users.yaml:7:3: error: unknown field 'colour'")
        assert done.stdout.endswith("1 object in 1 file: 1 issue\n")

    def test_standard_input_is_validated(self, mcpctl: Command) -> None:
        assert mcpctl("validate", "-", input=USER).returncode == 0
        assert mcpctl("validate", "-", input=BROKEN_USER).returncode == 1

    def test_a_missing_path_exits_two(self, mcpctl: Command) -> None:
        done = mcpctl("validate", "nowhere.yaml")

        assert done.returncode == 2
        assert done.stderr == "error: nowhere.yaml: no such file or directory\n"

    def test_no_path_exits_two(self, mcpctl: Command) -> None:
        assert mcpctl("validate").returncode == 2

    def test_a_pipe_gets_no_colour_unless_asked(self, mcpctl: Command, tmp_path: Path) -> None:
        write(tmp_path / "users.yaml", BROKEN_USER)

        assert "\x1b[" not in mcpctl("validate", "users.yaml").stdout
        assert "\x1b[" in mcpctl("validate", "--color", "users.yaml").stdout


class TestDiff:
    def test_no_change_exits_zero(self, mcpctl: Command) -> None:
        done = mcpctl("diff", str(EXAMPLES), str(EXAMPLES))

        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("0 to add, 0 to change, 0 to remove")

    def test_a_change_exits_one(self, mcpctl: Command, tmp_path: Path) -> None:
        write(tmp_path / "old" / "users.yaml", USER)
        write(tmp_path / "new" / "users.yaml", USER.replace("a@example.com", "b@example.com"))

        done = mcpctl("diff", "old", "new")

        assert done.returncode == 1
        assert done.stdout.splitlines() == [
            "~ User/alice",
            '    ~ spec.email: "a@example.com" -> "b@example.com"',
            "0 to add, 1 to change, 0 to remove (0 unchanged)",
        ]

    def test_an_invalid_side_exits_two(self, mcpctl: Command, tmp_path: Path) -> None:
        write(tmp_path / "old" / "users.yaml", USER)
        write(tmp_path / "new" / "users.yaml", BROKEN_USER)

        done = mcpctl("diff", "old", "new")

        assert done.returncode == 2
        assert done.stdout == ""
        assert "new/users.yaml:7:3: error: unknown field 'colour'" in done.stderr

    def test_one_path_is_a_usage_error(self, mcpctl: Command) -> None:
        assert mcpctl("diff", str(EXAMPLES)).returncode == 2


def test_an_unknown_command_exits_two(mcpctl: Command) -> None:
    done = mcpctl("frobnicate")

    assert done.returncode == 2
    assert "No such command 'frobnicate'" in done.stderr
