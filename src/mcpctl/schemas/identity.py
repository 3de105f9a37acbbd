"""User, Group, ServiceAccount, Rbac and McpToken: who may do what.

RBAC denies by default. An Rbac object binds subjects to roles: `view`,
`create`, `edit` and `delete` on a resource kind (optionally one object of
it), or `run` on an operation. Passwords and raw tokens are never part of a
manifest; an McpToken carries at most the SHA-256 of its secret.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from mcpctl.schemas._base import Model, Name, ObjectMeta, Resource, ShortText, Timestamp

#: Resource kinds RBAC can name, by plural (`*` for all).
RbacResource = Literal[
    "*",
    "secretbackends",
    "secrets",
    "llms",
    "templates",
    "servers",
    "projects",
    "prompts",
    "users",
    "groups",
    "serviceaccounts",
    "rbacs",
    "mcptokens",
    "instances",
    "promptrequests",
    "events",
    "auditevents",
]

#: Operations granted by `run` bindings (`*` for all).
Operation = Literal[
    "*",
    "backup",
    "restore",
    "logs",
    "impersonate",
    "migrate-secrets",
    "sync",
    "reveal-secrets",
    "approve-prompts",
    "set-passwords",
    "host-commands",
]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class UserSpec(Model):
    """A person who logs in (the password is set through the API, never in git)."""

    email: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)]
    display_name: ShortText = ""


class User(Resource):
    KIND: ClassVar[str] = "User"
    PLURAL: ClassVar[str] = "users"

    kind: Literal["User"]
    metadata: ObjectMeta
    spec: UserSpec


class GroupSpec(Model):
    """A set of users that Rbac subjects can name at once."""

    description: ShortText = ""
    members: list[Name] = Field(default_factory=list)
    """User names."""

    @model_validator(mode="after")
    def _check_unique_members(self) -> GroupSpec:
        seen: set[str] = set()
        for name in self.members:
            if name in seen:
                raise ValueError(f"members lists {name!r} more than once")
            seen.add(name)
        return self


class Group(Resource):
    KIND: ClassVar[str] = "Group"
    PLURAL: ClassVar[str] = "groups"

    kind: Literal["Group"]
    metadata: ObjectMeta
    spec: GroupSpec


class ServiceAccountSpec(Model):
    """A machine identity (CI, automation) that authenticates with tokens."""

    description: ShortText = ""


class ServiceAccount(Resource):
    KIND: ClassVar[str] = "ServiceAccount"
    PLURAL: ClassVar[str] = "serviceaccounts"

    kind: Literal["ServiceAccount"]
    metadata: ObjectMeta
    spec: ServiceAccountSpec = Field(default_factory=ServiceAccountSpec)


class Subject(Model):
    """Who a binding applies to."""

    kind: Literal["User", "Group", "ServiceAccount", "McpToken"]
    name: Name


class Binding(Model):
    """A role on a resource kind (optionally one object), or `run`: on an operation, or on
    projects (using a project's MCP endpoint, `/mcp/<project>`)."""

    role: Literal["view", "create", "edit", "delete", "run"]
    """view, create, edit, delete: on `resource`; run: on `action`, or on `resource` projects."""
    resource: RbacResource | None = None
    """A kind by plural, e.g. `servers`, or `*`; for run, `projects` only."""
    name: Name | None = None
    """Restrict the binding to one object of the kind."""
    action: Operation | None = None
    """For `run`: the operation, e.g. `restore`, or `*` (every operation and every
    project's endpoint)."""

    @model_validator(mode="after")
    def _check_shape(self) -> Binding:
        if self.role == "run":
            if self.action is None and self.resource is None:
                raise ValueError(
                    "a run binding needs action (an operation) or resource: projects "
                    "(a project's MCP endpoint)"
                )
            if self.action is not None and (self.resource is not None or self.name is not None):
                raise ValueError("a run binding takes action, or resource and name: not both")
            if self.resource is not None and self.resource != "projects":
                raise ValueError(
                    f"run applies to operations (action) and to projects, not to {self.resource}"
                )
        else:
            if self.resource is None:
                raise ValueError(f"a {self.role} binding needs resource")
            if self.action is not None:
                raise ValueError(f"action applies only to run bindings, not to {self.role}")
        if self.name is not None and self.resource == "*":
            raise ValueError("name needs a single resource kind, not '*'")
        return self


class RbacSpec(Model):
    """Grants: every subject gets every binding."""

    subjects: Annotated[list[Subject], Field(min_length=1)]
    bindings: Annotated[list[Binding], Field(min_length=1)]


class Rbac(Resource):
    KIND: ClassVar[str] = "Rbac"
    PLURAL: ClassVar[str] = "rbacs"

    kind: Literal["Rbac"]
    metadata: ObjectMeta
    spec: RbacSpec


class McpTokenSpec(Model):
    """A bearer token (`mcpctl_pat_...`) for mcplocal, CI and other machines."""

    project: Name | None = None
    """Limit the token to one Project's endpoint."""
    description: ShortText = ""
    expires_at: Timestamp | None = None
    """After this instant the token is refused."""
    rbac_mode: Literal["bindings", "clone"] = "bindings"
    """bindings: what Rbac objects naming the token grant;
    clone: the creator's permissions, frozen at creation."""
    token_hash: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    """Written by mcpd: the SHA-256 of the secret (the raw token is shown once, never stored)."""
    revoked: bool = False
    """A revoked token is refused; the object stays for the audit trail."""
    created_by: Name | None = None
    """Written by mcpd: the user who created the token, whose permissions cap the token's."""
    cloned_bindings: list[Binding] | None = None
    """Written by mcpd in clone mode: the creator's bindings, frozen at creation."""


class McpToken(Resource):
    KIND: ClassVar[str] = "McpToken"
    PLURAL: ClassVar[str] = "mcptokens"

    kind: Literal["McpToken"]
    metadata: ObjectMeta
    spec: McpTokenSpec = Field(default_factory=McpTokenSpec)
