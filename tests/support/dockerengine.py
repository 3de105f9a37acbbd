"""A real Docker engine and the project's MCP test image, built offline, for the tests.

The engine: the one at the local socket (one dockerd per host: two with different
bridge settings break each other's `docker0`). If none answers and `dockerd` is
installed and we are root, the session starts one, and the last session using it
(concurrent sessions share it through lock files) stops it at its end. If none can
run, the tests FAIL saying how to get one: CI must run them, never skip them.

The image (`testserver_image`): no registry is reachable here, so it is made from
parts that are: a Debian bookworm root made by `debootstrap --variant=minbase` with
python3 (Debian's python is 3.11, like the tests' venv), the `mcp` SDK and the
distributions it needs copied from the venv's site-packages, and
`tests/support/servers/testserver.py` as the command, all imported as one layer with
`docker import` (the changes set CMD and ENV). The command takes its arguments from
`$TESTSERVER_ARGS` (an image server gets no command line of its own: only its
environment). The tag is a hash of the inputs; the debootstrap root is cached as a
tarball under `MCPCTL_TEST_CACHE` (default /var/cache/mcpctl-tests), so a second run
on the same machine builds nothing (the image is there) and a pruned engine costs an
import, not a debootstrap.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]  # the docker SDK ships no type information
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mcpctl.runtime.base import OWNER_LABEL
from mcpctl.runtime.diagnosing import probe_engine

ENGINE_URL = "unix:///var/run/docker.sock"
CACHE_DIR = Path(os.environ.get("MCPCTL_TEST_CACHE", "/var/cache/mcpctl-tests"))
#: The lock files of the sessions sharing an engine (see `running_engine`).
ENGINE_LOCKS = Path("/run/mcpctl-tests-dockerd")
DOCKERD_LOG = Path("/var/log/mcpctl-tests-dockerd.log")

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3",)
#: Left out of the image: apt's downloads and lists, docs, man pages, translations.
ROOTFS_EXCLUDES = (
    "./var/cache/apt/archives/*.deb",
    "./var/lib/apt/lists/*",
    "./usr/share/doc/*",
    "./usr/share/man/*",
    "./usr/share/locale/*",
    "./dev/*",
)
IMAGE_REPOSITORY = "mcpctl-testserver"
SITE = "opt/mcp-site"
TESTSERVER = Path(__file__).parent / "servers" / "testserver.py"
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    f"ENV PYTHONPATH=/{SITE}",
    'CMD ["/bin/sh", "-c", "exec python3 /srv/testserver.py $TESTSERVER_ARGS"]',
)

HOW_TO_GET_ONE = (
    "the runtime's tests need a Docker engine: install it as root with "
    "`apt-get install -y docker.io` (the tests then start dockerd themselves), "
    "or start dockerd, or run .ci/run, which does both"
)


def engine_answers(url: str = ENGINE_URL) -> bool:
    try:
        probe_engine(url, 3)  # first: the SDK leaks the socket of a failed connect
    except OSError:
        return False
    client = docker.APIClient(base_url=url, version="1.41", timeout=3)
    try:
        client.ping()
        return True
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def _start_dockerd() -> int:
    """Start dockerd in the background, detached (a session may leave it running for
    others: no child of ours should outlive us); its pid once it answers."""
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        why = "dockerd is not installed" if shutil.which("dockerd") is None else "we are not root"
        pytest.fail(f"no Docker engine answers at {ENGINE_URL} and {why}: {HOW_TO_GET_ONE}")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    launched = subprocess.run(
        ["sh", "-c", 'dockerd >>"$0" 2>&1 </dev/null & echo $!', str(DOCKERD_LOG)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    pid = int(launched.stdout)
    deadline = time.monotonic() + 120  # a hang guard: dockerd is ready in about a second
    while not engine_answers():
        if not _alive(pid) or time.monotonic() > deadline:
            _stop(pid)
            tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-15:]
            pytest.fail(f"dockerd did not start ({HOW_TO_GET_ONE}); its log:\n" + "\n".join(tail))
        time.sleep(0.2)
    return pid


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL if dockerd is still there after a minute (a hang guard)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while _alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


@contextlib.contextmanager
def running_engine() -> Iterator[Any]:
    """A client of the local engine, started first if need be (see the module's doc).

    Two lock files: the sessions using an engine hold `users` shared; whoever looks for
    an engine, starts one, or stops one holds `start`, so that no session finds an
    engine another is stopping. A dockerd a session started has its pid written beside
    them; the last session using it (the one that takes `users` alone) stops it."""
    ENGINE_LOCKS.mkdir(parents=True, exist_ok=True)
    started_pid = ENGINE_LOCKS / "dockerd.pid"
    with (ENGINE_LOCKS / "start").open("a") as start, (ENGINE_LOCKS / "users").open("a") as users:
        fcntl.flock(start, fcntl.LOCK_EX)
        try:
            if not engine_answers():
                started_pid.write_text(str(_start_dockerd()))
            fcntl.flock(users, fcntl.LOCK_SH)
        finally:
            fcntl.flock(start, fcntl.LOCK_UN)
        client = docker.DockerClient(base_url=ENGINE_URL, version="auto", timeout=300)
        try:
            yield client
        finally:
            client.close()
            fcntl.flock(start, fcntl.LOCK_EX)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another session uses the engine: the last one stops it
            else:
                if started_pid.exists():
                    _stop(int(started_pid.read_text()))
                    started_pid.unlink()


# --- the image -------------------------------------------------------------------------


def _requirements_closure(root: str = "mcp") -> list[metadata.Distribution]:
    """`root` and every distribution it needs (markers evaluated for this Python)."""
    environment = {key: str(value) for key, value in default_environment().items()}
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if (key, extras) in done:
            continue
        done.add((key, extras))
        dist = found.setdefault(key, metadata.distribution(name))
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(
                marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""})
            ):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


@dataclass(frozen=True)
class ImageRecipe:
    """What the image is made of; its hash is the image's tag."""

    distributions: tuple[metadata.Distribution, ...]

    @classmethod
    def current(cls) -> ImageRecipe:
        return cls(tuple(_requirements_closure()))

    def rootfs_inputs(self) -> dict[str, Any]:
        return {
            "suite": SUITE,
            "mirror": MIRROR,
            "packages": PACKAGES,
            "excludes": ROOTFS_EXCLUDES,
        }

    def inputs(self) -> dict[str, Any]:
        return {
            "rootfs": self.rootfs_inputs(),
            "site": [(d.metadata["Name"], d.version) for d in self.distributions],
            "testserver": hashlib.sha256(TESTSERVER.read_bytes()).hexdigest(),
            "changes": IMAGE_CHANGES,
        }

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPOSITORY}:{_digest(self.inputs())}"

    @property
    def rootfs_tarball(self) -> Path:
        return CACHE_DIR / f"rootfs-{SUITE}-{_digest(self.rootfs_inputs())}.tar"


def _digest(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _debootstrap() -> str:
    found = shutil.which("debootstrap")
    if found is not None:
        return found
    if os.geteuid() != 0:
        pytest.fail("the test image needs debootstrap: `apt-get install -y debootstrap` as root")

    def apt_get(*args: str, check: bool = True) -> int:
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["apt-get", *args], capture_output=True, check=check, env=environment, timeout=600
        )
        return done.returncode

    if apt_get("install", "-y", "-qq", "debootstrap", check=False) != 0:
        apt_get("update", "-qq")  # a fresh machine may have no package lists yet
        apt_get("install", "-y", "-qq", "debootstrap")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _make_rootfs(tarball: Path) -> None:
    """debootstrap a minimal bookworm with python3 into a tarball (kept as a cache)."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as work:
        root = Path(work) / "root"
        made = subprocess.run(
            [
                _debootstrap(),
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(root),
                MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if made.returncode != 0:
            pytest.fail(f"debootstrap failed ({made.returncode}):\n{made.stdout[-3000:]}")
        partial = Path(work) / "rootfs.tar"
        excludes = [f"--exclude={pattern}" for pattern in ROOTFS_EXCLUDES]
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), *excludes, "."],
            check=True,
            timeout=600,
        )
        partial.replace(tarball)


def _add_bytes(out: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    out.addfile(info, io.BytesIO(data))


def _add_directory(out: tarfile.TarFile, name: str, made: set[str]) -> None:
    parts = name.split("/")
    for end in range(1, len(parts) + 1):
        path = "/".join(parts[:end])
        if path not in made:
            made.add(path)
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            out.addfile(info)


def _write_image_tar(recipe: ImageRecipe, target: Path) -> None:
    """The root, then the site-packages of the `mcp` SDK, then the test server."""
    made: set[str] = set()
    with tarfile.open(target, "w") as out:
        with tarfile.open(recipe.rootfs_tarball) as rootfs:
            for member in rootfs:
                source = rootfs.extractfile(member) if member.isfile() else None
                out.addfile(member, source)
                if member.isdir():
                    made.add(member.name.removeprefix("./").rstrip("/"))
        for dist in recipe.distributions:
            for file in dist.files or ():
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue  # scripts outside site-packages; bytecode of the venv's Python
                path = Path(str(dist.locate_file(file)))
                if not path.is_file():
                    continue
                name = f"{SITE}/{file.as_posix()}"
                _add_directory(out, name.rsplit("/", 1)[0], made)
                _add_bytes(out, name, path.read_bytes())
        _add_directory(out, "srv", made)
        _add_bytes(out, "srv/testserver.py", TESTSERVER.read_bytes())


@dataclass
class BuildReport:
    """How the image came to be, for the session's log: built, imported or found."""

    tag: str
    how: str
    seconds: float


def ensure_testserver_image(client: Any) -> BuildReport:
    """The test image's tag, built if the engine lacks it (see the module's doc)."""
    started = time.monotonic()
    recipe = ImageRecipe.current()
    tag = recipe.tag
    if _has_image(client, tag):
        return BuildReport(tag, "found", time.monotonic() - started)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it
        if _has_image(client, tag):
            return BuildReport(tag, "found", time.monotonic() - started)
        how = "imported from the cached root"
        if not recipe.rootfs_tarball.exists():
            _make_rootfs(recipe.rootfs_tarball)
            how = "debootstrapped and imported"
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="image-") as work:
            image_tar = Path(work) / "image.tar"
            _write_image_tar(recipe, image_tar)
            repository, _, version = tag.partition(":")
            client.api.import_image_from_file(
                str(image_tar), repository=repository, tag=version, changes=list(IMAGE_CHANGES)
            )
    if not _has_image(client, tag):
        pytest.fail(f"docker import did not make {tag}")
    return BuildReport(tag, how, time.monotonic() - started)


def _has_image(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A `docker.DockerClient` of a running engine (started if need be; never skipped)."""
    with running_engine() as client:
        yield client


@pytest.fixture(scope="session")
def testserver_image(docker_engine: Any) -> str:
    """The tag of the offline test image (built once per machine)."""
    report = ensure_testserver_image(docker_engine)
    print(
        f"\ntest image {report.tag}: {report.how} in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return report.tag


@pytest.fixture(scope="session")
def docker_owner(docker_engine: Any) -> Iterator[str]:
    """The owner label of this session's containers; at the end none may be left."""
    owner = f"mcpctl-tests-{uuid.uuid4().hex[:12]}"
    yield owner
    left = docker_engine.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})
    for container in left:
        container.remove(force=True)
    if left:
        names = ", ".join(c.name for c in left)
        pytest.fail(f"the tests left containers of owner {owner} behind: {names}")
