"""Git tree objects kept in memory and written as loose objects, for large directories.

A commit that changes one file of a 10,000-file directory must write that
directory's whole tree again (about 380 KB). libgit2 re-sorts and re-serialises
every entry and deflates the object at zlib's level 1, which is as slow as the
bytes are incompressible: most of a tree is 20-byte object ids. `TreeEntries`
keeps a directory's entries sorted and serialised between commits, so writing it
is one join, one SHA-1 and a deflate at level 0 (zlib's stored blocks: git reads
them like any other). libgit2 cannot write that level itself (asked for 0, it
writes the object without the zlib wrapper, which nothing can read back).

The loose object is written the way git writes one: to a temporary file beside
it, then renamed into place, read-only. An object that exists already is not
written again. Readers (libgit2, the git CLI) need nothing special: a loose
object is found by its path.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import tempfile
import zlib
from pathlib import Path

import pygit2

TREE = int(pygit2.enums.FileMode.TREE)
#: A regular file (100644): the only kind of entry the state repo's layout holds.
BLOB = int(pygit2.enums.FileMode.BLOB)


def blob_ids(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, pygit2.Oid]:
    """Path -> blob id of every file under `tree` (links included, submodules not),
    without reading the blobs."""
    out: dict[str, pygit2.Oid] = {}
    stack: list[tuple[pygit2.Tree, str]] = [(tree, "")]
    while stack:
        current, prefix = stack.pop()
        for entry in current:
            if entry.type == pygit2.enums.ObjectType.TREE:
                stack.append((repo[entry.id].peel(pygit2.Tree), f"{prefix}{entry.name}/"))
            elif entry.type == pygit2.enums.ObjectType.BLOB:
                out[prefix + str(entry.name)] = entry.id
    return out


def file_entries(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, tuple[pygit2.Oid, int]]:
    """Path -> (object id, mode) of every entry under `tree` but directories: files of any
    mode, links, and submodules (gitlinks, whose id names a commit of another repo)."""
    out: dict[str, tuple[pygit2.Oid, int]] = {}
    stack: list[tuple[pygit2.Tree, str]] = [(tree, "")]
    while stack:
        current, prefix = stack.pop()
        for entry in current:
            if entry.filemode == TREE:
                stack.append((repo[entry.id].peel(pygit2.Tree), f"{prefix}{entry.name}/"))
            else:
                out[prefix + str(entry.name)] = (entry.id, entry.filemode)
    return out


def _sort_key(name: bytes, mode: int) -> bytes:
    """Git's order of tree entries: by name, a directory as if its name ended in '/'."""
    return name + b"/" if mode == TREE else name


class TreeEntries:
    """The entries of one tree (name -> mode and object id), sorted as git sorts them."""

    def __init__(self) -> None:
        self._keys: list[bytes] = []  # sort keys, in order
        self._chunks: list[bytes] = []  # the serialised entry of each key, same order
        self._entries: dict[bytes, tuple[int, pygit2.Oid]] = {}

    @classmethod
    def of(cls, tree: pygit2.Tree) -> TreeEntries:
        """The entries of `tree`, as read from the repository."""
        entries = cls()
        named = [(e.raw_name or b"", e.filemode, e.id) for e in tree]  # a tree's entries have names
        rows = sorted((_sort_key(name, mode), name, mode, oid) for name, mode, oid in named)
        for key, name, mode, oid in rows:
            entries._keys.append(key)
            entries._chunks.append(_chunk(name, mode, oid))
            entries._entries[name] = (mode, oid)
        return entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> tuple[int, pygit2.Oid] | None:
        """The mode and id of entry `name`, or None."""
        return self._entries.get(name.encode("utf-8"))

    def insert(self, name: str, oid: pygit2.Oid, mode: int) -> None:
        """Add entry `name`, or point it at `oid` with `mode`."""
        raw = name.encode("utf-8")
        if raw in self._entries:
            self.remove(name)
        key = _sort_key(raw, mode)
        at = bisect.bisect_left(self._keys, key)
        self._keys.insert(at, key)
        self._chunks.insert(at, _chunk(raw, mode, oid))
        self._entries[raw] = (mode, oid)

    def remove(self, name: str) -> None:
        """Drop entry `name` (which must exist)."""
        raw = name.encode("utf-8")
        mode, _ = self._entries.pop(raw)
        at = bisect.bisect_left(self._keys, _sort_key(raw, mode))
        del self._keys[at]
        del self._chunks[at]

    def write(self, objects: Path) -> pygit2.Oid:
        """Write this tree into the object directory `objects` (unless it is there); its id."""
        body = b"".join(self._chunks)
        raw = b"tree %d\x00" % len(body) + body
        digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        oid = pygit2.Oid(hex=digest)
        path = objects / digest[:2] / digest[2:]
        if path.exists():
            return oid
        path.parent.mkdir(exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix="tmp_obj_", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(zlib.compress(raw, 0))
            os.chmod(temporary, 0o400)  # read-only, as git's own objects; private to mcpd
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return oid


def _chunk(name: bytes, mode: int, oid: pygit2.Oid) -> bytes:
    return b"%o %s\x00" % (mode, name) + oid.raw
