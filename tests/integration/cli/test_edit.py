"""`mcpctl edit`, run as the installed command with a scripted $EDITOR, against a real mcpd.

The editor is a small Python script: each time it is opened it saves the
text it was given, then makes the next scripted change (a regular
expression and its replacement) and, if scripted, runs a command first, as
someone else changing the object meanwhile would.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.manifests import manifest

from .conftest import MCPCTL, Cli

pytestmark = pytest.mark.integration

EDITOR = textwrap.dedent(
    """
    import json, os, pathlib, re, subprocess, sys
    here = pathlib.Path(__file__).parent
    path = pathlib.Path(sys.argv[-1])
    counter = here / "rounds"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    text = path.read_text()
    (here / f"seen-{n}.yaml").write_text(text)
    steps = json.loads((here / "steps.json").read_text())
    pattern, replacement, command = steps[min(n, len(steps) - 1)]
    if command:
        subprocess.run(command, check=True, capture_output=True)
    path.write_text(re.sub(pattern, replacement, text))
    """
)


class Editor:
    """A scripted $EDITOR, and what it saw each time it was opened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        (root / "editor.py").write_text(EDITOR)

    @property
    def command(self) -> str:
        return f"{sys.executable} {self.root / 'editor.py'}"

    def steps(self, *steps: tuple[str, str] | tuple[str, str, list[str]]) -> None:
        """Round by round: (literal text, replacement[, a command run first]); re.sub if `re:`."""
        script = []
        for old, new, *command in steps:
            pattern = old.removeprefix("re:") if old.startswith("re:") else re.escape(old)
            script.append([pattern, new, command[0] if command else None])
        (self.root / "steps.json").write_text(json.dumps(script))

    def seen(self, round: int) -> str:
        return (self.root / f"seen-{round}.yaml").read_text()

    @property
    def rounds(self) -> int:
        counter = self.root / "rounds"
        return int(counter.read_text()) if counter.exists() else 0


@pytest.fixture
def editor(tmp_path: Path) -> Editor:
    return Editor(tmp_path / "editor")


def edit(cli: Cli, editor: Editor, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """`mcpctl edit ARGS...` with the scripted editor; temp files (kept edits) under tmp_path."""
    done = cli.command("edit", *args, env={"EDITOR": editor.command, "TMPDIR": str(tmp_path)})
    return done.returncode, done.stdout, done.stderr


def stored_server(cli: Cli) -> str:
    name = cli.name("edit")
    cli.create(manifest("Server", name, {"command": ["uvx", "mcp-server-time"], "replicas": 2}))
    return name


def replicas(cli: Cli, name: str) -> tuple[int, int]:
    """The stored server's replicas and generation."""
    stored = cli.fetch("servers", name)
    assert stored is not None
    return stored["spec"]["replicas"], stored["metadata"]["generation"]


def test_a_saved_edit_is_applied(cli_db: Cli, editor: Editor, tmp_path: Path) -> None:
    name = stored_server(cli_db)
    editor.steps(("replicas: 2", "replicas: 3"))

    code, out, err = edit(cli_db, editor, tmp_path, "server", name)

    assert (code, out, err) == (0, f"server/{name} edited\n", "")
    assert editor.seen(0).startswith("# Edit the object below")
    assert f"  name: {name}\n" in editor.seen(0)
    assert replicas(cli_db, name) == (3, 2)


def test_an_edited_secret_keeps_the_values_it_showed_masked(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    name = cli.name("secret")
    cli.create(manifest("Secret", name, {"data": {"TOKEN": f"value-of-{name}"}}))
    editor.steps(("spec:", "  labels: {team: infra}\nspec:"))

    code, out, _ = edit(cli, editor, tmp_path, "secret", name)

    assert (code, out) == (0, f"secret/{name} edited\n")
    assert "    TOKEN: null\n" in editor.seen(0)
    assert f"value-of-{name}" not in editor.seen(0)
    answer = cli.admin.get(f"/api/v1/secrets/{name}", params={"showSecrets": "true"})
    revealed = answer.json()
    assert revealed["metadata"]["labels"] == {"team": "infra"}
    assert revealed["spec"]["data"] == {"TOKEN": f"value-of-{name}"}


def test_an_invalid_edit_reopens_the_editor_with_the_error(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    name = stored_server(cli)
    editor.steps(("replicas: 2", "replicas: -1"), ("replicas: -1", "replicas: 4"))

    code, out, _ = edit(cli, editor, tmp_path, "server", name)

    assert (code, out) == (0, f"server/{name} edited\n")
    assert editor.rounds == 2
    assert (
        "\n# error: line 18: Input should be greater than or equal to 0 (field spec.replicas)\n"
        in editor.seen(1)
    )
    assert "replicas: -1" in editor.seen(1)  # the text as it was saved, not the original
    assert replicas(cli, name) == (4, 2)


def test_a_reference_mcpd_refuses_reopens_the_editor_with_its_line(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    n = cli.name("edit")
    for server in (f"{n}-a", f"{n}-b"):
        cli.create(manifest("Server", server, {"command": ["x"]}))
    cli.create(manifest("Project", n, {"servers": [f"{n}-a"]}))
    editor.steps((f"- {n}-a", f"- {n}-nope"), (f"- {n}-nope", f"- {n}-b"))

    code, out, _ = edit(cli, editor, tmp_path, "project", n)

    assert (code, out) == (0, f"project/{n} edited\n")
    assert editor.rounds == 2
    error = next(line for line in editor.seen(1).splitlines() if line.startswith("# error:"))
    assert re.fullmatch(
        rf"# error: line \d+: Project '{n}' refers to Server/{n}-nope, .*"
        r" \(field spec.servers\[0\]\)",
        error,
    ), error
    stored = cli.fetch("projects", n)
    assert stored is not None
    assert stored["spec"]["servers"] == [f"{n}-b"]


def test_a_change_made_meanwhile_reopens_with_a_hint(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    name = stored_server(cli)
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(
        json.dumps(manifest("Server", name, {"command": ["uvx", "mcp-server-time"], "replicas": 7}))
    )
    editor.steps(
        ("replicas: 2", "replicas: 3", [str(MCPCTL), "apply", "-f", str(theirs)]),
        (r"re:  resourceVersion: '\d+'\n", ""),  # overwrite their change, as the hint says
    )

    code, out, _ = edit(cli, editor, tmp_path, "server", name)

    assert (code, out) == (0, f"server/{name} edited\n")
    assert "# error: " in editor.seen(1)
    assert "remove metadata.resourceVersion" in editor.seen(1)
    assert "replicas: 3" in editor.seen(1)
    assert replicas(cli, name) == (3, 3)


def test_saving_unchanged_cancels_and_changes_nothing(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    name = stored_server(cli)
    editor.steps(("nothing-to-find", "x"))

    code, out, err = edit(cli, editor, tmp_path, "server", name)

    assert (code, out, err) == (0, "", "Edit cancelled, no changes made.\n")
    assert replicas(cli, name) == (2, 1)


def test_saving_the_same_text_after_an_error_gives_up_and_keeps_it(
    cli: Cli, editor: Editor, tmp_path: Path
) -> None:
    name = stored_server(cli)
    editor.steps(("replicas: 2", "replicas: -1"), ("nothing-to-find", "x"))

    code, _, err = edit(cli, editor, tmp_path, "server", name)

    assert code == 2
    assert err.startswith("error: edit cancelled: saved unchanged after an error; your text is in ")
    kept = Path(err.strip().rsplit(" ", 1)[-1])
    assert kept.parent == tmp_path
    assert "replicas: -1" in kept.read_text()
    assert replicas(cli, name) == (2, 1)


def test_a_failure_the_editor_cannot_fix_keeps_the_text(
    cli: Cli, viewer: str, editor: Editor, tmp_path: Path
) -> None:
    name = stored_server(cli)
    editor.steps(("replicas: 2", "replicas: 5"))

    done = cli.command(
        "--token",
        viewer,
        "edit",
        "server",
        name,
        env={"EDITOR": editor.command, "TMPDIR": str(tmp_path)},
    )

    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: forbidden: needs edit on servers/{name} (your edit is saved in "
    )
    assert done.stderr.count("\n") == 1
    kept = Path(done.stderr.strip().removesuffix(")").rsplit(" ", 1)[-1])
    assert "replicas: 5" in kept.read_text()
    assert replicas(cli, name) == (2, 1)


def test_renaming_in_the_editor_is_refused(cli: Cli, editor: Editor, tmp_path: Path) -> None:
    name = stored_server(cli)
    editor.steps((f"name: {name}", "name: other"), ("name: other", f"name: {name}"))

    code, _, err = edit(cli, editor, tmp_path, "server", name)

    assert "# error: the kind, name and project cannot be edited" in editor.seen(1)
    assert (code, err) == (0, "Edit cancelled, no changes made.\n")
    assert cli.fetch("servers", "other") is None
