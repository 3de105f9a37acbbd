"""Identity: authentication, login sessions, passwords, McpTokens, ServiceAccount tokens.

A presented token is looked up by its hash and compared in constant time; the
token formats and hashing are `credentials`, the first start's admin is
`bootstrap`.

The API calls it to authenticate every request and for its auth endpoints; the
git endpoint authenticates pushes and fetches with it. Its queries are the
store's (`mcpctl.store.credentials`, `mcpctl.store.objects`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mcpctl.access.audit import record_audit
from mcpctl.access.policy import (
    Principal,
    grants_of,
    missing_grants,
    policy_of,
    require,
)
from mcpctl.access.rbac import Grant, Permissions
from mcpctl.errors import Forbidden, InvalidInput, NotFound
from mcpctl.identity.bootstrap import seed_admin
from mcpctl.identity.credentials import (
    MIN_PASSWORD,
    SA_PREFIX,
    SESSION_PREFIX,
    SESSION_TTL,
    TOKEN_PREFIX,
    Unauthenticated,
    hash_password,
    new_token,
    token_hash,
    token_prefix,
    verify_password,
)
from mcpctl.manifests.canonical import format_timestamp
from mcpctl.objects.service import ObjectService, utcnow
from mcpctl.objects.validating import validated
from mcpctl.schemas import API_VERSION, Binding, McpToken, Rbac
from mcpctl.store import CredentialRow, ObjectRow, SessionRow, Sessions, TokenRow
from mcpctl.store.credentials import tokens_named
from mcpctl.store.objects import find_named


def _object_expiry(obj: ObjectRow) -> datetime | None:
    """spec.expiresAt of a stored McpToken (canonical RFC 3339, UTC)."""
    value = obj.spec.get("expiresAt")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class Login:
    token: str
    user: str
    expires_at: datetime


class IdentityService:
    def __init__(self, sessions: Sessions, objects: ObjectService) -> None:
        self.sessions = sessions
        self.objects = objects

    # ---- authentication ----------------------------------------------------------------

    async def authenticate(self, raw: str | None) -> Principal:
        if not raw:
            raise Unauthenticated("no credentials: log in (mcpctl login) or send a bearer token")
        digest = token_hash(raw)
        now = utcnow()
        async with self.sessions() as session:
            if raw.startswith(SESSION_PREFIX):
                row = await session.get(SessionRow, digest)
                if row is None or not hmac.compare_digest(row.token_hash, digest):
                    raise Unauthenticated("the session token is not valid")
                if row.revoked_at is not None or row.expires_at <= now:
                    raise Unauthenticated("the session has expired or was logged out")
                return Principal.user(row.user, token=f"session ({token_prefix(raw)})")
            token = await session.get(TokenRow, digest)
            if token is None or not hmac.compare_digest(token.token_hash, digest):
                raise Unauthenticated("the token is not valid")
            if token.revoked_at is not None:
                raise Unauthenticated("the token was revoked")
            if token.expires_at is not None and token.expires_at <= now:
                raise Unauthenticated("the token has expired")
            label = f"{token.name} ({token.prefix})"
            if token.kind == "ServiceAccount":
                sa = await find_named(session, "ServiceAccount", token.name)
                if sa is None:
                    raise Unauthenticated("the token's ServiceAccount no longer exists")
                return Principal(
                    "ServiceAccount", token.name, f"serviceaccount:{token.name}", label
                )
            obj = await find_named(session, "McpToken", token.name)
            if obj is None or obj.spec.get("revoked"):
                raise Unauthenticated("the token was revoked")
            # the object as edited, applied or pushed since may end the token earlier
            ends = _object_expiry(obj)
            if ends is not None and ends <= now:
                raise Unauthenticated("the token has expired")
            frozen = (
                Permissions.from_list(token.permissions["grants"]) if token.permissions else None
            )
            return Principal(
                "McpToken",
                token.name,
                token.creator,
                label,
                creator=token.creator,
                frozen=frozen,
                project=token.project,
            )

    async def login(self, username: str, password: str) -> Login:
        async with self.sessions() as session, session.begin():
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
                )
                denied = True
            else:
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

    async def set_password(self, principal: Principal, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
        async with self.sessions() as session, session.begin():
            if not (principal.kind == "User" and principal.name == username):
                require(await policy_of(session, principal), "edit", "users", username)
            user = await find_named(session, "User", username)
            if user is None:
                raise NotFound(f"User/{username} not found")
            hashed = await hash_password(password)
            credential = await session.get(CredentialRow, username)
            if credential is None:
                session.add(CredentialRow(user=username, password_hash=hashed, updated_at=utcnow()))
            else:
                credential.password_hash = hashed
                credential.updated_at = utcnow()
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
        spec.pop("revoked", None)
        body = {**body, "spec": spec}
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
            token = validated(body, McpToken, None)
            name = token.resource.name
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
            resource = McpToken.model_validate(created)
            frozen: dict[str, Any] | None = None
            if resource.spec.rbac_mode == "clone":
                creator = await grants_of(session, "User", principal.name)
                frozen = {"grants": creator.to_list()}
            session.add(
                TokenRow(
                    token_hash=digest,
                    kind="McpToken",
                    name=name,
                    prefix=token_prefix(raw),
                    creator=principal.name,
                    project=resource.spec.project,
                    created_at=utcnow(),
                    expires_at=resource.spec.expires_at,
                    permissions=frozen,
                )
            )
        return raw, created

    async def revoke_mcptoken(self, principal: Principal, name: str) -> dict[str, Any]:
        current = await self.objects.get(principal, McpToken, None, name)
        spec = {**current["spec"], "revoked": True}
        body = {**current, "spec": spec}
        updated = await self.objects.replace(principal, McpToken, None, name, body)
        async with self.sessions() as session, session.begin():
            rows = await tokens_named(session, "McpToken", name)
            for row in rows:
                row.revoked_at = row.revoked_at or utcnow()
        return updated

    async def create_sa_token(
        self, principal: Principal, name: str, expires_at: datetime | None
    ) -> str:
        async with self.sessions() as session, session.begin():
            policy = await policy_of(session, principal)
            require(policy, "edit", "serviceaccounts", name)
            sa = await find_named(session, "ServiceAccount", name)
            if sa is None:
                raise NotFound(f"ServiceAccount/{name} not found")
            missing = missing_grants(
                policy,
                sorted(
                    (await grants_of(session, "ServiceAccount", name)).grants, key=Grant.describe
                ),
            )
            if missing:
                raise Forbidden(
                    f"forbidden: ServiceAccount {name!r} holds what you do not: "
                    + ", ".join(g.describe() for g in missing)
                )
            raw = new_token(SA_PREFIX)
            session.add(
                TokenRow(
                    token_hash=token_hash(raw),
                    kind="ServiceAccount",
                    name=name,
                    prefix=token_prefix(raw),
                    creator=principal.actor,
                    created_at=utcnow(),
                    expires_at=expires_at,
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

    async def bootstrap(self) -> tuple[str, str] | None:
        """First start: seed, create the admin; (admin password, session token), or None."""
        return await seed_admin(self.sessions, self.objects)
