"""The envelope every resource shares, and the field types its kinds reuse.

Every model here is strict: unknown fields are errors, strings are not
coerced into numbers or booleans, and enums are closed. Field names are
snake_case in Python and camelCase in manifests (the alias).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from mcpctl.kindnames import API_VERSION as API_VERSION

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_RULE = (
    "must be a DNS label: at most 63 lowercase letters, digits and '-', "
    "starting and ending with a letter or digit"
)

#: A resource name (DNS label).
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=63)]

_LABEL_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
_DNS_SUBDOMAIN = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)"
LABEL_KEY_PATTERN = rf"^({_DNS_SUBDOMAIN}/)?{_LABEL_NAME}$"
LABEL_VALUE_PATTERN = rf"^{_LABEL_NAME}?$"

#: A label or annotation key, Kubernetes-style: ``[prefix/]name``.
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN, max_length=317)]
#: A label value: empty, or up to 63 alphanumerics with ``-_.`` inside.
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]

#: A key inside a Secret's data: what an environment variable or file name can use.
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
SecretKey = Annotated[str, StringConstraints(pattern=SECRET_KEY_PATTERN, max_length=253)]

#: An environment variable name.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN, max_length=253)]

#: An http(s) URL.
URL_PATTERN = r"^https?://[^\s/$.?#][^\s]*$"
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2048)]

#: A one-line human text (descriptions, display names).
ShortText = Annotated[str, StringConstraints(max_length=1024)]
#: A longer human text (instructions, prompt content).
LongText = Annotated[str, StringConstraints(max_length=1_000_000)]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


#: A timestamp with a time zone, kept in UTC; manifests carry it as an RFC 3339 string.
Timestamp = Annotated[AwareDatetime, Field(strict=False), AfterValidator(_to_utc)]


class Model(BaseModel):
    """Base of every manifest model: strict, closed, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )


class SecretKeyRef(Model):
    """A reference to one key of a Secret."""

    name: Name
    """The Secret's name."""
    key: SecretKey
    """The key inside the Secret's data."""


class ObjectMeta(Model):
    """Identity and labels of a cluster-wide object.

    The server fills the read-only fields; they are accepted on input (so that
    the output of `mcpctl get -o yaml` can be applied again) and ignored.
    """

    name: Name
    """Unique per kind: a DNS label."""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Identifying labels, selectable with `-l key=value`."""
    annotations: dict[LabelKey, Annotated[str, StringConstraints(max_length=65536)]] = Field(
        default_factory=dict
    )
    """Free-form notes for tools and people."""
    resource_version: str | None = None
    """Read-only: changes on every write; an update naming a stale one is refused."""
    generation: Annotated[int, Field(ge=0)] | None = None
    """Read-only: changes on every spec change."""
    created_at: Timestamp | None = None
    """Read-only."""
    updated_at: Timestamp | None = None
    """Read-only."""
    created_by: str | None = None
    """Read-only."""
    updated_by: str | None = None
    """Read-only."""


#: The metadata fields the server writes; dropped from the canonical git form.
SERVER_METADATA_FIELDS = frozenset(
    {"resourceVersion", "generation", "createdAt", "updatedAt", "createdBy", "updatedBy"}
)


class ProjectObjectMeta(ObjectMeta):
    """Metadata of a project-scoped object: the name is unique per project."""

    project: Name
    """The Project this object belongs to."""


class Resource(Model):
    """The envelope: apiVersion, kind, metadata, spec and (server-written) status."""

    KIND: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""
    PROJECT_SCOPED: ClassVar[bool] = False
    IN_GIT: ClassVar[bool] = True

    api_version: Literal["mcpctl/v1"]
    """Always `mcpctl/v1`."""
    kind: str
    metadata: ObjectMeta
    spec: Model
    status: dict[str, JsonValue] | None = None
    """Written by mcpd only; ignored on input and never stored in git."""

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def project(self) -> str | None:
        return getattr(self.metadata, "project", None)

    @property
    def ref(self) -> str:
        """``Kind/name`` or ``Kind/project/name``."""
        if self.project is not None:
            return f"{self.KIND}/{self.project}/{self.name}"
        return f"{self.KIND}/{self.name}"
