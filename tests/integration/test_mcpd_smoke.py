"""mcpd starts on SQLite and PostgreSQL, bootstraps its admin, and serves the API."""

from __future__ import annotations

import stat

import pytest

from tests.support.mcpd import Mcpd

pytestmark = pytest.mark.integration


def test_first_start_writes_a_private_context_and_admin_password(mcpd: Mcpd) -> None:
    for name in ("config", "initial-admin-password"):
        mode = stat.S_IMODE((mcpd.state_dir / name).stat().st_mode)
        assert mode == 0o600, name
    with mcpd.client() as client:
        me = client.get("/api/v1/auth/me").json()
    assert me["user"] == "admin"


def test_the_seeded_default_backend_exists(mcpd: Mcpd) -> None:
    with mcpd.client() as client:
        backend = client.get("/api/v1/secretbackends/default").json()
    assert backend["spec"] == {"type": "plaintext", "default": True}
