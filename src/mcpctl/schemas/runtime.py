"""Instance, Event and AuditEvent: objects mcpd creates at run time.

They are never written to git; they are in the schema so that the API, the CLI
and `mcpctl validate` speak of them in the same words as of everything else.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, JsonValue, StringConstraints

from mcpctl.schemas._base import Model, Name, ObjectMeta, Resource, ShortText, Timestamp

Text = Annotated[str, StringConstraints(max_length=32768)]


class InstanceSpec(Model):
    """One running copy of a Server, like a Pod of a Deployment."""

    server: Name
    """The Server this instance runs."""
    runtime: Literal["process", "docker", "external"]
    """The driver running it."""
    node: ShortText = ""
    """Where it runs (host name)."""


class Instance(Resource):
    KIND: ClassVar[str] = "Instance"
    PLURAL: ClassVar[str] = "instances"
    IN_GIT: ClassVar[bool] = False

    kind: Literal["Instance"]
    metadata: ObjectMeta
    spec: InstanceSpec


class ObjectReference(Model):
    """The object an event is about."""

    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]{0,63}$")]
    name: Name
    project: Name | None = None


class EventSpec(Model):
    """Something that happened to an object, for `mcpctl describe`."""

    type: Literal["Normal", "Warning"] = "Normal"
    reason: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{0,127}$")]
    """CamelCase cause, e.g. `ConflictOverridden`, `Unhealthy`."""
    message: Text
    involved_object: ObjectReference
    count: Annotated[int, Field(ge=1)] = 1
    first_timestamp: Timestamp
    last_timestamp: Timestamp
    source: ShortText = ""
    """The component that reported it (importer, reconciler, proxy, ...)."""


class Event(Resource):
    KIND: ClassVar[str] = "Event"
    PLURAL: ClassVar[str] = "events"
    IN_GIT: ClassVar[bool] = False

    kind: Literal["Event"]
    metadata: ObjectMeta
    spec: EventSpec


class AuditEventSpec(Model):
    """One write, denied attempt or proxied tool call: who, with what, and how it ended."""

    time: Timestamp
    user: ShortText
    """The acting user or service account."""
    token: ShortText | None = None
    """The token's name and hash prefix, when a token was used."""
    verb: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,31}$")]
    """create, update, delete, apply, call, login, restore, ..."""
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]{0,63}$")] | None = None
    name: Name | None = None
    project: Name | None = None
    server: Name | None = None
    tool: ShortText | None = None
    outcome: Literal["success", "denied", "throttled", "overridden", "error"]
    """throttled: a login refused unchecked, after too many failures (a 429);
    overridden: an import's change of an object the database had changed since (the
    database's version kept)."""
    duration_ms: Annotated[float, Field(ge=0)] | None = None
    request_id: ShortText | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)


class AuditEvent(Resource):
    KIND: ClassVar[str] = "AuditEvent"
    PLURAL: ClassVar[str] = "auditevents"
    IN_GIT: ClassVar[bool] = False

    kind: Literal["AuditEvent"]
    metadata: ObjectMeta
    spec: AuditEventSpec
