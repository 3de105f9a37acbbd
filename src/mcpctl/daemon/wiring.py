"""mcpd's wiring: the engine, state repo, sealer, services and loops, built from settings.

Called by `main` at start: `build_services` builds every part once and hands
each the parts it stands on and its group of settings (the store its
`StoreSettings`, the mirror its `GitSettings`, the API its `HttpSettings`' body
limit, through `Services`, identity a `LoginThrottle` of its `ThrottleSettings`,
the gitops operations the loops' `Supervisor`, which `main` runs);
`recover` and `bootstrap` run before the loops and the API start.
`open_existing` opens the smaller part `mcpd admin-reset` needs (the database,
the objects' write path and the exporter), creating nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from starlette.routing import Route

from mcpctl.access.cache import cache_of
from mcpctl.api.githttp import GitEndpoint
from mcpctl.api.services import Services
from mcpctl.client.contexts import Context, load_config, save_config
from mcpctl.client.relay import Relay
from mcpctl.daemon.settings import Settings, StoreSettings
from mcpctl.errors import BackendUnavailable, Conflict, NotFound
from mcpctl.identity import AdminFound, Bootstrapper, IdentityService, LoginThrottle
from mcpctl.objects import ObjectService
from mcpctl.proxy.backend import ProxyBackend
from mcpctl.proxy.endpoint import McpEndpoint
from mcpctl.reconciler.exporting import GitReplica
from mcpctl.reconciler.following import Follower
from mcpctl.reconciler.importing import GitImporter
from mcpctl.reconciler.leadership import LEASE_SECONDS, Election, Leadership, Listening
from mcpctl.reconciler.mirroring import GitMirror
from mcpctl.reconciler.operations import GitOperations, ensure_replication_secret
from mcpctl.reconciler.probing import Prober
from mcpctl.reconciler.restoring import Restorer
from mcpctl.reconciler.running import RestartPolicy, RuntimeReconciler
from mcpctl.reconciler.seeding import seed_templates
from mcpctl.reconciler.supervisor import Supervisor
from mcpctl.runtime.base import Driver
from mcpctl.runtime.docker import DockerDriver
from mcpctl.runtime.external import ExternalDriver
from mcpctl.runtime.process import ProcessDriver
from mcpctl.secrets import (
    KEY_ENV,
    KEY_FILE,
    MissingKey,
    Sealer,
    install_key,
    key_configured,
    load_sealer,
    missing_key,
)
from mcpctl.staterepo import StateRepo
from mcpctl.staterepo.remote import MIRROR_REF, Remote, ensure_deploy_key, start_from_remote
from mcpctl.staterepo.replication import fetch_from_replica, set_identity
from mcpctl.store import (
    Sessions,
    WriteNotice,
    display_url,
    head_revision,
    make_engine,
    make_sessionmaker,
    sqlite_path,
    upgrade,
)
from mcpctl.store.changes import (
    MAIN_COMMIT,
    REPLICATION_SECRET,
    REPO_ID,
    SEALING_KEY_ID,
    get_meta,
    put_meta,
)
from mcpctl.store.database import Engine, schema_revision
from mcpctl.store.notifications import ACCESS, CHANGES, LEASE, MAIN, Listener
from mcpctl.upstream import ChannelPool

log = logging.getLogger("mcpd")

#: How often a follower started before the admin existed looks whether the leader made it.
HINT_POLL = 0.5

#: The admin's initial password, in the state dir of the mcpd that created the admin.
PASSWORD_FILE = "initial-admin-password"


async def build_services(settings: Settings) -> Services:
    """Every part, built once (the state dir was checked by `main.serve` first)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.store.database_url)
    try:
        await upgrade(engine)  # under a lock on PostgreSQL: replicas may start at once
    except BackendUnavailable as e:  # out of reach: say which database, its password masked
        await engine.dispose()
        raise BackendUnavailable(f"{display_url(settings.store.database_url)}: {e}") from e
    repo_path = settings.state_dir / "state.git"
    started_from_remote = False
    if settings.git.remote and not (repo_path / "HEAD").exists():
        # a new machine: the state repo starts from the remote (then recovery, if the
        # database is empty); the deploy key must exist before the first fetch
        await asyncio.to_thread(ensure_deploy_key, settings.state_dir / "ssh")
        remote = Remote(settings.git.remote, settings.state_dir / "ssh")
        started = await asyncio.to_thread(start_from_remote, repo_path, remote)
        started_from_remote = started is not None
        if started is not None:
            log.warning(
                "no state repo here: it starts from %s at main %s", remote.redacted, started[:12]
            )
    repo = await asyncio.to_thread(StateRepo.open_or_init, repo_path)
    single = engine.dialect.name == "sqlite"  # one replica by nature: it leads always
    if started_from_remote and not single:
        # a replica joining from the remote the cluster mirrors: the cluster's repo
        follows = await _meta(engine, REPO_ID)
        if follows is not None:
            await asyncio.to_thread(set_identity, repo, follows)
    sealer: Sealer | MissingKey
    if key_configured(settings.state_dir):
        sealer = load_sealer(settings.state_dir)
    elif not single and await _meta(engine, SEALING_KEY_ID) is not None:
        # a replica joining a database whose replicas seal with a key: it gets that key
        # from the leader (its follower asks), never a key of its own
        sealer = MissingKey(
            f"no sealing key yet: it comes from the leader, or set {KEY_ENV} or copy "
            f"{KEY_FILE} from another replica into {settings.state_dir}"
        )
    elif not repo.holds("secrets"):
        sealer = load_sealer(settings.state_dir, create=True)
    else:  # sealed secrets and no key: only a recovery told to skip them can go on
        sealer = missing_key(settings.state_dir)
    wake: list[Callable[[WriteNotice], None]] = []  # who follows the writes, once built

    def written(notice: WriteNotice) -> None:
        for notify in wake:
            notify(notice)

    sessions = make_sessionmaker(engine, after_write=written)
    cluster = settings.cluster
    leadership = Leadership(
        sessions,
        cluster.replica_name(settings.http),
        cluster.url(settings.http),
        seconds=None if single else cluster.lease_seconds,
    )
    repo.fence = leadership.check  # only the leader moves main
    replica = GitReplica(sessions, repo, sealer.seal, settings.git.exporting, leadership)
    wake.append(replica.notify)
    objects = ObjectService(sessions)
    identity = IdentityService(sessions, objects, LoginThrottle(settings.login))
    importer = GitImporter(objects, replica, sealer)
    restorer = Restorer(importer, replica)
    public_key = await asyncio.to_thread(ensure_deploy_key, settings.state_dir / "ssh")
    mirror = None
    if settings.git.remote:
        remote = Remote(settings.git.remote, settings.state_dir / "ssh")
        mirror = GitMirror(
            importer, replica, remote, repo_path, public_key, settings=settings.git.mirroring
        )
        wake.append(lambda _notice: mirror.notify())
        replica.remote_ref = MIRROR_REF
    git = GitEndpoint(repo_path, identity, importer, replica, mirror)
    follower = None if single else Follower(leadership, replica)
    relay = Relay()
    supervisor = Supervisor()
    services = Services(
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
        max_body=settings.http.max_body,
        gitops=GitOperations(
            sessions, replica, restorer, mirror, public_key, supervisor, leadership, follower
        ),
        leadership=leadership,
        follower=follower,
        supervisor=supervisor,
    )

    mcp = McpEndpoint(identity, sessions)
    services.mounted.append(Route("/mcp/{project}", mcp))

    def runtime_wake(notice: object = None) -> None:
        if services.runtime is not None:
            services.runtime.notify()
        if mcp.backend is not None:  # what a project shows may have changed
            mcp.backend.written(_servers_written(notice))

    wake.append(runtime_wake)

    async def lead(parts: Supervisor) -> None:
        await _lead(settings, services, parts, mcp)

    services.election = election = Election(leadership, lead)
    if not single:
        assert follower is not None

        def changed(_payload: str) -> None:  # another replica wrote
            replica.notify()
            runtime_wake()

        listener = Listener(
            settings.store.database_url,
            {
                CHANGES: changed,
                MAIN: follower.main_moved,
                LEASE: election.lease_moved,
                ACCESS: lambda _payload: cache_of(sessions).changed(),
            },
        )

        def reconnected() -> None:  # what was notified while not listening is looked at
            replica.notify()
            runtime_wake()
            cache_of(sessions).changed()
            follower.main_moved()
            election.lease_moved()

        services.listening = Listening(listener, reconnected)

        async def obtain_key() -> None:
            await _obtain_key(settings, services, relay)

        follower.obtain_key = obtain_key

        async def eligible() -> bool:
            return await _may_lead(services)

        election.eligible = eligible
    return services


async def _may_lead(services: Services) -> bool:
    """A replica without the sealing key the others seal with may not lead: one without a
    key follows until it gets the key from a leader, one with another key follows."""
    importer = services.importer
    assert importer is not None
    async with services.sessions() as session:
        known = await get_meta(session, SEALING_KEY_ID)
    if isinstance(importer.sealer, MissingKey):
        return known is None
    return known is None or known == importer.sealer.key_id


async def _meta(engine: Engine, key: str) -> str | None:
    async with make_sessionmaker(engine)() as session:
        return await get_meta(session, key)


async def _obtain_key(settings: Settings, services: Services, relay: Relay) -> None:
    """A follower without the cluster's sealing key gets it from the leader, once."""
    importer, leadership = services.importer, services.leadership
    assert importer is not None
    assert leadership is not None
    if not isinstance(importer.sealer, MissingKey):
        return
    async with services.sessions() as session:
        key_id = await get_meta(session, SEALING_KEY_ID)
        secret = await get_meta(session, REPLICATION_SECRET)
    url = leadership.leader_url()
    if key_id is None or secret is None or url is None:
        return
    answer = await relay.get_json(f"{url}/cluster/v1/sealing-key", secret)
    sealer = await asyncio.to_thread(install_key, settings.state_dir, str(answer["key"]), key_id)
    importer.sealer = sealer
    services.replica.seal = sealer.seal
    log.info("received the cluster's sealing key from the leader at %s", url)


async def _check_key(services: Services) -> None:
    """The leader seals with the database's key (recorded by the first leader): a replica
    with another key, or none, may not lead."""
    importer = services.importer
    assert importer is not None
    sealer = importer.sealer
    async with services.sessions() as session, session.begin():
        known = await get_meta(session, SEALING_KEY_ID)
        if isinstance(sealer, MissingKey):
            if known is not None:
                raise BackendUnavailable(f"this replica cannot lead: {sealer.where}")
            return
        if known is None:
            await put_meta(session, SEALING_KEY_ID, sealer.key_id)
        elif known != sealer.key_id:
            raise BackendUnavailable(
                f"this replica cannot lead: its sealing key (id {sealer.key_id[:12]}) is not "
                f"the one the other replicas seal with (id {known[:12]}): set {KEY_ENV} or "
                f"copy {KEY_FILE} from another replica"
            )


async def _lead(
    settings: Settings, services: Services, parts: Supervisor, mcp: McpEndpoint
) -> None:
    """Start what the leader runs, in order, under `parts` (stopped in reverse when this
    replica stops leading): a takeover's catch-up of the state repo, a disaster
    recovery, the first start's bootstrap, the built-in catalogue's seeding, the
    exporter, the git endpoint, the mirror."""
    replica, leadership = services.replica, services.leadership
    assert leadership is not None
    assert services.git is not None
    if not leadership.single:
        await ensure_replication_secret(services.sessions)
        await replica.take_over(_takeover_fetches(services), _stamp(leadership))
    recovered = await recover(settings, services)
    if not leadership.single:
        await _check_key(services)
    await bootstrap(settings, services)
    # the built-in catalogue, as shipped: one write if anything differs, which the
    # exporter's start commits
    await seed_templates(services.objects, leadership.fence)
    await parts.start(replica, starting=functools.partial(replica.start, full=not recovered))
    await parts.start(services.git)
    if services.mirror is not None:
        await parts.start(services.mirror)
    running = await _start_runtime(settings, services, parts)
    runtime, pool = running if running is not None else (None, None)
    # the MCP endpoint, over the runtime's instances (none with --runtimes none)
    await parts.start(_Serving(mcp, ProxyBackend.of(services.sessions, pool, runtime)))


async def _start_runtime(
    settings: Settings, services: Services, parts: Supervisor
) -> tuple[RuntimeReconciler, ChannelPool] | None:
    """The runtime reconciler and its drivers, the last of the leader's parts (so stopped
    first: the process instances end with it; containers go on, for the next leader)."""
    leadership = services.leadership
    assert leadership is not None
    config = settings.runtime
    if not config.runtimes:
        log.info("this mcpd runs no server (--runtimes none): Servers are records only")
        return None
    sealer = services.importer.sealer if services.importer is not None else None
    if not isinstance(sealer, Sealer):  # the recovery and the key check of `_lead` see to it
        raise BackendUnavailable("the runtime cannot start: this replica has no sealing key")
    async with services.sessions() as session:
        owner = await get_meta(session, REPO_ID) or "mcpd"
    node = leadership.name
    drivers: dict[str, Driver] = {}
    if "process" in config.runtimes:
        # its records are this host's processes: named by the host, not the replica (whose
        # default name holds the port, which a restart may change)
        drivers["process"] = ProcessDriver(settings.state_dir, owner, socket.gethostname())
    if "external" in config.runtimes:
        drivers["external"] = ExternalDriver(owner, node)
    if "docker" in config.runtimes:
        # containers are owned by the cluster: the next leader on the same engine adopts them
        drivers["docker"] = DockerDriver(owner, node, base_url=config.docker_host)
    runtime = RuntimeReconciler(
        services.sessions,
        drivers,
        node=node,
        owner=owner,
        check=leadership.check,
        fence=leadership.fence,
        # a Secret value's fingerprint in the revisions: keyed with the cluster's key, so
        # equal on every leader, and of no help in guessing the value
        fingerprint=sealer.fingerprint,
        policy=RestartPolicy(config.backoff, config.backoff_max, config.backoff_reset),
        resync=config.resync,
        grace=config.grace,
    )
    # one channel per instance, shared by the probes and the proxy
    pool = ChannelPool(runtime.target)
    await parts.start(runtime)
    await parts.start(Prober(runtime, pool, runtime.health_of))
    services.runtime = runtime
    await parts.start(_Forget(services))
    return runtime, pool


@dataclass
class _Serving:
    """The MCP endpoint serves the projects while this replica leads (a follower relays
    `/mcp/` to the leader): stopped first, before the channels it uses close."""

    mcp: McpEndpoint
    backend: ProxyBackend

    async def start(self) -> None:
        await self.backend.start()
        self.mcp.backend = self.backend

    async def stop(self) -> None:
        self.mcp.backend = None
        await self.backend.stop()  # the audit entries left are written


def _servers_written(notice: object) -> set[str] | None:
    """The Servers a write notice names (None: unknown, e.g. another replica's write)."""
    if not isinstance(notice, WriteNotice) or notice.written is None or notice.deleted is None:
        return None
    keys = [*notice.written, *notice.deleted]
    return {key[2] for key in keys if key[0] == "Server"}


@dataclass
class _Forget:
    """Stopped first of the leader's parts: the API asks this runtime for logs no more."""

    services: Services

    async def start(self) -> None:
        return

    async def stop(self) -> None:
        self.services.runtime = None


def _stamp(leadership: Leadership) -> str:
    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-term{leadership.term}-{leadership.name}".replace(":", "-")


def _takeover_fetches(services: Services) -> list[Callable[[], Awaitable[None]]]:
    """Where a leader taking over finds the cluster's main when its repo lacks it: the
    old leader (still serving, or back), then every other replica seen alive (one that
    fetched the old leader's last commit before it died), then the mirrored remote."""
    leadership, replica = services.leadership, services.replica
    assert leadership is not None
    fetches: list[Callable[[], Awaitable[None]]] = []
    # a replica paused, not dead, answers nothing: not for long
    timeout = leadership.seconds or LEASE_SECONDS

    async def from_replicas() -> None:
        async with services.sessions() as session:
            secret = await get_meta(session, REPLICATION_SECRET)
            cluster = await get_meta(session, MAIN_COMMIT)
        if secret is None or cluster is None:
            return
        previous = leadership.previous_url
        urls = [previous] if previous else []
        urls += [p.url for p in await leadership.peers() if p.name != leadership.name]
        tried: set[str] = {leadership.url}
        for url in urls:
            if url in tried or await asyncio.to_thread(replica.holds, cluster):
                continue
            tried.add(url)
            try:
                await asyncio.to_thread(
                    fetch_from_replica, replica.repo, url, secret, timeout=timeout
                )
            except BackendUnavailable as e:
                log.info("taking over: %s", e)
            else:
                if await asyncio.to_thread(replica.holds, cluster):
                    log.info("taking over: fetched the cluster's main from %s", url)

    fetches.append(from_replicas)
    if services.mirror is not None:
        mirror = services.mirror

        async def from_remote() -> None:
            await asyncio.to_thread(mirror.remote.fetch, mirror.repo_path)

        fetches.append(from_remote)
    return fetches


async def recover(settings: Settings, services: Services) -> bool:
    """Disaster recovery at start: an empty database comes back from the state repo.

    True if it did: the database then holds exactly the objects at `main`, written in
    one write, so the export of that write checks every file (no full export needed).
    """
    assert services.restorer is not None
    assert services.importer is not None
    report = await services.restorer.recover(
        skip_unopenable=settings.recovery.skip_unopenable_secrets
    )
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
    os.fchmod(fd, 0o600)  # a file there already keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


async def bootstrap(settings: Settings, services: Services) -> None:
    """The first start's admin, created once per database by whichever mcpd gets there
    first: that one writes the admin's initial password and the CLI context `local` in
    its state dir; another says where they are and how to log in (`login_hint`)."""
    me = Bootstrapper(socket.gethostname(), str(settings.state_dir))
    outcome = await services.identity.bootstrap(me)
    if isinstance(outcome, AdminFound):
        hint = login_hint(outcome.creator, me, settings.state_dir, settings.http.url)
        if hint is not None:
            log.info("%s", hint)
        return
    password_file = settings.state_dir / PASSWORD_FILE
    _write_secret_file(password_file, outcome.password + "\n")
    config_file = settings.state_dir / "config"
    config = load_config(config_file)
    config.put(Context(name="local", server=settings.http.url, user="admin", token=outcome.token))
    save_config(config, config_file)
    log.info(
        "first start: created user admin; CLI context 'local' written to %s, "
        "initial password in %s",
        config_file,
        password_file,
    )


def login_hint(
    creator: Bootstrapper | None, me: Bootstrapper, state_dir: Path, url: str
) -> str | None:
    """What an mcpd that finds the admin created already says about logging in as it.

    Nothing when this mcpd created it at an earlier start (its own state dir, on its
    host or holding the password file). Else where the creator wrote the initial
    password, and the command that logs in here.
    """
    login = f"log in with `mcpctl login {url} --username admin`"
    here = (state_dir / PASSWORD_FILE).exists()
    if creator is None:  # bootstrapped by an mcpd that did not record who it was
        if here:
            return None
        return (
            "the admin was created by another mcpd, which this database does not name: its "
            f"initial password is in {PASSWORD_FILE} in that mcpd's state dir; {login}"
        )
    if creator.state_dir == me.state_dir and (creator.host == me.host or here):
        return None
    return (
        f"the admin was created by mcpd on {creator.host} (state dir {creator.state_dir}): "
        f"its initial password is in {Path(creator.state_dir) / PASSWORD_FILE}; {login}"
    )


@dataclass(frozen=True)
class ExistingState:
    """A state dir and database mcpd serves, opened beside it (see `open_existing`)."""

    engine: Engine
    sessions: Sessions
    objects: ObjectService
    replica: GitReplica
    repo: StateRepo


async def open_existing(state_dir: Path, store: StoreSettings) -> ExistingState:
    """Open the state repo and database mcpd serves, for `mcpd admin-reset`: the write
    path and the exporter as `build_services` builds them, without loops or API.

    It creates nothing and migrates nothing: a state dir without a state repo, a
    SQLite file that does not exist, a database without mcpd's schema (or at another
    revision than this mcpd's) or one that follows another state repo is refused,
    naming the option to give.
    """
    repo_path = state_dir / "state.git"
    if not (repo_path / "HEAD").is_file():
        raise NotFound(f"no state repo at {repo_path}: give the --state-dir mcpd serves")
    shown = display_url(store.database_url)
    path = sqlite_path(store.database_url)
    if path is not None and not path.is_file():
        raise NotFound(f"no database at {path}: give the --database-url mcpd serves")
    engine = make_engine(store.database_url)
    try:
        try:
            revision = await schema_revision(engine)
        except BackendUnavailable as e:
            raise BackendUnavailable(f"{shown}: {e}") from e
        if revision is None:
            raise NotFound(f"{shown} holds no database of mcpd: give the --database-url it serves")
        head = head_revision()
        if revision != head:
            raise Conflict(
                f"{shown} is at schema revision {revision}, this mcpd's is {head}: use the "
                "mcpd of the version that serves it"
            )
        repo = await asyncio.to_thread(StateRepo.open_or_init, repo_path)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            follows = await get_meta(session, REPO_ID)
        if follows is None or follows != await asyncio.to_thread(repo.identity):
            raise Conflict(
                f"{shown} does not follow the state repo {repo_path}: give the --state-dir "
                "and --database-url of one mcpd"
            )
        sealer: Sealer | MissingKey = (
            load_sealer(state_dir) if key_configured(state_dir) else missing_key(state_dir)
        )
        replica = GitReplica(sessions, repo, sealer.seal)
        return ExistingState(engine, sessions, ObjectService(sessions), replica, repo)
    except BaseException:
        await engine.dispose()
        raise


async def follower_start(settings: Settings, services: Services) -> None:
    """What a replica that starts as a follower says: who leads, and how to log in (the
    first start's admin and its credentials are the leader's doing, in its state dir)."""
    leadership = services.leadership
    assert leadership is not None
    lease = await leadership.refresh()
    leader = f"{lease.replica} at {lease.url}" if lease and lease.held else "none yet"
    log.info(
        "this replica (%s) follows (leader: %s); it serves the API, and relays the git "
        "endpoint, restore, sync and seal to the leader",
        leadership.name,
        leader,
    )
    found = await services.identity.admin_found()
    if found is None:  # the leader is making it: say how to log in once it has
        services.hint = asyncio.create_task(_hint_once_made(settings, services), name="hint")
        return
    _hint(settings, found)


async def _hint_once_made(settings: Settings, services: Services) -> None:
    """Wait (polling, for as long as mcpd runs) until the leader has made the admin."""
    while (found := await services.identity.admin_found()) is None:
        await asyncio.sleep(HINT_POLL)
    _hint(settings, found)


def _hint(settings: Settings, found: AdminFound) -> None:
    me = Bootstrapper(socket.gethostname(), str(settings.state_dir))
    hint = login_hint(found.creator, me, settings.state_dir, settings.http.url)
    if hint is not None:
        log.info("%s", hint)
