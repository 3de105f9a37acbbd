"""An instance's log: what it writes to stderr, in bounded rotated files, one UTC stamp a line.

The process driver (`runtime.process`) feeds `LogFile` what it reads from an
instance's stderr (an HTTP instance's stdout too). Each line is stored as
`2025-01-31T12:00:00.123456Z <the server's text>` (a fixed-width stamp, the
time mcpd read it, so that stamps compare as text and `since` needs no
parsing), in `log`; when the next line would make `log` larger than
`max_bytes`, the files move up (`log` → `log.1` → `log.2` ...) and the oldest
beyond `files` is dropped. So the instance's log takes at most
`files * max_bytes` bytes (`files` counts `log` itself, as Docker's
`max-file` does), and the newest lines are the ones kept. A line longer than
`MAX_LINE` (or than a file can hold) is stored in pieces.

Readers (`LogFile.lines`) get the server's own text, without the stamps. Files
are written and read on the event loop's thread only, in bounded chunks: a
reader never sees half a line, and when it moves from one file to the next,
the names it opens mean what the writer meant (`seq` numbers the files: file
number `s` is `log.<seq - s>`). A follower reads its current file to its end
and then waits for the writer's next line; one that falls behind by more than
the files hold goes on from the oldest file left. A `LogFile` opened where an earlier one wrote (a
restarted instance's) goes on after its lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

#: "2025-01-31T12:00:00.123456Z": the stamp's width; a space follows it.
STAMP_LEN = 27
#: The longest piece of a line stored as one line.
MAX_LINE = 64 * 1024
#: The smallest file size allowed: a few lines must fit.
MIN_BYTES = 1024
#: How much a reader reads at once before it lets the loop run other work.
_CHUNK = 256 * 1024


def stamp(at: datetime) -> bytes:
    """The stamp of a line read at `at` (a naive datetime is taken as UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


def _pieces(text: bytes, size: int) -> Iterable[bytes]:
    if len(text) <= size:
        yield text
        return
    for i in range(0, len(text), size):
        yield text[i : i + size]


class LogFile:
    """The writer of one instance's log files, and the reader of them."""

    def __init__(self, directory: Path, *, max_bytes: int, files: int, name: str) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.files = files
        #: the instance, for the log lines of mcpd about this log
        self.name = name
        self._text_bytes = min(MAX_LINE, max_bytes - STAMP_LEN - 2)
        self._fd: int | None = self._create()
        # A restarted instance's log goes on in the files its last run left.
        self._size = os.fstat(self._fd).st_size
        #: the number of the file being written (`log`); file number s is `log.<seq - s>`
        #: (it starts where the files a last run left are numbered from 0)
        self.seq = files - 1
        self._partial = b""
        self._changed = asyncio.Event()
        self._failed = False
        #: no line will be written any more: followers end when they have read everything
        self.finished = False

    def _path(self, k: int) -> Path:
        return self.directory / ("log" if k == 0 else f"log.{k}")

    def _create(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        return os.open(self._path(0), flags, 0o600)

    def feed(self, data: bytes) -> None:
        """Store what the instance wrote (any chunk: a line may span several)."""
        if self.finished:
            return
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > self._text_bytes:
            # A line that never ends is stored in pieces as it comes.
            cut = len(self._partial) - len(self._partial) % self._text_bytes
            lines.append(self._partial[:cut])
            self._partial = self._partial[cut:]
        if lines:
            self._store(stamp(datetime.now(UTC)), lines)

    def finish(self) -> None:
        """The instance's output ended: store a last unterminated line, close, wake followers."""
        if self.finished:
            return
        if self._partial:
            self._store(stamp(datetime.now(UTC)), [self._partial])
            self._partial = b""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.finished = True
        self._notify()

    def _store(self, at: bytes, lines: list[bytes]) -> None:
        buffer = bytearray()
        for text in lines:
            for piece in _pieces(text, self._text_bytes):
                entry = at + b" " + piece + b"\n"
                if self._size + len(buffer) + len(entry) > self.max_bytes:
                    self._write(buffer)
                    buffer.clear()
                    self._rotate()
                buffer += entry
        self._write(buffer)
        self._notify()

    def _write(self, data: bytearray) -> None:
        if not data or self._fd is None:
            return
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(data)
        except OSError as e:
            # A full disk must not stop the instance: its lines are lost, said once.
            if not self._failed:
                log.error("instance %s: cannot write its log: %s", self.name, e.strerror)
                self._failed = True

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        try:
            for k in range(self.files - 1, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self._path(k - 1), self._path(k))
            if self.files == 1:
                # A new file, not a truncated one: a follower reads the old one to its end.
                self._path(0).unlink(missing_ok=True)
            self._fd = self._create()
        except OSError as e:
            self._fd = None
            log.error("instance %s: cannot rotate its log: %s", self.name, e.strerror)
        self._size = 0
        self.seq += 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _open(self, seq: int) -> BinaryIO | None:
        k = self.seq - seq
        if k < 0 or k >= self.files:
            return None
        try:
            return open(self._path(k), "rb")  # closed by the reader's finally
        except FileNotFoundError:
            return None

    async def lines(
        self, *, tail: int | None = None, since: datetime | None = None, follow: bool = False
    ) -> AsyncIterator[bytes]:
        """The log's lines, each with its newline: those stamped at `since` or later, the
        last `tail` of them, then, if `follow`, each new one until the log is finished."""
        after = stamp(since) if since is not None else None
        kept: deque[bytes] | None = deque(maxlen=max(tail, 0)) if tail is not None else None
        seq = max(0, self.seq - self.files + 1)
        current = self._open(seq)
        carry = b""
        try:
            while True:
                chunk = current.read(_CHUNK) if current is not None else b""
                if chunk:
                    entries = (carry + chunk).split(b"\n")
                    carry = entries.pop()
                    for entry in entries:
                        if after is not None and entry[:STAMP_LEN] < after:
                            continue
                        text = entry[STAMP_LEN + 1 :] + b"\n"
                        if kept is not None:
                            kept.append(text)
                        else:
                            yield text
                    await asyncio.sleep(0)
                    continue
                if seq < self.seq:
                    # The writer has moved on: this file is whole. The next one, or the
                    # oldest left if the files moved past it while this reader lagged.
                    if current is not None:
                        current.close()
                    seq = max(seq + 1, self.seq - self.files + 1)
                    current = self._open(seq)
                    carry = b""
                    continue
                # Caught up with the writer: the history ends here.
                if kept is not None:
                    history, kept = kept, None
                    for text in history:
                        yield text
                    if follow:
                        continue  # lines may have come while the caller took these
                if not follow or self.finished:
                    return
                # No await since the read that found the end: no line can have come
                # in between, so this wait misses none.
                await self._changed.wait()
                if current is None:
                    current = self._open(seq)
        finally:
            if current is not None:
                current.close()
