"""Project, Prompt and PromptRequest: what an AI client sees at one endpoint.

A Project groups Servers behind one MCP endpoint. Prompts belong to a project
(their name is unique within it); a PromptRequest is a prompt proposed by a
model through the proxy, waiting for a person to approve it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from mcpctl.schemas._base import (
    LongText,
    Model,
    Name,
    ObjectMeta,
    ProjectObjectMeta,
    Resource,
    ShortText,
    Timestamp,
)

Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,62}$")]

#: `project/server:uri`: a resource of a server in a project.
LINK_TARGET_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?:\S+$"


class ProjectLlms(Model):
    """The Llm entries a project uses, by tier."""

    fast: Name | None = None
    """An Llm of tier fast: gates sessions and selects prompts."""
    heavy: Name | None = None
    """An Llm of tier heavy."""


class ProjectSpec(Model):
    """A set of servers served to AI clients as one MCP endpoint."""

    description: ShortText = ""
    servers: list[Name] = Field(default_factory=list)
    """The Servers whose tools, prompts and resources the endpoint aggregates."""
    gated: bool = False
    """Sessions start with only `begin_session`, which selects the relevant tools and prompts."""
    instructions: LongText = ""
    """Sent to clients in the `initialize` result."""
    llm: ProjectLlms | None = None

    @model_validator(mode="after")
    def _check_unique_servers(self) -> ProjectSpec:
        seen: set[str] = set()
        for name in self.servers:
            if name in seen:
                raise ValueError(f"servers lists {name!r} more than once")
            seen.add(name)
        return self


class Project(Resource):
    KIND: ClassVar[str] = "Project"
    PLURAL: ClassVar[str] = "projects"

    kind: Literal["Project"]
    metadata: ObjectMeta
    spec: ProjectSpec


class Chapter(Model):
    """A section of a long prompt, so that a client can fetch only what it needs."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    content: LongText
    summary: ShortText = ""


class PromptSpec(Model):
    """Guidance served to clients as an MCP prompt and resource."""

    content: Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)]
    """The prompt text (Markdown)."""
    priority: Annotated[int, Field(ge=1, le=10)] = 5
    """1 (lowest) to 10 (highest): higher ones are chosen first for a session."""
    tags: list[Tag] = Field(default_factory=list)
    """Words matched against a session's intent when no LLM selects prompts."""
    summary: ShortText = ""
    """One line shown in listings and used for selection."""
    chapters: list[Chapter] = Field(default_factory=list)
    """Optional sections of a long prompt."""
    link_target: Annotated[str, StringConstraints(pattern=LINK_TARGET_PATTERN)] | None = None
    """`project/server:uri`: the prompt's content comes from that server's resource."""

    def link_parts(self) -> tuple[str, str, str] | None:
        """(project, server, uri) of `linkTarget`, or None."""
        if self.link_target is None:
            return None
        project, rest = self.link_target.split("/", 1)
        server, uri = rest.split(":", 1)
        return project, server, uri


class Prompt(Resource):
    KIND: ClassVar[str] = "Prompt"
    PLURAL: ClassVar[str] = "prompts"
    PROJECT_SCOPED: ClassVar[bool] = True

    kind: Literal["Prompt"]
    metadata: ProjectObjectMeta
    spec: PromptSpec


class PromptRequestSpec(PromptSpec):
    """A prompt proposed through `propose_prompt`, awaiting review."""

    requested_by: ShortText = ""
    """Who proposed it (session, client, user)."""
    reason: ShortText = ""
    """Why the model proposed it."""
    state: Literal["pending", "approved", "rejected"] = "pending"
    reviewed_by: ShortText | None = None
    reviewed_at: Timestamp | None = None


class PromptRequest(Resource):
    KIND: ClassVar[str] = "PromptRequest"
    PLURAL: ClassVar[str] = "promptrequests"
    PROJECT_SCOPED: ClassVar[bool] = True
    IN_GIT: ClassVar[bool] = False

    kind: Literal["PromptRequest"]
    metadata: ProjectObjectMeta
    spec: PromptRequestSpec
