"""The names of the kinds, without their models: for code that must start fast.

`mcpctl get servers` has a start-up budget that importing pydantic and the
models would spend on its own, so the CLI's read path resolves `server`,
`servers` or `Server` here. This is the one table of the kinds' names, scope
and apply order: `schemas.kinds` orders its models by it and resolves a word
with `lookup_kind_name`; the CLI (`cli.resources`, `cli.completion`), the
state repo's layout and git endpoint read it too. Each model also carries its
names as class attributes (`Server.PLURAL`); a test keeps them equal to this
table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

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

#: The `kind:` names of the kinds the state repo holds, in apply order.
GIT_KIND_NAMES: tuple[str, ...] = tuple(k.KIND for k in KIND_NAMES if k.IN_GIT)

#: Each kind by its `kind:` name, spelled exactly as manifests and the API spell it.
BY_KIND_NAME: Mapping[str, KindName] = MappingProxyType({k.KIND: k for k in KIND_NAMES})
#: Each kind by every word that names it, lower-cased: `server`, `servers`.
BY_SPELLING: Mapping[str, KindName] = MappingProxyType(
    {word: k for k in KIND_NAMES for word in (k.KIND.lower(), k.PLURAL)}
)


def lookup_kind_name(word: str) -> KindName | None:
    """The kind for `Server`, `server` or `servers` (case-insensitive), or None."""
    return BY_SPELLING.get(word.lower())
