"""mcpd's settings: the command line and environment, read once, in groups.

`parse_command` is called by `main` alone and reads every flag and environment
variable of mcpd (`MCPD_DATABASE_URL`, `MCPD_GIT_REMOTE`, `MCPCTL_HOME`) into one
frozen `Settings`: the state dir, the log level, and a group per part (`http`,
`store`, `git`, `recovery`, `login`). The wiring passes each part its group, so nothing
else reads the environment or flags. (The sealing key's `MCPCTL_SEALING_KEY`
is read by `secrets` itself, where the key is loaded.) `mcpd admin-reset USER`,
the local break-glass, reads the same state dir and store options into
`AdminResetSettings` instead; `parse_settings` is the serving half alone.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from mcpctl import __version__
from mcpctl.api.requests import DEFAULT_MAX_BODY
from mcpctl.client.contexts import mcpctl_home
from mcpctl.identity import ThrottleSchedule, ThrottleSettings
from mcpctl.reconciler.exporting import ExportingSettings
from mcpctl.reconciler.mirroring import MirroringSettings
from mcpctl.store import sqlite_url


@dataclass(frozen=True)
class HttpSettings:
    """Where the API listens, and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 7420
    #: the largest request body accepted, in bytes (no flag or variable sets it today)
    max_body: int = DEFAULT_MAX_BODY

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class StoreSettings:
    """The database: SQLite in the state dir by default, PostgreSQL in production."""

    database_url: str


@dataclass(frozen=True)
class GitSettings:
    """The state repo's loops: the exporter, and the mirror's remote and how often it syncs."""

    remote: str | None = None
    sync_interval: float = 60.0
    #: the ServiceAccount whose permissions bound the mirror's imports (None: all)
    mirror_as: str | None = None
    #: when the exporter packs the repo, how many writes it keeps in hand (no flag sets them)
    exporting: ExportingSettings = field(default_factory=ExportingSettings)

    @property
    def mirroring(self) -> MirroringSettings:
        """The mirror's settings: the sync interval given, the rest as the mirror has them."""
        return MirroringSettings(interval=self.sync_interval, acting_as=self.mirror_as)


@dataclass(frozen=True)
class ClusterSettings:
    """This replica among the mcpd replicas sharing one PostgreSQL database."""

    #: its name in the lease and the status (default: the host name and the port)
    name: str = ""
    #: where the other replicas reach it (default: the address it listens on, or the
    #: host name when it listens on every address)
    advertise_url: str = ""
    #: the leader's lease, in seconds: a follower takes over at most this long after the
    #: leader died (and a second more)
    lease_seconds: float = 6.0

    def replica_name(self, http: HttpSettings) -> str:
        """The name given, else the host name and the port."""
        return self.name or f"{socket.gethostname()}:{http.port}"

    def url(self, http: HttpSettings) -> str:
        """The URL given, else where mcpd listens (the host name if on every address)."""
        if self.advertise_url:
            return self.advertise_url
        host = http.host if http.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{http.port}"


#: The runtimes mcpd knows (`runtime`).
RUNTIMES = ("process", "docker", "external")


@dataclass(frozen=True)
class RuntimeSettings:
    """How the leader runs the Servers' instances (`reconciler.running`)."""

    #: a crashed instance restarts after this many seconds, doubling with each crash in a
    #: row up to `backoff_max`; one that ran `backoff_reset` seconds starts over
    backoff: float = 10.0
    backoff_max: float = 300.0
    backoff_reset: float = 600.0
    #: a round at least this often, whatever happens (seconds)
    resync: float = 10.0
    #: seconds an instance has to stop after SIGTERM before SIGKILL
    grace: float = 10.0
    #: the Docker engine (default: the SDK's, from DOCKER_HOST or the local socket)
    docker_host: str | None = None
    #: the runtimes this mcpd may run Servers with (none: it runs no server at all, and
    #: Servers are records only): a `command` server runs as mcpd's own user on its host,
    #: so an operator who does not want that leaves `process` out
    runtimes: frozenset[str] = frozenset(RUNTIMES)


@dataclass(frozen=True)
class RecoverySettings:
    """Disaster recovery at start (an empty database beside a state repo)."""

    #: restore Secrets without their values when the sealing key is lost
    skip_unopenable_secrets: bool = False


@dataclass(frozen=True)
class Settings:
    """Everything mcpd is told at start, by group; the wiring hands each part its group."""

    state_dir: Path
    store: StoreSettings
    http: HttpSettings = field(default_factory=HttpSettings)
    git: GitSettings = field(default_factory=GitSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    log_level: str = "info"
    #: the back-off of failed logins, per user name and per client address
    login: ThrottleSettings = field(default_factory=ThrottleSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)


def parse_schedule(text: str) -> ThrottleSchedule:
    """`FREE,FIRST,CAP` (failures, seconds, seconds) as a schedule, for argparse."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError("three values are needed")
        return ThrottleSchedule(int(parts[0]), float(parts[1]), float(parts[2]))
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected FREE,FIRST,CAP (e.g. 5,1,60; FIRST 0 turns it off), got {text!r}: {e}"
        ) from None


@dataclass(frozen=True)
class AdminResetSettings:
    """`mcpd admin-reset USER`: whom to make an admin again, in which state dir and store."""

    user: str
    state_dir: Path
    store: StoreSettings


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The settings of serving (`mcpd` without a subcommand)."""
    settings = parse_command(argv)
    if not isinstance(settings, Settings):
        raise SystemExit("mcpd: expected the settings of serving, got a subcommand")
    return settings


def parse_command(argv: list[str] | None = None) -> Settings | AdminResetSettings:
    """mcpd's command line: serving (no subcommand), or `admin-reset USER`."""
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
    parser.add_argument(
        "--git-mirror-as",
        metavar="SERVICEACCOUNT",
        default=os.environ.get("MCPD_GIT_MIRROR_AS"),
        help="import the remote's commits as this ServiceAccount: its RBAC and the "
        "no-escalation rule bound what a commit there may change (default: mcpd itself, "
        "which may change anything)",
    )
    login = ThrottleSettings()
    parser.add_argument(
        "--login-throttle-user",
        type=parse_schedule,
        default=login.user,
        metavar="FREE,FIRST,CAP",
        help="failed logins per user name: FREE failures in a row cost nothing, then each "
        "further one blocks the name for FIRST seconds, doubling per failure up to CAP; "
        f"FIRST 0 turns it off (default {login.user})",
    )
    parser.add_argument(
        "--login-throttle-address",
        type=parse_schedule,
        default=login.address,
        metavar="FREE,FIRST,CAP",
        help=f"the same per client address (default {login.address})",
    )
    parser.add_argument(
        "--replica-name",
        help="this replica's name among those sharing a PostgreSQL database "
        "(default: host name:port)",
    )
    parser.add_argument(
        "--advertise-url",
        help="where the other replicas reach this one (default: http://HOST:PORT, with the "
        "host name when --host is 0.0.0.0 or ::)",
    )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=6.0,
        metavar="S",
        help="the leader's lease on PostgreSQL: a follower takes over this long after the "
        "leader stops renewing it (default 6, at least 2)",
    )
    parser.add_argument(
        "--restart-backoff",
        type=_backoff,
        default=(10.0, 300.0, 600.0),
        metavar="FIRST,MAX,RESET",
        help="a crashed instance restarts after FIRST seconds, doubling with each crash in a "
        "row up to MAX; one that ran RESET seconds starts over (default 10,300,600)",
    )
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds an instance has to stop after SIGTERM, before SIGKILL (default 10)",
    )
    parser.add_argument(
        "--runtimes",
        type=_runtimes,
        default=frozenset(RUNTIMES),
        metavar="LIST",
        help="the runtimes Servers may run with, comma-separated: process (a command runs "
        "as mcpd's user on this host), docker, external; 'none' runs no server "
        "(default: all three)",
    )
    parser.add_argument(
        "--docker-host",
        default=None,
        metavar="URL",
        help="the Docker engine of image servers (default $DOCKER_HOST or the local socket)",
    )
    parser.add_argument("--version", action="version", version=f"mcpd {__version__}")
    _add_admin_reset(parser)
    args = parser.parse_args(argv)
    state_dir = (args.state_dir or mcpctl_home()).expanduser().resolve()
    database_url = (
        args.database_url
        or os.environ.get("MCPD_DATABASE_URL")
        or sqlite_url(state_dir / "mcpd.db")
    )
    if args.command == "admin-reset":
        return AdminResetSettings(args.user, state_dir, StoreSettings(database_url))
    return Settings(
        state_dir,
        StoreSettings(database_url),
        HttpSettings(args.host, args.port),
        GitSettings(
            args.git_remote or None, max(args.git_sync_interval, 1.0), args.git_mirror_as or None
        ),
        RecoverySettings(args.skip_unopenable_secrets),
        args.log_level,
        ThrottleSettings(args.login_throttle_user, args.login_throttle_address),
        _cluster(args),
        _runtime(args),
    )


def _runtime(args: argparse.Namespace) -> RuntimeSettings:
    first, most, reset = args.restart_backoff
    return RuntimeSettings(
        backoff=first,
        backoff_max=most,
        backoff_reset=reset,
        grace=max(args.stop_grace, 0.0),
        docker_host=args.docker_host,
        runtimes=args.runtimes,
    )


def _runtimes(text: str) -> frozenset[str]:
    """`process,docker,external` (any of them) or `none`, for argparse."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if names == {"none"}:
        return frozenset()
    unknown = sorted(names - set(RUNTIMES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown runtime {', '.join(unknown) or repr(text)}: give some of "
            f"{', '.join(RUNTIMES)}, or none"
        )
    return frozenset(names)


def _backoff(text: str) -> tuple[float, float, float]:
    """`FIRST,MAX,RESET` seconds, for argparse."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError("three values are needed")
        first, most, reset = (float(p) for p in parts)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected FIRST,MAX,RESET seconds (e.g. 10,300,600), got {text!r}: {e}"
        ) from None
    if not 0 < first <= most or reset <= 0:
        raise argparse.ArgumentTypeError(
            f"expected 0 < FIRST <= MAX and RESET > 0 (e.g. 10,300,600), got {text!r}"
        )
    return first, most, reset


def _cluster(args: argparse.Namespace) -> ClusterSettings:
    return ClusterSettings(
        args.replica_name or "",
        (args.advertise_url or "").rstrip("/"),
        max(args.lease_seconds, 2.0),
    )


def _add_admin_reset(parser: argparse.ArgumentParser) -> None:
    """The subcommand `admin-reset USER`, with the store options of serving."""
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (without one, mcpd serves)"
    )
    reset = commands.add_parser(
        "admin-reset",
        help="break-glass on the mcpd host: make USER an admin again, with a new password",
        description="Break-glass, run on the mcpd host (not over the API): create USER if "
        "missing, apply an Rbac granting USER every permission (admin-reset-USER), set a "
        "new random password and log out USER's sessions; audited and committed to the "
        "state repo like any write. The password is printed once on stdout. Use the state "
        "dir and database mcpd serves; mcpd may be running or not.",
        epilog="Example: mcpd admin-reset admin --state-dir /var/lib/mcpd",
    )
    reset.add_argument("user", metavar="USER", help="the user to make an admin again")
    # SUPPRESS: given before the subcommand, the value stands (`mcpd --state-dir X admin-reset`)
    reset.add_argument(
        "--state-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="the state dir mcpd serves (default $MCPCTL_HOME or ~/.mcpctl)",
    )
    reset.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="the database mcpd serves (default $MCPD_DATABASE_URL, else SQLite in the state dir)",
    )
