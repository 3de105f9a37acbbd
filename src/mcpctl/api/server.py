"""`mcpd`: the one wiring place — settings, engine, migrations, services, bootstrap, app.

Embedded default with no flags: state in `$MCPCTL_HOME` (or `~/.mcpctl`, or
`--state-dir`), a SQLite file there, listening on 127.0.0.1:7420.
`--database-url postgresql://...` for production. At first start it creates
the admin user and writes a CLI context for it (0600), and the admin's
initial password to `initial-admin-password` (0600) in the state dir.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from mcpctl import __version__
from mcpctl.api.app import Services, build_app
from mcpctl.api.githttp import GitEndpoint
from mcpctl.client.contexts import Context, load_config, mcpctl_home, save_config
from mcpctl.errors import BackendUnavailable, McpctlError
from mcpctl.gitops import StateRepo
from mcpctl.gitops.mirror import Remote, ensure_deploy_key, start_from_remote
from mcpctl.secrets import (
    KEY_ENV,
    KEY_FILE,
    MissingKey,
    Sealer,
    key_configured,
    load_sealer,
    missing_key,
)
from mcpctl.service import IdentityService, ObjectService
from mcpctl.service.importing import GitImporter
from mcpctl.service.mirroring import GitMirror
from mcpctl.service.replication import GitReplica
from mcpctl.service.restoring import Restorer
from mcpctl.store import make_engine, make_sessionmaker, sqlite_url, upgrade

log = logging.getLogger("mcpd")


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    host: str
    port: int
    database_url: str
    log_level: str = "info"
    skip_unopenable_secrets: bool = False
    git_remote: str | None = None
    git_sync_interval: float = 60.0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="mcpd",
        description="The mcpctl control plane: API, store and state repo (the runtime comes next).",
        epilog="Example: mcpd --state-dir ./state --port 7420",
    )
    parser.add_argument(
        "--state-dir", type=Path, help="where state lives (default $MCPCTL_HOME or ~/.mcpctl)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7420, help="port to bind (default 7420)")
    parser.add_argument(
        "--database-url", help="e.g. postgresql://user@host/db (default: SQLite in the state dir)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--skip-unopenable-secrets",
        action="store_true",
        help="disaster recovery without the sealing key: restore Secrets without their values",
    )
    parser.add_argument(
        "--git-remote",
        metavar="URL",
        default=os.environ.get("MCPD_GIT_REMOTE"),
        help="mirror the state repo to this remote (ssh, https or a path): push every "
        "commit, import commits made there",
    )
    parser.add_argument(
        "--git-sync-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often to fetch from --git-remote (default 60; also on `mcpctl gitops sync`)",
    )
    parser.add_argument("--version", action="version", version=f"mcpd {__version__}")
    args = parser.parse_args(argv)
    state_dir = (args.state_dir or mcpctl_home()).expanduser().resolve()
    database_url = (
        args.database_url
        or os.environ.get("MCPD_DATABASE_URL")
        or sqlite_url(state_dir / "mcpd.db")
    )
    return Settings(
        state_dir,
        args.host,
        args.port,
        database_url,
        args.log_level,
        skip_unopenable_secrets=args.skip_unopenable_secrets,
        git_remote=args.git_remote or None,
        git_sync_interval=max(args.git_sync_interval, 1.0),
    )


async def build_services(settings: Settings) -> Services:
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    repo_path = settings.state_dir / "state.git"
    if settings.git_remote and not (repo_path / "HEAD").exists():
        # a new machine: the state repo starts from the remote (then recovery, if the
        # database is empty); the deploy key must exist before the first fetch
        await asyncio.to_thread(ensure_deploy_key, settings.state_dir / "ssh")
        remote = Remote(settings.git_remote, settings.state_dir / "ssh")
        started = await asyncio.to_thread(start_from_remote, repo_path, remote)
        if started is not None:
            log.warning(
                "no state repo here: it starts from %s at main %s", remote.redacted, started[:12]
            )
    repo = await asyncio.to_thread(StateRepo.open_or_init, repo_path)
    sealer: Sealer | MissingKey
    if key_configured(settings.state_dir) or not repo.holds("secrets"):
        sealer = load_sealer(settings.state_dir, create=True)
    else:  # sealed secrets and no key: only a recovery told to skip them can go on
        sealer = missing_key(settings.state_dir)
    wake: list[Callable[[str, Any], None]] = []  # who follows the writes, once built

    def written(write_id: str, stored: Any) -> None:
        for notify in wake:
            notify(write_id, stored)

    sessions = make_sessionmaker(engine, after_write=written)
    replica = GitReplica(sessions, repo, sealer.seal)
    wake.append(replica.notify)
    objects = ObjectService(sessions)
    identity = IdentityService(sessions, objects)
    importer = GitImporter(objects, replica, sealer)
    restorer = Restorer(importer, replica)
    public_key = await asyncio.to_thread(ensure_deploy_key, settings.state_dir / "ssh")
    mirror = None
    if settings.git_remote:
        remote = Remote(settings.git_remote, settings.state_dir / "ssh")
        mirror = GitMirror(
            importer, replica, remote, repo_path, public_key, settings.git_sync_interval
        )
        wake.append(lambda _write, _stored: mirror.notify())
    git = GitEndpoint(repo_path, identity, importer, replica, mirror)
    return Services(
        engine,
        sessions,
        objects,
        identity,
        replica,
        importer,
        restorer,
        git,
        mirror=mirror,
        public_key=public_key,
    )


async def recover(settings: Settings, services: Services) -> bool:
    """Disaster recovery at start: an empty database comes back from the state repo.

    True if it did: the database then holds exactly the objects at `main`, written in
    one write, so the export of that write checks every file (no full export needed).
    """
    assert services.restorer is not None
    assert services.importer is not None
    report = await services.restorer.recover(skip_unopenable=settings.skip_unopenable_secrets)
    if not isinstance(services.importer.sealer, MissingKey):
        return report is not None
    if report is None:
        raise BackendUnavailable(
            f"the state repo holds sealed secrets but there is no sealing key: set {KEY_ENV} "
            f"or restore {settings.state_dir / KEY_FILE}"
        )
    # recovered without the old key (told to skip those values): seal from now on with a new one
    sealer = load_sealer(settings.state_dir, create=True)
    services.importer.sealer = sealer
    services.replica.seal = sealer.seal
    return True


def _write_secret_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


async def bootstrap(settings: Settings, services: Services) -> None:
    created = await services.identity.bootstrap()
    if created is None:
        return
    password, token = created
    _write_secret_file(settings.state_dir / "initial-admin-password", password + "\n")
    config_file = settings.state_dir / "config"
    config = load_config(config_file)
    config.put(Context(name="local", server=settings.url, user="admin", token=token))
    save_config(config, config_file)
    log.info(
        "first start: created user admin; CLI context 'local' written to %s, "
        "initial password in %s",
        config_file,
        settings.state_dir / "initial-admin-password",
    )


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
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        log.info(
            "mcpd %s serving %s (database %s)",
            __version__,
            settings.url,
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
