"""`mcpd`: start and stop order — wiring, recovery, bootstrap, the loops, the API.

Embedded default with no flags: state in `$MCPCTL_HOME` (or `~/.mcpctl`, or
`--state-dir`), a SQLite file there, listening on 127.0.0.1:7420.
`--database-url postgresql://...` for production. At first start it creates
the admin user and writes a CLI context for it (0600), and the admin's
initial password to `initial-admin-password` (0600) in the state dir.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn

from mcpctl import __version__
from mcpctl.api.app import build_app
from mcpctl.daemon.settings import Settings, parse_settings
from mcpctl.daemon.wiring import bootstrap, build_services, recover
from mcpctl.errors import McpctlError

log = logging.getLogger("mcpd")


async def serve(settings: Settings) -> None:
    services = await build_services(settings)
    assert services.git is not None
    try:
        recovered = await recover(settings, services)
        await bootstrap(settings, services)
        await services.replica.start(full=not recovered)
        await services.git.start()
        if services.mirror is not None:
            await services.mirror.start()
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
        log.info(
            "mcpd %s serving %s (database %s)",
            __version__,
            settings.http.url,
            services.engine.dialect.name,
        )
        await server.serve()
    finally:
        if services.mirror is not None:
            await services.mirror.stop()
        await services.git.stop()
        await services.replica.stop()
        await services.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(settings))
    except McpctlError as e:
        print(f"mcpd: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
