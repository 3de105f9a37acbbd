"""The git CLI against mcpd's state repo: clones that push over HTTP, the bare repo on disk.

Every git command runs with a private HOME, no system config, no terminal
prompt and a time limit, so a test never reads the machine's git settings and
never hangs waiting for a password. `quiet` and `assert_in_sync` are the
oracle of docs/architecture.md ("The flows and the invariant"); `snapshot` is what the API holds
of every kind kept in git, to compare a database before and after a restore.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from mcpctl.kindnames import KIND_NAMES
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd

GIT_TIMEOUT = 60.0

#: The kinds the state repo holds, by plural (prompts live under their project).
GIT_PLURALS = tuple(k.PLURAL for k in KIND_NAMES if k.IN_GIT and not k.PROJECT_SCOPED)
#: Fields mcpd writes that a restore does not bring back as they were.
SERVER_WRITTEN = (
    "resourceVersion",
    "generation",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
)


def git_env(home: Path, name: str = "Ann Pusher", email: str = "ann@example.com") -> dict[str, str]:
    """The environment of every git command: nothing of the machine's own git setup."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def run_git(
    args: list[str], env: Mapping[str, str], cwd: Path | None = None, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


def repo_url(mcpd: Mcpd, token: str | None = None) -> str:
    """The state repo's URL, with `token` as the password ("" for no credentials)."""
    use = mcpd.admin_token if token is None else token
    host = mcpd.url.removeprefix("http://")
    return f"http://x:{use}@{host}/git/state.git" if use else f"http://{host}/git/state.git"


def bare(state_dir: Path, *args: str, check: bool = True) -> str:
    """A git command on mcpd's bare state repo (reading only); its output."""
    done = subprocess.run(
        ["git", "--git-dir", str(state_dir / "state.git"), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=check,
    )
    return done.stdout


def bare_has(state_dir: Path, sha: str) -> bool:
    """Whether the bare repo holds the object `sha` at all (reachable or not)."""
    done = subprocess.run(
        ["git", "--git-dir", str(state_dir / "state.git"), "cat-file", "-e", sha],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    return done.returncode == 0


def main_of(state_dir: Path) -> str:
    return bare(state_dir, "rev-parse", "refs/heads/main").strip()


def subjects(state_dir: Path, since: str, until: str = "main") -> list[str]:
    """`author name | subject` of the commits in since..until, oldest first."""
    out = bare(state_dir, "log", "--reverse", "--format=%an <%ae>|%cn|%s", f"{since}..{until}")
    return out.splitlines()


@dataclass
class Clone:
    """A working copy of the state repo, cloned over HTTP."""

    path: Path
    env: dict[str, str]

    @classmethod
    def of(
        cls,
        mcpd: Mcpd,
        path: Path,
        token: str | None = None,
        *,
        name: str = "Ann Pusher",
        email: str = "ann@example.com",
    ) -> Clone:
        env = git_env(path.parent / f"{path.name}-home", name, email)
        run_git(["clone", "--quiet", repo_url(mcpd, token), str(path)], env)
        return cls(path, env)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_git(list(args), self.env, self.path, check=check)

    def write(self, relative: str, content: str | dict[str, Any]) -> None:
        """A file of the work tree (a dict is written as YAML)."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        target.write_text(text, encoding="utf-8")

    def read(self, relative: str) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((self.path / relative).read_text("utf-8"))
        return loaded

    def text(self, relative: str) -> str:
        return (self.path / relative).read_text("utf-8")

    def remove(self, relative: str) -> None:
        self.git("rm", "--quiet", relative)

    def commit(self, message: str) -> str:
        """Stage every change in the work tree and commit it; the new sha."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`git push origin ...` (default: main); not checked: look at the result."""
        return self.git("push", "origin", *(args or ("main",)), check=False)

    def sync(self) -> str:
        """Fetch and move the work tree to mcpd's main (dropping local commits); its sha."""
        self.git("fetch", "--quiet", "origin")
        self.git("reset", "--quiet", "--hard", "origin/main")
        self.git("clean", "--quiet", "-fd")
        return self.head()

    def remote_main(self) -> str:
        """Where main is on mcpd, as `git ls-remote` sees it."""
        out = self.git("ls-remote", "origin", "refs/heads/main").stdout.split()
        return out[0] if out else ""


def remote_lines(stderr: str) -> list[str]:
    """The `remote: mcpd: ...` lines of a push, without the `remote: ` prefix."""
    out: list[str] = []
    for line in stderr.splitlines():
        text = line.strip()
        if text.startswith("remote: mcpd:"):
            out.append(text.removeprefix("remote: ").strip())
    return out


def quiet(client: httpx.Client, deadline: float = WAIT_TIMEOUT) -> dict[str, Any]:
    """Wait until every committed write is exported; the replica's status then.

    `deadline` is a hang guard: an export still pending after it is stuck, not slow."""
    end = time.monotonic() + deadline
    while True:
        status: dict[str, Any] = client.get("/api/v1/gitops/status").raise_for_status().json()
        if not status["pending"]:
            return status
        assert time.monotonic() < end, f"export still pending: {status}"
        time.sleep(0.02)


def assert_in_sync(client: httpx.Client) -> dict[str, Any]:
    """The invariant, once mcpd is quiet: main is exactly the export of the database."""
    status = quiet(client)
    verify = client.get("/api/v1/gitops/verify").raise_for_status().json()
    assert verify == {"inSync": True, "differences": [], "diff": ""}
    return status


def _listed(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    response = client.get(url, params={"limit": "5000"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _comparable(item: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in item["metadata"].items() if k not in SERVER_WRITTEN}
    return {"kind": item["kind"], "metadata": metadata, "spec": item["spec"]}


def snapshot(client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """Every object of the kinds kept in git, as the API lists them (mcpd's fields left out)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for plural in GIT_PLURALS:
        out[plural] = sorted(
            (_comparable(i) for i in _listed(client, f"/api/v1/{plural}")),
            key=lambda i: str(i["metadata"]["name"]),
        )
    for project in out["projects"]:
        name = project["metadata"]["name"]
        out[f"projects/{name}/prompts"] = sorted(
            (_comparable(i) for i in _listed(client, f"/api/v1/projects/{name}/prompts")),
            key=lambda i: str(i["metadata"]["name"]),
        )
    return out
