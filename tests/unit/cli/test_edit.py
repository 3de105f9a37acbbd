"""`mcpctl edit`: $EDITOR on the canonical YAML, applied on save, reopened on errors."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import Run
from .fakeapi import FakeMcpd, problem

EDITOR = textwrap.dedent(
    """
    import json, os, pathlib, sys
    here = pathlib.Path(__file__).parent
    path = pathlib.Path(sys.argv[-1])
    counter = here / "rounds"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    text = path.read_text()
    (here / f"seen-{n}.yaml").write_text(text)
    steps = json.loads((here / "steps.json").read_text())
    old, new = steps[min(n, len(steps) - 1)]
    path.write_text(text.replace(old, new))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    """
)


class Editor:
    """A scripted $EDITOR: each round replaces one string with another."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        (root / "editor.py").write_text(EDITOR)

    def steps(self, *steps: tuple[str, str]) -> None:
        (self.root / "steps.json").write_text(json.dumps(steps))

    def seen(self, round: int) -> str:
        return (self.root / f"seen-{round}.yaml").read_text()

    @property
    def rounds(self) -> int:
        counter = self.root / "rounds"
        return int(counter.read_text()) if counter.exists() else 0


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    scripted = Editor(tmp_path / "editor")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {scripted.root / 'editor.py'}")
    return scripted


@pytest.fixture
def stored(mcpd: FakeMcpd) -> FakeMcpd:
    mcpd.put(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Server",
            "metadata": {"name": "time"},
            "spec": {"command": ["uvx", "mcp-server-time"], "replicas": 2},
        }
    )
    return mcpd


def puts(mcpd: FakeMcpd) -> list[dict[str, object]]:
    return [r.body for r in mcpd.requests if r.method == "PUT"]


def test_a_saved_edit_is_put_with_its_resource_version(
    run: Run, stored: FakeMcpd, editor: Editor
) -> None:
    editor.steps(("replicas: 2", "replicas: 3"))

    result = run("edit", "server", "time")

    assert result.exit_code == 0, result.output
    assert result.stdout == "server/time edited\n"
    assert editor.seen(0).startswith("# Edit the object below")
    (body,) = puts(stored)
    assert body["spec"] == {"command": ["uvx", "mcp-server-time"], "replicas": 3}
    assert body["metadata"] == {
        "name": "time",
        "resourceVersion": "1",
        "createdAt": "2026-01-01T00:00:00Z",
    }


def test_an_invalid_edit_reopens_the_editor_with_the_error(
    run: Run, stored: FakeMcpd, editor: Editor
) -> None:
    editor.steps(("replicas: 2", "replicas: -1"), ("replicas: -1", "replicas: 4"))

    result = run("edit", "server", "time")

    assert result.exit_code == 0, result.output
    assert editor.rounds == 2
    assert "# error: line 14: Input should be greater than or equal to 0" in editor.seen(1)
    assert "replicas: -1" in editor.seen(1)  # the text as it was saved, not the original
    assert [b["spec"]["replicas"] for b in puts(stored)] == [4]  # type: ignore[index]


def test_a_conflict_reopens_with_a_hint(run: Run, stored: FakeMcpd, editor: Editor) -> None:
    editor.steps(("replicas: 2", "replicas: 3"), ("replicas: 3", "replicas: 4"))
    stored.script = [
        # the GET, then the first PUT refused
        problem(409, "conflict", "the object changed since it was read"),
    ]
    stored.script.insert(0, stored.answer_for_get("servers", "time"))

    result = run("edit", "server", "time")

    assert result.exit_code == 0, result.output
    assert "# error: the object changed since it was read" in editor.seen(1)
    assert "remove metadata.resourceVersion" in editor.seen(1)


def test_saving_unchanged_cancels_without_a_request(
    run: Run, stored: FakeMcpd, editor: Editor
) -> None:
    editor.steps(("nothing-to-find", "x"))

    result = run("edit", "server", "time")

    assert result.exit_code == 0
    assert result.stderr == "Edit cancelled, no changes made.\n"
    assert puts(stored) == []


def test_saving_the_same_text_after_an_error_gives_up_and_keeps_it(
    run: Run, stored: FakeMcpd, editor: Editor
) -> None:
    editor.steps(("replicas: 2", "replicas: -1"), ("nothing-to-find", "x"))

    result = run("edit", "server", "time")

    assert result.exit_code == 2
    kept = result.stderr.strip().rsplit(" ", 1)[-1]
    assert "replicas: -1" in Path(kept).read_text()
    Path(kept).unlink()


def test_a_failure_the_editor_cannot_fix_keeps_the_text(
    run: Run, stored: FakeMcpd, editor: Editor
) -> None:
    editor.steps(("replicas: 2", "replicas: 5"))
    stored.script = [
        stored.answer_for_get("servers", "time"),
        problem(403, "forbidden", "needs edit on servers/time"),
    ]

    result = run("edit", "server", "time")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: forbidden: needs edit on servers/time (your edit is saved in "
    )
    kept = result.stderr.strip().removesuffix(")").rsplit(" ", 1)[-1]
    assert "replicas: 5" in Path(kept).read_text()
    Path(kept).unlink()


def test_renaming_in_the_editor_is_refused(run: Run, stored: FakeMcpd, editor: Editor) -> None:
    editor.steps(("name: time", "name: other"), ("name: other", "name: time"))

    result = run("edit", "server", "time")

    assert "# error: the kind, name and project cannot be edited" in editor.seen(1)
    assert result.exit_code == 0
