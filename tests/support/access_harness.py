"""A real mcpd peopled with principals, for the access property test to write as any of them.

`AccessHarness` starts an mcpd (guarded or not: the caller hands it how),
creates the principals of a `Baseline` as the admin (objects, McpTokens through
their route, passwords, one login session per user who writes), then serves the
test: requests as any user (logging in again when a session has ended), the
identity objects as the admin reads them, the audit log, and a reset to the
baseline between examples. A reset goes through the API as the admin; when the
admin cannot do it (an unguarded mcpd let a write lock it out), the harness
starts a fresh mcpd instead.

Logins are spent sparingly: each one costs an argon2 hash, and mcpd may slow
down an address that fails many. The harness logs in only as users whose
password it set and who still exist.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from tests.support.mcpd import Mcpd
from tests.support.permission_model import JSON, State

#: The kinds whose objects decide who may do what, in the order a reset deletes them
#: (referrers before what they name).
IDENTITY_PLURALS = ("rbacs", "mcptokens", "groups", "serviceaccounts", "users")


@dataclass(frozen=True)
class Baseline:
    """Who exists before every example: objects the admin applies, McpTokens (creator,
    body with `bindings`) made through `POST /api/v1/mcptokens`, and the password of each
    user who writes (each gets a session)."""

    objects: Sequence[JSON]
    tokens: Sequence[tuple[str, JSON]] = ()
    passwords: Mapping[str, str] = field(default_factory=dict)


class AdminLockedOut(Exception):
    """The admin may no longer read (or reset) the identity objects."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        super().__init__(f"{what}: {response.status_code} {response.text}")
        self.what = what
        self.response = response


class LoginRefused(Exception):
    """mcpd refused a login with the password the harness set: a failure of the test."""

    def __init__(self, user: str, response: httpx.Response) -> None:
        super().__init__(f"{user} cannot log in: {response.status_code} {response.text}")
        self.response = response


class AccessHarness:
    def __init__(self, start: Callable[[], AbstractContextManager[Mcpd]], baseline: Baseline):
        self._start = start
        self.baseline = baseline
        self._stack = ExitStack()
        self._passwords = itertools.count(1)
        self.restarts = 0

    def __enter__(self) -> AccessHarness:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    # ---- starting -------------------------------------------------------------------

    def _begin(self) -> None:
        self.mcpd = self._stack.enter_context(self._start())
        self.http = self._stack.enter_context(httpx.Client(base_url=self.mcpd.url, timeout=60.0))
        self.passwords: dict[str, str] = {"admin": self.mcpd.admin_password}
        self.sessions: dict[str, str] = {"admin": self.mcpd.admin_token}
        self._populate()
        self.initial = self.read_state()
        #: When each user who writes was created, as of the password the harness set
        self._created = {
            user: self._created_at(self.initial, user) for user in self.baseline.passwords
        }

    def restart(self) -> None:
        """A fresh mcpd (new state dir and database) with the baseline."""
        self._stack.close()
        self._stack = ExitStack()
        self.restarts += 1
        self._begin()

    def _populate(self) -> None:
        base = self.baseline
        self._expect(
            self.send("admin", "POST", "/api/v1/apply", {"items": list(base.objects)}), 200
        )
        for creator, body in base.tokens:
            self._expect(self.send(creator, "POST", "/api/v1/mcptokens", body), 201)
        for user, password in base.passwords.items():
            self.set_password(user, password)

    def set_password(self, user: str, password: str) -> None:
        """As the admin: set `user`'s password and log in as them."""
        path = f"/api/v1/users/{user}/password"
        self._expect(self.send("admin", "PUT", path, {"password": password}), 204)
        self.passwords[user] = password
        assert self.login(user) is not None, f"{user} cannot log in with the password just set"

    def new_password(self, user: str) -> str:
        return f"{user}-password-{next(self._passwords)}"

    # ---- requests -------------------------------------------------------------------

    def login(self, user: str) -> str | None:
        """A new session for `user` with the password the harness knows, or None if it knows
        none. The harness forgets the users that are deleted, so a refusal is a failure."""
        password = self.passwords.get(user)
        if password is None:
            return None
        response = self.http.post(
            "/api/v1/auth/login", json={"username": user, "password": password}
        )
        if response.status_code != 200:
            raise LoginRefused(user, response)
        token: str = response.json()["token"]
        self.sessions[user] = token
        return token

    def forget(self, user: str) -> None:
        """`user` was deleted: its password and sessions are no longer the harness's."""
        self.passwords.pop(user, None)
        self.sessions.pop(user, None)

    def send(
        self,
        user: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        request_id: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response | None:
        """The answer to a request made as `user` (None: the harness cannot log in as them)."""
        token = self.sessions.get(user) or self.login(user)
        if token is None:
            return None
        headers = {"x-request-id": request_id} if request_id else {}

        def attempt(token: str) -> httpx.Response:
            auth = {"Authorization": f"Bearer {token}", **headers}
            return self.http.request(method, path, json=body, headers=auth, params=params)

        response = attempt(token)
        if response.status_code == 401 and (token := self.login(user)) is not None:
            # the session ended (a password change, for instance): nothing was done
            response = attempt(token)
        return response

    def _as_admin(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        try:
            response = self.send("admin", method, path, body, params=params)
        except LoginRefused as e:
            raise AdminLockedOut(f"{method} {path}: the admin cannot log in", e.response) from e
        if response is None:
            raise AdminLockedOut(
                f"{method} {path}: the admin can no longer log in", httpx.Response(401)
            )
        if response.status_code in (401, 403):
            raise AdminLockedOut(f"{method} {path}", response)
        return response

    @staticmethod
    def _expect(response: httpx.Response | None, status: int) -> httpx.Response:
        assert response is not None, "the admin cannot log in"
        assert response.status_code == status, f"{response.request.url}: {response.text}"
        return response

    # ---- reading --------------------------------------------------------------------

    def read_state(self) -> State:
        """The identity objects as the admin lists them (AdminLockedOut if it may not)."""
        objects: dict[str, dict[str, JSON]] = {}
        for plural in IDENTITY_PLURALS:
            response = self._as_admin("GET", f"/api/v1/{plural}", limit="5000")
            assert response.status_code == 200, response.text
            objects[plural] = {o["metadata"]["name"]: o for o in response.json()["items"]}
        return State(objects)

    def denied_entries(self, user: str) -> Iterator[JSON]:
        """The newest audit entries of `user` that record a denied attempt."""
        response = self._as_admin("GET", "/api/v1/auditevents", user=user, limit="50")
        assert response.status_code == 200, response.text
        for item in response.json()["items"]:
            if item["spec"]["outcome"] == "denied":
                yield item["spec"]

    # ---- resetting ------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the baseline: through the API as the admin, or by a fresh mcpd."""
        try:
            self._reset()
        except AdminLockedOut:
            self.restart()

    def _reset(self) -> None:
        state = self.read_state()
        if state.specs() != self.initial.specs():
            self._restore(state)
            state = self.read_state()
            if state.specs() != self.initial.specs():
                raise AdminLockedOut("the reset did not restore the baseline", httpx.Response(500))
        for user in self.baseline.passwords:
            created = self._created_at(state, user)
            if user not in self.passwords or self._created[user] != created:
                # deleted during the example and created again: a new user, with no password
                self.forget(user)
                self.set_password(user, self.new_password(user))
                self._created[user] = created

    def _restore(self, state: State) -> None:
        """Apply what differs from the baseline, then delete what it does not hold."""
        changed = [
            _as_manifest(obj)
            for plural in reversed(IDENTITY_PLURALS)
            for name, obj in self.initial.objects[plural].items()
            if _comparable(state.get(plural, name)) != _comparable(obj)
        ]
        if changed:
            answer = self._as_admin("POST", "/api/v1/apply", {"items": changed})
            if answer.status_code != 200:
                raise AdminLockedOut("apply the baseline", answer)
        state = self.read_state()
        for plural in IDENTITY_PLURALS:
            for name in sorted(state.names(plural) - self.initial.names(plural)):
                answer = self._as_admin("DELETE", f"/api/v1/{plural}/{name}")
                if answer.status_code != 204:
                    raise AdminLockedOut(f"delete {plural}/{name}", answer)
                if plural == "users":
                    self.forget(name)

    @staticmethod
    def _created_at(state: State, user: str) -> str:
        obj = state.get("users", user)
        assert obj is not None, f"{user} is not in the baseline any more"
        created: str = obj["metadata"]["createdAt"]
        return created


def _comparable(obj: JSON | None) -> Any:
    return None if obj is None else (obj.get("spec"), obj["metadata"].get("labels"))


def _as_manifest(obj: JSON) -> JSON:
    """The object as a client would apply it (without what mcpd writes itself)."""
    metadata = {"name": obj["metadata"]["name"]}
    for key in ("labels", "annotations"):
        if obj["metadata"].get(key):
            metadata[key] = obj["metadata"][key]
    made: JSON = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": metadata}
    if "spec" in obj:
        made["spec"] = obj["spec"]
    return made
