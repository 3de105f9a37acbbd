"""What the API tests share: an admin client, unique names, sample manifests, users.

The tests talk to a real mcpd over HTTP (`Api` wraps one `Mcpd`); nothing is
mocked. Every test names its objects with `Api.name`, so tests sharing one
mcpd never see each other's objects by accident.
"""

from __future__ import annotations

import itertools
from types import TracebackType
from typing import Any

import httpx

from tests.support.manifests import JSON, PLURALS, binding, manifest
from tests.support.mcpd import Mcpd

#: The password every test user gets (long enough for mcpd's rule).
PASSWORD = "correct-horse-battery"

#: Resource kinds by plural, with whether they live under a project.
SCOPED = frozenset({"prompts", "promptrequests"})


def path(plural: str, name: str | None = None, *, project: str | None = None) -> str:
    """The URL path of a collection or an object."""
    base = f"/api/v1/projects/{project}/{plural}" if project else f"/api/v1/{plural}"
    return f"{base}/{name}" if name else base


def secret(name: str, data: dict[str, str | None], *, labels: dict[str, str] | None = None) -> JSON:
    return manifest("Secret", name, {"data": data}, labels=labels)


def server(
    name: str,
    *,
    secret_ref: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
    image: str = "mcp-server-time",
) -> JSON:
    """A Server of an image (a command would need `run host-commands` of its writer; the
    API's mcpd runs no server anyway)."""
    made = manifest("Server", name, {"image": image}, labels=labels)
    if secret_ref is not None:
        made["spec"]["env"] = [
            {
                "name": "API_KEY",
                "valueFrom": {"secretRef": {"name": secret_ref[0], "key": secret_ref[1]}},
            }
        ]
    return made


def project(name: str, servers: list[str] | None = None, **labels: str) -> JSON:
    return manifest("Project", name, {"servers": servers or []}, labels=labels or None)


def prompt(project_name: str, name: str, content: str = "Answer briefly.") -> JSON:
    return manifest("Prompt", name, {"content": content}, project=project_name)


def user(name: str) -> JSON:
    return manifest("User", name, {"email": f"{name}@example.com"})


def rbac(name: str, subjects: list[tuple[str, str]], bindings: list[JSON]) -> JSON:
    return manifest(
        "Rbac",
        name,
        {
            "subjects": [{"kind": kind, "name": who} for kind, who in subjects],
            "bindings": bindings,
        },
    )


def run(action: str) -> JSON:
    return {"role": "run", "action": action}


def assert_problem(response: httpx.Response, status: int, slug: str) -> JSON:
    """`response` is an `application/problem+json` answer with this status and slug."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: JSON = response.json()
    assert body["type"] == f"https://mcpctl.dev/problems/{slug}", body
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body


class Api:
    """One running mcpd: an admin client, fresh names, and helpers to set up objects."""

    def __init__(self, mcpd: Mcpd, database: str) -> None:
        self.mcpd = mcpd
        self.database = database
        self.admin = mcpd.client()
        self._clients: list[httpx.Client] = [self.admin]
        self._names = itertools.count(1)
        self._shared: dict[str, str] = {}
        self._idle: list[tuple[str, httpx.Client]] = []
        self._lent: list[tuple[str, httpx.Client]] = []

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self._clients:
            client.close()

    def name(self, prefix: str = "t") -> str:
        """A name no other test of this mcpd uses."""
        return f"{prefix}-{next(self._names)}"

    def client(self, token: str) -> httpx.Client:
        """A client sending `token` ("" for none); closed with the fixture."""
        client = self.mcpd.client(token)
        self._clients.append(client)
        return client

    # ---- objects, as the admin --------------------------------------------------------

    def create(self, body: JSON) -> JSON:
        """Create `body` as the admin; the stored object."""
        metadata = body["metadata"]
        plural = PLURALS[body["kind"]]
        response = self.admin.post(path(plural, project=metadata.get("project")), json=body)
        assert response.status_code == 201, response.text
        created: JSON = response.json()
        return created["object"] if body["kind"] == "McpToken" else created

    def get(self, plural: str, name: str, *, project: str | None = None, **query: str) -> JSON:
        response = self.admin.get(path(plural, name, project=project), params=query)
        assert response.status_code == 200, response.text
        found: JSON = response.json()
        return found

    def exists(self, plural: str, name: str, *, project: str | None = None) -> bool:
        response = self.admin.get(path(plural, name, project=project))
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200

    def apply(self, items: list[JSON], **options: Any) -> JSON:
        response = self.admin.post("/api/v1/apply", json={"items": items, **options})
        assert response.status_code == 200, response.text
        result: JSON = response.json()
        return result

    def shared_project(self) -> str:
        """A project for prompts (created once per mcpd)."""
        if "project" not in self._shared:
            self._shared["project"] = name = self.name("shared")
            self.create(project(name))
        return self._shared["project"]

    def shared_server(self) -> str:
        """A server that instances can name (created once per mcpd)."""
        if "server" not in self._shared:
            self._shared["server"] = name = self.name("shared")
            self.create(server(name))
        return self._shared["server"]

    def sample(self, plural: str, name: str) -> JSON:
        """A valid object of the kind `plural`, named `name`, whose references exist."""
        if plural == "secretbackends":
            return manifest("SecretBackend", name, {"type": "plaintext"})
        if plural == "secrets":
            return secret(name, {"token": "sample-value"})
        if plural == "llms":
            return manifest("Llm", name, {"type": "ollama", "model": "llama3"})
        if plural == "templates":
            return manifest("Template", name, {"image": "mcp-server-time"})
        if plural == "servers":
            return server(name)
        if plural == "projects":
            return project(name)
        if plural == "prompts":
            return prompt(self.shared_project(), name)
        if plural == "promptrequests":
            return manifest(
                "PromptRequest", name, {"content": "Proposed."}, project=self.shared_project()
            )
        if plural == "users":
            return user(name)
        if plural == "groups":
            return manifest("Group", name, {"members": ["admin"]})
        if plural == "serviceaccounts":
            return manifest("ServiceAccount", name, {"description": "robot"})
        if plural == "rbacs":
            return rbac(name, [("User", "admin")], [binding("view", "llms")])
        if plural == "mcptokens":
            return manifest("McpToken", name, {"description": "sample"})
        if plural == "instances":
            return manifest(
                "Instance", name, {"server": self.shared_server(), "runtime": "process"}
            )
        raise AssertionError(f"no sample for {plural}")

    def snapshot(self, *plurals: str) -> dict[str, dict[str, str]]:
        """The resourceVersion of every stored object of `plurals` (default: every
        kind not under a project), and the newest write in the audit log (which
        covers every kind): to show that nothing changed."""
        seen: dict[str, dict[str, str]] = {}
        for plural in plurals or [p for p in PLURALS.values() if p not in SCOPED]:
            seen[plural] = self._versions(path(plural))
        response = self.admin.get("/api/v1/auditevents", params={"limit": "200"})
        assert response.status_code == 200, response.text
        writes = [
            item["metadata"]["name"]
            for item in response.json()["items"]
            if item["spec"]["verb"] in ("create", "update", "delete")
            and item["spec"]["outcome"] == "success"
        ]
        seen["newest write"] = {"audit": writes[0] if writes else ""}
        return seen

    def _versions(self, url: str) -> dict[str, str]:
        response = self.admin.get(url, params={"limit": "5000"})
        assert response.status_code == 200, response.text
        return {
            item["metadata"]["name"]: item["metadata"]["resourceVersion"]
            for item in response.json()["items"]
        }

    # ---- people -----------------------------------------------------------------------

    def login_user(self, bindings: list[JSON], *, name: str | None = None) -> tuple[str, str]:
        """A new User holding `bindings` (through an Rbac of the same name), logged in:
        (name, session token)."""
        who = name or self.name("user")
        items = [user(who)]
        if bindings:
            items.append(rbac(who, [("User", who)], bindings))
        self.apply(items)
        response = self.admin.put(f"/api/v1/users/{who}/password", json={"password": PASSWORD})
        assert response.status_code == 204, response.text
        return who, self.login(who)

    def login(self, who: str, password: str = PASSWORD) -> str:
        response = self.admin.post(
            "/api/v1/auth/login", json={"username": who, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def user_client(self, bindings: list[JSON]) -> tuple[str, httpx.Client]:
        """A logged-in User holding exactly `bindings`: (name, client).

        Logging in costs two argon2 hashes, so users are lent from a pool and
        handed back (bindings removed) after each test by `release_users`. Tests
        that need a user of their own (log out, change the password, filter the
        audit log by user) call `login_user` instead.
        """
        if self._idle:
            who, client = self._idle.pop()
        else:
            who, token = self.login_user([])
            client = self.client(token)
        self._lent.append((who, client))
        if bindings:
            self.create(rbac(who, [("User", who)], bindings))
        return who, client

    def release_users(self) -> None:
        """Take back the users lent to a test, without their bindings."""
        while self._lent:
            who, client = self._lent.pop()
            response = self.admin.delete(path("rbacs", who))
            assert response.status_code in (204, 404), response.text
            self._idle.append((who, client))

    def bind(self, name: str, subjects: list[tuple[str, str]], bindings: list[JSON]) -> None:
        """Create or replace the Rbac `name`."""
        body = rbac(name, subjects, bindings)
        if self.exists("rbacs", name):
            response = self.admin.put(path("rbacs", name), json=body)
            assert response.status_code == 200, response.text
        else:
            self.create(body)
