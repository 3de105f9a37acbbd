"""The registry of kinds: model, plural, scope, whether git holds it, apply order.

Everything that needs to go from a `kind:` string (or a plural in a URL or on
the command line) to a model asks here. The names, scope and apply order are
`mcpctl.kindnames`' (the table the CLI reads without pydantic): the models
are listed here in its order, and a word is resolved by its lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mcpctl.kindnames import KIND_NAMES, lookup_kind_name
from mcpctl.schemas._base import Resource
from mcpctl.schemas.identity import Group, McpToken, Rbac, ServiceAccount, User
from mcpctl.schemas.llm import Llm
from mcpctl.schemas.project import Project, Prompt, PromptRequest
from mcpctl.schemas.runtime import AuditEvent, Event, Instance
from mcpctl.schemas.secrets import Secret, SecretBackend
from mcpctl.schemas.server import Server, Template

#: The models, in no order: KIND_NAMES gives it (a model it does not name fails here).
_MODELS: tuple[type[Resource], ...] = (
    AuditEvent,
    Event,
    Group,
    Instance,
    Llm,
    McpToken,
    Project,
    Prompt,
    PromptRequest,
    Rbac,
    Secret,
    SecretBackend,
    Server,
    ServiceAccount,
    Template,
    User,
)
_ORDER = {k.KIND: i for i, k in enumerate(KIND_NAMES)}

#: Every kind, in apply order (kindnames.KIND_NAMES holds it); deletes go in reverse.
KINDS: tuple[type[Resource], ...] = tuple(sorted(_MODELS, key=lambda m: _ORDER[m.KIND]))

BY_KIND: Mapping[str, type[Resource]] = MappingProxyType({m.KIND: m for m in KINDS})
BY_PLURAL: Mapping[str, type[Resource]] = MappingProxyType({m.PLURAL: m for m in KINDS})
#: Position of each kind in the apply order.
APPLY_RANK: Mapping[str, int] = MappingProxyType({m.KIND: i for i, m in enumerate(KINDS)})
#: The kinds kept in the state repo.
GIT_KINDS: tuple[type[Resource], ...] = tuple(m for m in KINDS if m.IN_GIT)


def lookup_kind(word: str) -> type[Resource] | None:
    """The model for a kind given as `Server`, `server` or `servers` (case-insensitive)."""
    name = lookup_kind_name(word)
    return None if name is None else BY_KIND[name.KIND]
