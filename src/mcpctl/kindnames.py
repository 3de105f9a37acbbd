"""The names of the kinds, without their models: for code that must start fast.

`mcpctl get servers` has a start-up budget that importing pydantic and the
models would spend on its own, so the CLI's read path resolves `server`,
`servers` or `Server` here. `schemas.kinds` holds the models; a test keeps
the two tables equal.
"""

from __future__ import annotations

from dataclasses import dataclass

API_VERSION = "mcpctl/v1"


@dataclass(frozen=True, slots=True)
class KindName:
    """A kind's names and scope: the attributes a model class has, without the model."""

    KIND: str
    PLURAL: str
    PROJECT_SCOPED: bool = False
    IN_GIT: bool = True


#: Every kind, in apply order (as schemas.kinds.KINDS).
KIND_NAMES: tuple[KindName, ...] = (
    KindName("SecretBackend", "secretbackends"),
    KindName("Secret", "secrets"),
    KindName("Llm", "llms"),
    KindName("Template", "templates"),
    KindName("Server", "servers"),
    KindName("Project", "projects"),
    KindName("Prompt", "prompts", PROJECT_SCOPED=True),
    KindName("User", "users"),
    KindName("Group", "groups"),
    KindName("ServiceAccount", "serviceaccounts"),
    KindName("Rbac", "rbacs"),
    KindName("McpToken", "mcptokens"),
    KindName("Instance", "instances", IN_GIT=False),
    KindName("PromptRequest", "promptrequests", PROJECT_SCOPED=True, IN_GIT=False),
    KindName("Event", "events", IN_GIT=False),
    KindName("AuditEvent", "auditevents", IN_GIT=False),
)


def lookup_kind_name(word: str) -> KindName | None:
    """The kind for `Server`, `server` or `servers` (case-insensitive), or None."""
    lowered = word.lower()
    for kind in KIND_NAMES:
        if lowered in (kind.KIND.lower(), kind.PLURAL):
            return kind
    return None
