"""The semantic diff of two sets of objects: what applying one over the other changes.

Objects are matched by (kind, project, name); each change lists its fields
with old and new values, compared on the canonical form (so formatting, key
order and spelled-out defaults are not changes). Secret values never leave
this module: a changed value is reported as changed, without either side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mcpctl.manifests.canonical import to_plain
from mcpctl.manifests.loading import Manifest
from mcpctl.manifests.ordering import apply_order, delete_order
from mcpctl.manifests.references import Key, format_key, object_key
from mcpctl.schemas import Resource, Secret

Action = Literal["add", "remove", "change"]


class _Missing:
    """The side of a field change where the field is absent."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
#: What a secret value is shown as in a diff.
HIDDEN = "(hidden)"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. `old`/`new` are MISSING where the field is absent."""

    path: str
    old: Any
    new: Any
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """An object added, removed or changed, with the fields that differ."""

    action: Action
    key: Key
    fields: tuple[FieldChange, ...] = ()

    @property
    def ref(self) -> str:
        return format_key(self.key)


@dataclass
class ChangeSet:
    """Every change, removals first (in delete order), then the rest in apply order."""

    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    def __bool__(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[Action, int]:
        out: dict[Action, int] = {"add": 0, "change": 0, "remove": 0}
        for change in self.changes:
            out[change.action] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON form the API answers and `diff -o json` prints (no secret value in it)."""
        return {
            "summary": {**self.counts(), "unchanged": self.unchanged},
            "changes": [
                {
                    "action": c.action,
                    "kind": c.key[0],
                    **({"project": c.key[1]} if c.key[1] else {}),
                    "name": c.key[2],
                    "fields": [
                        {
                            "path": f.path,
                            **({} if f.old is MISSING else {"old": f.old}),
                            **({} if f.new is MISSING else {"new": f.new}),
                            **({"secret": True} if f.secret else {}),
                        }
                        for f in c.fields
                    ],
                }
                for c in self.changes
            ],
        }


def diff_sets(old: Iterable[Resource | Manifest], new: Iterable[Resource | Manifest]) -> ChangeSet:
    """What turning the set `old` into the set `new` changes."""
    old_by = {_key(o): _manifest(o) for o in old}
    new_by = {_key(n): _manifest(n) for n in new}
    result = ChangeSet()
    removed = [m for k, m in old_by.items() if k not in new_by]
    for manifest in delete_order(removed):
        result.changes.append(
            Change("remove", manifest.key, _all_fields(manifest.resource, old=True))
        )
    for manifest in apply_order(list(new_by.values())):
        before = old_by.get(manifest.key)
        if before is None:
            result.changes.append(
                Change("add", manifest.key, _all_fields(manifest.resource, old=False))
            )
            continue
        fields = diff_objects(before.resource, manifest.resource)
        if fields:
            result.changes.append(Change("change", manifest.key, tuple(fields)))
        else:
            result.unchanged += 1
    return result


def _key(item: Resource | Manifest) -> Key:
    return item.key if isinstance(item, Manifest) else object_key(item)


def _manifest(item: Resource | Manifest) -> Manifest:
    return item if isinstance(item, Manifest) else Manifest(item)


def diff_objects(old: Resource, new: Resource) -> list[FieldChange]:
    """The fields of the canonical form that differ between two versions of an object."""
    old_plain = to_plain(old, secrets="plain")
    new_plain = to_plain(new, secrets="plain")
    if isinstance(old, Secret) and isinstance(new, Secret):
        _keep_withheld_values(old_plain, new_plain)
    changes: list[FieldChange] = []
    _diff(old_plain, new_plain, "", changes, secret_root=isinstance(new, Secret))
    return changes


def _keep_withheld_values(old: dict[str, Any], new: dict[str, Any]) -> None:
    """A null value in a new Secret means "keep the stored one": make it equal to the old."""
    new_data = new["spec"].get("data", {})
    old_spec = old["spec"]
    for key, value in list(new_data.items()):
        if value is not None:
            continue
        if key in old_spec.get("data", {}):
            new_data[key] = old_spec["data"][key]
        elif key in old_spec.get("sealedData", {}):
            del new_data[key]
            new["spec"].setdefault("sealedData", {})[key] = old_spec["sealedData"][key]
    if "data" in new["spec"] and not new["spec"]["data"]:
        del new["spec"]["data"]
    if "sealedData" in new["spec"]:
        new["spec"]["sealedData"] = dict(sorted(new["spec"]["sealedData"].items()))


def _is_secret_path(path: str) -> bool:
    return path.startswith(("spec.data.", "spec.sealedData."))


def _diff(old: Any, new: Any, path: str, out: list[FieldChange], *, secret_root: bool) -> None:
    if _same(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            _diff(old.get(key, MISSING), new.get(key, MISSING), sub, out, secret_root=secret_root)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _by_name(old), _by_name(new)
        if old_named is not None and new_named is not None:
            for name in [*old_named, *(n for n in new_named if n not in old_named)]:
                sub = f"{path}[name={name}]"
                _diff(
                    old_named.get(name, MISSING),
                    new_named.get(name, MISSING),
                    sub,
                    out,
                    secret_root=secret_root,
                )
            return
        if len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                _diff(a, b, f"{path}[{i}]", out, secret_root=secret_root)
            return
    if secret_root and path in ("spec.data", "spec.sealedData"):
        # a whole map of values appearing or vanishing: report it key by key, hidden
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        for key in [*old_map, *(k for k in new_map if k not in old_map)]:
            _diff(
                old_map.get(key, MISSING),
                new_map.get(key, MISSING),
                f"{path}.{key}",
                out,
                secret_root=True,
            )
        return
    if secret_root and _is_secret_path(path):
        out.append(
            FieldChange(
                path,
                MISSING if old is MISSING else HIDDEN,
                MISSING if new is MISSING else HIDDEN,
                secret=True,
            )
        )
        return
    out.append(FieldChange(path, old, new))


def _same(old: Any, new: Any) -> bool:
    """Equal and of the same types throughout (Python holds `1 == 1.0 == True`; YAML does not)."""
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    return bool(old == new)


def _by_name(items: Sequence[Any]) -> dict[str, Any] | None:
    """Items keyed by their `name`, when every item is a mapping with a unique name."""
    named: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        if item["name"] in named:
            return None
        named[item["name"]] = item
    return named


def _all_fields(resource: Resource, *, old: bool) -> tuple[FieldChange, ...]:
    """An added or removed object as field changes from or to nothing (secret values hidden)."""
    plain = to_plain(resource, secrets="mask")
    changes: list[FieldChange] = []
    if old:
        _diff(plain, MISSING, "", changes, secret_root=False)
    else:
        _diff(MISSING, plain, "", changes, secret_root=False)
    return tuple(changes)
