"""Dependency order: what must exist before what, and the cycles that forbid an order.

Objects are applied in the kind order of docs/architecture.md ("The resource
model"), except where a reference says otherwise (an OpenBao backend needs the
Secret holding its token, which lives in another backend); deletes go in
reverse. A cycle is reported with its path.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from mcpctl.errors import ManifestIssue
from mcpctl.manifests.loading import Manifest
from mcpctl.manifests.references import Catalog, Key, format_key, iter_references
from mcpctl.schemas import APPLY_RANK, Resource, Secret


def _dependencies(resource: Resource, catalog: Catalog) -> Iterator[Key]:
    for ref in iter_references(resource):
        yield ref.target
    if (
        isinstance(resource, Secret)
        and resource.spec.backend is None
        and catalog.default_backend is not None
    ):
        yield ("SecretBackend", None, catalog.default_backend)


def _graph(
    manifests: Sequence[Manifest], catalog: Catalog
) -> tuple[dict[Key, Manifest], dict[Key, set[Key]]]:
    """Nodes by key, and for each node the nodes of the set it depends on."""
    nodes: dict[Key, Manifest] = {}
    for manifest in manifests:
        nodes.setdefault(manifest.key, manifest)
    deps: dict[Key, set[Key]] = {}
    for key, manifest in nodes.items():
        deps[key] = {
            target
            for target in _dependencies(manifest.resource, catalog)
            if target in nodes and target != key
        }
    return nodes, deps


_RANKS = dict(APPLY_RANK)
_LAST = len(_RANKS)


def _rank(key: Key) -> tuple[int, str, str]:
    return (_RANKS.get(key[0], _LAST), key[1] or "", key[2])


def apply_order(manifests: Sequence[Manifest], catalog: Catalog | None = None) -> list[Manifest]:
    """`manifests` in an order where every object comes after what it needs.

    Ties follow the kind order (schemas.KINDS), then project, then name, so the order
    is deterministic. Objects caught in a cycle come last, in kind order.
    """
    catalog = catalog or Catalog(manifests)
    nodes, deps = _graph(manifests, catalog)
    waiting = {key: len(d) for key, d in deps.items()}
    users: dict[Key, list[Key]] = {key: [] for key in nodes}
    for key, d in deps.items():
        for target in d:
            users[target].append(key)
    ready = [(_rank(k), k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[Manifest] = []
    while ready:
        _, key = heapq.heappop(ready)
        ordered.append(nodes[key])
        for user in users[key]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (_rank(user), user))
    if len(ordered) < len(nodes):
        done = {m.key for m in ordered}
        ordered.extend(nodes[k] for k in sorted(nodes, key=_rank) if k not in done)
    return ordered


def delete_order(manifests: Sequence[Manifest], catalog: Catalog | None = None) -> list[Manifest]:
    """The reverse of `apply_order`: users go before what they use."""
    return list(reversed(apply_order(manifests, catalog)))


def find_cycles(manifests: Sequence[Manifest], catalog: Catalog) -> list[ManifestIssue]:
    """One issue per dependency cycle, on its first object, showing the whole path."""
    nodes, deps = _graph(manifests, catalog)
    state: dict[Key, int] = {}  # 1: on the current path, 2: finished
    issues: list[ManifestIssue] = []
    for start in sorted(nodes, key=_rank):
        if state.get(start):
            continue
        stack: list[tuple[Key, Iterator[Key]]] = [(start, iter(sorted(deps[start], key=_rank)))]
        path = [start]
        state[start] = 1
        while stack:
            key, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[key] = 2
                continue
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                shown = " -> ".join(format_key(k) for k in cycle)
                issues.append(
                    nodes[child].issue(
                        f"dependency cycle: {shown}",
                        "cycle",
                        _field_to(nodes[child], cycle[1], catalog),
                    )
                )
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(deps[child], key=_rank))))
    return issues


def _field_to(manifest: Manifest, target: Key, catalog: Catalog) -> tuple[str | int, ...]:
    for ref in iter_references(manifest.resource):
        if ref.target == target:
            return ref.field
    if isinstance(manifest.resource, Secret):
        return ("spec",)
    return ()
