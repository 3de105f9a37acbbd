"""Restore and timelines, and disaster recovery (issue 4, point 5).

docs/architecture.md, "Restore and timelines" and "Disaster recovery".

A real mcpd on SQLite and on PostgreSQL, its state repo read with the git CLI:

- `restore --to REV` keeps the abandoned head on `timelines/<UTC stamp>-<short sha>` (with
  a note naming who, the target and the reason), brings the database back to the objects
  at REV (Secret values too) without touching runtime objects, and writes a forward commit
  whose tree is REV's; no commit ever becomes unreachable; restoring again is harmless;
- restoring to the timeline (through the real CLI) brings the abandoned state back;
- bad revisions and users without `run restore` are refused and change nothing;
- no Secret value reaches the history in plaintext;
- an mcpd started on the state dir with an empty database restores it from `main`, and
  without the sealing key refuses, naming the values it cannot open, unless told to skip.

After every scenario the invariant holds (`assert_in_sync`). The crash points of a
restore are tested in test_crash_consistency.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pygit2
import pytest

from mcpctl.secrets.sealing import KEY_ENV, KEY_FILE
from tests.integration.api.harness import Api, assert_problem, run
from tests.support import manifests
from tests.support.gitrepo import assert_in_sync, bare, main_of, quiet, snapshot
from tests.support.manifests import JSON, binding, manifest
from tests.support.mcpd import Mcpd, failed_start, running_mcpd
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

#: Secret values of the two versions: never in git in plaintext, back after each restore.
FIRST_TOKEN = "ghp_restore-first-7d0c5e1a"
SECOND_TOKEN = "ghp_restore-second-93b1f2c4"
EXTRA_VALUE = "xoxb-restore-extra-5a6e8d90"
VALUES = (FIRST_TOKEN, SECOND_TOKEN, EXTRA_VALUE)

#: `timelines/<UTC timestamp>-<short sha>` (docs/architecture.md), the name under the prefix.
TIMELINE_NAME = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{12})$")
TIMELINES_PREFIX = "refs/heads/timelines/"


def server(name: str, command: str = "mcp-server-time", *, secret: str | None = None) -> JSON:
    """A Server that runs nothing (replicas 0: the reconciler leaves it alone)."""
    made = manifests.server(name, command, replicas=0)
    if secret:
        made["spec"]["env"] = [
            {"name": "T", "valueFrom": {"secretRef": {"name": secret, "key": "token"}}}
        ]
    return made


def version_one() -> list[JSON]:
    return [
        manifest("Secret", "github", {"data": {"token": FIRST_TOKEN}}),
        server("a", secret="github"),
        manifest("Project", "demo", {"servers": ["a"]}),
        manifest("Prompt", "intro", {"content": "Be brief."}, project="demo"),
    ]


def version_two() -> list[JSON]:
    """Every kind of change against version one: values, specs, an object added."""
    return [
        manifest("Secret", "github", {"data": {"token": SECOND_TOKEN, "extra": EXTRA_VALUE}}),
        server("a", "mcp-server-fetch", secret="github"),
        server("b"),
        manifest("Project", "demo", {"servers": ["a", "b"]}),
    ]


@dataclass(frozen=True)
class History:
    """Two versions written through the API: the commit and snapshot of each."""

    first: str
    first_snapshot: dict[str, list[JSON]]
    second: str
    second_snapshot: dict[str, list[JSON]]


def write_history(client: httpx.Client) -> History:
    """Version one, then version two (and the prompt deleted) in two more commits."""
    apply(client, version_one())
    first = quiet(client)["head"]
    first_snapshot = snapshot(client)
    apply(client, version_two())
    client.delete("/api/v1/projects/demo/prompts/intro").raise_for_status()
    second = quiet(client)["head"]
    assert second != first
    return History(first, first_snapshot, second, snapshot(client))


def apply(client: httpx.Client, items: list[JSON]) -> None:
    response = client.post("/api/v1/apply", json={"items": items})
    assert response.status_code == 200, response.text


def restore(client: httpx.Client, to: str, reason: str = "") -> JSON:
    response = client.post("/api/v1/gitops/restore", json={"to": to, "reason": reason})
    assert response.status_code == 200, response.text
    answer: JSON = response.json()
    return answer


def timelines(client: httpx.Client) -> list[JSON]:
    response = client.get("/api/v1/gitops/timelines")
    assert response.status_code == 200, response.text
    items: list[JSON] = response.json()["items"]
    return items


def revealed(client: httpx.Client, name: str) -> dict[str, str | None]:
    response = client.get(f"/api/v1/secrets/{name}", params={"showSecrets": "true"})
    assert response.status_code == 200, response.text
    data: dict[str, str | None] = response.json()["spec"]["data"]
    return data


# ---- the state repo, read with the git CLI ---------------------------------------------------


def refs(state: Path) -> dict[str, str]:
    """Every ref of the bare repo (branches, timelines, notes) and what it points at."""
    out = bare(state, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


def timeline_refs(state: Path) -> dict[str, str]:
    return {k: v for k, v in refs(state).items() if k.startswith(TIMELINES_PREFIX)}


def tree(state: Path, rev: str) -> str:
    return bare(state, "rev-parse", f"{rev}^{{tree}}").strip()


def all_commits(state: Path) -> set[str]:
    """Every commit of every branch (the notes ref has commits of its own: left out)."""
    return set(bare(state, "rev-list", "--branches").split())


def is_ancestor(state: Path, sha: str, ref: str) -> bool:
    done = subprocess.run(
        ["git", "--git-dir", str(state / "state.git"), "merge-base", "--is-ancestor", sha, ref],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def assert_all_reachable(state: Path, commits: set[str]) -> None:
    """Every commit in `commits` is an ancestor of main or of a timeline branch."""
    heads = ["refs/heads/main", *timeline_refs(state)]
    lost = [sha for sha in commits if not any(is_ancestor(state, sha, h) for h in heads)]
    assert not lost, f"commits no longer reachable from main or a timeline: {lost}"


def note_of(state: Path, sha: str) -> str:
    return bare(state, "notes", "--ref=timelines", "show", sha).strip()


def whole_history(state: Path) -> str:
    """Every commit of every ref with its patch (notes too): what a clone could ever see."""
    return bare(state, "log", "-p", "--all", "--format=%H%n%B")


def runtime(client: httpx.Client) -> tuple[set[str], set[str]]:
    """The names of every AuditEvent and Event: restores must only ever add to them."""
    audit = client.get("/api/v1/auditevents", params={"limit": "5000"}).raise_for_status()
    events = client.get("/api/v1/events", params={"limit": "1000"}).raise_for_status()
    return (
        {i["metadata"]["name"] for i in audit.json()["items"]},
        {i["metadata"]["name"] for i in events.json()["items"]},
    )


def mcpctl(mcpd: Mcpd, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, with mcpd's context."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "mcpctl"), *args],
        env=mcpd.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def utc_stamp(name: str) -> datetime:
    match = TIMELINE_NAME.match(name)
    assert match, f"timeline {name!r} is not <UTC timestamp>-<short sha>"
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# ---- restore -> timeline ---------------------------------------------------------------------


def test_restore_to_an_older_commit_brings_back_its_objects_and_keeps_the_abandoned_head(
    mcpd: Mcpd,
) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        before = quiet(client)
        old_commits = all_commits(state)
        audit_before, events_before = runtime(client)
        started = datetime.now(UTC).replace(microsecond=0)

        answer = restore(client, history.first, "undo the second version")

        finished = datetime.now(UTC)
        status = assert_in_sync(client)
        assert snapshot(client) == history.first_snapshot
        assert revealed(client, "github") == {"token": FIRST_TOKEN}
        audit_after, events_after = runtime(client)
        listed = timelines(client)

    name = answer["timeline"]
    assert answer == {
        "target": history.first,
        "head": history.second,
        "timeline": name,
        "changed": True,
        "summary": {"add": 1, "change": 3, "remove": 1},
    }
    # the abandoned head, on a branch named for when and what, with a note of who and why
    assert started <= utc_stamp(name) <= finished
    assert name.endswith(f"-{history.second[:12]}")
    assert timeline_refs(state) == {TIMELINES_PREFIX + name: history.second}
    assert note_of(state, history.second) == (
        f"{utc_stamp(name).strftime('%Y-%m-%dT%H:%M:%SZ')} admin restored main to "
        f"{history.first[:12]} ({history.first}) because: undo the second version"
    )
    assert listed == [
        {
            "name": name,
            "ref": TIMELINES_PREFIX + name,
            "commit": history.second,
            "savedAt": utc_stamp(name).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": note_of(state, history.second),
            "summary": "delete Prompt/demo/intro",
        }
    ]
    # main: one forward commit on the abandoned head, with the target's tree
    head = main_of(state)
    assert status["head"] == head
    assert bare(state, "rev-list", f"{history.second}..main").split() == [head]
    assert bare(state, "rev-parse", "main^").strip() == history.second
    assert tree(state, "main") == tree(state, history.first)
    message = bare(state, "log", "-1", "--format=%an|%B", "main")
    assert message.startswith(f"admin|Restore main to {history.first[:12]} ({history.first})\n")
    assert "Reason: undo the second version\n" in message
    assert f"The abandoned head is kept on timelines/{name}\n" in message
    assert f"Mcpctl-Change: {status['lastChange']}" in message
    assert status["lastChange"] == before["lastChange"] + 5  # one change per object restored
    # nothing lost: every earlier commit reachable, runtime objects only added to
    assert_all_reachable(state, old_commits)
    assert audit_before <= audit_after
    assert events_before <= events_after


def test_restore_to_the_abandoned_timeline_with_the_cli_brings_the_later_state_back(
    mcpd: Mcpd,
) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        first = restore(client, history.first, "try the first version")
        after_first = quiet(client)["head"]
        old_commits = all_commits(state)

        done = mcpctl(mcpd, "restore", "--to", f"timelines/{first['timeline']}", "--reason", "back")

        assert done.returncode == 0, done.stderr
        assert_in_sync(client)
        assert snapshot(client) == history.second_snapshot
        assert revealed(client, "github") == {"token": SECOND_TOKEN, "extra": EXTRA_VALUE}
        listed = timelines(client)

    second = next(t["name"] for t in listed if t["name"] != first["timeline"])
    assert done.stdout.splitlines() == [
        f"restored main to timelines/{first['timeline']} ({history.second[:12]}): "
        "1 created, 3 configured, 1 deleted",
        f"the previous head is kept on timelines/{second}",
    ]
    assert second.endswith(f"-{after_first[:12]}")
    assert timeline_refs(state) == {
        TIMELINES_PREFIX + first["timeline"]: history.second,
        TIMELINES_PREFIX + second: after_first,
    }
    assert f"admin restored main to {history.second[:12]} (timelines/" in note_of(
        state, after_first
    )
    assert note_of(state, after_first).endswith(" because: back")
    assert bare(state, "rev-parse", "main^").strip() == after_first
    assert tree(state, "main") == tree(state, history.second)
    assert_all_reachable(state, old_commits)


def test_restoring_to_where_main_already_is_changes_nothing(mcpd: Mcpd) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        first = restore(client, history.first)
        head, saved, status = main_of(state), refs(state), quiet(client)

        # main's own tree, however it is named: main, its sha, the first target again
        answers = [restore(client, rev) for rev in ("main", head, history.first, history.first)]
        cli = mcpctl(mcpd, "restore", "--to", history.first[:12])

        assert_in_sync(client)
        assert quiet(client)["lastChange"] == status["lastChange"]
        assert snapshot(client) == history.first_snapshot
        assert [t["name"] for t in timelines(client)] == [first["timeline"]]

    for rev, answer in zip(("main", head, history.first, history.first), answers, strict=True):
        assert answer["changed"] is False, rev
        assert answer["timeline"] is None, rev
        assert answer["head"] == head, rev
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == (
        f"main already holds what {history.first[:12]} ({history.first[:12]}) holds: "
        "nothing to restore\n"
    )
    assert main_of(state) == head
    assert refs(state) == saved  # no new commit, no new timeline, no note changed


def test_gitops_timelines_lists_them_newest_first(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        history = write_history(client)
        names = [
            restore(client, rev, f"step {i}")["timeline"]
            for i, rev in enumerate((history.first, history.second, history.first), 1)
        ]
        assert_in_sync(client)

    as_json = mcpctl(mcpd, "gitops", "timelines", "-o", "json")
    as_text = mcpctl(mcpd, "gitops", "timelines")

    assert len(set(names)) == 3
    assert as_json.returncode == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert [i["name"] for i in items] == names[::-1]
    assert [i["note"].rsplit(" because: ", 1)[1] for i in items] == ["step 3", "step 2", "step 1"]
    assert as_text.returncode == 0, as_text.stderr
    lines = as_text.stdout.splitlines()
    assert lines[0].split() == ["NAME", "COMMIT", "NOTE"]
    assert [line.split()[0] for line in lines[1:]] == [f"timelines/{n}" for n in names[::-1]]
    for line, item in zip(lines[1:], items, strict=True):
        assert line.split()[1] == item["commit"][:12]
        assert line.endswith(item["note"])


def test_a_revision_holding_control_characters_reaches_the_log_and_the_table_escaped(
    mcpd: Mcpd,
) -> None:
    with mcpd.client() as client:
        apply(client, [server("marker")])
        apply(client, [server("later")])
        quiet(client)
        # git's `:/REGEX` finds the newest commit whose message matches: the optional escape
        # and vertical tab (a line break to Python's splitlines) match nothing, and stay
        rev = ":/create Server/marker\x1b?\x0b?"
        answer = restore(client, rev, "why")
        assert answer["changed"] is True
        quiet(client)
    listed = mcpctl(mcpd, "gitops", "timelines")

    log = mcpd.log.read_text(encoding="utf-8")
    assert "\x1b" not in log
    assert "\x0b" not in log
    restored = [line for line in log.split("\n") if " restored main to " in line]
    assert len(restored) == 1, restored
    shown = ":/create Server/marker\\x1b?\\x0b?"
    assert restored[0].endswith(f"({shown})"), restored
    assert listed.returncode == 0, listed.stderr
    assert all(line.isprintable() for line in listed.stdout.splitlines()), listed.stdout
    assert listed.stdout.splitlines()[1].endswith(f"({shown}) because: why")


def test_no_timelines_says_so(mcpd: Mcpd) -> None:
    done = mcpctl(mcpd, "gitops", "timelines")
    as_json = mcpctl(mcpd, "gitops", "timelines", "-o", "json")

    assert (done.returncode, done.stdout) == (0, "no timelines: nothing has been restored yet\n")
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])


# ---- bad input changes nothing ---------------------------------------------------------------


@dataclass(frozen=True)
class Everything:
    """What a refused restore must leave as it was: main, every ref, the database."""

    refs: dict[str, str]
    snapshot: dict[str, list[JSON]]
    last_change: int

    @classmethod
    def of(cls, state: Path, client: httpx.Client) -> Everything:
        status = quiet(client)
        assert status["head"] == main_of(state)
        return cls(refs(state), snapshot(client), status["lastChange"])


def test_a_bad_revision_is_refused_and_changes_nothing(mcpd: Mcpd) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        restore(client, history.first)  # a timeline exists too: none may come or go
        before = Everything.of(state, client)
        blob = bare(state, "rev-parse", "main:servers/a.yaml").strip()
        cases = [
            ("0badc0ffee0badc0ffee", 404, "not-found"),
            ("no-such-branch", 404, "not-found"),
            ("timelines/19990101T000000Z-000000000000", 404, "not-found"),
            ("-x", 422, "invalid"),
            ("--orphan", 422, "invalid"),
            ("main\nHEAD", 422, "invalid"),
            ("main\r", 422, "invalid"),
            ("", 422, "invalid"),
            (blob, 422, "invalid"),  # a file, not a commit
        ]
        for rev, status, slug in cases:
            response = client.post("/api/v1/gitops/restore", json={"to": rev, "reason": "x"})
            problem = assert_problem(response, status, slug)
            if status == 404:
                assert problem["detail"] == f"no revision {rev!r} in the state repo"
            assert Everything.of(state, client) == before, rev
        for body in ({}, {"to": 7}, {"to": "main", "reason": ["x"]}):
            assert_problem(client.post("/api/v1/gitops/restore", json=body), 422, "invalid")
        assert_in_sync(client)
        after = Everything.of(state, client)

    assert after == before
    cli = mcpctl(mcpd, "restore", "--to", "no-such-branch")
    assert (cli.returncode, cli.stdout) == (2, "")
    assert "no revision 'no-such-branch' in the state repo" in cli.stderr


def test_a_user_without_run_restore_is_forbidden_and_changes_nothing(mcpd: Mcpd) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client, Api(mcpd, "restore") as api:
        history = write_history(client)
        # everything but the one operation: view every kind, edit them, sync
        who, token = api.login_user(
            [binding("view", "*"), binding("edit", "*"), binding("create", "*"), run("sync")]
        )
        before = Everything.of(state, client)
        user = api.client(token)

        denied = user.post("/api/v1/gitops/restore", json={"to": history.first})
        listed = user.get("/api/v1/gitops/timelines")

        problem = assert_problem(denied, 403, "forbidden")
        assert "run restore" in problem["detail"]
        assert listed.status_code == 200
        assert listed.json()["items"] == []
        assert Everything.of(state, client) == before
        assert_in_sync(client)
        audit = client.get("/api/v1/auditevents", params={"limit": "50"}).raise_for_status()
        refused = [i["spec"] for i in audit.json()["items"] if i["spec"].get("outcome") == "denied"]
    assert any(s.get("user") == who for s in refused), refused


def test_only_the_history_of_main_and_the_timelines_can_be_restored(mcpd: Mcpd) -> None:
    """The notes ref (or any commit outside main's and the timelines' history) is refused:
    restoring the notes commit's tree would delete every object."""
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        restore(client, history.first)  # saves a timeline: its note is a commit of its own
        before = Everything.of(state, client)
        notes = bare(state, "rev-parse", "refs/notes/timelines").strip()
        for rev in ("refs/notes/timelines", notes):
            response = client.post("/api/v1/gitops/restore", json={"to": rev})
            problem = assert_problem(response, 422, "invalid")
            assert problem["detail"] == (
                f"{rev!r} ({notes[:12]}) is not a commit of main or of a timeline: "
                "only the state repo's own history can be restored"
            )
            assert Everything.of(state, client) == before
        assert_in_sync(client)


def test_a_restore_that_would_lock_its_actor_out_is_refused(mcpd: Mcpd) -> None:
    """The first commit of main holds no User or Rbac: restoring it would leave nobody able
    to undo it. Refused (409), nothing changed, no timeline left behind."""
    state = mcpd.state_dir
    with mcpd.client() as client:
        write_history(client)
        before = Everything.of(state, client)
        root = bare(state, "rev-list", "--max-parents=0", "main").split()[0]
        assert "rbacs/admin.yaml" not in bare(state, "ls-tree", "-r", "--name-only", root)

        response = client.post("/api/v1/gitops/restore", json={"to": root})

        problem = assert_problem(response, 409, "conflict")
        assert "would lock everyone out" in problem["detail"], problem
        assert "nothing was changed" in problem["detail"]
        assert Everything.of(state, client) == before
        assert timelines(client) == []
        assert bare(state, "notes", "--ref", "timelines", "list", check=False) == ""
        assert_in_sync(client)


# ---- secrets ---------------------------------------------------------------------------------


def test_secret_values_survive_restores_and_never_reach_git_in_plaintext(mcpd: Mcpd) -> None:
    state = mcpd.state_dir
    with mcpd.client() as client:
        history = write_history(client)
        at_second = revealed(client, "github")
        restore(client, history.first)
        at_first = revealed(client, "github")
        restore(client, history.second)
        back = revealed(client, "github")
        assert_in_sync(client)
        masked = client.get("/api/v1/secrets/github").raise_for_status().json()

    assert at_second == {"token": SECOND_TOKEN, "extra": EXTRA_VALUE}
    assert at_first == {"token": FIRST_TOKEN}
    assert back == at_second
    assert masked["spec"]["data"] == {"token": None, "extra": None}
    # sealed in every version of the file, never in plaintext anywhere in the history
    for rev in (history.first, history.second, "main"):
        assert "sealedData:" in bare(state, "show", f"{rev}:secrets/github.yaml")
    everything = whole_history(state)
    assert "secrets/github.yaml" in everything
    for value in VALUES:
        assert value not in everything


# ---- disaster recovery -----------------------------------------------------------------------


RESTORING = "the database is empty and the state repo is not: restoring every object at main"


def empty_database(database_url: str, request: pytest.FixtureRequest, path: Path) -> str:
    """Another, empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{path}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database()


def populate(state: Path, database_url: str) -> tuple[str, dict[str, list[JSON]]]:
    """An mcpd that writes two versions and restores the first: main and its snapshot."""
    with running_mcpd(state, database_url) as first, first.client() as client:
        history = write_history(client)
        restore(client, history.first)
        restore(client, history.second, "second thoughts")
        assert_in_sync(client)
        return main_of(state), snapshot(client)


def log_since(mcpd_log: Path, offset: int) -> str:
    return mcpd_log.read_bytes()[offset:].decode("utf-8", "replace")


def count(objects: dict[str, list[JSON]]) -> int:
    return sum(len(items) for items in objects.values())


def log_of(state: Path) -> Path:
    return state.parent / f"{state.name}-mcpd.log"


@pytest.mark.slow
def test_an_empty_database_is_restored_from_main_at_start(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    head, objects = populate(state, database_url)
    before_refs = refs(state)
    offset = log_of(state).stat().st_size
    empty = empty_database(database_url, request, tmp_path / "empty.db")

    with running_mcpd(state, empty) as again, again.client() as client:
        status = assert_in_sync(client)
        assert snapshot(client) == objects
        assert revealed(client, "github") == {"token": SECOND_TOKEN, "extra": EXTRA_VALUE}
        assert status["head"] == head  # recovery wrote no commit
        assert refs(state) == before_refs
        # and the next write exports as usual: one commit by its author
        apply(client, [server("after-recovery")])
        after = assert_in_sync(client)
        assert bare(state, "rev-list", f"{head}..main").split() == [after["head"]]
        assert bare(state, "log", "-1", "--format=%an|%s", "main").strip() == (
            "admin|create Server/after-recovery"
        )
        assert f"Mcpctl-Change: {after['lastChange']}" in bare(state, "log", "-1", "main")

    started = log_since(again.log, offset)
    assert f"{RESTORING} {head[:12]} (disaster recovery)" in started
    assert f"disaster recovery done: {count(objects)} object(s) restored from main" in started
    for value in VALUES:
        assert value not in log_of(state).read_text()


NON_CANONICAL = """# edited by hand, past mcpd
kind: Server
apiVersion: mcpctl/v1
metadata: {name: by-hand}
spec:
  replicas: 1
  command: [mcp-server-time]
"""


def commit_behind_mcpd(state: Path, path: str, content: bytes) -> str:
    """A commit on main written straight into the repo (pygit2): no hook, no mcpd."""
    repo = pygit2.Repository(str(state / "state.git"))
    head = repo.references["refs/heads/main"].peel(pygit2.Commit)
    directory, name = path.split("/")
    entry = head.tree[directory]
    sub = repo.TreeBuilder(repo[entry.id].peel(pygit2.Tree))
    sub.insert(name, repo.create_blob(content), pygit2.enums.FileMode.BLOB)
    root = repo.TreeBuilder(head.tree)
    root.insert(directory, sub.write(), pygit2.enums.FileMode.TREE)
    who = pygit2.Signature("someone", "someone@example.com")
    oid = repo.create_commit(None, who, who, "by hand", root.write(), [head.id])
    repo.references["refs/heads/main"].set_target(oid)
    return str(oid)


@pytest.mark.slow
def test_recovery_commits_the_canonical_form_of_a_file_that_was_not(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """main's last commit holds a valid file in another form than mcpd's (written past
    mcpd): the recovered mcpd stores it and commits its canonical form on top."""
    state = tmp_path / "state"
    with running_mcpd(state, database_url) as first, first.client() as client:
        apply(client, [server("time"), server("other")])
        assert_in_sync(client)
    edited = commit_behind_mcpd(state, "servers/by-hand.yaml", NON_CANONICAL.encode())
    empty = empty_database(database_url, request, tmp_path / "empty.db")

    with running_mcpd(state, empty) as again, again.client() as client:
        status = assert_in_sync(client)
        stored = client.get("/api/v1/servers/by-hand").raise_for_status().json()

    assert stored["spec"]["command"] == ["mcp-server-time"]
    assert bare(state, "rev-list", f"{edited}..main").split() == [status["head"]]
    assert bare(state, "log", "-1", "--format=%s", "main").strip() == (
        f"Canonical form of the files of {edited[:12]} (recover)"
    )
    canonical = bare(state, "show", "main:servers/by-hand.yaml")
    assert canonical != NON_CANONICAL
    assert canonical.startswith("apiVersion: mcpctl/v1\nkind: Server\n")


@pytest.mark.slow
def test_recovery_without_the_sealing_key_refuses_and_names_the_secrets(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    assert KEY_ENV not in os.environ
    state = tmp_path / "state"
    head, objects = populate(state, database_url)
    key = (state / KEY_FILE).read_text()
    (state / KEY_FILE).unlink()
    empty = empty_database(database_url, request, tmp_path / "empty.db")

    refused = failed_start(state, empty)

    assert refused.returncode == 2, refused.log
    assert "disaster recovery needs the sealing key" in refused.log
    for secret_key in ("extra", "token"):
        assert f"Secret 'github' key '{secret_key}'" in refused.log
    assert "--skip-unopenable-secrets" in refused.log
    for value in VALUES:
        assert value not in refused.log
    assert main_of(state) == head
    assert not (state / KEY_FILE).exists()  # no new key made up to seal with

    # the refusal left the database as empty as it was: with the key (here from the
    # environment) the same database recovers every value
    with running_mcpd(state, empty, env={KEY_ENV: key.strip()}) as again, again.client() as c:
        assert_in_sync(c)
        assert snapshot(c) == objects
        assert revealed(c, "github") == {"token": SECOND_TOKEN, "extra": EXTRA_VALUE}
        assert main_of(state) == head


@pytest.mark.slow
def test_recovery_told_to_skip_unopenable_secrets_starts_without_those_values(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    head, objects = populate(state, database_url)
    (state / KEY_FILE).unlink()
    empty = empty_database(database_url, request, tmp_path / "empty.db")
    offset = log_of(state).stat().st_size

    skipping = ["--skip-unopenable-secrets"]
    with running_mcpd(state, empty, args=skipping) as again, again.client() as client:
        assert_in_sync(client)
        recovered = snapshot(client)
        values = revealed(client, "github")
        apply(client, [manifest("Secret", "github", {"data": {"token": "new-value-1"}})])
        assert_in_sync(client)
        resealed = bare(state, "show", "main:secrets/github.yaml")

    started = log_since(again.log, offset)
    for secret_key in ("extra", "token"):
        assert f"disaster recovery left out Secret 'github' key '{secret_key}'" in started
    for value in VALUES:
        assert value not in started
    # every object back (what refers to the Secret still resolves), without the values
    # nobody could open: their keys are kept, empty
    assert recovered == objects
    assert values == {"token": "", "extra": ""}
    # mcpd seals from then on with a key of its own, kept in the state dir
    assert (state / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert "sealedData:" in resealed
    assert "new-value-1" not in resealed
    assert "new-value-1" not in whole_history(state)
    assert is_ancestor(state, head, "main")
