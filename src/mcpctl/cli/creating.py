"""Building, checking and sending the object of a `mcpctl create KIND` subcommand.

Shared by `create.py` (servers, secrets, LLMs, projects, prompts) and
`create_identity.py` (users, groups, service accounts, Rbacs, tokens): the
manifest is validated with the schema `mcpctl validate` uses, and an issue is
reported with the flag that set the field, before anything is sent.

Like every command module, it imports pydantic (through schemas and
manifests) and httpx inside the functions that need them, so that
`mcpctl create --help` starts fast.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from mcpctl.cli.connection import ValidationFailed, api_errors, connect, target_options
from mcpctl.cli.flags import explain, parse_binding, parse_pairs
from mcpctl.errors import InvalidManifest, ManifestIssue

F = TypeVar("F", bound=Callable[..., Any])

#: Flags every subcommand names the same way.
COMMON_FLAGS = {
    "metadata.name": "NAME",
    "metadata.labels": "--label",
    "metadata.project": "--project",
}


def create_options(f: F) -> F:
    """`--label`, `--dry-run`, `-o` and the target options every subcommand takes."""
    f = click.option(
        "--label", "labels", multiple=True, metavar="K=V", help="A label (repeatable)."
    )(f)
    f = click.option("--dry-run", is_flag=True, help="Check and print the object; send nothing.")(f)
    f = click.option(
        "-o",
        "--output",
        "fmt",
        type=click.Choice(("name", "yaml", "json")),
        default=None,
        help="Print the created object (yaml, json) or only kind/name.",
    )(f)
    return target_options()(f)


def send_object(
    kind: str,
    name: str,
    spec: dict[str, Any],
    *,
    labels: tuple[str, ...],
    flags: Mapping[str, str],
    fmt: str | None,
    dry_run: bool,
    project: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
    confirm_on_stderr: bool = False,
    terms: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Validate the manifest, then print it (dry run) or create it; the API's answer.

    `terms` turns the manifest's words in an issue's message into the command's
    (`valueFrom.secretRef` -> `--env-from-secret`)."""
    from mcpctl.cli.rendering.objects import render, render_answer
    from mcpctl.cli.resources import collection_path, short_ref
    from mcpctl.manifests import validate_object
    from mcpctl.schemas import API_VERSION, BY_KIND

    metadata: dict[str, Any] = {"name": name}
    if project is not None:
        metadata["project"] = project
    if labels:
        metadata["labels"] = parse_pairs(labels, "--label")
    manifest = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    checked = validate_object(manifest)
    all_flags = {**COMMON_FLAGS, **flags}
    model = BY_KIND[kind]

    def refuse(issues: Sequence[ManifestIssue], what: str) -> ValidationFailed:
        spec_model = model.model_fields["spec"].annotation
        fields = [
            info.alias or field for field, info in getattr(spec_model, "model_fields", {}).items()
        ]
        for issue in issues:
            data = None if _holds_secret(kind, issue.field) else manifest
            message = issue.message
            for word, term in (terms or {}).items():
                message = message.replace(word, term)
            shown = replace(issue, message=message)
            click.echo(f"error: {explain(shown, all_flags, fields, data)}", err=True)
        return ValidationFailed(f"cannot create {kind} {name!r}: {what}")

    if isinstance(checked, list):
        raise refuse(checked, "nothing was sent")
    ref = short_ref(model, name, project)
    if dry_run:
        if fmt in ("yaml", "json"):
            click.echo(render(fmt, kind, [manifest], single=True), nl=False)
        else:
            click.echo(f"{ref} created (dry run)")
        return None
    with api_errors(), connect() as client:
        body = {**manifest, **(extra_body or {})}
        try:
            answer = client.request("POST", collection_path(model, project), body=body)
        except InvalidManifest as e:  # e.g. a reference to an object mcpd does not have
            raise refuse(e.issues, "mcpd refused it") from e
    stored = answer.get("object", answer) if isinstance(answer, dict) else manifest
    if fmt == "json" or (fmt == "yaml" and stored is not answer):
        # the whole answer when it holds more than the object (an McpToken's raw token)
        click.echo(render_answer(fmt, answer if stored is not answer else stored), nl=False)
    elif fmt == "yaml":
        click.echo(render(fmt, kind, [stored], single=True), nl=False)
    elif fmt == "name":
        click.echo(ref)
    else:
        click.echo(f"{ref} created", err=confirm_on_stderr)
    return answer if isinstance(answer, dict) else None


#: Env and header values may be credentials (a token given with --env instead of
#: --env-from-secret is still a token), as every value of a Secret is.
_SECRET_FIELD = re.compile(r"^spec\.(env|headers)\[\d+\]\.value$")


def _holds_secret(kind: str, field: str | None) -> bool:
    """Whether the value at `field` must not be quoted back in an error."""
    return kind == "Secret" or bool(field and _SECRET_FIELD.match(field))


def binding_flags(bindings: tuple[str, ...], operations: tuple[str, ...]) -> dict[str, str]:
    """Which flag set each binding: --binding ones first, then --operation ones."""
    flags = {"spec.subjects": "--subject", "spec.bindings": "--binding/--operation"}
    for i in range(len(bindings) + len(operations)):
        flags[f"spec.bindings[{i}]"] = "--binding" if i < len(bindings) else "--operation"
    return flags


def parse_bindings(bindings: tuple[str, ...], operations: tuple[str, ...]) -> list[dict[str, str]]:
    """`--binding ROLE:RESOURCE[/NAME]` and `--operation OP` values as Rbac bindings."""
    return [parse_binding(b) for b in bindings] + [
        {"role": "run", "action": op} for op in operations
    ]


def set_given(target: dict[str, Any], **values: Any) -> None:
    """Set the values that were given (not None)."""
    target.update({k: v for k, v in values.items() if v is not None})


def read_text(path: str, flag: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise click.BadParameter(f"{path}: {e.strerror or e}", param_hint=flag) from e
    except UnicodeDecodeError as e:
        raise click.BadParameter(f"{path}: not UTF-8 text", param_hint=flag) from e
