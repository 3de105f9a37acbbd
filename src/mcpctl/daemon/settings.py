"""mcpd's settings: the command line and environment, read once.

`parse_settings` is called by `main` alone; the wiring passes each part the
settings it needs, so nothing else reads the environment or flags.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from mcpctl import __version__
from mcpctl.client.contexts import mcpctl_home
from mcpctl.store import sqlite_url


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
