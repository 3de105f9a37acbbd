"""Credentials: token formats, their hashes, and password hashing.

Raw tokens are shown once and stored only as SHA-256 (`token_hash`); a
presented token is looked up by its hash and compared in constant time by the
caller. Passwords are argon2 hashes, about 0.1 s of CPU each: `hash_password`
and `verify_password` run in a worker thread. Used by `identity.service` (login,
tokens) and `identity.bootstrap` (the admin's first password and session).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mcpctl.errors import InvalidInput, McpctlError

SESSION_PREFIX = "mcpctl_sess_"
TOKEN_PREFIX = "mcpctl_pat_"
SA_PREFIX = "mcpctl_sat_"
SESSION_TTL = timedelta(hours=12)
BOOTSTRAP_SESSION_TTL = timedelta(days=90)
MIN_PASSWORD = 8
#: argon2 hashes any length; a bound keeps a request from making it work on megabytes.
MAX_PASSWORD = 1024

_hasher = PasswordHasher()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made of (in a worker thread)."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def hash_password(password: str) -> str:
    """The argon2 hash of `password` (in a worker thread)."""
    return await asyncio.to_thread(_hasher.hash, password)


def check_password(password: str) -> None:
    """Refuse a new password that is too short or too long (InvalidInput)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} bytes")
    if "\x00" in password:
        raise InvalidInput("a password cannot contain NUL characters")


class Unauthenticated(McpctlError):
    """No credentials, or credentials that are wrong, expired or revoked."""


def token_hash(raw: str) -> str:
    """What the store keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    """A new raw token of the kind `prefix` names (`mcpctl_sess_`, `mcpctl_pat_`, ...)."""
    return prefix + secrets.token_urlsafe(32)


def token_prefix(raw: str) -> str:
    """The part of a token shown in audit entries and lists: its kind and 4 characters."""
    return raw[: len(raw.split("_", 2)[0]) + 1 + len(raw.split("_", 2)[1]) + 1 + 4]
