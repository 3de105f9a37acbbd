"""The HTTP client of mcpd's `/api/v1`: retries, timeouts, one error per answer.

Every CLI command that talks to mcpd (and the coming mcplocal) goes through
`ApiClient.request`, which

- sends the bearer token of the context (or of `--token`);
- retries HTTP 429 and 503, honouring `Retry-After`, with exponential backoff
  and full jitter, at most `RetryPolicy.attempts` times within a total
  deadline (a request never waits longer than the deadline in all);
- turns `application/problem+json` answers into mcpctl's errors, once::

      401 -> NotLoggedIn        403 -> Forbidden (naming the permission)
      404 -> NotFound           409 -> Conflict
      422 -> InvalidManifest (the answer's `issues`) or InvalidInput
      400, 413 -> InvalidInput  429, 503, 5xx, network -> BackendUnavailable

It speaks HTTP/1.1 with the standard library's `http.client` rather than httpx:
`mcpctl get servers` must start within 2x `python -c pass` + 150 ms, and
importing httpx alone costs about 150 ms. One keep-alive connection serves
every request of a command.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from mcpctl import __version__
from mcpctl.errors import (
    BackendUnavailable,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidManifest,
    ManifestIssue,
    McpctlError,
    NotFound,
)

#: Statuses that mean "not now": the request was not processed and may be sent again.
RETRYABLE = frozenset({429, 503})
PROBLEM_TYPE_PREFIX = "https://mcpctl.dev/problems/"
_ISSUE_FIELDS = (
    "message",
    "code",
    "file",
    "line",
    "column",
    "document",
    "kind",
    "name",
    "project",
    "field",
)


@dataclass(frozen=True)
class Response:
    """An HTTP answer: status, headers (case-insensitive), body."""

    status_code: int
    reason_phrase: str
    headers: http.client.HTTPMessage
    content: bytes
    path: str

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.content)


class NotLoggedIn(Forbidden):
    """mcpd refused the credentials (HTTP 401): none given, expired or revoked."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        #: mcpd's own words (the problem's `detail`).
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a 429 or 503.

    The n-th retry (0-based) waits a uniformly random time in
    ``[0, min(cap, base * 2**n)]`` ("full jitter"), or the server's
    `Retry-After` when that is longer. No wait crosses `deadline` seconds after
    the first attempt: the last answer is reported instead.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 8.0
    deadline: float = 60.0

    def backoff(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        jittered = rng.uniform(0.0, min(self.cap, self.base * 2**retry))
        return max(jittered, retry_after) if retry_after is not None else jittered


#: One attempt only: for shell completion, which must answer at once or not at all.
NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass
class ApiClient:
    """A connection to one mcpd: base URL, bearer token, timeouts and retry policy."""

    server: str
    token: str | None = None
    context: str | None = None
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    _http: http.client.HTTPConnection | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return self.server.rstrip("/")

    def _connection(self) -> http.client.HTTPConnection:
        if self._http is None:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(f"invalid server URL {self.server!r}: use http(s)://host[:port]")
            if parts.scheme == "https":
                self._http = http.client.HTTPSConnection(
                    parts.hostname,
                    parts.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._http = http.client.HTTPConnection(
                    parts.hostname, parts.port, timeout=self.timeout
                )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one request (retrying 429/503) and return the decoded JSON answer (or None)."""
        started = self.clock()
        retry = 0
        while True:
            response = self._send(method, path, params, body)
            if response.status_code not in RETRYABLE or retry + 1 >= self.retry.attempts:
                break
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = self.retry.backoff(retry, retry_after, self.rng)
            if self.clock() - started + delay > self.retry.deadline:
                break
            self.sleep(delay)
            retry += 1
        if response.is_success:
            return _decode(response, self.base_url) if response.content else None
        raise self.error_for(response, attempts=retry + 1)

    def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, body: Any
    ) -> Response:
        prefix = urlsplit(self.base_url).path.rstrip("/")
        target = prefix + path + (("?" + urlencode(params)) if params else "")
        headers = {"User-Agent": f"mcpctl/{__version__}", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            connection = self._connection()
            try:
                connection.request(method, target, body=payload, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
            except (ConnectionRefusedError, socket.gaierror) as e:
                self.close()
                raise BackendUnavailable(
                    f"cannot reach mcpd at {self.base_url}: is it running?"
                ) from e
            except TimeoutError as e:
                self.close()
                raise BackendUnavailable(
                    f"mcpd at {self.base_url} did not answer {method} {path} "
                    f"within {self.timeout:g} s"
                ) from e
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if attempt == 2:
                    raise BackendUnavailable(
                        f"mcpd at {self.base_url} closed the connection: {e}"
                    ) from e
                continue
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise BackendUnavailable(f"cannot talk to mcpd at {self.base_url}: {e}") from e
            if answer.getheader("Connection", "").lower() == "close":
                self.close()
            return Response(answer.status, answer.reason, answer.headers, content, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, path: str, *, params: Mapping[str, str] | None = None) -> Iterator[bytes]:
        """GET a streamed answer (`mcpctl logs -f`): its lines as they come, each with its
        newline, until mcpd ends it. A connection of its own, with no read timeout: a log
        followed may be quiet for hours. A 503 (a replica that leads no more) is retried
        like any request; other failures raise as `request` does."""
        started = self.clock()
        retry = 0
        prefix = urlsplit(self.base_url).path.rstrip("/")
        target = prefix + path + (("?" + urlencode(params)) if params else "")
        headers = {"User-Agent": f"mcpctl/{__version__}", "Accept": "text/plain"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        while True:
            streaming = ApiClient(self.server, self.token, self.context, timeout=self.timeout)
            connection = streaming._connection()
            try:
                connection.request("GET", target, headers=headers)
                answer = connection.getresponse()
            except (OSError, http.client.HTTPException) as e:
                streaming.close()
                raise BackendUnavailable(f"cannot reach mcpd at {self.base_url}: {e}") from e
            if answer.status >= 300:
                content = answer.read()
                streaming.close()
                response = Response(answer.status, answer.reason, answer.headers, content, path)
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                delay = self.retry.backoff(retry, retry_after, self.rng)
                if (
                    answer.status in RETRYABLE
                    and retry + 1 < self.retry.attempts
                    and self.clock() - started + delay <= self.retry.deadline
                ):
                    self.sleep(delay)
                    retry += 1
                    continue
                raise self.error_for(response, attempts=retry + 1)
            if connection.sock is not None:
                connection.sock.settimeout(None)
            try:
                while line := answer.readline():
                    yield line
            except (OSError, http.client.HTTPException) as e:
                raise BackendUnavailable(f"mcpd at {self.base_url} ended the stream: {e}") from e
            finally:
                streaming.close()
            return

    def error_for(self, response: Response, *, attempts: int = 1) -> McpctlError:
        """The mcpctl error for a failed answer, in one line."""
        problem = _problem(response)
        status = response.status_code
        detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        if status == 401:
            where = f"context {self.context!r}" if self.context else self.base_url
            if not self.token:
                return NotLoggedIn(
                    f"not logged in to {self.base_url}: run `mcpctl login {self.base_url}`",
                    detail,
                )
            return NotLoggedIn(
                f"the token of {where} was rejected ({detail}): "
                f"log in again with `mcpctl login {self.base_url}`",
                detail,
            )
        if status == 403:
            return Forbidden(detail if detail.startswith("forbidden") else f"forbidden: {detail}")
        if status == 404:
            return NotFound(detail)
        if status == 409:
            return Conflict(detail)
        if status == 422:
            issues = _issues(problem.get("issues"))
            return InvalidManifest(issues) if issues else InvalidInput(detail)
        if 400 <= status < 500 and status not in RETRYABLE:
            return InvalidInput(f"{detail} (HTTP {status})")
        if status in RETRYABLE:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            return BackendUnavailable(f"mcpd is busy (HTTP {status}){tries}: {detail}")
        return BackendUnavailable(f"mcpd failed (HTTP {status}): {detail}")


def _decode(response: Response, base_url: str) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as e:
        raise BackendUnavailable(
            f"unexpected answer from {base_url}{response.path}: not JSON (is {base_url} an mcpd?)"
        ) from e


def _problem(response: Response) -> dict[str, Any]:
    """The problem+json body, or {} when the answer is not one."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _issues(raw: Any) -> list[ManifestIssue]:
    """ManifestIssues from the `issues` of a 422 answer (unknown fields ignored)."""
    if not isinstance(raw, list):
        return []
    issues = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            continue
        values: dict[str, Any] = {k: item.get(k) for k in _ISSUE_FIELDS}
        values["code"] = str(values["code"] or "invalid")
        for number in ("line", "column", "document"):
            if not isinstance(values[number], int) or isinstance(values[number], bool):
                values[number] = None
        for text in ("file", "kind", "name", "project", "field"):
            if not isinstance(values[text], str):
                values[text] = None
        issues.append(ManifestIssue(**values))
    return issues
