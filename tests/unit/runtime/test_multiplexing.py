"""Docker's streams into asyncio: the stdio pipe over a real socket pair standing for
the engine's attach socket, log lines and stamps, a blocking stream read in a thread."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from mcpctl.runtime.multiplexing import (
    HIGH_WATER,
    AttachedStdio,
    LineAssembler,
    parse_engine_time,
    read_in_thread,
    split_timestamp,
)

T = TypeVar("T")
HANG_GUARD = 120.0


def frame(payload: bytes, stream: int = 1) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await asyncio.wait_for(body(), HANG_GUARD)

    return asyncio.run(main())


async def attached() -> tuple[AttachedStdio, socket.socket]:
    """A pipe on one end of a socket pair; the other end plays the engine."""
    ours, engine = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    return AttachedStdio("ts-1", reader, writer), engine


def test_lines_come_whole_across_frames_and_stderr_is_never_read() -> None:
    async def body() -> None:
        pipe, engine = await attached()
        with engine:
            engine.sendall(
                frame(b'{"a":')
                + frame(b'1}\n{"b":2}\n')
                + frame(b"not mcp\n", stream=2)
                + frame(b"")
                + frame(b"last without newline")
            )
            engine.shutdown(socket.SHUT_WR)
            assert await pipe.read_line() == b'{"a":1}'
            assert await pipe.read_line() == b'{"b":2}'
            assert await pipe.read_line() == b"last without newline"
            assert await pipe.read_line() == b""
            assert pipe.closed
        await pipe.aclose()

    run(body)


def test_writes_reach_stdin_until_it_closes() -> None:
    async def body() -> None:
        pipe, engine = await attached()
        await pipe.write(b'{"jsonrpc":"2.0"}\n')
        assert engine.recv(100) == b'{"jsonrpc":"2.0"}\n'
        engine.close()
        assert await pipe.read_line() == b""
        with pytest.raises(ConnectionError, match="the stdin of instance ts-1 is closed"):
            await pipe.write(b"more\n")
        await pipe.aclose()

    run(body)


def test_a_pipe_nobody_reads_stops_reading_the_socket() -> None:
    """Past its high-water mark of whole lines the pipe leaves the socket unread, so the
    container's writes block as a pipe's would; everything arrives once it is read."""
    line = b"x" * 1023 + b"\n"
    data = frame(line * 64)

    async def send_until_stuck(engine: socket.socket) -> tuple[int, bytes]:
        """Send frames until the socket takes nothing for a while (the pipe is given
        forty turns to read), or 64 high-water marks went through (nothing held back)."""
        sent, pending = 0, b""
        while sent < 64 * HIGH_WATER:
            pending = pending or data
            for _ in range(40):
                try:
                    taken = engine.send(pending)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)
            else:
                return sent, pending
            pending = pending[taken:]
            sent += taken
        raise AssertionError(f"{sent} bytes went in: the pipe read on, unread")

    async def body() -> None:
        pipe, engine = await attached()
        try:
            engine.setblocking(False)
            sent, pending = await send_until_stuck(engine)
            engine.setblocking(True)

            def finish() -> None:
                engine.sendall(pending)
                engine.close()

            writer = threading.Thread(target=finish)
            writer.start()
            count = 0
            while (got := await pipe.read_line()) != b"":
                assert got == line[:-1]
                count += 1
            writer.join()
            assert count * len(line) + (count // 64) * len(frame(b"")) == sent + len(pending)
        finally:
            engine.close()
            await pipe.aclose()

    run(body)


def test_log_payloads_become_lines_split_at_newlines_only() -> None:
    lines = LineAssembler()
    assert lines.feed(b"one\ntw") == [b"one\n"]
    assert lines.feed(b"o\rstill two\nthree\n") == [b"two\rstill two\n", b"three\n"]
    assert lines.feed(b"four") == []
    assert lines.flush() == [b"four\n"]
    assert lines.flush() == []


def test_engine_times_keep_their_nanoseconds() -> None:
    assert parse_engine_time("2026-12-02T15:33:31.171902032Z") == datetime(
        2026, 12, 2, 15, 33, 31, 171902, tzinfo=UTC
    )
    assert parse_engine_time("2026-12-02T16:33:31+01:00") == datetime(
        2026, 12, 2, 15, 33, 31, tzinfo=UTC
    )
    assert parse_engine_time("0001-01-01T00:00:00Z") is None
    assert parse_engine_time("yesterday") is None

    stamp, text = split_timestamp(b"2026-12-02T15:33:31.000000001Z hello\n")
    later, _ = split_timestamp(b"2026-12-02T15:33:31.000000002Z hello\n")
    assert text == b"hello\n"
    assert stamp is not None
    assert later == stamp + 1
    assert split_timestamp(b"no stamp here") == (None, b"no stamp here")


def test_a_blocking_stream_is_read_in_a_thread_and_stops_with_its_reader() -> None:
    release = threading.Event()
    finished = threading.Event()

    def stream() -> Iterator[bytes]:
        try:
            yield b"one"
            yield b"two"
            release.wait(HANG_GUARD)  # blocks as a followed log does
            yield b"three"
        finally:
            finished.set()

    async def body() -> list[bytes]:
        got = []
        async for item in read_in_thread(stream(), "test-stream"):
            got.append(item)
            if item == b"two":
                break
        release.set()  # what the caller's close of the stream does
        return got

    assert run(body) == [b"one", b"two"]
    assert finished.wait(HANG_GUARD)


def test_a_stream_that_fails_raises_in_its_reader() -> None:
    def stream() -> Iterator[bytes]:
        yield b"one"
        raise OSError("the engine went away")

    async def body() -> list[bytes]:
        return [item async for item in read_in_thread(stream(), "test-stream")]

    with pytest.raises(OSError, match="the engine went away"):
        run(body)
