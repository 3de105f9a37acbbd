"""The channel over an instance's stdin and stdout: newline-delimited JSON-RPC.

The runtime driver holds the pipe for the instance's life (`runtime.base.StdioPipe`); the
channel is its only reader and writer. One task reads lines; one task writes, joining
whatever callers queued since its last write into one write, so a burst of calls costs a
few system calls rather than one each (and concurrent writers never interleave lines).
"""

from __future__ import annotations

import asyncio
import logging

from mcpctl.runtime.base import StdioPipe
from mcpctl.upstream.errors import ChannelClosed
from mcpctl.upstream.link import Call, Inbox
from mcpctl.upstream.protocol import Era

__all__ = ["StdioLink"]

log = logging.getLogger(__name__)


class StdioLink:
    transport = "stdio"

    def __init__(self, instance: str, pipe: StdioPipe) -> None:
        self.instance = instance
        self.pipe = pipe
        self._outbox: list[bytes] = []
        self._wake = asyncio.Event()
        self._broken: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, inbox: Inbox) -> None:
        if self.pipe.closed:
            raise ChannelClosed(self.instance, "its stdout is closed (it is not running)")
        self._tasks = [
            asyncio.create_task(self._read(inbox), name=f"upstream-read-{self.instance}"),
            asyncio.create_task(self._write(inbox), name=f"upstream-write-{self.instance}"),
        ]

    async def exchange(self, raw: bytes, call: Call) -> None:
        self.post(raw)

    async def send(self, raw: bytes) -> None:
        self.post(raw)

    def post(self, raw: bytes) -> None:
        if self._broken is not None:
            raise ChannelClosed(self.instance, self._broken)
        self._outbox.append(raw)
        self._wake.set()

    def abandon(self, call: Call, cancel: bytes) -> None:
        if self._broken is None:
            self.post(cancel)

    def adopt(self, era: Era, version: str) -> None:
        """Nothing to do: over stdio every message carries what its era needs."""

    async def opened(self) -> None:
        """Nothing to do: the reader started with the link."""

    async def close(self) -> None:
        self._broken = self._broken or "the channel is closed"
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read(self, inbox: Inbox) -> None:
        try:
            while True:
                line = await self.pipe.read_line()
                if line:
                    inbox.receive(line, None)
                elif self.pipe.closed:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the reader's supervisor: whatever breaks it ends the channel
            log.exception("instance %s: reading its stdout failed", self.instance)
            self._fail(inbox, f"reading its stdout failed ({type(e).__name__})")
            return
        self._fail(inbox, "its stdout closed (the instance exited or is restarting)")

    async def _write(self, inbox: Inbox) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            if not batch:
                continue
            batch.append(b"")
            try:
                await self.pipe.write(b"\n".join(batch))
            except (ConnectionError, OSError) as e:
                self._fail(inbox, f"its stdin closed ({type(e).__name__})")
                return

    def _fail(self, inbox: Inbox, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
            inbox.lost(reason)
