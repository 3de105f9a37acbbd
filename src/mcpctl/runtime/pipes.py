"""The pipes between mcpd and an instance's process, as the event loop reads and writes them.

The process driver (`runtime.process`) connects each pipe of a child to the
loop: a stdio server's stdout and stdin become its `InstancePipe` (the
`StdioPipe` the channel speaks over), its stderr feeds its `LogFile`. Each
protocol says when its pipe is gone (`lost`), which is how the driver knows an
ended instance's output is drained.
"""

from __future__ import annotations

import asyncio

from mcpctl.runtime.logfiles import LogFile

#: The longest line a stdio server may write to stdout (one JSON-RPC message: a tool's
#: result may be megabytes). Also the most the driver buffers unread (twice this).
STDOUT_LIMIT = 64 * 1024 * 1024


class StdoutProtocol(asyncio.StreamReaderProtocol):
    """The stdout reader's protocol, saying when the pipe is gone."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self.lost = asyncio.Event()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost.set()


class LogProtocol(asyncio.Protocol):
    """stderr into the instance's `LogFile`."""

    def __init__(self, log_file: LogFile) -> None:
        self.log_file = log_file
        self.lost = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.log_file.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


class InstancePipe:
    """A stdio instance's `StdioPipe` (`runtime.base`): its stdin and stdout, held for its life."""

    def __init__(
        self, instance: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._instance = instance
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<StdioPipe of instance {self._instance}>"

    async def read_line(self) -> bytes:
        while True:
            try:
                line = await self._reader.readline()
            except ValueError as e:
                raise ValueError(
                    f"instance {self._instance}: a line of its stdout is longer than "
                    f"{STDOUT_LIMIT} bytes"
                ) from e
            if not line:
                return b""
            line = line.removesuffix(b"\n").removesuffix(b"\r")
            if line:  # blank lines between messages are no message
                return line

    async def write(self, data: bytes) -> None:
        async with self._lock:
            if self._writer.is_closing():
                raise ConnectionError(f"instance {self._instance}: its stdin is closed")
            self._writer.write(data)
            try:
                await self._writer.drain()
            except ConnectionError as e:
                raise ConnectionError(f"instance {self._instance}: its stdin is closed") from e

    @property
    def closed(self) -> bool:
        return self._reader.at_eof()
