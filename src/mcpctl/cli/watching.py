"""`mcpctl apply -f PATH --watch`: apply again whenever a manifest under PATH changes.

The local loop of `skaffold dev`, for manifests. One apply as `mcpctl apply`
does it, then the files and directories given are watched (watchfiles,
directories recursively). Each burst of changes (an editor's save, a
`git checkout`) is one round: the whole set is loaded and checked here
again, sent as one `POST /api/v1/apply` (all or nothing), and what changed is
shown object by object with the fields that differ, then one timestamped
summary line. The fields come from mcpd's answer to the apply itself, so what
is shown is what was applied, not a guess made a moment before.

A round that fails (invalid manifests, mcpd refusing or out of reach) says
why on stderr, changes nothing, and the watch goes on: the next save tries
again. Ctrl-C ends the watch with exit status 0, since stopping is how a
watch ends, not a failure.

Imported by `apply` only with --watch, so watchfiles is loaded only then.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType

import click
import watchfiles

from mcpctl.cli.connection import connect, show_issues
from mcpctl.cli.errors import CliError, cli_errors
from mcpctl.cli.rendering.changes import COLORS, changes_from_api, render_fields
from mcpctl.cli.rendering.verbs import VERBS
from mcpctl.cli.resources import key_ref
from mcpctl.cli.sending import apply_body, locator
from mcpctl.errors import InvalidManifest, McpctlError
from mcpctl.manifests import ChangeSet, Key, LoadResult, discover_files, load_paths
from mcpctl.manifests.loading import MANIFEST_SUFFIXES
from mcpctl.manifests.references import check_duplicates

#: A burst of changes ends after this many milliseconds without another one...
QUIET_MS = 100
#: ...or after this many in all, however busy the files are.
LONGEST_BURST_MS = 1600
#: How often the watcher wakes up when nothing changes (it starts before the first apply).
WAKE_MS = 250
#: Names shown per kind of change in a round's first line, before "and N more".
SHOWN_NAMES = 5


def resolved(path: str) -> str:
    """`path` absolute with its directory's symlinks resolved (not a symlinked file's own)."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(directory), name)


def _inside(path: str, directory: str) -> str | None:
    """`path` relative to `directory`, or None if it is not inside it."""
    if path == directory or not path.startswith(directory.rstrip(os.sep) + os.sep):
        return None
    return os.path.relpath(path, directory)


class ManifestFilter:
    """Which changed paths start a round: those that change what `load_paths` reads.

    Under a directory given: files ending in `.yaml`, `.yml` or `.json`
    outside hidden files and directories, which leaves out editors' swap,
    backup and temporary files (`.x.yaml.swp`, `x.yaml~`, `#x.yaml#`, `4913`);
    a directory added with manifests in it; and a path deleted that held a
    manifest read in the last round (a directory moved away). A file given by
    name counts whatever its name.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.directories = [os.path.realpath(p) for p in paths if os.path.isdir(p)]
        self.files = {resolved(p) for p in paths if not os.path.isdir(p)}
        #: The files the last round read, resolved.
        self.known: set[str] = set()

    def remember(self, files: Iterable[str]) -> None:
        self.known = {resolved(f) for f in files}

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        path = os.path.abspath(path)
        if path in self.files or path in self.known:
            return True
        for directory in self.directories:
            relative = _inside(path, directory)
            if relative is None:
                continue
            if any(part.startswith(".") for part in relative.split(os.sep)):
                return False
            if path.endswith(MANIFEST_SUFFIXES):
                return True
            if change == watchfiles.Change.deleted:
                return any(_inside(known, path) for known in self.known)
            if change == watchfiles.Change.added and os.path.isdir(path):
                try:
                    return bool(discover_files([path]))
                except (McpctlError, OSError):  # gone again already
                    return False
            return False
        return False


def watch_roots(paths: Sequence[str]) -> tuple[list[str], bool]:
    """What to hand watchfiles, and whether recursively: the directories given, and the
    directory of each file given outside them (an editor may save by replacing the file)."""
    directories = sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)}, key=len)
    roots: list[str] = []
    for directory in directories:
        if not any(_inside(directory, root) for root in roots):
            roots.append(directory)
    for path in paths:
        if os.path.isdir(path):
            continue
        parent = os.path.dirname(resolved(path))
        if parent not in roots and not any(_inside(parent, d) for d in directories):
            roots.append(parent)
    return roots, bool(directories)


def stamp() -> str:
    return time.strftime("[%H:%M:%S]")


def shown(path: str) -> str:
    """A changed path as the user would write it: relative to here when it is below here."""
    relative = _inside(path, os.path.realpath(os.getcwd()))
    return relative if relative is not None else path


def describe_changes(paths: Iterable[str], known: set[str]) -> str:
    """`m/a.yaml changed; m/new.yaml added`: a burst's paths by what became of them.

    Judged by what is there now against what the last round read (`known`),
    not by the file events: an editor saving by writing a new file and
    renaming it over the old one has changed the file, not added it.
    """
    by_word: dict[str, list[str]] = {}
    for path in set(paths):
        if os.path.exists(path):
            word = "changed" if path in known else "added"
        elif path in known or any(_inside(k, path) for k in known):
            word = "deleted"
        else:
            continue  # came and went within the burst
        by_word.setdefault(word, []).append(shown(path))
    parts = []
    for word in ("changed", "added", "deleted"):
        names = sorted(by_word.get(word, []))
        if names:
            more = len(names) - SHOWN_NAMES
            listed = ", ".join(names[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")
            parts.append(f"{listed} {word}")
    return "; ".join(parts) or "files changed"


def summarize(changes: ChangeSet) -> str:
    """`applied 2 changes (1 created, 1 configured), 3 unchanged`, or `no changes (...)`."""
    counts = changes.counts()
    total = sum(counts.values())
    unchanged = f"{changes.unchanged} unchanged"
    if not total:
        return f"no changes ({unchanged})"
    done = ", ".join(f"{n} {VERBS[a]}" for a, n in counts.items() if n)
    applied = f"applied {total} change{'s' if total != 1 else ''} ({done})"
    return f"{applied}, {unchanged}" if changes.unchanged else applied


def ref_of(key: Key) -> str:
    return key_ref(*key)


@dataclass
class ApplyWatch:
    """The watch loop of one `apply --watch`: its options and what it has applied."""

    paths: tuple[str, ...]
    prune: bool
    selector: str | None
    #: Stop after this many rounds (a hidden option, for tests); None: until Ctrl-C.
    limit: int | None = None
    color: bool = field(default_factory=lambda: sys.stdout.isatty())
    #: The objects the files held at the last successful apply.
    applied: set[Key] = field(default_factory=set)
    hinted: bool = False
    #: Set by Ctrl-C: ends the watch even where the KeyboardInterrupt raised with it is lost.
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Ctrl-C came while a round's request was with mcpd.
    interrupted_applying: bool = False

    def run(self) -> None:
        """Apply, then apply again on every change until Ctrl-C (or `limit` rounds)."""
        files = ManifestFilter(self.paths)
        roots, recursive = watch_roots(self.paths)
        bursts = watchfiles.watch(  # only made here: nothing runs before next()
            *roots,
            watch_filter=files,
            debounce=LONGEST_BURST_MS,
            step=QUIET_MS,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
            stop_event=self.stopping,
            recursive=recursive,
        )
        taken = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        interrupted = False
        try:
            if taken:
                signal.signal(signal.SIGINT, self._ctrl_c)
            self._watch(bursts, files)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bursts.close()
            if taken:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        if not (interrupted or self.stopping.is_set()):
            return  # `limit` rounds done
        if self.interrupted_applying:
            click.echo(
                f"{stamp()} interrupted while applying: mcpd applied all or nothing;"
                f" `mcpctl diff -f {' '.join(self.paths)}` shows which",
                err=True,
            )
        click.echo(f"{stamp()} stopped watching")

    def _ctrl_c(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        raise KeyboardInterrupt

    def _watch(
        self, bursts: Iterator[set[tuple[watchfiles.Change, str]]], files: ManifestFilter
    ) -> None:
        """The rounds; returns after `limit` of them or once `stopping` is set."""
        next(bursts)  # starts the watcher: a save during the first apply is not missed
        self.apply_round(files, everything=True)
        click.echo(f"{stamp()} watching {', '.join(self.paths)} for changes (Ctrl-C to stop)")
        rounds = 0
        for burst in bursts:  # ends within a step of `stopping` being set
            if not burst:
                continue  # the watcher waking up with nothing to say
            what = describe_changes((path for _, path in burst), files.known)
            click.echo(f"{stamp()} {what}")
            self.apply_round(files, everything=False)
            rounds += 1
            if self.limit is not None and rounds >= self.limit:
                return

    def fail(self, message: str) -> None:
        click.echo(f"{stamp()} error: {message}", err=True)

    def apply_round(self, files: ManifestFilter, *, everything: bool) -> None:
        """Load, check and apply the whole set once; any failure is said, never raised.

        `everything`: list unchanged objects too (the first round, as `apply` does).
        """
        try:
            with cli_errors():
                loaded = load_paths(list(self.paths))
        except CliError as e:
            self.fail(e.format_message())
            return
        files.remember(loaded.files)
        counts = {"objects": len(loaded.manifests), "files": len(loaded.files)}
        issues = [*loaded.issues, *check_duplicates(loaded.manifests)]
        if issues:
            show_issues(issues, **counts)
            self.fail("the manifests are invalid: nothing was sent")
            return
        body = apply_body(loaded.manifests, prune=self.prune, selector=self.selector)
        if self.stopping.is_set():
            return  # Ctrl-C while loading, its KeyboardInterrupt lost: send nothing
        try:
            with connect() as client:
                answer = client.request("POST", "/api/v1/apply", body=body)
        except KeyboardInterrupt:
            self.interrupted_applying = True
            raise
        except InvalidManifest as e:
            show_issues([locator(loaded.manifests)(i) for i in e.issues], **counts)
            self.fail("mcpd refused the manifests: nothing was changed")
            return
        except (McpctlError, OSError) as e:  # 403, 409, mcpd out of reach, a bad context
            self.fail(str(e))
            return
        self.report(loaded, changes_from_api(answer), everything=everything)

    def report(self, loaded: LoadResult, changes: ChangeSet, *, everything: bool) -> None:
        """Each object created, configured or pruned (with its fields), then a summary."""
        by_key = {c.key: c for c in changes.changes}
        for manifest in loaded.manifests:
            change = by_key.pop(manifest.key, None)
            if change is not None:
                self.echo_change(manifest.key, change.action, render_fields(change))
            elif everything:
                click.echo(f"{ref_of(manifest.key)} unchanged")
        for key, change in by_key.items():  # pruned: in no file
            self.echo_change(key, change.action, [])
        current = {m.key for m in loaded.manifests}
        left = sorted(self.applied - current - set(by_key), key=ref_of)
        for key in left:
            click.echo(f"{ref_of(key)} is in no file any more: left on mcpd")
        if left and not self.prune and not self.hinted:
            click.echo("  (objects taken out of the files stay; --prune -l SELECTOR deletes them)")
            self.hinted = True
        self.applied = current
        click.echo(f"{stamp()} {summarize(changes)}")

    def echo_change(self, key: Key, action: str, fields: list[str]) -> None:
        line = f"{ref_of(key)} {VERBS.get(action, action)}"
        click.echo(click.style(line, fg=COLORS.get(action)) if self.color else line)
        for text in fields:
            click.echo(text)
