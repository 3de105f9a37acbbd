"""`mcpd`: start and stop order — wiring, recovery, bootstrap, the loops, the API.

Embedded default with no flags: state in `$MCPCTL_HOME` (or `~/.mcpctl`, or
`--state-dir`), a SQLite file there, listening on 127.0.0.1:7420.
`--database-url postgresql://...` for production. At first start it creates
the admin user and writes a CLI context for it, and the admin's initial
password to `initial-admin-password`, in the state dir. Everything mcpd
creates is private (the umask 077, set before anything else; see `statedir`).
mcpd holds the state dir's lock (`statelock`) for its whole life: shared on
PostgreSQL, whose replicas may share a state dir; exclusive on SQLite, with
the lock of the database file too, so that a second mcpd on the same state dir
or the same SQLite file is refused. `mcpd admin-reset USER` runs the
break-glass (`adminreset`) instead of serving.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import nullcontext

import uvicorn

from mcpctl import __version__
from mcpctl.api.app import build_app
from mcpctl.daemon.adminreset import admin_reset
from mcpctl.daemon.settings import AdminResetSettings, Settings, parse_command
from mcpctl.daemon.statedir import make_private, open_state_dir
from mcpctl.daemon.statelock import lock_database_file, lock_state_dir
from mcpctl.daemon.wiring import build_services, follower_start
from mcpctl.errors import McpctlError
from mcpctl.escaping import escape_log_records
from mcpctl.store import database_kind, sqlite_path

log = logging.getLogger("mcpd")


async def serve(settings: Settings) -> None:
    """Serve until stopped, holding the state dir's lock throughout (taken first, once the
    state dir is known to be private enough: a refused one gets nothing written in it),
    and on SQLite the database file's."""
    open_state_dir(settings.state_dir)
    url = settings.store.database_url
    database = sqlite_path(url)
    # replicas of one PostgreSQL database may share a state dir; SQLite serves one mcpd
    with (
        lock_state_dir(settings.state_dir, shared=database_kind(url) == "postgresql"),
        lock_database_file(database) if database is not None else nullcontext(),
    ):
        await _serve(settings)


async def _serve(settings: Settings) -> None:
    services = await build_services(settings)
    assert services.election is not None
    assert services.leadership is not None
    # stops what it started in the reverse order: the follower, the election (which stops
    # the leader's parts: the mirror, the git endpoint, the exporter, whose stop exports
    # what the last writes left; then lets the lease go), the listener
    supervisor = services.supervisor
    # SIGTERM (orchestrators, `kill`) stops mcpd as SIGINT does: through the stop below, which
    # exports what is left and lets the lease go. uvicorn catches it while it serves and
    # raises it again once done, to the handler it found: this one, which then does nothing
    # more than ask for the stop it has begun.
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        if services.listening is not None:
            await supervisor.start(services.listening)
        # campaigns; elected, it starts the leader's parts (recovery, bootstrap, the loops)
        await supervisor.start(services.election)
        if services.follower is not None:
            await supervisor.start(services.follower)
        if not services.leadership.in_office():
            await follower_start(settings, services)
        app = build_app(services)
        config = uvicorn.Config(
            app,
            host=settings.http.host,
            port=settings.http.port,
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        if stopping.is_set():  # asked to stop while starting
            return
        watch = asyncio.create_task(_stop_when(stopping, server), name="sigterm")
        log.info(
            "mcpd %s serving %s (database %s, %s)",
            __version__,
            settings.http.url,
            services.engine.dialect.name,
            "leader" if services.leadership.in_office() else "follower",
        )
        await server.serve()
        watch.cancel()
    finally:
        if services.hint is not None:
            services.hint.cancel()
        try:
            await supervisor.stop()
        finally:
            await services.engine.dispose()


async def _stop_when(stopping: asyncio.Event, server: uvicorn.Server) -> None:
    await stopping.wait()
    server.should_exit = True


def main(argv: list[str] | None = None) -> None:
    make_private()
    settings = parse_command(argv)
    # admin-reset's stderr is for people: only warnings and errors are logged there
    level = "warning" if isinstance(settings, AdminResetSettings) else settings.log_level
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosqlite's debug lines quote every statement with its parameters, Secret values
    # among them: mcpd's log never holds a value, whatever its level
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    escape_log_records()  # a value with a newline never forges a line of the log
    try:
        if isinstance(settings, AdminResetSettings):
            asyncio.run(admin_reset(settings))
        else:
            asyncio.run(serve(settings))
    except McpctlError as e:
        print(f"mcpd: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
