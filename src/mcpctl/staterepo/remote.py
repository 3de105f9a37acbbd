"""The mirrored remote: where mcpd pushes `main` and from where it fetches commits made there.

The transport is the git CLI (ssh, https, file paths: whatever git reaches),
run against the bare state repo. For ssh, mcpd authenticates with its own key
pair, generated at first start (`<state dir>/ssh/id_ed25519`, 0600); the
public key is what a repository host takes as a deploy key with write access.
Host keys are learned on first use and pinned in `<state dir>/ssh/known_hosts`.

Nothing here is ever forced: mcpd pushes only fast-forwards of the remote's
`main` and fetches it into `refs/mirror/main`, a ref no client can push.
Credentials in an https URL never reach logs or answers (`Remote.redact`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mcpctl.errors import BackendUnavailable, InvalidInput
from mcpctl.staterepo.contention import contention_in

MIRROR_REF = "refs/mirror/main"
KEY_NAME = "id_ed25519"
GIT_TIMEOUT = 120.0


def ensure_deploy_key(ssh_dir: Path) -> str:
    """The public key of mcpd's SSH key pair in `ssh_dir`, generating the pair if missing."""
    private = ssh_dir / KEY_NAME
    public = ssh_dir / f"{KEY_NAME}.pub"
    if private.exists() and public.exists():
        return public.read_text(encoding="ascii").strip()
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file there already keeps its mode through O_CREAT
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    text = f"{line.decode('ascii')} mcpd@{socket.gethostname()}"
    public.write_text(text + "\n", encoding="ascii")
    return text


@dataclass(frozen=True)
class Remote:
    """A remote repository mcpd mirrors `main` to and from."""

    url: str
    ssh_dir: Path

    def __post_init__(self) -> None:
        if not self.url or self.url.startswith("-") or any(c in self.url for c in "\0\n\r"):
            raise InvalidInput(f"invalid git remote {self.redacted!r}")

    @property
    def redacted(self) -> str:
        """The URL without any password or token in it."""
        return _redact_url(self.url)

    def redact(self, text: str) -> str:
        if self.url != self.redacted:
            text = text.replace(self.url, self.redacted)
        parts = urlsplit(self.url)
        if parts.password:
            text = text.replace(parts.password, "***")
        return text

    def env(self) -> dict[str, str]:
        key = self.ssh_dir / KEY_NAME
        known = self.ssh_dir / "known_hosts"
        ssh = (
            f"ssh -i {shlex.quote(str(key))} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={shlex.quote(str(known))}"
        )
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.ssh_dir),
            "GIT_SSH_COMMAND": ssh,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
        }

    def _git(self, repo_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                ["git", "--git-dir", str(repo_path), *args],
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                env=self.env(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(
                f"git remote {self.redacted}: no answer in {GIT_TIMEOUT:.0f} s"
            ) from None
        return done

    def fetch(self, repo_path: Path) -> str | None:
        """Fetch the remote's main into `refs/mirror/main`; its sha (None: the remote is empty)."""
        listed = self._git(repo_path, "ls-remote", "--", self.url, "refs/heads/main")
        if listed.returncode != 0:
            raise BackendUnavailable(
                f"git remote {self.redacted}: {self.redact(listed.stderr.strip())[-500:]}"
            )
        if not listed.stdout.strip():
            return None
        done = self._git(
            repo_path, "fetch", "--no-tags", "--quiet", "--", self.url, f"+main:{MIRROR_REF}"
        )
        if done.returncode != 0:
            said = self.redact(done.stderr.strip())[-500:]
            what = f"fetch from {self.redacted} failed"
            # another git process writing refs/mirror/main (or packing refs): a contention
            raise contention_in(said, what) or BackendUnavailable(f"{what}: {said}")
        head = self._git(repo_path, "rev-parse", "--verify", "--quiet", MIRROR_REF)
        return head.stdout.strip() or None

    def push(self, repo_path: Path, sha: str) -> None:
        """Push `sha` to the remote's main: a fast-forward, never forced."""
        done = self._git(repo_path, "push", "--quiet", "--", self.url, f"{sha}:refs/heads/main")
        if done.returncode != 0:
            raise BackendUnavailable(
                f"push to {self.redacted} failed: {self.redact(done.stderr.strip())[-500:]}"
            )


def start_from_remote(repo_path: Path, remote: Remote) -> str | None:
    """A state repo that does not exist yet starts as a copy of the remote's main.

    So that an mcpd on a new machine (no state dir, an empty database) comes back
    from the remote as it would from its own repo (disaster recovery). Returns the
    commit main starts at; None, and no repo, when the remote is empty. A remote out
    of reach raises: starting afresh would make a history the remote does not share.
    """
    done = subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(repo_path)],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        env=remote.env(),
        check=False,
    )
    if done.returncode != 0:
        raise BackendUnavailable(f"state repo {repo_path}: {done.stderr.strip()}")
    try:
        fetched = remote.fetch(repo_path)
        if fetched is not None:
            moved = remote._git(repo_path, "update-ref", "refs/heads/main", fetched)
            if moved.returncode != 0:
                raise BackendUnavailable(f"state repo {repo_path}: {moved.stderr.strip()}")
    except BaseException:
        shutil.rmtree(repo_path, ignore_errors=True)
        raise
    if fetched is None:
        shutil.rmtree(repo_path, ignore_errors=True)
    return fetched


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and parts.scheme in ("http", "https")):
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.password is not None else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def describe(url: str) -> str:
    """ssh, https, or path: how mcpd reaches a remote."""
    if url.startswith(("ssh://", "git+ssh://")) or _SCP_LIKE.match(url):
        return "ssh"
    if url.startswith(("https://", "http://")):
        return "https" if url.startswith("https://") else "http"
    return "path"
