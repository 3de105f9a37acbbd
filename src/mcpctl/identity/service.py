"""Identity: authentication, login sessions, passwords, McpTokens, ServiceAccount tokens.

A presented token is looked up by its hash and compared in constant time; the
token formats and hashing are `credentials`, the first start's admin is
`bootstrap`, the throttling of failed logins `throttling`.

The API calls it to authenticate every request and for its auth endpoints; the
git endpoint authenticates pushes and fetches with it. Its queries are the
store's (`mcpctl.store.credentials`, `mcpctl.store.objects`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mcpctl.access import guard
from mcpctl.access.audit import record_audit
from mcpctl.access.cache import AccessCache, bump, cache_of
from mcpctl.access.guard import frozen_permissions
from mcpctl.access.policy import (
    Principal,
    grants_of,
    missing_grants,
    policy_of,
    require,
    require_run,
)
from mcpctl.access.rbac import Grant, Permissions
from mcpctl.errors import Forbidden, InvalidInput, NotFound
from mcpctl.identity.bootstrap import (
    AdminCreated,
    AdminFound,
    Bootstrapper,
    admin_found,
    seed_admin,
)
from mcpctl.identity.credentials import (
    MAX_PASSWORD,
    SA_PREFIX,
    SESSION_PREFIX,
    SESSION_TTL,
    TOKEN_PREFIX,
    Unauthenticated,
    check_password,
    hash_password,
    new_token,
    token_hash,
    token_prefix,
    verify_password,
)
from mcpctl.identity.throttling import LoginThrottle, admit_login
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.objects.service import ObjectService, utcnow
from mcpctl.objects.validating import validated
from mcpctl.schemas import API_VERSION, Binding, McpToken, Rbac
from mcpctl.store import CredentialRow, ObjectRow, Session, SessionRow, Sessions, TokenRow
from mcpctl.store.credentials import revoke_sessions, tokens_named
from mcpctl.store.objects import find_named
from mcpctl.store.rows import row_json


def _object_expiry(obj: ObjectRow) -> datetime | None:
    """spec.expiresAt of a stored McpToken (canonical RFC 3339, UTC)."""
    value = obj.spec.get("expiresAt")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _cached(cache: AccessCache, digest: str, now: datetime) -> Principal | None:
    """Who presents the credential `digest`, if the cache knows; raise if it has expired."""
    hit = cache.credentials.get(digest)
    if hit is None:
        return None
    principal, ends = hit
    if ends is not None and ends <= now:
        raise Unauthenticated("the credentials have expired")
    return principal


#: How many tokens a chain of tokens minted through tokens may hold.
MAX_CHAIN = 8


async def _check_token(session: Session, token: TokenRow, now: datetime) -> ObjectRow | None:
    """Raise Unauthenticated unless `token` is live; its McpToken object, if it is one.

    Live: not revoked nor expired (the row's own limit, and for an McpToken the
    object's, which an edit may have shortened), its McpToken object present, not
    revoked and still naming this hash, its ServiceAccount present.
    """
    if token.revoked_at is not None:
        raise Unauthenticated("the token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("the token has expired")
    if token.kind == "ServiceAccount":
        if await find_named(session, "ServiceAccount", token.name) is None:
            raise Unauthenticated("the token's ServiceAccount no longer exists")
        return None
    obj = await find_named(session, "McpToken", token.name)
    if (
        obj is None
        or obj.spec.get("revoked")
        or obj.spec.get("tokenHash") != f"sha256:{token.token_hash}"
    ):
        raise Unauthenticated("the token was revoked")
    ends = _object_expiry(obj)
    if ends is not None and ends <= now:
        raise Unauthenticated("the token has expired")
    return obj


async def _check_parents(session: Session, token: TokenRow, now: datetime) -> None:
    """Raise Unauthenticated if a token `token` was minted through is no longer live."""
    parent, depth = token.parent, 0
    while parent is not None and depth < MAX_CHAIN:
        row = await session.get(TokenRow, parent)
        if row is None:
            raise Unauthenticated("the token it was minted through is no longer valid")
        try:
            await _check_token(session, row, now)
        except Unauthenticated:
            raise Unauthenticated("the token it was minted through is no longer valid") from None
        parent, depth = row.parent, depth + 1


async def _expiry_of(session: Session, token: TokenRow) -> datetime | None:
    """When `token` stops authenticating at the latest (its own limits and its parents')."""
    ends: list[datetime] = []
    row: TokenRow | None = token
    depth = 0
    while row is not None and depth <= MAX_CHAIN:
        if row.expires_at is not None:
            ends.append(row.expires_at)
        if row.kind == "McpToken":
            obj = await find_named(session, "McpToken", row.name)
            ends.extend(e for e in [_object_expiry(obj) if obj else None] if e is not None)
        row = await session.get(TokenRow, row.parent) if row.parent else None
        depth += 1
    return min(ends) if ends else None


@dataclass(frozen=True)
class Login:
    token: str
    user: str
    expires_at: datetime


class IdentityService:
    def __init__(
        self, sessions: Sessions, objects: ObjectService, throttle: LoginThrottle | None = None
    ) -> None:
        self.sessions = sessions
        self.objects = objects
        self.throttle = throttle if throttle is not None else LoginThrottle()

    # ---- authentication ----------------------------------------------------------------

    async def authenticate(self, raw: str | None) -> Principal:
        if not raw:
            raise Unauthenticated("no credentials: log in (mcpctl login) or send a bearer token")
        digest = token_hash(raw)
        now = utcnow()
        cache = cache_of(self.sessions)
        if not cache.due():  # a hit costs no session at all
            hit = _cached(cache, digest, now)
            if hit is not None:
                return hit
        async with self.sessions() as session:
            epoch = await cache.fresh(session)
            hit = _cached(cache, digest, now)
            if hit is not None:
                return hit
            principal, ends = await self._authenticate(session, raw, digest, now)
            cache.remember(epoch, digest, principal, ends)
            return principal

    async def _authenticate(
        self, session: Session, raw: str, digest: str, now: datetime
    ) -> tuple[Principal, datetime | None]:
        """Who presents `raw` (not cached), and when that stops at the latest."""
        if raw.startswith(SESSION_PREFIX):
            row = await session.get(SessionRow, digest)
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                raise Unauthenticated("the session token is not valid")
            if row.revoked_at is not None or row.expires_at <= now:
                raise Unauthenticated("the session has expired or was logged out")
            principal = Principal.user(
                row.user, token=f"session ({token_prefix(raw)})", credential=digest
            )
            return principal, row.expires_at
        token = await session.get(TokenRow, digest)
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise Unauthenticated("the token is not valid")
        obj = await _check_token(session, token, now)
        await _check_parents(session, token, now)
        label = f"{token.name} ({token.prefix})"
        ends = await _expiry_of(session, token)
        if token.kind == "ServiceAccount":
            sa = Principal(
                "ServiceAccount",
                token.name,
                f"serviceaccount:{token.name}",
                label,
                credential=digest,
            )
            return sa, ends
        assert obj is not None
        resource = McpToken.model_validate(row_json(obj))
        creator = resource.spec.created_by or token.creator
        frozen: Permissions | None = None
        if resource.spec.rbac_mode == "clone":
            if resource.spec.cloned_bindings is not None:
                frozen = frozen_permissions(resource.spec.cloned_bindings)
            else:
                frozen = Permissions.from_list((token.permissions or {}).get("grants", []))
        principal = Principal(
            "McpToken",
            token.name,
            creator,
            label,
            creator=creator,
            frozen=frozen,
            project=resource.spec.project,
            credential=digest,
        )
        return principal, ends

    async def login(self, username: str, password: str, address: str | None = None) -> Login:
        """A session for `username`; a blocked name or `address` (the client's) is refused
        (`Throttled`) before any argon2 work: see `throttling`."""
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD:
            raise InvalidInput(f"a password has at most {MAX_PASSWORD} bytes")
        async with (
            admit_login(self.throttle, self.sessions, username, address) as attempt,
            self.sessions() as session,
            session.begin(),
        ):
            credential = await session.get(CredentialRow, username)
            ok = False
            if credential is not None:
                ok = await verify_password(credential.password_hash, password)
            else:
                # spend the same time: no user enumeration by timing
                await hash_password(password)
            user = await find_named(session, "User", username)
            if not ok or user is None:
                # committed with the block, not rolled back by the error: raised below
                await record_audit(
                    session,
                    None,
                    verb="login",
                    outcome="denied",
                    kind="User",
                    name=username,
                    user=username,
                    details={"address": address} if address else None,
                )
                attempt.failed()
                denied = True
            else:
                attempt.succeeded()
                denied = False
                raw = new_token(SESSION_PREFIX)
                now = utcnow()
                session.add(
                    SessionRow(
                        token_hash=token_hash(raw),
                        user=username,
                        created_at=now,
                        expires_at=now + SESSION_TTL,
                    )
                )
                await record_audit(
                    session,
                    Principal.user(username),
                    verb="login",
                    outcome="success",
                    kind="User",
                    name=username,
                )
        if denied:
            raise Unauthenticated("wrong user name or password")
        return Login(raw, username, now + SESSION_TTL)

    async def logout(self, raw: str) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(SessionRow, token_hash(raw))
            if row is None:
                raise InvalidInput("only a login session can be logged out")
            row.revoked_at = utcnow()
            await bump(session)

    async def set_password(
        self,
        principal: Principal,
        username: str,
        password: str,
        current: str | None = None,
    ) -> None:
        """Set a user's password: one's own (with the current one), or another's with
        `run set-passwords`, if they hold nothing the caller lacks (the caller could log
        in as them). Every other session of the user ends."""
        check_password(password)
        if principal.kind != "User":
            raise Forbidden(
                "forbidden: passwords are set by people who logged in, not with tokens "
                f"({principal.kind} {principal.name!r})"
            )
        own = principal.name == username
        async with self.sessions() as session, session.begin():
            user = await find_named(session, "User", username)
            credential = await session.get(CredentialRow, username)
            if own:
                if credential is not None:
                    if current is None:
                        raise InvalidInput(
                            "changing your own password needs your current one (currentPassword)"
                        )
                    # guesses of the current password count as failed logins of the name
                    async with admit_login(self.throttle, self.sessions, username, None) as attempt:
                        if not await verify_password(credential.password_hash, current):
                            attempt.failed()
                            raise Forbidden("forbidden: the current password is not right")
                        attempt.succeeded()
            else:
                policy = await policy_of(session, principal)
                require_run(policy, "set-passwords")
                if user is None:
                    raise NotFound(f"User/{username} not found")
                guard.require_holds(
                    policy, await grants_of(session, "User", username), f"User {username!r}"
                )
            if user is None:
                raise NotFound(f"User/{username} not found")
            hashed = await hash_password(password)
            now = utcnow()
            if credential is None:
                session.add(CredentialRow(user=username, password_hash=hashed, updated_at=now))
            else:
                credential.password_hash = hashed
                credential.updated_at = now
            await revoke_sessions(
                session, [username], now, keep=principal.credential if own else None
            )
            await bump(session)
            await record_audit(
                session,
                principal,
                verb="set-password",
                outcome="success",
                kind="User",
                name=username,
            )

    async def me(self, principal: Principal) -> dict[str, Any]:
        async with self.sessions() as session:
            if principal.kind == "McpToken":
                own = principal.frozen or await grants_of(session, "McpToken", principal.name)
            else:
                own = await grants_of(session, principal.kind, principal.name)
        body: dict[str, Any] = {
            "user": principal.actor,
            "kind": principal.kind,
            "name": principal.name,
            "permissions": own.to_list(),
        }
        if principal.token:
            body["token"] = principal.token
        if principal.project:
            body["project"] = principal.project
        return body

    # ---- tokens --------------------------------------------------------------------------

    async def create_mcptoken(self, principal: Principal, body: Any) -> tuple[str, dict[str, Any]]:
        """Create an McpToken (and its Rbac, when bindings are asked); the raw token once."""
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        bindings = body.pop("bindings", None)
        if principal.kind != "User":
            raise Forbidden("forbidden: only users create McpTokens (a token cannot make tokens)")
        raw = new_token(TOKEN_PREFIX)
        digest = token_hash(raw)
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise InvalidInput("spec must be an object")
        spec = dict(spec)
        spec["tokenHash"] = f"sha256:{digest}"
        spec["createdBy"] = principal.name
        for written_by_mcpd in ("revoked", "clonedBindings"):
            spec.pop(written_by_mcpd, None)
        wanted: list[Grant] = []
        if bindings is not None:
            if not isinstance(bindings, list):
                raise InvalidInput("bindings must be a list")
            try:
                wanted = [Grant.of(Binding.model_validate(b)) for b in bindings]
            except Exception as e:  # pydantic's ValidationError: one line is enough here
                raise InvalidInput(f"invalid bindings: {e}") from None
        async with self.sessions() as session, session.begin():
            policy = await policy_of(session, principal)
            missing = missing_grants(policy, wanted)
            if missing:
                raise Forbidden(
                    "forbidden: a token cannot get more than its creator holds; missing: "
                    + ", ".join(g.describe() for g in missing)
                )
            if spec.get("rbacMode") == "clone":
                creator = await grants_of(session, "User", principal.name)
                spec["clonedBindings"] = creator.to_list()
            token = validated({**body, "spec": spec}, McpToken, None)
            name = token.resource.name
            ends = token.resource.spec.expires_at  # type: ignore[attr-defined]
            if ends is not None and ends <= utcnow():
                raise InvalidInput(
                    f"spec.expiresAt {format_timestamp(ends)} is in the past: the token "
                    "would never work"
                )
            # the row first: the write stores only McpTokens whose hash mcpd issued live
            session.add(
                TokenRow(
                    token_hash=digest,
                    kind="McpToken",
                    name=name,
                    prefix=token_prefix(raw),
                    creator=principal.name,
                    project=token.resource.spec.project,  # type: ignore[attr-defined]
                    created_at=utcnow(),
                    expires_at=ends,
                )
            )
            await session.flush()
            manifests = [token]
            if wanted:
                # the token's own Rbac: authorized by the ceiling check above, not by
                # `create rbacs`, and written in the same transaction as the token
                manifests.append(
                    validated(
                        {
                            "apiVersion": API_VERSION,
                            "kind": "Rbac",
                            "metadata": {"name": f"token-{name}"[:63].rstrip("-")},
                            "spec": {
                                "subjects": [{"kind": "McpToken", "name": name}],
                                "bindings": [g.to_dict() for g in wanted],
                            },
                        },
                        Rbac,
                        None,
                    )
                )
            written = await self.objects.create_in(
                session, principal, manifests, granted=frozenset(m.key for m in manifests[1:])
            )
            created = next(o for o in written if o["kind"] == "McpToken")
        return raw, created

    async def revoke_mcptoken(self, principal: Principal, name: str) -> dict[str, Any]:
        current = await self.objects.get(principal, McpToken, None, name)
        spec = {**current["spec"], "revoked": True}
        body = {**current, "spec": spec}
        # the write revokes the token's rows (access.credentials), and what was minted
        # through it stops authenticating with it
        return await self.objects.replace(principal, McpToken, None, name, body)

    async def create_sa_token(
        self, principal: Principal, name: str, expires_at: datetime | None
    ) -> str:
        """A new token for ServiceAccount `name` (the raw token, once).

        The caller must hold everything the ServiceAccount holds (they could act as
        it). A token minted through a token dies with it and may not outlive it.
        """
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput(
                f"expiresAt {format_timestamp(expires_at)} is in the past: the token would "
                "never work"
            )
        async with self.sessions() as session, session.begin():
            policy = await policy_of(session, principal)
            require(policy, "edit", "serviceaccounts", name)
            sa = await find_named(session, "ServiceAccount", name)
            if sa is None:
                raise NotFound(f"ServiceAccount/{name} not found")
            guard.require_holds(
                policy,
                await grants_of(session, "ServiceAccount", name),
                f"ServiceAccount {name!r}",
            )
            parent: str | None = None
            if principal.kind in ("McpToken", "ServiceAccount") and principal.credential:
                through = await session.get(TokenRow, principal.credential)
                if through is not None:
                    parent = through.token_hash
                    limit = await _expiry_of(session, through)
                    if limit is not None and expires_at is None:
                        expires_at = limit
                    elif limit is not None and expires_at is not None and expires_at > limit:
                        raise Forbidden(
                            f"forbidden: a token minted with {principal.token} cannot outlive "
                            f"it (it expires at {format_timestamp(limit)})"
                        )
            raw = new_token(SA_PREFIX)
            session.add(
                TokenRow(
                    token_hash=token_hash(raw),
                    kind="ServiceAccount",
                    name=name,
                    prefix=token_prefix(raw),
                    creator=principal.actor,
                    created_at=now,
                    expires_at=expires_at,
                    parent=parent,
                )
            )
            await record_audit(
                session,
                principal,
                verb="create-token",
                outcome="success",
                kind="ServiceAccount",
                name=name,
            )
            return raw

    async def sa_tokens(self, principal: Principal, name: str) -> list[dict[str, Any]]:
        """The tokens of ServiceAccount `name`: prefix, creator, times, whether revoked."""
        async with self.sessions() as session:
            require(await policy_of(session, principal), "view", "serviceaccounts", name)
            if await find_named(session, "ServiceAccount", name) is None:
                raise NotFound(f"ServiceAccount/{name} not found")
            rows = await tokens_named(session, "ServiceAccount", name)
        now = utcnow()
        return [
            {
                "prefix": row.prefix,
                "createdBy": row.creator,
                "createdAt": format_timestamp(row.created_at),
                "expiresAt": format_timestamp(row.expires_at) if row.expires_at else None,
                "revokedAt": format_timestamp(row.revoked_at) if row.revoked_at else None,
                "active": row.revoked_at is None
                and (row.expires_at is None or row.expires_at > now),
            }
            for row in sorted(rows, key=lambda r: r.created_at)
        ]

    async def revoke_sa_tokens(
        self, principal: Principal, name: str, prefix: str | None = None
    ) -> int:
        """Revoke the live tokens of ServiceAccount `name` (those starting `prefix`, or
        all); how many. Tokens minted through them stop authenticating too."""
        async with self.sessions() as session, session.begin():
            require(await policy_of(session, principal), "edit", "serviceaccounts", name)
            if await find_named(session, "ServiceAccount", name) is None:
                raise NotFound(f"ServiceAccount/{name} not found")
            rows = [
                r
                for r in await tokens_named(session, "ServiceAccount", name)
                if r.revoked_at is None and (prefix is None or r.prefix.startswith(prefix))
            ]
            if prefix is not None and not rows:
                raise NotFound(f"ServiceAccount/{name} has no live token starting {prefix!r}")
            now = utcnow()
            for row in rows:
                row.revoked_at = now
            await bump(session)
            await record_audit(
                session,
                principal,
                verb="revoke-token",
                outcome="success",
                kind="ServiceAccount",
                name=name,
                details={"tokens": sorted(r.prefix for r in rows)},
            )
            return len(rows)

    async def introspect(self, raw: str) -> dict[str, Any]:
        try:
            principal = await self.authenticate(raw)
        except Unauthenticated:
            return {"active": False}
        body: dict[str, Any] = {
            "active": True,
            "kind": principal.kind,
            "name": principal.name,
            "user": principal.actor,
        }
        if principal.kind == "McpToken":
            async with self.sessions() as session:
                row = await session.get(TokenRow, token_hash(raw))
                assert row is not None
                obj = await find_named(session, "McpToken", row.name)
                if row.project:
                    body["project"] = row.project
                ends = [
                    e
                    for e in (row.expires_at, _object_expiry(obj) if obj else None)
                    if e is not None
                ]
                if ends:
                    body["expiresAt"] = format_timestamp(min(ends))
        return body

    # ---- bootstrap -----------------------------------------------------------------------

    async def bootstrap(self, creator: Bootstrapper) -> AdminCreated | AdminFound:
        """First start: seed and create the admin as `creator` (its password and a session
        token), once per database however many mcpd start at once; or find it done, and
        by whom (see `identity.bootstrap`)."""
        return await seed_admin(self.sessions, self.objects, creator)

    async def admin_found(self) -> AdminFound | None:
        """Who made the admin (None: nobody yet), creating nothing."""
        return await admin_found(self.sessions)
