"""Benchmark `mcpctl validate` against its targets.

Generates a realistic, valid set of manifests (secrets, LLMs, servers of every
source, projects, prompts, users, groups, service accounts, RBAC), spread over
folders by kind with some multi-document files, then measures:

1. `mcpctl validate DIR` (the installed command, wall clock, best of N runs);
2. `check-jsonschema` over the same objects (schema only, no references);
3. cold start: `mcpctl --help` against `python -c pass`.

Targets (from the issue): at least 5,000 resources/s for 10,000 resources
with every reference check; faster than check-jsonschema; `mcpctl --help`
within 2x `python -c pass` + 100 ms.

Run from the repository root:

    .venv/bin/python benchmarks/validate.py [--count 10000] [--files-per-dir 100] [--strict]

The exit status is 0 unless `--strict` is given and a target is missed (1),
or the benchmark itself cannot run (2: e.g. the generated set is not valid).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "mcpctl/v1"
TARGET_COUNT = 10_000
TARGET_RPS = 5_000.0
COLD_START_FACTOR = 2.0
COLD_START_SLACK = 0.100
#: Keep every command line well under ARG_MAX (usually 2 MiB on Linux).
MAX_ARGV_BYTES = 1_000_000

Doc = dict[str, Any]

#: Share of each kind in the generated set (sums to 100).
WEIGHTS: dict[str, int] = {
    "Secret": 8,
    "Llm": 2,
    "Server": 28,
    "Project": 4,
    "Prompt": 24,
    "User": 20,
    "Group": 4,
    "ServiceAccount": 2,
    "Rbac": 8,
}
MIN_COUNT = 2 * len(WEIGHTS)

SECRET_KEYS = (
    "token",
    "apiKey",
    "password",
    "username",
    "clientId",
    "clientSecret",
    "webhook-url",
    "private.key",
)
WORDS = (
    "jira", "confluence", "slack", "postgres", "redis", "sentry", "grafana", "vault",
    "linear", "notion", "stripe", "figma", "k8s", "terraform", "docs", "search",
    "billing", "crm", "wiki", "metrics", "logs", "tickets", "calendar", "drive",
)  # fmt: skip
TEAMS = tuple(f"team-{w}" for w in ("core", "infra", "data", "web", "mobile", "ml", "sec", "ops"))
RBAC_RESOURCES = ("servers", "projects", "prompts", "secrets", "llms", "templates", "users")
RUN_ACTIONS = ("logs", "sync", "backup", "restore", "approve-prompts")


# --------------------------------------------------------------------------- generation


def kind_counts(total: int) -> dict[str, int]:
    """How many objects of each kind make up `total` (every kind at least 2)."""
    counts = {kind: max(2, total * weight // 100) for kind, weight in WEIGHTS.items()}
    counts["Server"] += total - sum(counts.values())
    return counts


def envelope(kind: str, name: str, spec: Doc, **meta: Any) -> Doc:
    metadata: Doc = {"name": name, **meta}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _secret_ref(rng: random.Random, secrets: Sequence[tuple[str, list[str]]]) -> Doc:
    name, keys = rng.choice(secrets)
    return {"secretRef": {"name": name, "key": rng.choice(keys)}}


def generate(total: int, seed: int) -> tuple[list[tuple[str, str, list[Doc]]], dict[str, int]]:
    """Valid objects as (folder, file stem, documents), one entry per file."""
    rng = random.Random(seed)
    counts = kind_counts(total)
    entries: list[tuple[str, str, list[Doc]]] = []

    # Secrets, one per file, each with several keys.
    secrets: list[tuple[str, list[str]]] = []
    for i in range(counts["Secret"]):
        name = f"{rng.choice(WORDS)}-creds-{i:05d}"
        keys = ["token", *rng.sample(SECRET_KEYS[1:], rng.randint(1, 4))]
        data = {k: f"value-{i}-{k}-{rng.getrandbits(64):016x}" for k in keys}
        spec: Doc = {"data": data}
        doc = envelope("Secret", name, spec, labels={"team": rng.choice(TEAMS)})
        secrets.append((name, keys))
        entries.append(("secrets", name, [doc]))

    # LLMs: keyed providers refer to a secret key; self-hosted ones give a URL.
    fast_llms: list[str] = []
    heavy_llms: list[str] = []
    for i in range(counts["Llm"]):
        tier = "fast" if i % 2 == 0 else "heavy"
        name = f"llm-{tier}-{i:04d}"
        provider = ("anthropic", "openai", "deepseek", "vllm", "ollama")[i % 5]
        spec = {"type": provider, "model": f"{provider}-model-{i}", "tier": tier}
        if provider in ("anthropic", "openai", "deepseek"):
            secret, keys = rng.choice(secrets)
            spec["apiKeyRef"] = {"name": secret, "key": rng.choice(keys)}
        else:
            spec["url"] = f"http://{provider}-{i}.llm.internal:8000/v1"
        spec["description"] = f"{tier} tier model number {i}"
        if i % 3 == 0:
            spec["extra"] = {"maxTokens": 1024 * (1 + i % 4), "temperature": 0.2}
        (fast_llms if tier == "fast" else heavy_llms).append(name)
        entries.append(("llms", name, [envelope("Llm", name, spec)]))

    # Servers: local commands, container images, remote URLs and built-in templates.
    servers: list[str] = []
    for i in range(counts["Server"]):
        word = rng.choice(WORDS)
        flavour = i % 20
        meta: Doc = {"labels": {"team": rng.choice(TEAMS), "tier": rng.choice(("prod", "dev"))}}
        if flavour < 7:  # a local command; credentials from secrets
            name = f"{word}-{i:05d}"
            spec = {"command": ["uvx", f"mcp-server-{word}", f"--instance={i}"]}
            env: list[Doc] = [{"name": "LOG_LEVEL", "value": rng.choice(("info", "debug"))}]
            for j in range(rng.randint(1, 3)):
                env.append(
                    {"name": f"{word.upper()}_SECRET_{j}", "valueFrom": _secret_ref(rng, secrets)}
                )
            spec["env"] = env
            if i % 3 == 0:
                spec["healthCheck"] = {
                    "tool": "ping",
                    "arguments": {"verbose": False},
                    "intervalSeconds": 60,
                    "timeoutSeconds": 10,
                }
        elif flavour < 10:  # a container image serving HTTP
            name = f"{word}-img-{i:05d}"
            spec = {
                "image": f"ghcr.io/example/mcp-{word}:1.{i % 10}.0",
                "transport": "streamable-http",
                "containerPort": 8000 + i % 100,
                "replicas": 1 + i % 3,
                "env": [{"name": "API_TOKEN", "valueFrom": _secret_ref(rng, secrets)}],
            }
        elif flavour < 14:  # a remote server mcpctl only proxies to
            name = f"{word}-remote-{i:05d}"
            spec = {
                "externalUrl": f"https://mcp-{i}.{word}.example.com/mcp",
                "transport": rng.choice(("streamable-http", "sse")),
                "headers": [
                    {"name": "Authorization", "valueFrom": _secret_ref(rng, secrets)},
                    {"name": "X-Tenant", "value": rng.choice(TEAMS)},
                ],
            }
        elif flavour < 16:
            name = f"time-{i:05d}"
            spec = {"template": "time"}
        elif flavour < 18:
            name = f"fetch-{i:05d}"
            spec = {"template": "fetch", "replicas": 2}
        else:  # github needs its token parameter from a secret
            name = f"github-{i:05d}"
            spec = {
                "template": "github",
                "env": [
                    {"name": "GITHUB_PERSONAL_ACCESS_TOKEN", "valueFrom": _secret_ref(rng, secrets)}
                ],
            }
        servers.append(name)
        entries.append(("servers", name, [envelope("Server", name, spec, **meta)]))

    # Projects: a handful of servers each and an LLM of the fast tier.
    projects: list[tuple[str, list[str]]] = []
    for i in range(counts["Project"]):
        name = f"proj-{rng.choice(WORDS)}-{i:04d}"
        members = rng.sample(servers, min(len(servers), rng.randint(3, 12)))
        spec = {
            "description": f"Project {i}: tools for {rng.choice(TEAMS)}",
            "servers": members,
            "gated": i % 2 == 0,
            "instructions": f"You help with project {i}.\nCall begin_session first.\n",
            "llm": {"fast": rng.choice(fast_llms)},
        }
        if i % 3 == 0:
            spec["llm"]["heavy"] = rng.choice(heavy_llms)
        projects.append((name, members))
        entries.append(("projects", name, [envelope("Project", name, spec)]))

    # Prompts belong to projects; some have chapters, some link to a server's resource.
    for i in range(counts["Prompt"]):
        project, members = projects[i % len(projects)]
        name = f"{rng.choice(('review', 'on-call', 'style', 'deploy', 'howto'))}-{i:05d}"
        spec = {
            "summary": f"Guidance number {i}",
            "priority": 1 + i % 10,
            "tags": rng.sample(("review", "github", "incident", "deploy", "style", "db"), 2),
            "content": f"# Prompt {i}\n\n- Read the issue first.\n- Keep changes small.\n",
        }
        if i % 5 == 0:
            spec["chapters"] = [
                {"title": f"Part {c}", "summary": f"Part {c} of {i}", "content": f"Text {c}.\n"}
                for c in range(1, 4)
            ]
        if i % 7 == 0:
            spec["linkTarget"] = f"{project}/{rng.choice(members)}:docs://prompts/{i}"
        doc = envelope("Prompt", name, spec, project=project)
        entries.append((f"prompts/{project}", name, [doc]))

    # Users: in multi-document files, one file per team.
    users = [f"user-{i:05d}" for i in range(counts["User"])]
    by_team: dict[str, list[Doc]] = defaultdict(list)
    for i, user in enumerate(users):
        spec = {"email": f"{user}@example.com", "displayName": f"User {i}"}
        by_team[TEAMS[i % len(TEAMS)]].append(envelope("User", user, spec))
    for team, docs in by_team.items():
        for part in range(0, len(docs), 50):  # at most 50 per file
            entries.append(("access/users", f"{team}-{part // 50:03d}", docs[part : part + 50]))

    groups: list[str] = []
    for i in range(counts["Group"]):
        name = f"group-{i:04d}"
        spec = {
            "description": f"Group {i}",
            "members": rng.sample(users, min(len(users), rng.randint(3, 15))),
        }
        groups.append(name)
        entries.append(("access/groups", name, [envelope("Group", name, spec)]))

    accounts: list[str] = []
    account_docs: list[Doc] = []
    for i in range(counts["ServiceAccount"]):
        name = f"sa-{rng.choice(('ci', 'bot', 'sync', 'audit'))}-{i:04d}"
        accounts.append(name)
        account_docs.append(envelope("ServiceAccount", name, {"description": f"Machine {i}"}))
    for part in range(0, len(account_docs), 25):
        entries.append(
            ("access", f"serviceaccounts-{part // 25:03d}", account_docs[part : part + 25])
        )

    # RBAC: subjects that exist, bindings of every shape; ten per file.
    rbac_docs: list[Doc] = []
    for i in range(counts["Rbac"]):
        subjects: list[Doc] = [{"kind": "Group", "name": rng.choice(groups)}]
        if i % 2 == 0:
            subjects.append({"kind": "User", "name": rng.choice(users)})
        if i % 5 == 0:
            subjects.append({"kind": "ServiceAccount", "name": rng.choice(accounts)})
        bindings: list[Doc] = [{"role": "view", "resource": "*"}]
        resource = rng.choice(RBAC_RESOURCES)
        bindings.append({"role": rng.choice(("create", "edit", "delete")), "resource": resource})
        if i % 3 == 0:
            bindings.append({"role": "edit", "resource": "servers", "name": rng.choice(servers)})
        if i % 4 == 0:
            bindings.append({"role": "run", "action": rng.choice(RUN_ACTIONS)})
        spec = {"subjects": subjects, "bindings": bindings}
        rbac_docs.append(envelope("Rbac", f"rbac-{i:05d}", spec))
    for part in range(0, len(rbac_docs), 10):
        entries.append(("access/rbac", f"rbac-{part // 10:04d}", rbac_docs[part : part + 10]))

    return entries, counts


def lay_out(entries: list[tuple[str, str, list[Doc]]], files_per_dir: int) -> dict[str, list[Doc]]:
    """Relative paths for the entries: folders by kind, sharded past `files_per_dir`."""
    by_folder: dict[str, list[tuple[str, list[Doc]]]] = defaultdict(list)
    for folder, stem, docs in entries:
        by_folder[folder].append((stem, docs))
    files: dict[str, list[Doc]] = {}
    for folder, items in by_folder.items():
        shard = len(items) > files_per_dir
        for n, (stem, docs) in enumerate(items):
            where = f"{folder}/{n // files_per_dir:03d}" if shard else folder
            files[f"{where}/{stem}.yaml"] = docs
    return files


def write_tree(root: Path, files: dict[str, list[Doc]]) -> None:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for rel, docs in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.dump_all(docs, Dumper=dumper, sort_keys=False, allow_unicode=True)
        path.write_text(f"# generated by benchmarks/validate.py\n{text}", encoding="utf-8")


def write_single_documents(
    root: Path, split_root: Path, files: dict[str, list[Doc]]
) -> dict[str, list[str]]:
    """Every object as its own file (check-jsonschema reads one document per file).

    Single-document files are used as they are; multi-document files are split
    into `split_root`. Returns absolute file paths by kind.
    """
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for rel, docs in files.items():
        if len(docs) == 1:
            by_kind[docs[0]["kind"]].append(str(root / rel))
            continue
        for i, doc in enumerate(docs):
            path = split_root / f"{rel.removesuffix('.yaml')}--{i:03d}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.dump(doc, Dumper=dumper, sort_keys=False), encoding="utf-8")
            by_kind[doc["kind"]].append(str(path))
    return dict(by_kind)


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    seconds: float
    """Wall clock."""
    cpu: float
    """User + system CPU time of the child (less sensitive to a busy machine)."""
    returncode: int
    stdout: str
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: Sequence[str], cwd: Path | None = None) -> Run:
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    return Run(elapsed, _children_cpu() - cpu, done.returncode, done.stdout, done.stderr)


def best_of(argv: Sequence[str], runs: int, cwd: Path | None = None) -> tuple[float, Run]:
    """The fastest of `runs` runs; every one must succeed."""
    results = [run(argv, cwd) for _ in range(runs)]
    for r in results:
        if r.returncode != 0:
            sys.exit(f"benchmark: {shlex.join(argv)} exited {r.returncode}: {r.stderr[-2000:]}")
    best = min(results, key=lambda r: r.seconds)
    return best.seconds, best


def chunked(prefix: Sequence[str], files: Sequence[str]) -> list[list[str]]:
    """Command lines running `prefix` over `files`, each within MAX_ARGV_BYTES."""
    base = sum(len(a) + 1 for a in prefix)
    commands: list[list[str]] = []
    current: list[str] = []
    size = base
    for f in files:
        if current and size + len(f) + 1 > MAX_ARGV_BYTES:
            commands.append([*prefix, *current])
            current, size = [], base
        current.append(f)
        size += len(f) + 1
    if current:
        commands.append([*prefix, *current])
    return commands


def tool(bin_dir: Path, name: str) -> str:
    candidate = bin_dir / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"benchmark: cannot find {name!r} next to {sys.executable} or on PATH")
    return found


def rps(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# --------------------------------------------------------------------------- schemas


@dataclass
class Schemas:
    """The JSON Schema(s) check-jsonschema checks against, and where they came from."""

    origin: str
    manifest: Path | None = None
    per_kind: dict[str, Path] = field(default_factory=dict)


def obtain_schemas(mcpctl: str, dest: Path, kinds: Sequence[str], mode: str) -> Schemas:
    """`mcpctl schema export` if it works, else per-kind schemas from the models."""
    exported = dest / "exported"
    attempt = run([mcpctl, "schema", "export", str(exported)])
    if attempt.returncode == 0 and exported.is_dir():
        manifest = exported / "manifest.json"
        per_kind = _find_kind_schemas(exported, kinds)
        if mode in ("auto", "manifest") and manifest.exists():
            return Schemas("`mcpctl schema export` (manifest.json)", manifest=manifest)
        if len(per_kind) == len(kinds):
            return Schemas("`mcpctl schema export` (one schema per kind)", per_kind=per_kind)
        reason = "its output has no manifest.json or per-kind schema this benchmark recognises"
    else:
        lines = (attempt.stderr or attempt.stdout).strip().splitlines()
        reason = f"it failed (exit {attempt.returncode}: {lines[-1] if lines else 'no output'})"
    # Fallback: what the exporter is meant to produce, from the models themselves.
    from mcpctl.schemas import BY_KIND

    generated = dest / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind in kinds:
        schema = BY_KIND[kind].model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path = generated / f"{kind.lower()}.json"
        path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
        paths[kind] = path
    origin = (
        f"per-kind schemas from Model.model_json_schema(by_alias=True), "
        f"because `mcpctl schema export` was not usable: {reason}"
    )
    return Schemas(origin, per_kind=paths)


def _find_kind_schemas(folder: Path, kinds: Sequence[str]) -> dict[str, Path]:
    from mcpctl.schemas import BY_KIND

    found: dict[str, Path] = {}
    for kind in kinds:
        plural = BY_KIND[kind].PLURAL
        for stem in (kind, kind.lower(), plural):
            for path in (folder / f"{stem}.json", folder / f"{stem}.schema.json"):
                if path.exists():
                    found[kind] = path
                    break
            if kind in found:
                break
    return found


# --------------------------------------------------------------------------- report


@dataclass
class Target:
    name: str
    passed: bool | None
    """None: not measured on purpose (SKIP)."""
    detail: str

    @property
    def verdict(self) -> str:
        return "SKIP" if self.passed is None else "PASS" if self.passed else "FAIL"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f} resources/s"


def print_load() -> None:
    """The load average: other work on the machine makes every number here slower."""
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = " (busy machine: expect slower, noisier numbers)" if one > 0.5 * cpus else ""
    print(f"load average: {one:.2f} (1 min), {five:.2f} (5 min){busy}")


#: Run in a fresh interpreter by --breakdown: where one `validate` spends its time.
BREAKDOWN = """
import sys, time
t0 = time.perf_counter()
from mcpctl.manifests import check_set, load_paths
t1 = time.perf_counter()
result = load_paths([sys.argv[1]])
t2 = time.perf_counter()
issues = check_set(result.manifests)
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {len(result.manifests)} {len(issues)}")
"""


def print_breakdown(python: str, root: Path) -> None:
    probe = run([python, "-c", BREAKDOWN, str(root)])
    fields = probe.stdout.split()
    if probe.returncode != 0 or len(fields) != 5:
        print(f"  breakdown failed: {(probe.stderr or probe.stdout).strip()[-500:]}")
        return
    imported, loaded, checked = (float(f) for f in fields[:3])
    print(
        f"  in one process: import {imported:.3f}s, load_paths {loaded:.3f}s "
        f"(read, parse, schema), check_set {checked:.3f}s (references, duplicates, cycles)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=TARGET_COUNT, help="resources to generate")
    parser.add_argument(
        "--files-per-dir", type=int, default=100, help="shard a folder into subfolders past this"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each tool (best kept)")
    parser.add_argument("--cold-runs", type=int, default=10, help="runs of each cold-start probe")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--cjs-mode",
        choices=("auto", "manifest", "per-kind"),
        default="auto",
        help="check-jsonschema with the exported manifest.json (auto: when there is one) "
        "or once per kind with that kind's schema",
    )
    parser.add_argument(
        "--keep", metavar="DIR", type=Path, default=None,
        help="write the manifests to DIR (created, must not exist) and keep them",
    )  # fmt: skip
    parser.add_argument(
        "--breakdown", action="store_true",
        help="also time import, load_paths and check_set inside one fresh process",
    )  # fmt: skip
    parser.add_argument("--skip-cjs", action="store_true", help="do not run check-jsonschema")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.count < MIN_COUNT:
        parser.error(f"--count must be at least {MIN_COUNT}")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists")
    if args.files_per_dir < 1 or args.runs < 1 or args.cold_runs < 1:
        parser.error("--files-per-dir, --runs and --cold-runs must be at least 1")

    bin_dir = Path(sys.executable).parent
    python = sys.executable
    mcpctl = tool(bin_dir, "mcpctl")
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="mcpctl-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            root = args.keep.resolve()
        else:
            root = tmp / "manifests"
            root.mkdir()

        # 1. Generate, and make sure the set is valid.
        t0 = time.perf_counter()
        entries, counts = generate(args.count, args.seed)
        files = lay_out(entries, args.files_per_dir)
        write_tree(root, files)
        total = sum(len(d) for d in files.values())
        dirs = len({str(Path(rel).parent) for rel in files})
        multi = sum(1 for d in files.values() if len(d) > 1)
        print(f"mcpctl validate benchmark ({sys.platform}, {os.cpu_count()} CPUs, {python})")
        print_load()
        print(
            f"generated {total:,} resources in {len(files):,} files ({multi} multi-document) "
            f"across {dirs} directories in {time.perf_counter() - t0:.1f}s: {root}"
        )
        print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

        check = run([mcpctl, "validate", "-o", "json", str(root)])
        try:
            report: Any = json.loads(check.stdout)
        except json.JSONDecodeError:
            report = None
        valid = isinstance(report, dict) and report.get("valid") is True
        if check.returncode != 0 or not valid or report.get("objects") != total:
            print(f"benchmark: the generated set is not valid (exit {check.returncode}):")
            shown = check.stdout if report is None else json.dumps(report.get("issues", [])[:20])
            print((shown + check.stderr)[:4000])
            return 2
        print(f"mcpctl validate: {total:,} objects, valid (exit 0)")

        # 2. mcpctl validate, wall clock of the installed command.
        validate_argv = [mcpctl, "validate", str(root)]
        mcpctl_s, last = best_of(validate_argv, args.runs)
        mcpctl_rps = rps(total, mcpctl_s)
        print()
        print(f"$ {shlex.join(validate_argv)}")
        print(f"  {last.stdout.strip()}")
        print(
            f"  best of {args.runs}: {mcpctl_s:.3f}s wall (CPU {last.cpu:.3f}s) = "
            f"{fmt_rate(mcpctl_rps)} (incl. start-up)"
        )
        if args.breakdown:
            print_breakdown(python, root)

        # 3. check-jsonschema over the same objects (schema only).
        cjs_rps: float | None = None
        if not args.skip_cjs:
            cjs_rps = bench_check_jsonschema(
                bin_dir, mcpctl, tmp, root, files, counts, total, args.runs, args.cjs_mode
            )
            if cjs_rps is not None:
                print(
                    f"  ratio mcpctl/check-jsonschema (throughput): {mcpctl_rps / cjs_rps:.2f}x "
                    f"(mcpctl also checks references, duplicates and cycles)"
                )

    # 4. Cold start.
    help_argv, pass_argv = [mcpctl, "--help"], [python, "-c", "pass"]
    help_times: list[float] = []
    pass_times: list[float] = []
    for _ in range(args.cold_runs):  # interleaved, so that noise hits both alike
        pass_times.append(run(pass_argv).seconds)
        probe = run(help_argv)
        if probe.returncode != 0:
            print(f"benchmark: `mcpctl --help` failed: {probe.stderr.strip()[:2000]}")
            return 2
        help_times.append(probe.seconds)
    help_s, pass_s = min(help_times), min(pass_times)
    budget = COLD_START_FACTOR * pass_s + COLD_START_SLACK
    print()
    print(f"cold start, best of {args.cold_runs}:")
    print(f"  python -c pass : {pass_s * 1000:7.1f} ms")
    print(f"  mcpctl --help  : {help_s * 1000:7.1f} ms")
    print(
        f"  budget (2x python + 100 ms): {budget * 1000:.1f} ms -> "
        f"{'met' if help_s <= budget else 'NOT met'}"
    )

    # 5. Summary.
    at = "" if total == TARGET_COUNT else f" (measured at {total:,}, the target is set at 10,000)"
    targets = [
        Target(
            f">= {TARGET_RPS:,.0f} resources/s for 10,000 resources with reference checks",
            mcpctl_rps >= TARGET_RPS,
            f"{fmt_rate(mcpctl_rps)}{at}",
        ),
        Target(
            "faster than check-jsonschema",
            None if args.skip_cjs else cjs_rps is not None and mcpctl_rps > cjs_rps,
            ("skipped (--skip-cjs)" if args.skip_cjs else "not measured: check-jsonschema failed")
            if cjs_rps is None
            else f"{fmt_rate(mcpctl_rps)} vs {fmt_rate(cjs_rps)} ({mcpctl_rps / cjs_rps:.2f}x)",
        ),
        Target(
            "cold start within 2x `python -c pass` + 100 ms",
            help_s <= budget,
            f"{help_s * 1000:.1f} ms vs budget {budget * 1000:.1f} ms",
        ),
    ]
    print()
    print("summary:")
    for target in targets:
        print(f"  {target.verdict}  {target.name}: {target.detail}")
    print(f"(benchmark took {time.perf_counter() - started:.0f}s)")
    failed = any(t.passed is False for t in targets)
    return 1 if failed and args.strict else 0


def bench_check_jsonschema(
    bin_dir: Path,
    mcpctl: str,
    tmp: Path,
    root: Path,
    files: dict[str, list[Doc]],
    counts: dict[str, int],
    total: int,
    runs: int,
    mode: str,
) -> float | None:
    """Time check-jsonschema over every object; its throughput, or None if it cannot run."""
    cjs = tool(bin_dir, "check-jsonschema")
    schemas = obtain_schemas(mcpctl, tmp / "schemas", list(counts), mode)
    by_kind = write_single_documents(root, tmp / "split", files)
    split = sum(1 for d in files.values() if len(d) > 1)
    print()
    print(f"$ {cjs} --schemafile SCHEMA FILES...")
    print(f"  schema: {schemas.origin}")
    print(
        f"  check-jsonschema reads one document per file: the {split} multi-document files "
        f"were split into single-document copies; {sum(map(len, by_kind.values())):,} files"
    )
    groups: list[tuple[str, Path, list[str]]]
    if schemas.manifest is not None:
        every = [f for paths in by_kind.values() for f in paths]
        groups = [("all kinds", schemas.manifest, every)]
        print("  one schema for every kind: one pass over all files")
    else:
        groups = [(kind, schemas.per_kind[kind], paths) for kind, paths in by_kind.items()]
        why = "as asked (--cjs-mode per-kind)" if mode == "per-kind" else "no multi-kind schema"
        print(f"  {why}: one run per kind ({len(groups)}) with its schema, times summed")
    commands = [
        (label, argv)
        for label, schema, paths in groups
        for argv in chunked([cjs, "--schemafile", str(schema)], paths)
    ]
    # Every run is timed; the first also shows whether the schema accepts the (valid) set.
    totals: list[float] = []
    rejected = 0
    for round_ in range(runs):
        elapsed = 0.0
        for label, argv in commands:
            result = run(argv)
            elapsed += result.seconds
            if round_ == 0 and result.returncode != 0:
                rejected += 1
                print(
                    f"  WARNING: check-jsonschema rejects valid {label} (exit {result.returncode}):"
                )
                print(
                    "    " + (result.stdout + result.stderr).strip()[:1500].replace("\n", "\n    ")
                )
        if rejected == len(commands):
            print("  check-jsonschema failed on every run; not comparing")
            return None
        totals.append(elapsed)
    best = min(totals)
    cjs_rps = rps(total, best)
    print(f"  {len(commands)} invocation(s); best of {runs}: {best:.3f}s = {fmt_rate(cjs_rps)}")
    return cjs_rps


if __name__ == "__main__":
    sys.exit(main())
