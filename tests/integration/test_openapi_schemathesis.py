"""schemathesis against a live mcpd: no 5xx, and answers as the OpenAPI document says.

The document is the one mcpd serves (`/api/v1/openapi.json`); requests go to a
real mcpd process over loopback, authenticated as the bootstrap admin. The
`schemathesis run` command runs in a subprocess (its own warnings stay out of
pytest's `filterwarnings = error`), deterministically (`--generation-deterministic`:
the same cases on every run), with a fixed number of examples per operation and
a hard time limit. `schemathesis_hooks.py` keeps the admin's own Rbac out of
reach, and logging out is left out (it would end the admin's session).

It runs on SQLite and on PostgreSQL (see PHASES). Checks: no server error,
and every answer conforms to the document (status code, content type,
headers, body schema). Not checked: whether the API accepts everything the
schemas allow (`positive_data_acceptance`): mcpd validates more than a JSON
Schema can say (references, a body's kind against its URL, opaque continue
tokens); nor `unsupported_method`: the catch-all `/api/v1/{plural}` routes
answer 404 (unknown kind), not 405, to e.g. `PUT /api/v1/auth/me`.

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
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcpd import Mcpd

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

#: Test cases per operation and phase (coverage walks each schema once, whatever this says).
MAX_EXAMPLES = 10
#: SQLite: the coverage phase (boundary and wrong-type values of every parameter), then
#: fuzzing. PostgreSQL: fuzzing only, to stay within the time limit; what differs by
#: database (text the driver refuses, numbers past 64 bits) comes with the fuzzed values
#: and the edge cases below.
PHASES = {"sqlite": "examples,coverage,fuzzing", "postgresql": "examples,fuzzing"}
#: The whole run, per database (11 s and 7 s on 2 CPUs, twice that when they are busy);
#: a run that takes longer fails.
TIME_LIMIT = 28.0
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
#: (method, URL, JSON body or None, the status expected): each answered 500 before its fix.
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
]


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
        "10",
    ]
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks",
        "PYTHONPATH": python_path,
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


def test_the_api_keeps_to_its_openapi_document(
    mcpd: Mcpd, database_url: str, tmp_path: Path
) -> None:
    assert SCHEMATHESIS.is_file(), f"schemathesis is not installed next to {sys.executable}"
    with mcpd.client() as client:
        answers = [
            (method, url, client.request(method, url, json=body).status_code, expected)
            for method, url, body, expected in EDGE_CASES
        ]
    assert [a for a in answers if a[2] != a[3]] == []
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


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
