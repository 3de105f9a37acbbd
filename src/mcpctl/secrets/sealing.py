"""Sealing Secret values for the state repo: deterministic authenticated encryption.

The values of plaintext-backend Secrets go to git only sealed, with AES-SIV
(RFC 5297) under a 512-bit key kept outside the repo: a 0600 file in the state
dir (`sealing.key`) or the environment (`MCPCTL_SEALING_KEY`, base64). The
Secret's name and the key's name are the associated data, so a sealed value
cannot be moved to another Secret or key without failing to open.

AES-SIV is deterministic on purpose: the same value under the same name and
key seals to the same text, so re-exporting an unchanged Secret changes no
byte in git and `mcpctl diff --base` shows only real changes. The price is
that equal values in the same place are recognisable as equal, which is what
a diff shows anyway.

Sealed text: `v1:` + base64url (no padding) of the SIV ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from mcpctl.errors import InvalidInput, McpctlError

KEY_FILE = "sealing.key"
KEY_ENV = "MCPCTL_SEALING_KEY"
KEY_BYTES = 64  # AES-256-SIV
PREFIX = "v1:"


class SealingError(McpctlError):
    """A sealed value cannot be opened: wrong key, damaged text, or moved to another place."""


@dataclass(frozen=True)
class Sealer:
    """Seals and opens Secret values with one key."""

    _siv: AESSIV
    _key: bytes = field(repr=False, default=b"")

    @classmethod
    def from_key(cls, key: bytes) -> Sealer:
        if len(key) != KEY_BYTES:
            raise InvalidInput(f"a sealing key has {KEY_BYTES} bytes, not {len(key)}")
        return cls(AESSIV(key), key)

    @property
    def key_id(self) -> str:
        """A fingerprint of the key that tells keys apart and reveals nothing of it: the
        replicas of one database must seal with one key."""
        return hmac.new(self._key, b"mcpctl sealing key id", hashlib.sha256).hexdigest()[:32]

    def fingerprint(self, secret: str, key: str, value: str) -> str:
        """A digest of a value in its place, keyed with the sealing key: equal for an
        unchanged value, and no help in guessing a value to whoever lacks the key. The
        runtime's revisions hold it, so that a Server rolls when a value it reads changes,
        and not when another key of the Secret does."""
        keyed = hmac.new(self._key, b"mcpctl value fingerprint", hashlib.sha256).digest()
        place = b"\0".join([*_associated(secret, key), value.encode("utf-8")])
        return hmac.new(keyed, place, hashlib.sha256).hexdigest()[:32]

    def key_text(self) -> str:
        """The key as its file holds it (base64): for a replica joining, and nothing else."""
        return base64.b64encode(self._key).decode("ascii")

    def seal(self, secret: str, key: str, value: str) -> str:
        sealed = self._siv.encrypt(value.encode("utf-8"), _associated(secret, key))
        return PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, secret: str, key: str, sealed: str) -> str:
        """The plaintext; SealingError naming the Secret and key if it cannot be opened."""
        where = f"Secret {secret!r} key {key!r}"
        if not sealed.startswith(PREFIX):
            raise SealingError(f"{where}: not a sealed value (expected the {PREFIX} prefix)")
        body = sealed[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = self._siv.decrypt(raw, _associated(secret, key))
        except (binascii.Error, ValueError):
            raise SealingError(f"{where}: the sealed value is damaged") from None
        except InvalidTag:
            raise SealingError(
                f"{where}: cannot be opened with this sealing key (another key, or another place)"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise SealingError(f"{where}: the opened value is not UTF-8") from None


@dataclass(frozen=True)
class MissingKey:
    """Stands for the sealing key when there is none: every use fails, naming what it needed."""

    where: str

    def seal(self, secret: str, key: str, value: str) -> str:
        raise SealingError(f"Secret {secret!r} key {key!r}: cannot be sealed: {self.where}")

    def open(self, secret: str, key: str, sealed: str) -> str:
        raise SealingError(f"Secret {secret!r} key {key!r}: cannot be opened: {self.where}")


def key_configured(state_dir: Path) -> bool:
    """Whether a sealing key exists (the environment variable, or the key file)."""
    return bool(os.environ.get(KEY_ENV)) or (state_dir / KEY_FILE).exists()


def missing_key(state_dir: Path) -> MissingKey:
    return MissingKey(f"no sealing key: set {KEY_ENV} or restore {state_dir / KEY_FILE}")


def _associated(secret: str, key: str) -> list[bytes]:
    return [b"mcpctl/v1 secret", secret.encode("utf-8"), key.encode("utf-8")]


def generate_key_file(path: Path) -> None:
    """Write a new random key to `path` with mode 0600 (refusing to overwrite one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n")


def load_sealer(state_dir: Path, *, create: bool = False) -> Sealer:
    """The sealer of `$MCPCTL_SEALING_KEY`, else of `<state_dir>/sealing.key`.

    With `create`, a missing key file is generated (first start). A key file
    readable by others is refused: it would open every secret in the repo.
    """
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Sealer.from_key(_decode_key(configured.strip(), KEY_ENV))
    path = state_dir / KEY_FILE
    if not path.exists():
        if not create:
            raise SealingError(
                f"no sealing key: set {KEY_ENV} or restore {path} (sealed secrets need it)"
            )
        generate_key_file(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SealingError(f"{path} is readable by others (mode {mode:o}): chmod 600 it")
    return Sealer.from_key(_decode_key(path.read_text(encoding="ascii").strip(), str(path)))


def install_key(state_dir: Path, text: str, key_id: str) -> Sealer:
    """Write the key `text` (base64) as `<state_dir>/sealing.key`, 0600, after checking that
    it is the key `key_id` names (a replica joining gets the cluster's key)."""
    sealer = Sealer.from_key(_decode_key(text.strip(), "the key received"))
    if not hmac.compare_digest(sealer.key_id, key_id):
        raise SealingError("the sealing key received is not the one the database names")
    path = state_dir / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text.strip() + "\n")
    return sealer


def _decode_key(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where}: the sealing key is not base64") from None
