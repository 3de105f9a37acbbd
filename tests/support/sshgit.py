"""A real SSH server (asyncssh) on 127.0.0.1 serving one bare repo to git over ssh.

It accepts only the public keys it is given (like a repository host with a
deploy key) and runs only `git-upload-pack` / `git-receive-pack` on its own
repo, the way git hosts do. It runs its own event loop in a thread and stops
at the end of the `with` block.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from tests.support.postgres import free_port

GIT_COMMANDS = ("git-upload-pack", "git-receive-pack")
#: How long starting or stopping the server may take before it counts as hung.
HANG_GUARD = 120.0


@dataclass(frozen=True)
class SshGitServer:
    port: int
    repo: Path

    @property
    def url(self) -> str:
        return f"ssh://git@127.0.0.1:{self.port}{self.repo}"


@contextmanager
def ssh_git_server(repo: Path, authorized_keys: list[str]) -> Iterator[SshGitServer]:
    """Serve `repo` over ssh to clients holding one of `authorized_keys` (OpenSSH lines)."""
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []
    holder: list[asyncssh.SSHAcceptor] = []
    handlers: set[asyncio.Task[None]] = set()
    connections: set[asyncssh.SSHServerConnection] = set()

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            self.conn = conn
            connections.add(conn)

        def connection_lost(self, exc: Exception | None) -> None:
            connections.discard(self.conn)

    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        task.add_done_callback(handlers.discard)
        words = shlex.split(process.command or "")
        if len(words) != 2 or words[0] not in GIT_COMMANDS or Path(words[1]) != repo:
            process.stderr.write(b"only git-upload-pack/git-receive-pack of the one repo\n")
            process.exit(128)
            await process.wait_closed()
            return
        child = await asyncio.create_subprocess_exec(
            words[0],
            str(repo),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await process.redirect(stdin=child.stdin, stdout=child.stdout, stderr=child.stderr)
        process.exit(await child.wait())
        await process.wait_closed()  # runs the redirect's clean-up (its queues drained)

    async def start() -> None:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        keys = asyncssh.import_authorized_keys("\n".join(authorized_keys) + "\n")
        acceptor = await asyncssh.create_server(
            Server,
            "127.0.0.1",
            port,
            server_host_keys=[host_key],
            authorized_client_keys=keys,
            process_factory=handle,
            encoding=None,
            password_auth=False,
            kbdint_auth=False,
        )
        holder.append(acceptor)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as e:  # reported to the test's thread
            failure.append(e)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="ssh-git-server", daemon=True)
    thread.start()
    assert ready.wait(HANG_GUARD), "the SSH git server did not start"
    if failure:
        raise failure[0]
    try:
        yield SshGitServer(port, repo)
    finally:

        async def shutdown() -> None:
            for acceptor in holder:
                acceptor.close()
                await acceptor.wait_closed()
            # a session may still be closing (its client just went away): let it end
            # on its own, so its clean-up runs, before closing what is left
            if handlers:
                await asyncio.wait(set(handlers), timeout=10)
            for conn in list(connections):
                conn.close()
                await conn.wait_closed()
            if handlers:
                await asyncio.wait(set(handlers), timeout=10)
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(HANG_GUARD)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(HANG_GUARD)
        loop.close()
