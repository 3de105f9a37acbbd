"""Relaying one HTTP request to another mcpd replica as it came, streaming both bodies.

A follower answers what only the leader may do (the git endpoint, restore,
sync, seal, verify, timelines) by relaying the request to the leader with its
own credentials, so the client never needs to know which replica leads
(`api.forwarding` decides what to relay and where). Bodies stream through in
both directions: a push of a large pack is never held whole in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mcpctl.errors import BackendUnavailable

#: Hop-by-hop headers (RFC 9110, 7.6.1) and those httpx sets itself: never relayed.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: A relayed request may take this long between two chunks (a push checked by the leader).
READ_TIMEOUT = 600.0

__all__ = ["HOP_BY_HOP", "Relay", "Relayed"]


@dataclass
class Relayed:
    """The leader's answer: its status, headers and a stream of its body (closed at its end)."""

    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


class Relay:
    """One connection pool to the other replicas (made on first use, closed by `close`)."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: AsyncIterator[bytes],
    ) -> Relayed:
        """Send the request to `url`; the answer's body streams as the caller reads it."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(10.0, read=READ_TIMEOUT, write=READ_TIMEOUT),
                follow_redirects=False,
            )
        kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        request = self._client.build_request(method, url, headers=kept, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as e:
            raise BackendUnavailable(f"the leader at {url.split('/', 3)[2]}: {e}") from None

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        answer = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        return Relayed(response.status_code, answer, stream())

    async def get_json(self, url: str, token: str) -> Any:
        """GET `url` with `token` as the bearer; its JSON (BackendUnavailable if not 200)."""
        client = self._client = self._client or httpx.AsyncClient(timeout=10.0)
        try:
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as e:
            raise BackendUnavailable(f"{url.split('/', 3)[2]}: {e}") from None
        if response.status_code != 200:
            raise BackendUnavailable(f"{url}: {response.status_code} {response.text[:200]}")
        return response.json()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
