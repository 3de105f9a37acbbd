"""Docker's streams into asyncio: a stdio instance's pipe over its attach socket, log
frames back into lines, and a blocking stream of the SDK read from a thread.

A container started without a TTY sends its output in frames: an 8-byte header (the
stream, 1 for stdout and 2 for stderr, three zero bytes, the payload's length as a
big-endian 32-bit number) and the payload. The docker driver (`runtime.docker`) hands
this module the socket of `POST /containers/{id}/attach` as asyncio streams, and the
SDK's log stream of frames; nothing here speaks to the engine or imports the SDK.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

__all__ = [
    "AttachedStdio",
    "LineAssembler",
    "parse_engine_time",
    "read_in_thread",
    "split_timestamp",
]

_HEADER = struct.Struct(">BxxxL")
STDOUT = 1

#: Bytes of complete lines a pipe holds before it stops reading the socket: past it, the
#: container's writes block, as a pipe's would, until the channel reads.
HIGH_WATER = 1 << 20


class AttachedStdio:
    """The `StdioPipe` of one stdio container: stdout demultiplexed from the attach
    socket, stdin written to it.

    Only stdout is attached, so every frame should be stream 1; anything else is
    skipped (never taken for MCP). A line may span frames and a frame may hold several
    lines: the pipe keeps a buffer and hands out whole lines."""

    def __init__(
        self, instance: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.instance = instance
        self._reader = reader
        self._writer = writer
        self._buffer = bytearray()
        self._eof = False
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task = asyncio.create_task(self._demultiplex(), name=f"docker-stdio-{instance}")

    def __repr__(self) -> str:
        return f"AttachedStdio({self.instance!r}, closed={self._eof})"

    async def _demultiplex(self) -> None:
        try:
            while True:
                stream, size = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))
                payload = await self._reader.readexactly(size) if size else b""
                if stream != STDOUT:
                    continue
                self._buffer += payload
                self._readable.set()
                while len(self._buffer) > HIGH_WATER and self._buffer.find(b"\n") >= 0:
                    self._room.clear()
                    await self._room.wait()
        except (asyncio.IncompleteReadError, OSError):
            pass  # the container's stdout closed (it exited) or the socket went: end of file
        finally:
            self._eof = True
            self._readable.set()

    async def read_line(self) -> bytes:
        """The next line without its newline; b"" once stdout closed and all was read."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                if len(self._buffer) <= HIGH_WATER:
                    self._room.set()
                return line
            if self._eof:
                rest = bytes(self._buffer)
                self._buffer.clear()
                return rest
            # No whole line: the demultiplexer must read on, however full the buffer.
            self._room.set()
            self._readable.clear()
            await self._readable.wait()

    async def write(self, data: bytes) -> None:
        """Write to the container's stdin; `ConnectionError` once it is gone."""
        if self._eof or self._writer.is_closing():
            raise ConnectionError(f"the stdin of instance {self.instance} is closed")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as error:
            raise ConnectionError(
                f"the stdin of instance {self.instance} is closed: {error.strerror or error}"
            ) from None

    @property
    def closed(self) -> bool:
        return self._eof

    async def aclose(self) -> None:
        """Let go of the socket. The container's stdin stays open (it was created with
        `StdinOnce` off): the next attach, by this mcpd or the next, writes to it."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class LineAssembler:
    """Log payloads back into lines, each ending with a newline (a long line comes from
    the engine in several pieces)."""

    def __init__(self) -> None:
        self._partial = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The lines `data` completes."""
        self._partial += data
        end = self._partial.rfind(b"\n")
        if end < 0:
            return []
        complete = bytes(self._partial[:end])
        del self._partial[: end + 1]
        return [line + b"\n" for line in complete.split(b"\n")]

    def flush(self) -> list[bytes]:
        """What is left at the end, as a last line."""
        if not self._partial:
            return []
        rest = bytes(self._partial) + b"\n"
        self._partial.clear()
        return [rest]


_ENGINE_TIME = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", re.ASCII
)


def _parse(text: str) -> tuple[datetime, int] | None:
    """The whole seconds (UTC) and the nanoseconds of an RFC 3339 time."""
    match = _ENGINE_TIME.match(text)
    if match is None or text.startswith("0001-"):
        return None
    whole, fraction, zone = match.groups()
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    moment = datetime.fromisoformat(whole)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment.replace(tzinfo=UTC), nanos


def parse_engine_time(text: str) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds, `Z`) as a UTC datetime (to the
    microsecond); None for its "never" (year 1) or anything unreadable."""
    parsed = _parse(text)
    if parsed is None:
        return None
    moment, nanos = parsed
    return moment.replace(microsecond=nanos // 1000)


def split_timestamp(payload: bytes) -> tuple[int | None, bytes]:
    """A log payload asked for with timestamps: its time in nanoseconds since the epoch
    (exact: two lines a microsecond apart stay apart) and its text without it."""
    stamp, space, text = payload.partition(b" ")
    if not space:
        return None, payload
    parsed = _parse(stamp.decode("ascii", "replace"))
    if parsed is None:
        return None, payload
    moment, nanos = parsed
    return int(moment.timestamp()) * 1_000_000_000 + nanos, text


#: How far a stream read in a thread runs ahead of its reader.
AHEAD = 64


async def read_in_thread(items: Iterator[bytes], name: str) -> AsyncIterator[bytes]:
    """A blocking iterator (the SDK's log stream) read in a thread of its own, at most
    `AHEAD` items ahead of the reader: a followed log blocks for as long as the
    container runs, which would hold one of the default executor's few workers.

    The caller closes what feeds `items` when it stops reading; the thread then ends
    at its next item or its next wait for room."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(maxsize=AHEAD)
    done = threading.Event()

    def put(item: bytes | Exception | None) -> None:
        if done.is_set():
            return
        putting = queue.put(item)
        try:
            future = asyncio.run_coroutine_threadsafe(putting, loop)
        except RuntimeError:  # the loop is closed: nobody reads any more
            putting.close()  # never scheduled: closed, not left "never awaited"
            return
        while not done.is_set():
            try:
                future.result(timeout=1.0)
                return
            except concurrent.futures.TimeoutError:
                continue  # the reader is slow: wait for room, unless it stopped
        future.cancel()

    def pump() -> None:
        try:
            for item in items:
                if done.is_set():
                    return
                put(item)
            put(None)
        except Exception as error:  # handed to the reader, which raises it
            put(error)

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while (value := await queue.get()) is not None:
            if isinstance(value, Exception):
                raise value
            yield value
    finally:
        done.set()
