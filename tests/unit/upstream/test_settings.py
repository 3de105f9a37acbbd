"""Bad channel settings and endpoints are refused, naming what is wrong and never a secret."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mcpctl.errors import InvalidInput
from mcpctl.runtime.base import Endpoint, Secret
from mcpctl.upstream import ChannelSettings
from mcpctl.upstream.http import EndpointHeaders, safe_url


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_timeout", 0),
        ("open_timeout", -1.0),
        ("discover_timeout", math.nan),
        ("connect_timeout", "10"),
        ("max_in_flight", 0),
        ("max_in_flight", True),
        ("max_message_bytes", 1.5),
        ("era", "newest"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput, match=field if field != "era" else "era must be"):
        ChannelSettings(**{field: value})


def test_a_request_timeout_may_be_infinite() -> None:
    assert ChannelSettings(request_timeout=math.inf).request_timeout == math.inf


SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Host": "elsewhere.example"}, "'Host'"),
        ({"Mcp-Session-Id": Secret(SECRET)}, "'Mcp-Session-Id'"),
        ({"Content-Type": "text/plain"}, "'Content-Type'"),
        ({"X-Key": Secret(SECRET + "\r\nX-Injected: 1")}, "'X-Key'"),
        ({"X-Key": Secret(SECRET + "é")}, "'X-Key'"),
        ({"Bad Name": "v"}, "'Bad Name'"),
    ],
)
def test_bad_endpoint_headers_are_refused_naming_the_header_not_its_value(
    headers: dict[str, str | Secret], named: str
) -> None:
    with pytest.raises(InvalidInput, match="instance web-0") as refused:
        EndpointHeaders("web-0", Endpoint("streamable-http", "http://127.0.0.1:1/mcp", headers))
    assert named in str(refused.value)
    assert SECRET not in str(refused.value)


def test_an_endpoint_that_is_not_http_is_refused_without_its_credentials() -> None:
    with pytest.raises(InvalidInput, match="not http") as refused:
        EndpointHeaders("web-0", Endpoint("sse", f"ftp://user:{SECRET}@host/sse"))
    assert SECRET not in str(refused.value)


def test_urls_in_messages_lose_their_credentials_and_query() -> None:
    assert (
        safe_url(f"https://user:{SECRET}@example.com:8443/mcp?key={SECRET}")
        == "https://example.com:8443/mcp"
    )
    assert safe_url("http://[::1]:9/sse") == "http://[::1]:9/sse"


def test_revealed_headers_are_for_the_request_only() -> None:
    headers = EndpointHeaders(
        "web-0", Endpoint("sse", "http://127.0.0.1/sse", {"Authorization": Secret(SECRET)})
    )
    assert headers.reveal() == {"Authorization": SECRET}
    assert SECRET not in repr(headers)
