"""What an mcpd that finds the admin created already says about logging in (`login_hint`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpctl.daemon.wiring import PASSWORD_FILE, login_hint
from mcpctl.identity import Bootstrapper

URL = "http://127.0.0.1:7420"
LOGIN = f"log in with `mcpctl login {URL} --username admin`"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_the_mcpd_that_created_the_admin_says_nothing_at_its_restarts(state: Path) -> None:
    me = Bootstrapper("host-a", str(state))

    assert login_hint(me, me, state, URL) is None


def test_the_same_state_dir_on_another_host_holding_the_password_says_nothing(
    state: Path,
) -> None:
    """A container restarted on the same volume under a new host name, say."""
    state.mkdir()
    (state / PASSWORD_FILE).write_text("pw\n")

    hint = login_hint(Bootstrapper("old", str(state)), Bootstrapper("new", str(state)), state, URL)

    assert hint is None


def test_another_mcpd_is_told_where_the_password_is_and_how_to_log_in(state: Path) -> None:
    creator = Bootstrapper("host-a", "/srv/mcpd-a")

    hint = login_hint(creator, Bootstrapper("host-b", str(state)), state, URL)

    assert hint == (
        "the admin was created by mcpd on host-a (state dir /srv/mcpd-a): its initial "
        f"password is in /srv/mcpd-a/{PASSWORD_FILE}; {LOGIN}"
    )


def test_a_database_that_does_not_name_its_creator_is_told_about_unless_the_password_is_here(
    state: Path,
) -> None:
    me = Bootstrapper("host-b", str(state))

    hint = login_hint(None, me, state, URL)
    state.mkdir()
    (state / PASSWORD_FILE).write_text("pw\n")

    assert hint == (
        "the admin was created by another mcpd, which this database does not name: its "
        f"initial password is in {PASSWORD_FILE} in that mcpd's state dir; {LOGIN}"
    )
    assert login_hint(None, me, state, URL) is None


@pytest.mark.parametrize(
    "value",
    [None, "2025-01-01T00:00:00+00:00", "[]", '{"host": "a"}', '{"host": 1, "stateDir": "/s"}'],
)
def test_a_meta_row_mcpd_did_not_write_names_no_creator(value: str | None) -> None:
    assert Bootstrapper.from_meta(value) is None


def test_a_creator_goes_through_its_meta_row_unchanged() -> None:
    creator = Bootstrapper("host-a", "/srv/mcpd\nodd")

    assert Bootstrapper.from_meta(creator.to_meta()) == creator
