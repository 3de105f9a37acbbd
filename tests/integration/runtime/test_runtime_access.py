"""What the runtime added to mcpd's API, attacked by callers holding one narrow permission.

One real mcpd with the process runtime serves the module; each test makes its own
principals (ServiceAccounts with an Rbac each, an McpToken limited to a project) and
Servers of its own names. The routes are asked as those principals, and the paths
through raw HTTP (http.client sends the target as written: httpx would fold `..`).

What they prove:
- the log routes need `run logs` and `view` on the Server, say which is missing, and
  a name or query that is no instance's gets a 4xx naming what is wrong;
- Instances are written by mcpd alone; a DELETE needs `delete instances` and only
  replaces the instance;
- a Server's maker cannot take a Secret's value they may not read (a Server printing
  its environment, an external server sent its headers, a Template that reads it);
- a resolved value reaches no record mcpd keeps: Events, statuses, `describe`, mcpd's
  log, the process records, the message of a failed start.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.runtime.test_reconciler import apply, until
from tests.support.manifests import JSON, binding, manifest
from tests.support.mcpd import WAIT_TIMEOUT, Mcpd, running_mcpd
from tests.support.runtime import server_command

pytestmark = [pytest.mark.integration]

#: A Secret's value no record may hold (distinct enough to be found anywhere).
VALUE = "tok-Zq7Xw2Lp9Vr4Ns8Km3"


@pytest.fixture(scope="module")
def mcpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mcpd]:
    state = tmp_path_factory.mktemp("runtime-access") / "state"
    with running_mcpd(state, args=["--restart-backoff", "0.2,1.6,600"]) as server:
        yield server


def principal(mcpd: Mcpd, name: str, *bindings: JSON) -> str:
    """A ServiceAccount holding `bindings` only; a token of it."""
    with mcpd.client() as admin:
        apply(
            admin,
            manifest("ServiceAccount", name, {"description": "an attacker"}),
            manifest(
                "Rbac",
                name,
                {
                    "subjects": [{"kind": "ServiceAccount", "name": name}],
                    "bindings": list(bindings),
                },
            ),
        )
        answer = admin.post(f"/api/v1/serviceaccounts/{name}/tokens", json={})
        assert answer.status_code in (200, 201), answer.text
        token: str = answer.json()["token"]
    return token


def run(action: str) -> JSON:
    return {"role": "run", "action": action}


def command_server(name: str, *, script: str = "", env: list[JSON] | None = None) -> JSON:
    """A Server running the test server, after `script` (sh) if given."""
    command = list(server_command())
    if script:
        command = ["/bin/sh", "-c", script + '; exec "$0" "$@"', *command]
    spec: JSON = {"command": command}
    if env:
        spec["env"] = env
    return manifest("Server", name, spec)


def from_secret(name: str, secret: str, key: str = "token") -> JSON:
    return {"name": name, "valueFrom": {"secretRef": {"name": secret, "key": key}}}


def instances_of(client: httpx.Client, server: str) -> list[str]:
    items = client.get("/api/v1/instances").raise_for_status().json()["items"]
    return [i["metadata"]["name"] for i in items if i["spec"]["server"] == server]


def running_instance(client: httpx.Client, server: str) -> str:
    """The name of the one running instance of `server`, once its log has a line."""

    def find() -> str | None:
        names = instances_of(client, server)
        if len(names) != 1:
            return None
        answer = client.get(f"/api/v1/instances/{names[0]}/log")
        return names[0] if answer.status_code == 200 and answer.text else None

    name: str = until(find, f"a running instance of {server} with a log")
    return name


def raw_get(mcpd: Mcpd, target: str, token: str) -> tuple[int, str]:
    """GET `target` exactly as written (no folding of `..`, no re-quoting)."""
    url = urlsplit(mcpd.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=WAIT_TIMEOUT)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Bearer {token}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def detail(answer: httpx.Response) -> str:
    text: str = answer.json()["detail"]
    return text


# ---- the log routes ------------------------------------------------------------------


def test_logs_need_run_logs_and_view_on_that_server(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, command_server("logged"), command_server("elsewhere"))
        instance = running_instance(admin, "logged")
        other = running_instance(admin, "elsewhere")
        apply(admin, manifest("Project", "far", {"servers": ["elsewhere"]}))
    routes = ["/api/v1/servers/logged/log", f"/api/v1/instances/{instance}/log"]

    viewer = principal(mcpd, "log-viewer", binding("view", "servers"))
    only_logs = principal(mcpd, "log-only", run("logs"))
    narrow = principal(mcpd, "log-narrow", run("logs"), binding("view", "servers", "elsewhere"))
    with mcpd.client() as admin:
        made = admin.post(
            "/api/v1/mcptokens",
            json={
                **manifest("McpToken", "far-logs", {"project": "far"}),
                "bindings": [run("logs"), binding("view", "servers", "elsewhere")],
            },
        )
        assert made.status_code == 201, made.text
        far_token: str = made.json()["token"]

    for route in routes:
        with mcpd.client(viewer) as client:
            refused = client.get(route)
            assert refused.status_code == 403
            assert "run logs" in detail(refused)
        with mcpd.client(only_logs) as client:
            refused = client.get(route)
            assert refused.status_code == 403
            # the instance's route names its Server, not the instance
            assert "needs view on servers/logged" in detail(refused)
        for token in (narrow, far_token):
            with mcpd.client(token) as client:
                refused = client.get(route)
                assert refused.status_code == 403
                assert "servers/logged" in detail(refused)
    # what they may read, they read: the refusals above are about this Server only
    for token in (narrow, far_token):
        with mcpd.client(token) as client:
            assert client.get("/api/v1/servers/elsewhere/log").status_code == 200
            assert client.get(f"/api/v1/instances/{other}/log").status_code == 200
            # an instance that does not exist is refused as a Server it cannot view: the
            # answer does not tell which names exist
            assert client.get("/api/v1/instances/logged-zzzzz/log").status_code == 403
    with mcpd.client() as admin:
        denied = admin.get(
            "/api/v1/auditevents", params={"user": "serviceaccount:log-viewer"}
        ).json()["items"]
        assert any(e["spec"]["outcome"] == "denied" and e["spec"]["verb"] == "logs" for e in denied)


def test_a_log_name_that_is_no_instance_is_a_4xx_and_reads_no_file(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, command_server("named"))
        running_instance(admin, "named")
    # files beside the instances' directories that a path could reach
    key = (mcpd.state_dir / "sealing.key").read_bytes()
    targets = [
        "/api/v1/instances/../log",
        "/api/v1/instances/%2e%2e/log",
        "/api/v1/instances/..%2f..%2fsealing.key/log",
        "/api/v1/instances/..%2F..%2Fmcpd.db/log",
        "/api/v1/instances/a%00b/log",
        "/api/v1/instances/" + "a" * 300 + "/log",
        "/api/v1/servers/..%2fsealing.key/log",
        "/api/v1/servers/named/log?instance=../../sealing.key",
        "/api/v1/servers/named/log?instance=..%2f..%2fsealing.key",
        "/api/v1/servers/named/log?instance=%00",
        "/api/v1/servers/" + "n" * 300 + "/log",
    ]
    for target in targets:
        status, body = raw_get(mcpd, target, mcpd.admin_token)
        assert 400 <= status < 500, (target, status, body)
        assert key.decode("latin-1") not in body
        assert "SQLite format" not in body


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("tail=0", "tail"),
        ("tail=-3", "tail"),
        ("tail=lots", "tail"),
        ("tail=99999999999999999999999", "tail"),
        ("since=yesterday", "since"),
        ("since=-5m", "since"),
        ("since=nan", "since"),
        ("since=inf", "since"),
        ("since=1e400", "since"),
        ("since=99999999999999s", "since"),
        ("since=2024-13-45T00:00:00Z", "since"),
        ("since=2024-01-01T00:00:00", "since"),
        ("since=5-m", "since"),
        ("follow=maybe", "follow"),
    ],
)
def test_a_bad_tail_since_or_follow_is_refused_naming_it(
    mcpd: Mcpd, query: str, named: str
) -> None:
    with mcpd.client() as admin:
        if not instances_of(admin, "queried"):
            apply(admin, command_server("queried"))
        instance = running_instance(admin, "queried")
        for route in (f"/api/v1/instances/{instance}/log", "/api/v1/servers/queried/log"):
            answer = admin.get(f"{route}?{query}")
            assert answer.status_code == 422, (query, answer.status_code, answer.text)
            assert detail(answer).startswith(named), detail(answer)
    assert "unexpected error in GET" not in mcpd.logged()


# ---- Instances -----------------------------------------------------------------------


def test_instances_are_written_by_mcpd_alone_and_a_delete_only_replaces(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(admin, command_server("kept"))
        first = running_instance(admin, "kept")
        server = admin.get("/api/v1/servers/kept").json()
        body = admin.get(f"/api/v1/instances/{first}").json()
    looker = principal(mcpd, "instance-looker", binding("view", "instances"))
    deleter = principal(mcpd, "instance-deleter", binding("delete", "instances"))
    forged = {**body, "spec": {**body["spec"], "server": "kept", "command": ["/bin/true"]}}
    for token in (mcpd.admin_token, deleter):
        with mcpd.client(token) as client:
            assert client.post("/api/v1/instances", json=forged).status_code == 405
            assert client.put(f"/api/v1/instances/{first}", json=forged).status_code == 405
            applied = client.post("/api/v1/apply", json={"items": [forged]})
            assert applied.status_code == 422
            assert "made by mcpd" in applied.text
    with mcpd.client(looker) as client:
        refused = client.delete(f"/api/v1/instances/{first}")
        assert refused.status_code == 403
        assert f"needs delete on instances/{first}" in detail(refused)
    with mcpd.client() as admin:
        assert instances_of(admin, "kept") == [first]
    with mcpd.client(deleter) as client:
        assert client.delete(f"/api/v1/instances/{first}").status_code == 204
    with mcpd.client() as admin:
        second = until(
            lambda: [n for n in instances_of(admin, "kept") if n != first],
            "the deleted instance replaced",
        )
        running_instance(admin, "kept")
        assert len(second) == 1
        after = admin.get("/api/v1/servers/kept").json()
        assert after["metadata"]["generation"] == server["metadata"]["generation"]
        assert after["spec"] == server["spec"]


def test_a_server_maker_cannot_change_what_a_template_runs(mcpd: Mcpd) -> None:
    """`create servers` alone writes no Template, and runs no command on mcpd's host: not
    its own, not a Template's (that needs `run host-commands`, a host process being as
    strong as mcpd's user)."""
    with mcpd.client() as admin:
        apply(admin, manifest("Template", "fixed", {"command": list(server_command())}))
    maker = principal(
        mcpd, "template-user", binding("create", "servers"), binding("view", "templates")
    )
    with mcpd.client(maker) as client:
        template = manifest("Template", "fixed", {"command": ["/bin/sh", "-c", "id"]})
        refused = client.put("/api/v1/templates/fixed", json=template)
        assert refused.status_code == 403
        assert "needs edit on templates/fixed" in detail(refused)
        own = manifest("Template", "mine", {"command": ["/bin/sh", "-c", "id"]})
        refused = client.post("/api/v1/templates", json=own)
        assert refused.status_code == 403
        both = manifest("Server", "both", {"template": "fixed", "command": ["/bin/sh"]})
        assert client.post("/api/v1/servers", json=both).status_code == 422
        used = manifest("Server", "uses-fixed", {"template": "fixed"})
        refused = client.post("/api/v1/servers", json=used)
        assert refused.status_code == 403
        assert "Template 'fixed' runs a command" in detail(refused)
        assert "needs run host-commands" in detail(refused)


def test_running_anything_on_mcpds_host_needs_run_host_commands(mcpd: Mcpd) -> None:
    """A host process runs as mcpd's user, beside its database and keys: `create servers`
    alone starts none (its own command, a Template's), and writes no Template that would;
    an image or an external URL needs nothing more; `run host-commands` allows it."""
    maker = principal(
        mcpd, "host-maker", binding("create", "servers"), binding("create", "templates")
    )
    runner = principal(
        mcpd,
        "host-runner",
        binding("create", "servers"),
        binding("create", "templates"),
        run("host-commands"),
    )
    with mcpd.client(maker) as client:
        refused = client.post("/api/v1/servers", json=command_server("own-command"))
        assert refused.status_code == 403
        assert "Server/own-command spec.command runs on mcpd's host" in detail(refused)
        assert "needs run host-commands" in detail(refused)
        builtin = manifest("Server", "from-builtin", {"template": "time"})
        assert client.post("/api/v1/servers", json=builtin).status_code == 403
        template = manifest("Template", "host-tpl", {"command": ["/bin/true"]})
        assert client.post("/api/v1/templates", json=template).status_code == 403
        image = manifest("Server", "in-a-container", {"image": "mcp/time:latest"})
        assert client.post("/api/v1/servers", json=image).status_code == 201
        url = manifest(
            "Server",
            "far-away",
            {"externalUrl": "https://mcp.example.com/mcp", "transport": "streamable-http"},
        )
        assert client.post("/api/v1/servers", json=url).status_code == 201
    with mcpd.client() as admin:
        assert admin.get("/api/v1/servers/own-command").status_code == 404  # nothing written
    with mcpd.client(runner) as client:
        allowed = client.post("/api/v1/servers", json=command_server("runners-command"))
        assert allowed.status_code == 201, allowed.text
        assert client.post("/api/v1/servers", json=builtin).status_code == 201


# ---- Secrets -------------------------------------------------------------------------


def test_a_server_maker_cannot_take_a_secret_they_may_not_read(mcpd: Mcpd) -> None:
    with mcpd.client() as admin:
        apply(
            admin,
            manifest("Secret", "guarded", {"data": {"token": VALUE}}),
            manifest(
                "Template",
                "reads-guarded",
                {"command": list(server_command()), "env": [from_secret("T", "guarded")]},
            ),
            command_server("admins", script='echo "T=$T" >&2', env=[from_secret("T", "guarded")]),
        )
        running_instance(admin, "admins")
    makes = [
        binding("create", "servers"),
        binding("edit", "servers"),
        binding("view", "servers"),
        binding("create", "templates"),
        binding("view", "templates"),
        run("logs"),
        run("host-commands"),
    ]
    maker = principal(mcpd, "secret-taker", *makes)
    viewer = principal(mcpd, "secret-viewer", *makes, binding("view", "secrets", "guarded"))
    revealer = principal(mcpd, "secret-revealer", *makes, run("reveal-secrets"))
    reader = principal(
        mcpd, "secret-reader", *makes, binding("view", "secrets", "guarded"), run("reveal-secrets")
    )
    printing = command_server(
        "printer", script='echo "T=$T" >&2', env=[from_secret("T", "guarded")]
    )
    external = manifest(
        "Server",
        "sender",
        {
            "externalUrl": "http://127.0.0.1:9/mcp",
            "transport": "streamable-http",
            "headers": [
                {
                    "name": "Authorization",
                    "valueFrom": {"secretRef": {"name": "guarded", "key": "token"}},
                }
            ],
        },
    )
    templated = manifest(
        "Template", "own-reader", {"command": ["/bin/sh"], "env": [from_secret("T", "guarded")]}
    )
    via_template = manifest("Server", "via-template", {"template": "reads-guarded"})
    ghost = command_server("ghost", env=[from_secret("T", "no-such-secret")])
    edited = command_server(
        "admins", script='echo "T=$T"; sleep 1', env=[from_secret("T", "guarded")]
    )
    attempts = [
        ("POST", "/api/v1/servers", printing),
        ("POST", "/api/v1/servers", external),
        ("POST", "/api/v1/templates", templated),
        ("POST", "/api/v1/servers", via_template),
        ("PUT", "/api/v1/servers/admins", edited),
    ]
    for token, missing in (
        (maker, ("view on secrets/guarded", "run reveal-secrets")),
        (viewer, ("run reveal-secrets",)),
        (revealer, ("view on secrets/guarded",)),
    ):
        with mcpd.client(token) as client:
            for method, route, body in attempts:
                refused = client.request(method, route, json=body)
                assert refused.status_code == 403, (method, route, refused.text)
                for needed in missing:
                    assert needed in detail(refused)
                assert VALUE not in refused.text
                applied = client.post("/api/v1/apply", json={"items": [body]})
                assert applied.status_code == 403
            # a Secret that does not exist is refused alike: no guessing of names
            refused = client.post("/api/v1/servers", json=ghost)
            assert refused.status_code == 403
            assert "no-such-secret" in detail(refused)
            # the admin's Server reading the Secret, only relabelled: nothing runs anew
            labelled = client.get("/api/v1/servers/admins").json()
            labelled.pop("status", None)
            labelled["metadata"]["labels"] = {"relabelled-by": "attacker"}
            answer = client.put("/api/v1/servers/admins", json=labelled)
            assert answer.status_code == 200, answer.text
    with mcpd.client() as admin:
        for name in ("printer", "sender", "via-template", "ghost"):
            assert admin.get(f"/api/v1/servers/{name}").status_code == 404
        assert admin.get("/api/v1/templates/own-reader").status_code == 404
        assert (
            admin.get("/api/v1/servers/admins")
            .json()["spec"]["command"][2]
            .startswith('echo "T=$T" >&2')
        )
    # who may read the value may route it: the log then holds what the server printed
    with mcpd.client(reader) as client:
        assert client.post("/api/v1/servers", json=printing).status_code == 201
        assert VALUE in until(
            lambda: (
                (answer := client.get("/api/v1/servers/printer/log")).status_code == 200
                and VALUE in answer.text
                and answer.text
            ),
            "the reader's server printing the value",
        )
    with mcpd.client() as admin:
        for name in ("printer", "admins"):
            assert admin.delete(f"/api/v1/servers/{name}").status_code == 204


def test_resolved_values_reach_no_record(mcpd: Mcpd) -> None:
    nul = "a\x00" + VALUE
    big = VALUE + "x" * 200_000  # longer than exec takes (E2BIG): a failed start
    with mcpd.client() as admin:
        apply(
            admin,
            manifest("Secret", "kept-quiet", {"data": {"token": VALUE, "nul": nul, "big": big}}),
            command_server("quiet", env=[from_secret("T", "kept-quiet")]),
            manifest(
                "Server",
                "missing-cmd",
                {"command": ["/nonexistent/mcp-server"], "env": [from_secret("T", "kept-quiet")]},
            ),
            command_server("nul-env", env=[from_secret("T", "kept-quiet", "nul")]),
            command_server("big-env", env=[from_secret("T", "kept-quiet", "big")]),
        )
        instance = running_instance(admin, "quiet")

        def failed(server: str) -> list[JSON]:
            items: list[JSON] = admin.get(
                "/api/v1/events", params={"kind": "Server", "name": server, "limit": 1000}
            ).json()["items"]
            return [e for e in items if e["spec"]["reason"] == "FailedStart"]

        for server, said in (
            ("missing-cmd", "/nonexistent/mcp-server"),
            ("nul-env", "the environment variable 'T' holds a NUL character"),
            ("big-env", "Argument list too long"),
        ):
            event = until(partial(failed, server), f"a FailedStart of {server}")[0]
            assert said in event["spec"]["message"]
        # an instance failing to start stops no other: the quiet one still runs
        assert admin.get(f"/api/v1/instances/{instance}/log").status_code == 200
        seen = [
            admin.get("/api/v1/events", params={"limit": 5000}).text,
            admin.get("/api/v1/instances").text,
            admin.get("/api/v1/servers").text,
            admin.get("/api/v1/auditevents", params={"limit": 5000}).text,
            admin.get(f"/api/v1/instances/{instance}/log").text,
        ]
    env = {**mcpd.env(), "MCPCTL_HOME": str(mcpd.state_dir)}
    mcpctl = str(Path(sys.executable).parent / "mcpctl")
    for target in ("server", "quiet"), ("server", "missing-cmd"), ("instance", instance):
        described = subprocess.run(
            [mcpctl, "describe", *target], capture_output=True, text=True, env=env, timeout=120
        )
        assert described.returncode == 0, described.stderr
        seen.append(described.stdout + described.stderr)
    seen.append(mcpd.logged())
    records = sorted((mcpd.state_dir / "process-records").glob("*.json"))
    assert records, "the process driver keeps a records file while instances run"
    seen.extend(path.read_text() for path in records)
    for text in seen:
        assert VALUE not in text
    # and the process itself was given it: what the records leave out was there to leak
    first_line = seen[4].split("pid ", 1)[1]
    pid = int(first_line.split(",", 1)[0])
    assert f"T={VALUE}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    with mcpd.client() as admin:
        for name in ("quiet", "missing-cmd", "nul-env", "big-env"):
            assert admin.delete(f"/api/v1/servers/{name}").status_code == 204
