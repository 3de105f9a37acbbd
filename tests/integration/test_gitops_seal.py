"""`mcpctl seal`: a new Secret value reaches mcpd through a git push, sealed, never in plaintext.

A real mcpd (SQLite and PostgreSQL), the real CLI and the real git CLI over
HTTP: the sealed manifest is pushed as it is printed, the value opens in the
database, and no file, commit or log holds it in plaintext.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_gitops_push import audit, user_token, view_all
from tests.support.gitrepo import Clone, assert_in_sync, bare, quiet, remote_lines
from tests.support.mcpd import Mcpd

pytestmark = pytest.mark.integration

VALUE = "ghp_sealed-by-mcpctl-seal-0099"
OTHER = "sk-second-value-never-in-git-77"

SECRET_YAML = f"""# the values in plaintext: this file stays on the laptop
apiVersion: mcpctl/v1
kind: Secret
metadata:
  name: github
  labels:
    team: infra
spec:
  data:
    token: {VALUE}
    other: {OTHER}
"""


def mcpctl(mcpd: Mcpd, *args: str, token: str | None = None, stdin: str | None = None) -> Any:
    command = [str(Path(sys.executable).parent / "mcpctl"), *args]
    if token is not None:
        command += ["--token", token]
    return subprocess.run(
        command,
        env=mcpd.env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def revealed(mcpd: Mcpd, name: str) -> dict[str, Any]:
    with mcpd.client() as client:
        answer = client.get(f"/api/v1/secrets/{name}", params={"showSecrets": "true"})
    item: dict[str, Any] = answer.raise_for_status().json()
    return item


def test_a_sealed_secret_pushed_as_printed_is_stored_with_its_values(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    plain = tmp_path / "github.yaml"
    plain.write_text(SECRET_YAML)

    sealed = mcpctl(mcpd, "seal", "-f", str(plain))

    assert sealed.returncode == 0, sealed.stderr
    assert VALUE not in sealed.stdout + sealed.stderr
    assert OTHER not in sealed.stdout + sealed.stderr
    assert "sealedData:" in sealed.stdout
    assert "\n  data:" not in sealed.stdout
    with mcpd.client() as client:
        quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write("secrets/github.yaml", sealed.stdout)
        clone.commit("Add the github secret")
        push = clone.push()
        assert push.returncode == 0, push.stderr
        # printed in the canonical form: mcpd has nothing to rewrite on top
        assert not any("on top" in line for line in remote_lines(push.stderr))
        status = assert_in_sync(client)
        assert bare(mcpd.state_dir, "show", "main:secrets/github.yaml") == sealed.stdout
        assert status["head"] == clone.git("rev-parse", "HEAD").stdout.strip()
        entries = [e for e in audit(client, kind="Secret") if e["verb"] == "seal"]
    item = revealed(mcpd, "github")
    assert item["spec"]["data"] == {"other": OTHER, "token": VALUE}
    assert item["metadata"]["labels"] == {"team": "infra"}
    assert [(e["name"], e["details"]["keys"]) for e in entries] == [("github", ["other", "token"])]
    everything = bare(mcpd.state_dir, "log", "-p", "--all", "--format=%B")
    everything += json.dumps(entries) + mcpd.log.read_text()
    assert VALUE not in everything
    assert OTHER not in everything


def test_a_sealed_value_opens_only_as_the_secret_and_key_it_was_sealed_for(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    sealed = mcpctl(mcpd, "seal", "-f", "-", "-o", "json", stdin=SECRET_YAML)
    assert sealed.returncode == 0, sealed.stderr
    item = json.loads(sealed.stdout)
    moved = {**item, "metadata": {"name": "gitlab"}}  # the same sealed values, another Secret
    with mcpd.client() as client:
        quiet(client)
        clone = Clone.of(mcpd, tmp_path / "clone")
        clone.write("secrets/gitlab.yaml", json.dumps(moved, indent=2) + "\n")
        clone.commit("Reuse the sealed values for gitlab")
        push = clone.push()
        lines = remote_lines(push.stderr)
        assert push.returncode != 0
        assert_in_sync(client)
        assert client.get("/api/v1/secrets/gitlab").status_code == 404
    refused = [line for line in lines if "secrets/gitlab.yaml:" in line]
    assert len(refused) == 2, lines  # one per value, each with its line
    assert all("cannot be opened" in line for line in refused), refused


def test_what_cannot_be_sealed_is_refused_by_file_and_line_and_nothing_is_sent(
    mcpd: Mcpd, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(
        SECRET_YAML.replace(f"    other: {OTHER}\n", "    other: null\n")
        + "---\napiVersion: mcpctl/v1\nkind: Server\nmetadata:\n  name: time\n"
        "spec:\n  command: [mcp-server-time]\n"
    )

    done = mcpctl(mcpd, "seal", "-f", str(mixed))

    assert done.returncode == 1
    assert done.stdout == ""
    assert f"{mixed}:11:5: error: key 'other' has no value to seal" in done.stderr
    assert f"{mixed}:13:1: error: only Secrets are sealed: this is a Server" in done.stderr
    assert VALUE not in done.stderr
    with mcpd.client() as client:
        assert [e for e in audit(client) if e["verb"] == "seal"] == []


def test_sealing_needs_the_right_to_write_the_secret(mcpd: Mcpd) -> None:
    viewer = user_token(mcpd, "vera", view_all())
    writer = user_token(
        mcpd, "walt", [*view_all(), {"role": "create", "resource": "secrets", "name": "github"}]
    )

    refused = mcpctl(mcpd, "seal", "-f", "-", token=viewer, stdin=SECRET_YAML)
    other = mcpctl(
        mcpd, "seal", "-f", "-", token=writer, stdin=SECRET_YAML.replace("github", "gitlab")
    )
    allowed = mcpctl(mcpd, "seal", "-f", "-", token=writer, stdin=SECRET_YAML)

    assert refused.returncode == 2
    assert "forbidden" in refused.stderr
    assert other.returncode == 2
    assert "forbidden" in other.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert "sealedData:" in allowed.stdout
    with mcpd.client() as client:
        sealing = [e for e in audit(client) if e["verb"] == "seal"]
        assert client.get("/api/v1/secrets/github").status_code == 404  # nothing stored
    # the refusals are audited too
    assert sorted((e["user"], e["outcome"]) for e in sealing) == [
        ("vera", "denied"),
        ("walt", "denied"),
        ("walt", "success"),
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([], "the body needs items"),
        ({"items": "x"}, "the body needs items"),
        ({"items": [], "dryRun": True}, "unknown fields: dryRun"),
        ({"items": [42]}, "items[0]"),
        ({"items": [{"kind": "Secret", "metadata": {"name": "x"}}]}, "items[0]"),
    ],
)
def test_the_seal_api_refuses_a_bad_body_and_names_what_is_wrong(
    mcpd: Mcpd, body: Any, where: str
) -> None:
    with mcpd.client() as client:
        answer = client.post("/api/v1/gitops/seal", json=body)
    assert answer.status_code == 422, answer.text
    assert where in answer.text


def test_the_seal_api_names_each_value_it_cannot_seal(mcpd: Mcpd) -> None:
    secret = {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": "github"},
        "spec": {"data": {"token": VALUE, "other": None}},
    }
    server = {
        "apiVersion": "mcpctl/v1",
        "kind": "Server",
        "metadata": {"name": "time"},
        "spec": {"command": ["mcp-server-time"]},
    }
    with mcpd.client() as client:
        answer = client.post("/api/v1/gitops/seal", json={"items": [secret, server]})
    assert answer.status_code == 422
    issues = {(i["field"], i["code"]) for i in answer.json()["issues"]}
    assert issues == {("items[0].spec.data.other", "secret-value"), ("items[1]", "kind")}
    assert VALUE not in answer.text
