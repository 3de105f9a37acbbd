"""Timelines: the heads a restore left behind, kept as `refs/heads/timelines/...` branches.

A restore never rewinds `main`: it saves the current head as
`timelines/<UTC timestamp>-<short sha>` (with a git note saying who restored
to what, when and why, under `refs/notes/timelines`), and then writes a
forward commit whose tree equals the target's. Every earlier commit stays
reachable; restoring to a timeline is restoring to any other revision.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pygit2

from mcpctl.errors import InvalidInput, NotFound
from mcpctl.staterepo.contention import writing
from mcpctl.staterepo.repo import COMMITTER, REF, Author, StateRepo

PREFIX = "refs/heads/timelines/"
NOTES_REF = "refs/notes/timelines"


@dataclass(frozen=True)
class Timeline:
    name: str
    commit: str
    saved_at: datetime
    note: str
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": PREFIX + self.name,
            "commit": self.commit,
            "savedAt": self.saved_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": self.note,
            "summary": self.summary,
        }


def resolve(repo: StateRepo, rev: str) -> pygit2.Commit:
    """The commit `rev` names: a sha (or its prefix), `main~3`, `timelines/...`, a tag."""
    if not rev or rev.startswith("-") or any(c in rev for c in "\x00\n\r"):
        raise InvalidInput(f"invalid revision {rev!r}")
    try:
        obj = repo.repo.revparse_single(rev)
    except (KeyError, ValueError, pygit2.GitError):
        try:
            obj = repo.repo.revparse_single(f"timelines/{rev}")
        except (KeyError, ValueError, pygit2.GitError):
            raise NotFound(f"no revision {rev!r} in the state repo") from None
    try:
        commit = obj.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        raise InvalidInput(f"{rev!r} does not name a commit") from None
    if not _in_history(repo.repo, commit.id):
        raise InvalidInput(
            f"{rev!r} ({str(commit.id)[:12]}) is not a commit of main or of a timeline: "
            "only the state repo's own history can be restored"
        )
    return commit


def _in_history(repo: pygit2.Repository, oid: pygit2.Oid) -> bool:
    """Whether `oid` is main, a timeline branch, or an ancestor of one (not a note, say)."""
    for ref in repo.references:
        if ref != REF and not ref.startswith(PREFIX):
            continue
        tip = repo.references[ref].target
        if tip == oid or repo.descendant_of(tip, oid):
            return True
    return False


@dataclass(frozen=True)
class SavedTimeline:
    """A timeline branch just saved, with what `undo` needs to take it back."""

    name: str
    head: pygit2.Oid
    created: bool
    #: Where the notes ref was before (None: it did not exist).
    notes_before: pygit2.Oid | None


def save_timeline(repo: StateRepo, note: str, now: datetime) -> SavedTimeline | None:
    """Keep the head of main as a timeline branch with `note` (None: main has no head).

    A restore saves it before it changes anything, so a restore cut short at any
    point still leaves the abandoned head on a branch of its own. A head already
    saved (a restore retried after it was cut short) keeps its branch: the note
    gets the new line, no second branch is made.
    """
    head = repo.head()
    if head is None:
        return None
    name = _saved_for(repo.repo, head.id) or (
        f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{str(head.id)[:12]}"
    )
    ref = PREFIX + name
    created = ref not in repo.repo.references
    with writing("cannot save the timeline"):
        if created:
            repo.repo.references.create(ref, head.id)
        signature = pygit2.Signature(*COMMITTER)
        notes = repo.repo.references.get(NOTES_REF)
        existing = _note(repo.repo, head.id)
        text = f"{existing}\n{note}" if existing else note
        repo.repo.create_note(
            text.strip() + "\n", signature, signature, str(head.id), NOTES_REF, True
        )
    before = notes.target if notes is not None else None
    return SavedTimeline(name, head.id, created, before if isinstance(before, pygit2.Oid) else None)


def undo_timeline(repo: StateRepo, saved: SavedTimeline) -> None:
    """Take back `saved` (a restore that was refused): its branch, and the note it wrote."""
    ref = PREFIX + saved.name
    with writing("cannot take the timeline back"):
        if saved.created and ref in repo.repo.references:
            repo.repo.references.delete(ref)
        if saved.notes_before is None:
            if NOTES_REF in repo.repo.references:
                repo.repo.references.delete(NOTES_REF)
        else:
            repo.repo.references.create(NOTES_REF, saved.notes_before, force=True)


def list_timelines(repo: StateRepo) -> list[Timeline]:
    """Every timeline branch, newest first."""
    out: list[Timeline] = []
    for ref in repo.repo.references:
        if not ref.startswith(PREFIX):
            continue
        commit = repo.repo[repo.repo.references[ref].target].peel(pygit2.Commit)
        name = ref[len(PREFIX) :]
        stamp = name.split("-", 1)[0]
        try:
            saved = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            saved = datetime.fromtimestamp(commit.commit_time, UTC)
        out.append(
            Timeline(
                name,
                str(commit.id),
                saved,
                _note(repo.repo, commit.id),
                commit.message.splitlines()[0] if commit.message else "",
            )
        )
    out.sort(key=functools.cmp_to_key(lambda a, b: _newer_first(repo.repo, a, b)))
    return out


def _newer_first(repo: pygit2.Repository, a: Timeline, b: Timeline) -> int:
    """Newest first: by the saved time, which has whole seconds only; then by history.

    Restores within one second save heads main had one after the other, and main only
    moves forward: the head saved later descends from the one saved before.
    """
    if a.saved_at != b.saved_at:
        return -1 if a.saved_at > b.saved_at else 1
    if a.commit != b.commit:
        ours, theirs = pygit2.Oid(hex=a.commit), pygit2.Oid(hex=b.commit)
        if repo.descendant_of(ours, theirs):
            return -1
        if repo.descendant_of(theirs, ours):
            return 1
    return -1 if a.name > b.name else int(a.name < b.name)


def commit_tree(repo: StateRepo, tree: pygit2.Oid, author: Author, message: str) -> pygit2.Oid:
    """A forward commit on main whose tree is `tree` (a restore's)."""
    head = repo.head()
    parents = [head.id] if head is not None else []
    with writing("cannot commit the restore"):
        oid = repo.repo.create_commit(
            None,
            pygit2.Signature(author.name, author.email),
            pygit2.Signature(*COMMITTER),
            message,
            tree,
            parents,
        )
    repo.move_main(oid, head.id if head is not None else None, message)
    return oid


def _saved_for(repo: pygit2.Repository, oid: pygit2.Oid) -> str | None:
    """The name of a timeline branch already pointing at `oid`, if any."""
    for ref in repo.references:
        if ref.startswith(PREFIX) and repo.references[ref].target == oid:
            return ref[len(PREFIX) :]
    return None


def _note(repo: pygit2.Repository, oid: pygit2.Oid) -> str:
    try:
        return str(repo.lookup_note(str(oid), NOTES_REF).message).strip()
    except KeyError:
        return ""
