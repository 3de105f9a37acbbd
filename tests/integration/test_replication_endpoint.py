"""`/cluster/v1/state.git`: where each replica serves its own state repo to the others.

It answers git's fetch to the cluster's replication secret and to nothing else: no
push, no person's token; and the secret opens nothing but it (not `/git/state.git`,
not the API). A real mcpd on a real PostgreSQL (the secret is a cluster's), a real git
client.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.gitrepo import quiet
from tests.support.mcpd import Mcpd, running_mcpd
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.integration]

PEER = "/cluster/v1/state.git"
UPLOAD = {"service": "git-upload-pack"}


@pytest.fixture
def clustered(postgres: PostgresServer, tmp_path: Path) -> Iterator[tuple[Mcpd, str]]:
    """One mcpd on PostgreSQL (a cluster of one), and the cluster's replication secret."""
    database = postgres.create_database()
    with running_mcpd(tmp_path / "state", database) as server:
        with psycopg.connect(database, autocommit=True) as connection:
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'replication_secret'"
            ).fetchone()
        assert row is not None
        yield server, str(row[0])


def test_the_replication_secret_clones_a_replicas_own_repo(
    clustered: tuple[Mcpd, str], tmp_path: Path
) -> None:
    server, secret = clustered
    with server.client() as client:
        head = quiet(client)["head"]
    clone = tmp_path / "peer"
    header = f"http.extraHeader=Authorization: Bearer {secret}"
    done = subprocess.run(
        ["git", "-c", header, "clone", "--quiet", server.url + PEER, str(clone)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    cloned = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert cloned == head
    assert secret not in server.logged()


def test_the_peer_path_answers_the_secret_only_and_only_to_fetch(
    clustered: tuple[Mcpd, str],
) -> None:
    server, secret = clustered
    with server.client(secret) as peer, server.client() as admin, server.client("") as anyone:
        assert peer.get(f"{PEER}/info/refs", params=UPLOAD).status_code == 200
        refused = anyone.get(f"{PEER}/info/refs", params=UPLOAD)
        assert refused.status_code == 401
        assert "WWW-Authenticate" in refused.headers
        # a person's token, even the admin's, is not a replica's
        denied = admin.get(f"{PEER}/info/refs", params=UPLOAD)
        assert denied.status_code == 403
        assert "for the cluster's replicas" in denied.text
        # a wrong secret of the right shape
        with server.client("mcpctl_rep_" + "x" * 43) as forged:
            assert forged.get(f"{PEER}/info/refs", params=UPLOAD).status_code == 403
        # no push there, announced or sent
        pushing = peer.get(f"{PEER}/info/refs", params={"service": "git-receive-pack"})
        assert pushing.status_code == 403
        assert peer.post(f"{PEER}/git-receive-pack", content=b"0000").status_code in (404, 405)
        # the secret opens nothing else: not the people's git endpoint, not the API
        assert peer.get("/git/state.git/info/refs", params=UPLOAD).status_code == 403
        assert peer.get("/api/v1/servers").status_code == 401
        assert peer.get("/api/v1/gitops/status").status_code == 401
    assert secret not in server.logged()
