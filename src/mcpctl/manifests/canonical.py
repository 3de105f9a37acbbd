"""The canonical form: one deterministic YAML rendering per object.

`dump_object(load(x))` is byte-stable: fields in schema order, map keys
sorted, defaults left out, no status and no server-written metadata unless
asked, timestamps in UTC. The git replica writes exactly this, and `get -o
yaml` shows it. Secret values are masked (a key with a null value), shown,
or sealed by a function the caller passes: never anything in between.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from yaml.cyaml import CSafeDumper

from mcpctl.manifests.parsing import _BOOL_RE, _FLOAT_RE, _INT_RE, _NULL_RE
from mcpctl.schemas import SERVER_METADATA_FIELDS, Resource, Secret

#: Seals one value of a Secret: (secret name, key, plaintext) -> sealed text.
Sealer = Callable[[str, str, str], str]
SecretMode = Literal["mask", "plain", "seal"]

_ENVELOPE = ("apiVersion", "kind", "metadata", "spec")


class _Dumper(CSafeDumper):
    """libyaml's emitter, quoting every string that either YAML 1.1 or 1.2 would misread."""


for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", _BOOL_RE, "tTfF"),
    ("tag:yaml.org,2002:null", _NULL_RE, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", _INT_RE, "-+0123456789"),
    ("tag:yaml.org,2002:float", _FLOAT_RE, "-+.0123456789"),
):
    _Dumper.add_implicit_resolver(_tag, _regexp, list(_first))


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_float(dumper: _Dumper, value: float) -> yaml.ScalarNode:
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
        if "." not in text and "e" not in text:
            text += ".0"
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)


def to_plain(
    resource: Resource,
    *,
    secrets: SecretMode = "mask",
    sealer: Sealer | None = None,
    server_fields: bool = False,
    status: bool = False,
) -> dict[str, Any]:
    """The canonical data of `resource` as plain dicts, lists and scalars."""
    out: dict[str, Any] = {}
    body = _model_plain(resource)
    for key in _ENVELOPE:
        if key == "spec":
            out[key] = body.get(key, {})
        else:
            out[key] = body[key]
    if not server_fields:
        out["metadata"] = {
            k: v for k, v in out["metadata"].items() if k not in SERVER_METADATA_FIELDS
        }
    if status and resource.status is not None:
        out["status"] = _plain(resource.status)
    if isinstance(resource, Secret):
        out["spec"] = _secret_spec(resource, out["spec"], secrets, sealer)
    return out


def _secret_spec(
    secret: Secret, spec: dict[str, Any], mode: SecretMode, sealer: Sealer | None
) -> dict[str, Any]:
    data: dict[str, str | None] = dict(secret.spec.data)
    sealed: dict[str, str] = dict(secret.spec.sealed_data)
    if mode == "mask":
        data = dict.fromkeys(sorted(set(data) | set(sealed)))
        sealed = {}
    elif mode == "seal":
        if sealer is None:
            raise ValueError("sealing secrets needs a sealer")
        for key, value in list(data.items()):
            if value is not None:
                sealed[key] = sealer(secret.name, key, value)
                del data[key]
    result = {k: v for k, v in spec.items() if k not in ("data", "sealedData")}
    if data:
        result["data"] = {k: data[k] for k in sorted(data)}
    if sealed:
        result["sealedData"] = {k: sealed[k] for k in sorted(sealed)}
    return result


_NO_DEFAULT = object()
#: Per model class: (attribute, output key, default or _NO_DEFAULT) for every field.
_FIELDS: dict[type[BaseModel], tuple[tuple[str, str, Any], ...]] = {}


def _fields_of(cls: type[BaseModel]) -> tuple[tuple[str, str, Any], ...]:
    """The fields of a model with their defaults, computed once per class.

    Defaults from factories are built once here and only compared against, never
    handed out, so sharing them is safe; pydantic's get_default is slow per call.
    """
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = tuple(
            (
                name,
                info.alias or name,
                _NO_DEFAULT if info.is_required() else info.get_default(call_default_factory=True),
            )
            for name, info in cls.model_fields.items()
        )
        _FIELDS[cls] = fields
    return fields


def _model_plain(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key, default in _fields_of(type(model)):
        value = getattr(model, name)
        if default is not _NO_DEFAULT and value == default:
            continue
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _model_plain(value)
    if isinstance(value, dict):
        return {k: _plain(value[k]) for k in sorted(value, key=_sort_key)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def _sort_key(key: Any) -> tuple[str, str]:
    return (type(key).__name__, str(key))


@functools.lru_cache(maxsize=4096)
def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`: `2026-11-25T10:43:47Z` (microseconds when present).

    Cached: the objects of one write share their timestamps, and a list of 10,000
    objects formats two of each."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def dump_plain(data: Any) -> str:
    """Canonical YAML text of plain data (one document, no `---`)."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )
    return text


def dump_object(
    resource: Resource,
    *,
    secrets: SecretMode = "mask",
    sealer: Sealer | None = None,
    server_fields: bool = False,
    status: bool = False,
) -> str:
    """The canonical YAML of one object: what the state repo stores for it."""
    return dump_plain(
        to_plain(
            resource, secrets=secrets, sealer=sealer, server_fields=server_fields, status=status
        )
    )


def dump_objects(
    resources: Iterable[Resource],
    *,
    secrets: SecretMode = "mask",
    sealer: Sealer | None = None,
    server_fields: bool = False,
    status: bool = False,
) -> str:
    """Several objects as one multi-document YAML stream, each document after `---`."""
    return "".join(
        "---\n"
        + dump_object(r, secrets=secrets, sealer=sealer, server_fields=server_fields, status=status)
        for r in resources
    )
