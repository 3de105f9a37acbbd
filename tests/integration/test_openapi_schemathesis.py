"""schemathesis against a live mcpd: no 5xx, and answers as the OpenAPI document says.

The document is the one mcpd serves (`/api/v1/openapi.json`); requests go to a
real mcpd process over loopback, authenticated as the bootstrap admin. The
`schemathesis run` command runs in a subprocess (its own warnings stay out of
pytest's `filterwarnings = error`), deterministically (`--generation-deterministic`:
the same cases on every run), with a fixed number of examples per operation
and a generous guard against a hung run. `schemathesis_hooks.py` keeps the
admin's own Rbac out of reach, and logging out is left out (it would end the
admin's session).

It runs on SQLite and on PostgreSQL (see PHASES). On SQLite mcpd mirrors its
state repo to a bare repo on disk (`--git-remote PATH`), so `POST
/api/v1/gitops/sync` answers a sync report and the status names the remote; on
PostgreSQL it has no remote, and sync answers 409. Restores are fuzzed with
revisions that name nothing (404, 422); the hooks send one that names a commit
to `main`, which changes nothing. Before the run, one real restore leaves a
timeline behind, so that timelines and status answer more than their empty
forms; its answers are checked against the document's schemas here.

Checks: no server error, and every answer conforms to the document (status
code, content type, headers, body schema). Not checked: whether the API
accepts everything the schemas allow (`positive_data_acceptance`): mcpd
validates more than a JSON Schema can say (references, a body's kind against
its URL, opaque continue tokens); nor `unsupported_method`: the catch-all
`/api/v1/{plural}` routes answer 404 (unknown kind), not 405, to e.g. `PUT
/api/v1/auth/me`.

Before the run, a few inputs that did answer 500 once (found by hand or by
this run) are sent as they are, so that they stay fixed whatever schemathesis
happens to generate.

On a failure the test prints schemathesis' report, with a curl command per
failing case; mcpd's log (kept next to the state dir) has the traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type information
import pytest

from tests.support.mcpd import Mcpd, running_mcpd

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

#: Test cases per operation and phase (coverage walks each schema once, whatever this says).
MAX_EXAMPLES = 10
#: SQLite: the coverage phase (boundary and wrong-type values of every parameter), then
#: fuzzing. PostgreSQL: fuzzing only, to keep the run short; what differs by
#: database (text the driver refuses, numbers past 64 bits) comes with the fuzzed values
#: and the edge cases below.
PHASES = {"sqlite": "examples,coverage,fuzzing", "postgresql": "examples,fuzzing"}
#: A guard against a hung run only: the work is bounded by count (MAX_EXAMPLES per
#: operation, deterministic cases), not by time. A run takes 11 s and 7 s on 2 idle CPUs,
#: several times that on a busy machine; a time budget here would fail under load.
TIME_LIMIT = 600.0
#: Per request, a hang guard too (schemathesis reports a request past it as a failure).
REQUEST_TIMEOUT = 120
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)

CONFIG = f"""\
# Written by tests/integration/test_openapi_schemathesis.py.

[generation]
max-examples = {MAX_EXAMPLES}

[[operations]]
# A body here holds manifests of any kind: the coverage phase would walk every
# kind's schema (about 2,000 cases, 30 s, per operation; for apply 5 cases in
# 3 s). Fuzzing still sends them.
include-name = [
    "POST /api/v1/{{plural}}",
    "PUT /api/v1/{{plural}}/{{name}}",
    "POST /api/v1/projects/{{project}}/{{plural}}",
    "PUT /api/v1/projects/{{project}}/{{plural}}/{{name}}",
]
phases.coverage.enabled = false

[[operations]]
include-name = "POST /api/v1/apply"
phases.coverage.enabled = false
generation.max-examples = {MAX_EXAMPLES // 2}

[[operations]]
# Every login spends an argon2 hash on purpose: a few fuzzed cases are enough.
include-name = "POST /api/v1/auth/login"
phases.coverage.enabled = false
generation.max-examples = {MAX_EXAMPLES // 2}

[[operations]]
# Argon2 again (a new password).
include-name = "PUT /api/v1/users/{{name}}/password"
generation.max-examples = {MAX_EXAMPLES // 2}
"""


_TOKEN = {"apiVersion": "mcpctl/v1", "kind": "McpToken", "metadata": {"name": "edge"}}
_SERVER = {"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": "restored-away"}}
#: (method, URL, JSON body (bytes: sent as they are) or None, the status expected): each
#: answered 500 before its fix.
EDGE_CASES: list[tuple[str, str, Any, int]] = [
    # Python ints past 64 bits reached the database (SQLite: OverflowError).
    ("GET", "/api/v1/auditevents?limit=100000000000000000000000", None, 200),
    ("GET", "/api/v1/servers?continue=eyJhZnRlciI6IDEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9", None, 422),
    # A valid timestamp whose UTC form is past year 9999.
    ("GET", "/api/v1/auditevents?since=9999-12-31T23:59:59-01:00", None, 422),
    (
        "POST",
        "/api/v1/serviceaccounts/edge/tokens",
        {"expiresAt": "9999-12-31T23:59:59-01:00"},
        422,
    ),
    # An McpToken whose spec is not an object (dict("ab") raised).
    ("POST", "/api/v1/mcptokens", {**_TOKEN, "spec": "ab"}, 422),
    ("POST", "/api/v1/mcptokens", {**_TOKEN, "spec": [1]}, 422),
    # NUL in text compared with a column (PostgreSQL: DataError).
    ("GET", "/api/v1/events?name=a%00b", None, 422),
    ("GET", "/api/v1/auditevents?user=a%00", None, 422),
    ("GET", "/api/v1/servers/a%00b", None, 422),
    ("GET", "/api/v1/projects/a%00/prompts", None, 422),
    ("POST", "/api/v1/auth/login", {"username": "a\x00", "password": "x"}, 422),
    # A restore reason git cannot hold, on a restore that would change main (main~1 is
    # the state repo's first commit): NUL, and a lone surrogate (a JSON escape sends one).
    ("POST", "/api/v1/gitops/restore", {"to": "main~1", "reason": "a\x00b"}, 422),
    ("POST", "/api/v1/gitops/restore", b'{"to": "main~1", "reason": "\\ud800"}', 422),
]


@pytest.fixture
def mcpd(database_url: str, tmp_path: Path) -> Iterator[Mcpd]:
    """A fresh mcpd, as conftest's; on SQLite, mirrored to a bare repo on disk."""
    args: list[str] = []
    if not database_url.startswith("postgresql"):
        remote = tmp_path / "remote.git"
        init = ["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(remote)]
        subprocess.run(init, check=True, timeout=60)
        args = ["--git-remote", str(remote), "--git-sync-interval", "300"]
    # fuzzed Servers are records only: no command a fuzzer wrote is run
    with running_mcpd(
        tmp_path / "state", database_url, args=[*args, "--runtimes", "none"]
    ) as server:
        yield server


def run_schemathesis(mcpd: Mcpd, workdir: Path, phases: str) -> subprocess.CompletedProcess[str]:
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    argv = [
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{mcpd.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {mcpd.admin_token}",
        "--checks",
        ",".join(CHECKS),
        "--exclude-path",
        "/api/v1/auth/logout",
        "--phases",
        phases,
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
    ]
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks",
        "PYTHONPATH": python_path,
        "MCPD_STATE_REPO": str(mcpd.state_dir / "state.git"),
    }
    return subprocess.run(
        argv,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )


def restore_once(client: httpx.Client) -> None:
    """A restore that changes main, its answers checked against the document."""
    document = client.get("/api/v1/openapi.json").raise_for_status().json()

    def conforms(answer: httpx.Response, name: str) -> None:
        assert answer.status_code == 200, answer.text
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(answer.json())

    created = client.post("/api/v1/servers", json={**_SERVER, "spec": {"command": ["x"]}})
    assert created.status_code == 201, created.text
    restored = client.post("/api/v1/gitops/restore", json={"to": "main~1", "reason": "a test"})
    conforms(restored, "RestoreReport")
    assert (restored.json()["changed"], restored.json()["summary"]["remove"]) == (True, 1)
    timelines = client.get("/api/v1/gitops/timelines")
    conforms(timelines, "TimelineList")
    assert [t["name"] for t in timelines.json()["items"]] == [restored.json()["timeline"]]
    conforms(client.get("/api/v1/gitops/status"), "GitopsStatus")
    conforms(client.get("/api/v1/gitops/verify"), "GitopsVerify")


def test_the_api_keeps_to_its_openapi_document(
    mcpd: Mcpd, database_url: str, tmp_path: Path
) -> None:
    assert SCHEMATHESIS.is_file(), f"schemathesis is not installed next to {sys.executable}"
    with mcpd.client() as client:
        answers = [
            (method, url, _send(client, method, url, body).status_code, expected)
            for method, url, body, expected in EDGE_CASES
        ]
        assert [a for a in answers if a[2] != a[3]] == []
        restore_once(client)
    workdir = tmp_path / "schemathesis"
    workdir.mkdir()
    started = time.monotonic()
    try:
        phases = PHASES["postgresql" if database_url.startswith("postgresql") else "sqlite"]
        done = run_schemathesis(mcpd, workdir, phases)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"schemathesis did not finish within {TIME_LIMIT:.0f}s:\n{_text(e.stdout)}")
    elapsed = time.monotonic() - started
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"schemathesis found problems ({elapsed:.1f}s):\n{report}"
    assert "Traceback" not in mcpd.log.read_text(errors="replace"), (
        f"mcpd logged an unexpected error; see {mcpd.log}"
    )
    # Proof that the run reached the API, not just the document.
    assert " passed" in report
    assert "Test cases:" in report


def _send(client: httpx.Client, method: str, url: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        headers = {"Content-Type": "application/json"}
        return client.request(method, url, content=body, headers=headers)
    return client.request(method, url, json=body)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
