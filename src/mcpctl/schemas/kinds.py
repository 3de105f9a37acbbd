"""The registry of kinds: model, plural, scope, whether git holds it, apply order.

Everything that needs to go from a `kind:` string (or a plural in a URL or on
the command line) to a model asks here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mcpctl.schemas._base import Resource
from mcpctl.schemas.identity import Group, McpToken, Rbac, ServiceAccount, User
from mcpctl.schemas.llm import Llm
from mcpctl.schemas.project import Project, Prompt, PromptRequest
from mcpctl.schemas.runtime import AuditEvent, Event, Instance
from mcpctl.schemas.secrets import Secret, SecretBackend
from mcpctl.schemas.server import Server, Template

#: Every kind, in apply order (DESIGN.md); deletes go in reverse.
KINDS: tuple[type[Resource], ...] = (
    SecretBackend,
    Secret,
    Llm,
    Template,
    Server,
    Project,
    Prompt,
    User,
    Group,
    ServiceAccount,
    Rbac,
    McpToken,
    Instance,
    PromptRequest,
    Event,
    AuditEvent,
)

BY_KIND: Mapping[str, type[Resource]] = MappingProxyType({m.KIND: m for m in KINDS})
BY_PLURAL: Mapping[str, type[Resource]] = MappingProxyType({m.PLURAL: m for m in KINDS})
#: Position of each kind in the apply order.
APPLY_RANK: Mapping[str, int] = MappingProxyType({m.KIND: i for i, m in enumerate(KINDS)})
#: The kinds kept in the state repo.
GIT_KINDS: tuple[type[Resource], ...] = tuple(m for m in KINDS if m.IN_GIT)


def lookup_kind(word: str) -> type[Resource] | None:
    """The model for a kind given as `Server`, `server`, `servers` or `svr`-free plural."""
    if word in BY_KIND:
        return BY_KIND[word]
    lowered = word.lower()
    if lowered in BY_PLURAL:
        return BY_PLURAL[lowered]
    for model in KINDS:
        if model.KIND.lower() == lowered:
            return model
    return None
