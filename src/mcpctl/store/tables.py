"""The database tables: resource objects, the change log, identity and runtime records.

One table holds every resource kind (spec, labels and status as JSON), because
kinds share one envelope and one life cycle; `changes` is the append-only log
of writes whose sequence number is each object's `resourceVersion` (and,
later, what the git exporter follows). Credentials, sessions and token hashes
live beside, never inside, the exported objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back time-zone aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: mcpctl stores aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: An auto-incrementing 64-bit key (SQLite wants INTEGER for its rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UtcDateTime()}


class ObjectRow(Base):
    """One resource object of any kind."""

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("kind", "project", "name", name="uq_objects_kind_project_name"),
        Index("ix_objects_kind_project", "kind", "project"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: "" for kinds that are not project-scoped (a NULL would defeat the unique key).
    project: Mapped[str] = mapped_column(String(63), default="")
    name: Mapped[str] = mapped_column(String(63))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    resource_version: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(253))
    updated_by: Mapped[str] = mapped_column(String(253))
    #: The object as the API lists it (secret values masked), rendered at write time:
    #: a list of 10,000 objects joins these instead of building and encoding each.
    rendered: Mapped[str] = mapped_column(Text, default="")


class RefRow(Base):
    """One reference from an object to another, kept for "who uses this?" lookups."""

    __tablename__ = "object_refs"
    __table_args__ = (Index("ix_object_refs_target", "kind", "project", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("objects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    project: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))


class ChangeRow(Base):
    """One write to one object; `seq` orders every write of the database."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    project: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(63))
    verb: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(253))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: The write (one API request, one transaction) the change belongs to: one git commit.
    write_id: Mapped[str] = mapped_column(String(32), default="")
    #: Where the write came from when not the API: `push:<sha>`, `sync:<sha>`, `restore:<sha>`.
    source: Mapped[str] = mapped_column(String(80), default="")


class AuditRow(Base):
    """Who did what, with which token, and how it ended."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_time", "time"),
        Index("ix_audit_user", "user"),
        Index("ix_audit_kind", "kind"),
        Index("ix_audit_project", "project"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    user: Mapped[str] = mapped_column(String(253))
    token: Mapped[str | None] = mapped_column(String(253), nullable=True)
    verb: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    project: Mapped[str | None] = mapped_column(String(63), nullable=True)
    server: Mapped[str | None] = mapped_column(String(63), nullable=True)
    tool: Mapped[str | None] = mapped_column(String(256), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EventRow(Base):
    """Something that happened to an object (shown by `mcpctl describe`)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_object", "kind", "project", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    project: Mapped[str] = mapped_column(String(63), default="")
    name: Mapped[str] = mapped_column(String(63))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    last_timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(64), default="")


class CredentialRow(Base):
    """A user's password hash (argon2); never exported."""

    __tablename__ = "credentials"

    user: Mapped[str] = mapped_column(String(63), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionRow(Base):
    """A login session: the SHA-256 of its token, never the token."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(63), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class TokenRow(Base):
    """A machine token (McpToken or ServiceAccount token): its hash and limits."""

    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_owner", "kind", "name"),
        Index("ix_tokens_creator", "kind", "creator"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: "McpToken" or "ServiceAccount".
    kind: Mapped[str] = mapped_column(String(32))
    #: The McpToken's or the ServiceAccount's name.
    name: Mapped[str] = mapped_column(String(63))
    #: The first characters of the raw token, to tell tokens apart in audit entries.
    prefix: Mapped[str] = mapped_column(String(32))
    creator: Mapped[str] = mapped_column(String(253))
    project: Mapped[str | None] = mapped_column(String(63), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    #: rbacMode clone: the creator's bindings, frozen at creation.
    permissions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The hash of the token this one was minted through (it dies with it), if any.
    parent: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MetaRow(Base):
    """Key-value facts about the database itself (bootstrap done, ...)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LeaseRow(Base):
    """A lease held by one mcpd replica at a time (`store.leases`): who holds it, its term
    (the fencing token, raised at each takeover) and when it ends, in the database's clock
    (seconds since the epoch, so that no replica's own clock decides)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The holder: the replica's name and its process's incarnation ("" when free).
    holder: Mapped[str] = mapped_column(String(253), default="")
    #: Where the holder serves (its advertised URL): followers forward to it.
    url: Mapped[str] = mapped_column(String(1024), default="")
    term: Mapped[int] = mapped_column(BigId, default=0)
    acquired_at: Mapped[float] = mapped_column(Float, default=0.0)
    renewed_at: Mapped[float] = mapped_column(Float, default=0.0)
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)


class ReplicaRow(Base):
    """An mcpd replica of the cluster (`store.replicas`): where it serves, and when it was
    started and last seen (seconds since the epoch in the database's clock)."""

    __tablename__ = "replicas"

    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    #: Its process's incarnation (`name#id`, as in the lease).
    holder: Mapped[str] = mapped_column(String(253))
    url: Mapped[str] = mapped_column(String(1024))
    started_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)
