"""Server and Template: how an MCP server is run or reached.

A Server names exactly one source: a `template` (built-in or declared), a
container `image`, a local `command`, or an `externalUrl`. The transport is
inferred where it can be (a command or image without a port speaks STDIO) and
required where it cannot (an external URL). A Template carries what a Server
has, plus typed parameters that the Servers using it fill in through `env`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, JsonValue, StringConstraints, model_validator

from mcpctl.schemas._base import (
    EnvName,
    Model,
    Name,
    ObjectMeta,
    Resource,
    SecretKeyRef,
    ShortText,
    Url,
)
from mcpctl.schemas.quantities import MemoryQuantity

Transport = Literal["stdio", "sse", "streamable-http"]
HTTP_TRANSPORTS = frozenset({"sse", "streamable-http"})

#: The MCP tool name rule clients enforce.
ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
#: An HTTP header field name (RFC 9110 token).
HeaderName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")]
#: A container image reference.
ImageRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$", max_length=512)
]
Argument = Annotated[str, StringConstraints(max_length=32768)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ValueSource(Model):
    """Where a value comes from when it is not written inline."""

    secret_ref: SecretKeyRef
    """A key of a Secret."""


_InlineValue = Annotated[str, StringConstraints(max_length=32768)]


def _exactly_one_value(value: str | None, value_from: ValueSource | None) -> None:
    if (value is None) == (value_from is None):
        raise ValueError("set exactly one of value or valueFrom")


def _one_of(*fields: str) -> ConfigDict:
    """Config that states "exactly one of these fields" in the JSON Schema too."""
    return ConfigDict(json_schema_extra={"oneOf": [{"required": [f]} for f in fields]})


class EnvVar(Model):
    """An environment variable of the server process."""

    model_config = _one_of("value", "valueFrom")

    name: EnvName
    value: _InlineValue | None = None
    """The value, inline (never for credentials: use valueFrom)."""
    value_from: ValueSource | None = None
    """The value from a Secret."""

    @model_validator(mode="after")
    def _check_exactly_one(self) -> EnvVar:
        _exactly_one_value(self.value, self.value_from)
        return self


class HeaderVar(Model):
    """An HTTP header sent to a remote server (e.g. Authorization)."""

    model_config = _one_of("value", "valueFrom")

    name: HeaderName
    value: _InlineValue | None = None
    """The value, inline (never for credentials: use valueFrom)."""
    value_from: ValueSource | None = None
    """The value from a Secret."""

    @model_validator(mode="after")
    def _check_exactly_one(self) -> HeaderVar:
        _exactly_one_value(self.value, self.value_from)
        return self


class HealthCheck(Model):
    """How mcpd decides that an instance is healthy."""

    tool: ToolName | None = None
    """A tool to call; without one, the probe is `tools/list`."""
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    """The tool's arguments."""
    interval_seconds: Annotated[int, Field(ge=1, le=86400)] = 30
    """Seconds between probes."""
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    """Seconds a probe may take."""
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    """Consecutive failures before the instance is unhealthy."""

    @model_validator(mode="after")
    def _check_timing(self) -> HealthCheck:
        if self.timeout_seconds > self.interval_seconds:
            raise ValueError(
                f"timeoutSeconds ({self.timeout_seconds}) must not exceed "
                f"intervalSeconds ({self.interval_seconds})"
            )
        if self.arguments and self.tool is None:
            raise ValueError("arguments need a tool")
        return self


#: What an `image` server's instance may use when its Server does not say (see `ServerResources`).
DEFAULT_MEMORY = "512Mi"
DEFAULT_CPUS = 1.0


class ServerResources(Model):
    """What one instance of an `image` server may use: the container's limits.

    Unset, an instance gets 512Mi of memory and one CPU: enough for the MCP servers
    published as images, small enough that a runaway one does not take the host with
    it. The kernel ends an instance that goes past its memory (its exit says
    `OOMKilled`); CPU past the limit is throttled, not ended."""

    memory: MemoryQuantity = DEFAULT_MEMORY
    """Memory, Kubernetes-style: 256Mi, 1Gi, 500M (at least 6Mi; 512Mi when unset)."""
    cpus: Annotated[float, Field(ge=0.01, le=1024)] = DEFAULT_CPUS
    """CPUs, fractions allowed: 0.5 is half of one CPU (1.0 when unset)."""


_ParameterValue = Annotated[str, StringConstraints(max_length=32768)]

_INTEGER_TEXT = re.compile(r"^[-+]?[0-9]+$")
_URL_TEXT = re.compile(r"^https?://\S+$")


class TemplateParameter(Model):
    """A typed input of a Template, filled in by a Server's env entry of the same name.

    Environment values are text, so the type says what the text must look like:
    `integer` (`-3`), `number` (`1.5`, `1e3`, finite), `boolean` (`true` or `false`),
    `url` (http or https), or any `string`; `enum` closes the list of values.
    The default and every enum value must be of the type themselves. A secret
    parameter has neither: its value comes from a Secret, which no check reads,
    and a default would be a credential in plain text.
    """

    name: EnvName
    type: Literal["string", "integer", "number", "boolean", "url"] = "string"
    """What a literal value must look like."""
    description: ShortText = ""
    required: bool = False
    """A Server using the template must set it (unless it has a default)."""
    secret: bool = False
    """The value is a credential: Servers must give it with valueFrom.secretRef."""
    default: _ParameterValue | None = None
    """The value when a Server does not set it."""
    enum: Annotated[list[_ParameterValue], Field(min_length=1, max_length=256)] | None = None
    """The only values allowed, each of the declared type."""

    def refusal(self, value: str) -> str | None:
        """What a literal `value` must be to fill this parameter (None: it may), as words
        that follow "must be": `an integer`, `one of chrome, firefox`."""
        wrong = self._type_refusal(value)
        if wrong is None and self.enum is not None and value not in self.enum:
            return "one of " + ", ".join(self.enum)
        return wrong

    def _type_refusal(self, value: str) -> str | None:
        if self.type == "integer" and not _INTEGER_TEXT.match(value):
            return "an integer"
        if self.type == "number":
            try:
                if not math.isfinite(float(value)):
                    return "a finite number"
            except ValueError:
                return "a number"
        if self.type == "boolean" and value not in ("true", "false"):
            return "true or false"
        if self.type == "url" and not _URL_TEXT.match(value):
            return "an http(s) URL"
        return None

    @model_validator(mode="after")
    def _check_values(self) -> TemplateParameter:
        problems: list[str] = []
        if self.secret and self.default is not None:
            problems.append(
                "a secret parameter has no default (it would be a credential in plain text): "
                "Servers give it from a Secret"
            )
        if self.secret and self.enum is not None:
            problems.append(
                "a secret parameter has no enum: its value comes from a Secret, which no "
                "check reads"
            )
        if self.enum is not None and not self.secret:
            problems.extend(_duplicates("enum", self.enum))
            for value in self.enum:
                wrong = self._type_refusal(value)
                if wrong is not None:
                    problems.append(f"enum value {value!r} must be {wrong}")
        if self.default is not None and not self.secret:
            wrong = self.refusal(self.default)
            if wrong is not None:
                problems.append(f"default {self.default!r} must be {wrong}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _source_problems(
    *,
    sources: dict[str, bool],
    transport: str | None,
    container_port: int | None,
    has_env: bool,
    has_headers: bool,
) -> list[str]:
    """What is wrong with a runtime-shaping combination of fields (shared by both kinds)."""
    given = [name for name, present in sources.items() if present]
    if len(given) != 1:
        choice = " / ".join(sources)
        if not given:
            return [f"set one of {choice}"]
        return [f"set only one of {choice} (got {', '.join(given)})"]
    source = given[0]
    problems: list[str] = []
    if source == "externalUrl":
        if transport is None:
            problems.append("transport is required with externalUrl: sse or streamable-http")
        elif transport == "stdio":
            problems.append("an externalUrl server speaks sse or streamable-http, not stdio")
        if container_port is not None:
            problems.append("containerPort does not apply to an externalUrl server")
        if has_env:
            problems.append("env does not apply to an externalUrl server (use headers)")
    elif source in ("image", "command"):
        # A command may go without: the process runtime gives each instance a free port
        # (in PORT), so that two instances of one Server never want the same one.
        if transport in HTTP_TRANSPORTS and container_port is None and source == "image":
            problems.append(f"a {transport} server run from {source} needs containerPort")
        if container_port is not None and transport is None:
            problems.append("transport is required with containerPort: sse or streamable-http")
        if container_port is not None and transport == "stdio":
            problems.append("containerPort does not apply to a stdio server")
        if has_headers and transport in (None, "stdio"):
            problems.append("headers apply only to sse and streamable-http servers")
    return problems


class TemplateSpec(Model):
    """A reusable server definition with typed parameters."""

    model_config = _one_of("image", "command", "externalUrl")

    description: ShortText = ""
    image: ImageRef | None = None
    """A container image to run."""
    command: Annotated[list[Argument], Field(min_length=1)] | None = None
    """A local command (argv) to run."""
    external_url: Url | None = None
    """A remote server to reach."""
    transport: Transport | None = None
    """stdio (inferred for a command or image without a port), sse or streamable-http."""
    container_port: Port | None = None
    """The port the server listens on, for sse and streamable-http servers mcpd starts:
    required for an image; a command without one is given a free port in `PORT`, each
    instance its own (with one, every instance of it is told that port)."""
    env: list[EnvVar] = Field(default_factory=list)
    """Fixed environment of the process."""
    headers: list[HeaderVar] = Field(default_factory=list)
    """HTTP headers sent to the server."""
    health_check: HealthCheck | None = None
    parameters: list[TemplateParameter] = Field(default_factory=list)
    """Inputs a Server fills in through env entries of the same names."""

    @model_validator(mode="after")
    def _check_source(self) -> TemplateSpec:
        problems = _source_problems(
            sources={
                "image": self.image is not None,
                "command": self.command is not None,
                "externalUrl": self.external_url is not None,
            },
            transport=self.transport,
            container_port=self.container_port,
            has_env=bool(self.env) or bool(self.parameters),
            has_headers=bool(self.headers),
        )
        problems.extend(_duplicates("env", [e.name for e in self.env]))
        problems.extend(_duplicates("headers", [h.name.lower() for h in self.headers]))
        problems.extend(_duplicates("parameters", [p.name for p in self.parameters]))
        fixed = {e.name for e in self.env}
        problems.extend(
            f"{p.name} is both a fixed env entry and a parameter: keep one (a parameter "
            "may have a default)"
            for p in self.parameters
            if p.name in fixed
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Template(Resource):
    KIND: ClassVar[str] = "Template"
    PLURAL: ClassVar[str] = "templates"

    kind: Literal["Template"]
    metadata: ObjectMeta
    spec: TemplateSpec


class ServerSpec(Model):
    """An MCP server: where it comes from, how it is spoken to, how many run."""

    model_config = _one_of("template", "image", "command", "externalUrl")

    template: Name | None = None
    """A Template (built-in or declared) to start from."""
    image: ImageRef | None = None
    """A container image to run."""
    command: Annotated[list[Argument], Field(min_length=1)] | None = None
    """A local command (argv) to run."""
    external_url: Url | None = None
    """A remote server to reach."""
    transport: Transport | None = None
    """stdio (inferred for a command or image without a port), sse or streamable-http."""
    container_port: Port | None = None
    """The port the server listens on, for sse and streamable-http servers mcpd starts:
    required for an image; a command without one is given a free port in `PORT`, each
    instance its own (with one, every instance of it is told that port)."""
    replicas: Annotated[int, Field(ge=0, le=100)] = 1
    """How many instances to run; 0 stops the server and keeps its definition."""
    env: list[EnvVar] = Field(default_factory=list)
    """Environment of the process; with a template, fills its parameters."""
    headers: list[HeaderVar] = Field(default_factory=list)
    """HTTP headers sent to the server (e.g. an Authorization header from a Secret)."""
    health_check: HealthCheck | None = None
    """How health is probed; the default probe is `tools/list`."""
    resources: ServerResources | None = None
    """The container's memory and CPU limits, for `image` servers (unset: 512Mi and 1 CPU)."""
    no_new_privileges: bool = True
    """For `image` servers: the container's processes may not gain privileges (setuid
    binaries, file capabilities) beyond those they start with (true when unset)."""

    @model_validator(mode="after")
    def _check_source(self) -> ServerSpec:
        sources = {
            "template": self.template is not None,
            "image": self.image is not None,
            "command": self.command is not None,
            "externalUrl": self.external_url is not None,
        }
        problems = _source_problems(
            sources=sources,
            transport=self.transport,
            container_port=self.container_port,
            has_env=bool(self.env),
            has_headers=bool(self.headers),
        )
        if self.template is not None:
            overriding = [
                alias
                for alias, field in (
                    ("transport", "transport"),
                    ("containerPort", "container_port"),
                )
                if getattr(self, field) is not None
            ]
            if overriding:
                verb, pronoun = ("comes", "it") if len(overriding) == 1 else ("come", "them")
                problems.append(
                    f"{', '.join(overriding)} {verb} from the template; remove {pronoun}"
                )
        if self.external_url is not None and "replicas" in self.model_fields_set:
            problems.append("replicas does not apply to an externalUrl server")
        problems.extend(self._container_problems())
        problems.extend(_duplicates("env", [e.name for e in self.env]))
        problems.extend(_duplicates("headers", [h.name.lower() for h in self.headers]))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _container_problems(self) -> list[str]:
        """The container-only fields on a server that runs no container.

        A template may run an image: `manifests.check_set` looks at the template."""
        if self.command is None and self.external_url is None:
            return []
        given = [
            alias
            for alias, field in (
                ("resources", "resources"),
                ("noNewPrivileges", "no_new_privileges"),
            )
            if field in self.model_fields_set
        ]
        if not given:
            return []
        runs = "runs a command" if self.command is not None else "is reached at an externalUrl"
        verb = "applies" if len(given) == 1 else "apply"
        return [f"{' and '.join(given)} {verb} only to image servers (this one {runs})"]

    def inferred_transport(self) -> Transport | None:
        """The transport, inferred for a command or image without a port (None with a template)."""
        if self.transport is not None:
            return self.transport
        if self.template is None and self.external_url is None:
            return "stdio"
        return None


class Server(Resource):
    KIND: ClassVar[str] = "Server"
    PLURAL: ClassVar[str] = "servers"

    kind: Literal["Server"]
    metadata: ObjectMeta
    spec: ServerSpec


def _duplicates(field: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for name in names:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return [f"{field} names {name!r} more than once" for name in dups]


__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_MEMORY",
    "EnvVar",
    "HeaderVar",
    "HealthCheck",
    "Server",
    "ServerResources",
    "ServerSpec",
    "Template",
    "TemplateParameter",
    "TemplateSpec",
    "Transport",
    "ValueSource",
]
