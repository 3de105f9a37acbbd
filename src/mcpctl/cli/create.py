"""`mcpctl create KIND NAME --flags`: one object from flags, checked here before it is sent.

Each subcommand builds the manifest as a dict and validates it with the same
schema as `mcpctl validate`, so that a bad value is reported with the flag
that set it and nothing reaches mcpd. `--dry-run` prints the manifest
instead of sending it (`mcpctl create ... --dry-run -o yaml > x.yaml`).
This module holds the group and the kinds that run and feed servers; the
identity kinds are in `create_identity`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mcpctl.cli.completion import complete_secret_keys, names_of
from mcpctl.cli.create_identity import (
    create_group,
    create_mcptoken,
    create_rbac,
    create_serviceaccount,
    create_token,
    create_user,
)
from mcpctl.cli.creating import create_options, read_text, send_object, set_given
from mcpctl.cli.flags import parse_pairs, parse_ref, parse_scalar


@click.group()
def create() -> None:
    """Create an object from flags (mcpctl apply -f creates from files).

    \b
    Examples:
      mcpctl create secret ai --from-literal KEY=sk-ant-...
      mcpctl create llm haiku --type anthropic --model claude-haiku-4-5 --api-key-ref ai/KEY
      mcpctl create server time --from-template time
      mcpctl create project demo --servers time --gated
      mcpctl create rbac ops --subject group:ops --binding edit:servers --operation logs
      mcpctl create token serviceaccount/ci --expires 30d
    """


@create.command("llm")
@click.argument("name")
@click.option(
    "--type",
    "type_",
    required=True,
    metavar="TYPE",
    help="anthropic, openai, deepseek, vllm, ollama or gemini-cli.",
)
@click.option("--model", required=True, help="The provider's model name, e.g. claude-haiku-4-5.")
@click.option("--tier", metavar="TIER", help="fast (gating, selection; the default) or heavy.")
@click.option(
    "--api-key-ref",
    metavar="SECRET/KEY",
    shell_complete=complete_secret_keys,
    help="The Secret key holding the API key.",
)
@click.option("--url", help="The endpoint (required for vllm).")
@click.option("--description", help="What this model is for.")
@click.option(
    "--extra",
    multiple=True,
    metavar="K=V",
    help="A provider setting, e.g. temperature=0.2 (repeatable).",
)
@create_options
def create_llm(
    name: str,
    type_: str,
    model: str,
    tier: str | None,
    api_key_ref: str | None,
    url: str | None,
    description: str | None,
    extra: tuple[str, ...],
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create an Llm: a model the projects use for gating and summaries.

    \b
    Examples:
      mcpctl create llm haiku --type anthropic --model claude-haiku-4-5 --api-key-ref ai/KEY
      mcpctl create llm local --type vllm --model qwen3 --url http://gpu:8000 --tier heavy
    """
    spec: dict[str, Any] = {"type": type_, "model": model}
    set_given(spec, tier=tier, url=url, description=description)
    if api_key_ref is not None:
        spec["apiKeyRef"] = parse_ref(api_key_ref, "--api-key-ref")
    if extra:
        spec["extra"] = {k: parse_scalar(v) for k, v in parse_pairs(extra, "--extra").items()}
    send_object(
        "Llm", name, spec, labels=labels, flags={"spec.type": "--type"}, fmt=fmt, dry_run=dry_run
    )


@create.command("secret")
@click.argument("name")
@click.option(
    "--from-literal",
    "literals",
    multiple=True,
    metavar="KEY=VALUE",
    help="A key and its value (repeatable).",
)
@click.option(
    "--from-file",
    "files",
    multiple=True,
    metavar="[KEY=]PATH",
    help="A key whose value is a file's content; the key defaults to the file name.",
)
@click.option(
    "--from-env-file",
    "env_files",
    multiple=True,
    metavar="PATH",
    help="KEY=VALUE lines of a file (# comments allowed).",
)
@click.option(
    "--backend",
    shell_complete=names_of("secretbackends"),
    help="The SecretBackend (the default one if omitted).",
)
@create_options
def create_secret(
    name: str,
    literals: tuple[str, ...],
    files: tuple[str, ...],
    env_files: tuple[str, ...],
    backend: str | None,
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a Secret from literal values and files (values are never printed back).

    \b
    Examples:
      mcpctl create secret github --from-literal TOKEN=ghp_...
      mcpctl create secret tls --from-file ca.pem --from-file key=client.key
      mcpctl create secret env --from-env-file .env --backend bao
    """
    data: dict[str, str] = {}

    def put(key: str, value: str, flag: str) -> None:
        if key in data:
            raise click.BadParameter(f"key {key!r} is given twice", param_hint=flag)
        data[key] = value

    for key, value in parse_pairs(literals, "--from-literal").items():
        put(key, value, "--from-literal")
    for item in files:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = Path(item).name, item
        put(key, read_text(path, "--from-file"), "--from-file")
    for path in env_files:
        for line in read_text(path, "--from-env-file").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, value = parse_pairs(
                    [line.removeprefix("export ")], "--from-env-file"
                ).popitem()
                put(key, value, "--from-env-file")
    spec: dict[str, Any] = {"data": data}
    set_given(spec, backend=backend)
    flags = {"spec.data": "--from-literal/--from-file", "spec.backend": "--backend"}
    send_object("Secret", name, spec, labels=labels, flags=flags, fmt=fmt, dry_run=dry_run)


@create.command("server")
@click.argument("name")
@click.argument("command", nargs=-1, metavar="[-- COMMAND [ARG...]]")
@click.option(
    "--from-template",
    "--template",
    "template",
    metavar="TEMPLATE",
    shell_complete=names_of("templates"),
    help="A Template to start from (`mcpctl get templates`); --env fills its parameters.",
)
@click.option("--image", help="A container image to run.")
@click.option("--url", help="An MCP server to reach at this URL (sse or streamable-http).")
@click.option("--transport", metavar="TRANSPORT", help="stdio, sse or streamable-http.")
@click.option("--port", type=int, help="The port an sse/streamable-http server listens on.")
@click.option("--replicas", type=int, help="How many instances to run (default 1).")
@click.option(
    "--env",
    multiple=True,
    metavar="NAME=VALUE",
    help="An environment variable, or a template's parameter (repeatable).",
)
@click.option(
    "--env-from-secret",
    "--env-secret",
    "env_secret",
    multiple=True,
    metavar="NAME=SECRET/KEY",
    help="An environment variable from a key of a Secret: how secret parameters are given "
    "(repeatable).",
)
@click.option(
    "--header",
    multiple=True,
    metavar="NAME=VALUE",
    help="An HTTP header sent to the server (repeatable).",
)
@click.option(
    "--header-secret",
    multiple=True,
    metavar="NAME=SECRET/KEY",
    help="An HTTP header from a Secret (repeatable).",
)
@create_options
def create_server(
    name: str,
    command: tuple[str, ...],
    template: str | None,
    image: str | None,
    url: str | None,
    transport: str | None,
    port: int | None,
    replicas: int | None,
    env: tuple[str, ...],
    env_secret: tuple[str, ...],
    header: tuple[str, ...],
    header_secret: tuple[str, ...],
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a Server from a template, an image, a command (after --) or a URL.

    mcpd checks a template's parameters: each required one given, each secret one
    from a Secret (--env-from-secret), each value of its type.

    \b
    Examples:
      mcpctl create server time --from-template time
      mcpctl create server github --from-template github \\
          --env-from-secret GITHUB_PERSONAL_ACCESS_TOKEN=github/token --replicas 2
      mcpctl create server uvx-time -- uvx mcp-server-time
      mcpctl create server docs --url https://mcp.example.com/mcp --transport streamable-http
    """
    spec: dict[str, Any] = {}
    set_given(spec, template=template, image=image, externalUrl=url, transport=transport)
    set_given(spec, containerPort=port, replicas=replicas)
    if command:
        spec["command"] = list(command)
    values = _values(env, env_secret, "--env", "--env-from-secret")
    if values:
        spec["env"] = values
    headers = _values(header, header_secret, "--header", "--header-secret")
    if headers:
        spec["headers"] = headers
    flags = {
        "spec.template": "--from-template",
        "spec.image": "--image",
        "spec.externalUrl": "--url",
        "spec.command": "COMMAND",
        "spec.transport": "--transport",
        "spec.containerPort": "--port",
        "spec.replicas": "--replicas",
        "spec.env": "--env/--env-from-secret",
        "spec.headers": "--header/--header-secret",
        # entry by entry: the --env ones come first (`_values`)
        **{f"spec.env[{i}]": "--env" for i in range(len(env))},
        **{f"spec.env[{len(env) + i}]": "--env-from-secret" for i in range(len(env_secret))},
    }
    send_object(
        "Server",
        name,
        spec,
        labels=labels,
        flags=flags,
        fmt=fmt,
        dry_run=dry_run,
        terms={"valueFrom.secretRef": "--env-from-secret"},
    )


def _values(
    plain: tuple[str, ...], secret: tuple[str, ...], flag: str, secret_flag: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": k, "value": v} for k, v in parse_pairs(plain, flag).items()
    ]
    for key, ref in parse_pairs(secret, secret_flag).items():
        out.append({"name": key, "valueFrom": {"secretRef": parse_ref(ref, secret_flag)}})
    return out


@create.command("project")
@click.argument("name")
@click.option(
    "--servers",
    "servers",
    multiple=True,
    shell_complete=names_of("servers"),
    help="Servers of the project, comma-separated (repeatable).",
)
@click.option("--gated/--no-gated", default=None, help="Start sessions gated by begin_session.")
@click.option("--description", help="What the project is for.")
@click.option("--instructions", help="Instructions sent to clients at initialize.")
@click.option(
    "--instructions-file", metavar="PATH", help="Read the instructions from a file (- for stdin)."
)
@click.option("--llm-fast", shell_complete=names_of("llms"), help="The Llm of tier fast.")
@click.option("--llm-heavy", shell_complete=names_of("llms"), help="The Llm of tier heavy.")
@create_options
def create_project(
    name: str,
    servers: tuple[str, ...],
    gated: bool | None,
    description: str | None,
    instructions: str | None,
    instructions_file: str | None,
    llm_fast: str | None,
    llm_heavy: str | None,
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a Project: servers served to AI clients as one MCP endpoint.

    \b
    Examples:
      mcpctl create project demo --servers time,github
      mcpctl create project team --servers github --gated --llm-fast haiku
    """
    if instructions is not None and instructions_file is not None:
        raise click.BadParameter("give --instructions or --instructions-file, not both")
    if instructions_file is not None:
        instructions = read_text(instructions_file, "--instructions-file")
    spec: dict[str, Any] = {}
    if servers:
        spec["servers"] = [s for item in servers for s in item.split(",") if s]
    set_given(spec, gated=gated, description=description, instructions=instructions)
    llm: dict[str, str] = {}
    set_given(llm, fast=llm_fast, heavy=llm_heavy)
    if llm:
        spec["llm"] = llm
    flags = {
        "spec.servers": "--servers",
        "spec.gated": "--gated",
        "spec.instructions": "--instructions",
        "spec.llm.fast": "--llm-fast",
        "spec.llm.heavy": "--llm-heavy",
    }
    send_object("Project", name, spec, labels=labels, flags=flags, fmt=fmt, dry_run=dry_run)


@create.command("prompt")
@click.argument("name")
@click.option(
    "-p", "--project", required=True, shell_complete=names_of("projects"), help="The project."
)
@click.option("--content", help="The prompt text (Markdown).")
@click.option(
    "--from-file", "from_file", metavar="PATH", help="Read the content from a file (- for stdin)."
)
@click.option("--priority", type=int, help="1 (lowest) to 10 (highest); default 5.")
@click.option("--tag", "tags", multiple=True, help="A tag for selection (repeatable).")
@click.option("--summary", help="One line shown in listings.")
@create_options
def create_prompt(
    name: str,
    project: str,
    content: str | None,
    from_file: str | None,
    priority: int | None,
    tags: tuple[str, ...],
    summary: str | None,
    labels: tuple[str, ...],
    dry_run: bool,
    fmt: str | None,
) -> None:
    """Create a Prompt in a project.

    \b
    Examples:
      mcpctl create prompt style -p demo --content "Answer in English." --priority 8
      mcpctl create prompt guide -p demo --from-file guide.md --tag onboarding
    """
    if (content is None) == (from_file is None):
        raise click.BadParameter("give one of --content or --from-file")
    if from_file is not None:
        content = read_text(from_file, "--from-file")
    spec: dict[str, Any] = {"content": content}
    set_given(spec, priority=priority, summary=summary)
    if tags:
        spec["tags"] = list(tags)
    flags = {"spec.content": "--content/--from-file", "spec.tags": "--tag"}
    send_object(
        "Prompt",
        name,
        spec,
        labels=labels,
        flags=flags,
        fmt=fmt,
        dry_run=dry_run,
        project=project,
    )


for _command in (
    create_user,
    create_group,
    create_serviceaccount,
    create_rbac,
    create_mcptoken,
    create_token,
):
    create.add_command(_command)
