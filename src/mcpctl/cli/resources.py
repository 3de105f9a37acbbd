"""Kinds as the command line names them, and the API paths and calls for them.

`server`, `servers` and `Server` name the same kind; project-scoped kinds
(prompts, promptrequests) live under `/api/v1/projects/{project}/...`.
Objects travel as the API's JSON dicts; `to_resource` reads one into its
model for the canonical YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from mcpctl.client.http import ApiClient
from mcpctl.errors import BackendUnavailable, InvalidInput
from mcpctl.kindnames import BY_KIND_NAME, BY_SPELLING, KIND_NAMES, KindName, lookup_kind_name

if TYPE_CHECKING:
    from mcpctl.schemas import Resource

API = "/api/v1"
#: Items asked for per page when listing.
PAGE_SIZE = 500

JsonObject = dict[str, Any]


class Kind(Protocol):
    """What commands need of a kind: its names and scope (a KindName, or a model class)."""

    @property
    def KIND(self) -> str: ...  # the models name these class attributes in capitals

    @property
    def PLURAL(self) -> str: ...

    @property
    def PROJECT_SCOPED(self) -> bool: ...


def resolve_kind(word: str) -> KindName:
    """The kind as typed (`server`, `servers`, `Server`), or a one-line error.

    Answers names only, without importing pydantic: `get` must start fast.
    """
    model = lookup_kind_name(word)
    if model is not None:
        return model
    close = difflib.get_close_matches(word.lower(), list(BY_SPELLING), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(m.PLURAL for m in KIND_NAMES)
    raise InvalidInput(f"unknown kind {word!r}{hint}; known kinds: {known}")


def need_project(model: Kind, project: str | None) -> str | None:
    """The project for a project-scoped kind (required), None for the others."""
    if not model.PROJECT_SCOPED:
        return None
    if not project:
        raise InvalidInput(f"{model.PLURAL} belong to a project: give --project/-p NAME")
    return project


def collection_path(model: Kind, project: str | None = None) -> str:
    if model.PROJECT_SCOPED:
        if project is None:
            raise InvalidInput(f"{model.PLURAL} belong to a project: give --project/-p NAME")
        return f"{API}/projects/{quote(project, safe='')}/{model.PLURAL}"
    return f"{API}/{model.PLURAL}"


def object_path(model: Kind, name: str, project: str | None = None) -> str:
    return f"{collection_path(model, project)}/{quote(name, safe='')}"


def iter_objects(
    client: ApiClient,
    model: Kind,
    *,
    project: str | None = None,
    selector: str | None = None,
) -> Iterator[JsonObject]:
    """Every object of a kind (following `continue` tokens), optionally by label selector.

    McpTokens, cluster-wide, can be listed for one project (`?project=`).
    """
    params: dict[str, str] = {"limit": str(PAGE_SIZE)}
    if selector:
        params["labelSelector"] = selector
    if project and not model.PROJECT_SCOPED:
        params["project"] = project
    while True:
        answer = client.request("GET", collection_path(model, project), params=params)
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise BackendUnavailable(f"mcpd answered a list of {model.PLURAL} without items")
        yield from (item for item in answer["items"] if isinstance(item, dict))
        token = (answer.get("metadata") or {}).get("continue")
        if not token:
            return
        params["continue"] = str(token)


def list_objects(
    client: ApiClient,
    model: Kind,
    *,
    project: str | None = None,
    selector: str | None = None,
) -> list[JsonObject]:
    return list(iter_objects(client, model, project=project, selector=selector))


def get_object(
    client: ApiClient,
    model: Kind,
    name: str,
    *,
    project: str | None = None,
    show_secrets: bool = False,
) -> JsonObject:
    params = {"showSecrets": "true"} if show_secrets else None
    answer = client.request("GET", object_path(model, name, project), params=params)
    if not isinstance(answer, dict):
        raise BackendUnavailable(f"mcpd answered {model.KIND}/{name} with something else")
    return answer


def to_resource(data: JsonObject) -> Resource | None:
    """The API object as its model, or None when this mcpctl cannot read it (version skew)."""
    from mcpctl.manifests import validate_object  # pydantic: only for output that needs models

    result = validate_object(data)
    return None if isinstance(result, list) else result.resource


def kind_of(data: JsonObject) -> Kind | None:
    kind = data.get("kind")
    return lookup_kind_name(kind) if isinstance(kind, str) else None


def name_of(data: JsonObject) -> str:
    name = (data.get("metadata") or {}).get("name")
    return name if isinstance(name, str) else "?"


def project_of(data: JsonObject) -> str | None:
    project = (data.get("metadata") or {}).get("project")
    return project if isinstance(project, str) else None


def short_ref(model: Kind, name: str, project: str | None = None) -> str:
    """kubectl-style `server/github`, or `prompt/demo/intro` for a project-scoped object."""
    kind = model.KIND.lower()
    return f"{kind}/{project}/{name}" if project else f"{kind}/{name}"


def key_ref(kind: str, project: str | None, name: str) -> str:
    """`short_ref` of an object's key; `kind/name` for a kind this mcpctl does not know."""
    known = BY_KIND_NAME.get(kind)
    return short_ref(known, name, project) if known else f"{kind.lower()}/{name}"


def serviceaccount_named(word: str) -> str:
    """The name in `serviceaccount/NAME` (the kind in any spelling), or a bare NAME."""
    kind, sep, name = word.rpartition("/")
    if not sep:
        return word
    model = lookup_kind_name(kind)
    if model is None or model.KIND != "ServiceAccount" or not name:
        raise InvalidInput(
            f"expected serviceaccount/NAME or NAME, got {word!r}: only ServiceAccounts have "
            "tokens of their own (an McpToken is revoked with `mcpctl revoke mcptoken NAME`)"
        )
    return name


def tokens_path(serviceaccount: str) -> str:
    """The API path of a ServiceAccount's tokens."""
    return object_path(BY_KIND_NAME["ServiceAccount"], serviceaccount) + "/tokens"


def ref_of(data: JsonObject) -> str:
    model = kind_of(data)
    kind = model.KIND.lower() if model else str(data.get("kind", "?")).lower()
    project = project_of(data)
    return f"{kind}/{project}/{name_of(data)}" if project else f"{kind}/{name_of(data)}"
