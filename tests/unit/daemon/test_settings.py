"""mcpd's flags and environment, read once into grouped settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpctl.api.requests import DEFAULT_MAX_BODY
from mcpctl.daemon.settings import (
    AdminResetSettings,
    GitSettings,
    HttpSettings,
    RecoverySettings,
    Settings,
    StoreSettings,
    parse_command,
    parse_settings,
)
from mcpctl.identity import ThrottleSchedule, ThrottleSettings
from mcpctl.reconciler.exporting import ExportingSettings
from mcpctl.reconciler.mirroring import MirroringSettings
from mcpctl.store import sqlite_url


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCPCTL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MCPD_DATABASE_URL", raising=False)
    monkeypatch.delenv("MCPD_GIT_REMOTE", raising=False)


def test_no_flags_mean_sqlite_in_the_state_dir_on_localhost(tmp_path: Path) -> None:
    state = (tmp_path / "home").resolve()

    assert parse_settings([]) == Settings(
        state,
        StoreSettings(sqlite_url(state / "mcpd.db")),
        HttpSettings("127.0.0.1", 7420, DEFAULT_MAX_BODY),
        GitSettings(None, 60.0),
        RecoverySettings(skip_unopenable_secrets=False),
        "info",
    )


def test_each_flag_lands_in_its_group(tmp_path: Path) -> None:
    settings = parse_settings(
        [
            "--state-dir",
            str(tmp_path / "state"),
            "--host",
            "::1",
            "--port",
            "8000",
            "--database-url",
            "postgresql://u@h/db",
            "--log-level",
            "debug",
            "--skip-unopenable-secrets",
            "--git-remote",
            "/srv/state.git",
            "--git-sync-interval",
            "5",
            "--git-mirror-as",
            "mirror",
        ]
    )

    assert settings.state_dir == (tmp_path / "state").resolve()
    assert settings.http.url == "http://[::1]:8000"
    assert settings.store.database_url == "postgresql://u@h/db"
    assert settings.log_level == "debug"
    assert settings.recovery.skip_unopenable_secrets
    assert settings.git == GitSettings("/srv/state.git", 5.0, "mirror")
    assert settings.git.mirroring.principal.actor == "serviceaccount:mirror"


def test_the_environment_gives_the_database_and_the_remote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCPD_DATABASE_URL", "postgresql://env@h/db")
    monkeypatch.setenv("MCPD_GIT_REMOTE", "https://example.com/state.git")

    settings = parse_settings([])

    assert settings.store.database_url == "postgresql://env@h/db"
    assert settings.git.remote == "https://example.com/state.git"


def test_a_database_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPD_DATABASE_URL", "postgresql://env@h/db")

    assert parse_settings(["--database-url", "sqlite:///x.db"]).store.database_url == (
        "sqlite:///x.db"
    )


def test_the_sync_interval_is_at_least_a_second() -> None:
    assert parse_settings(["--git-sync-interval", "0.1"]).git.sync_interval == 1.0


def test_the_loops_get_their_settings_from_the_git_group() -> None:
    git = parse_settings(["--git-sync-interval", "5"]).git
    assert git.mirroring == MirroringSettings(interval=5.0)
    assert git.exporting == ExportingSettings()


def test_login_throttling_has_its_schedules_by_default_and_takes_each_from_a_flag() -> None:
    assert parse_settings([]).login == ThrottleSettings()

    login = parse_settings(
        ["--login-throttle-user", "3,0.5,30", "--login-throttle-address", "0,0,0"]
    ).login

    assert login.user == ThrottleSchedule(free=3, first=0.5, cap=30.0)
    assert not login.address.enabled


@pytest.mark.parametrize("value", ["5,1", "5,1,60,1", "a,1,60", "5,60,1", "-1,1,60"])
def test_a_malformed_login_schedule_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(["--login-throttle-user", value])

    assert exited.value.code == 2
    assert "FREE,FIRST,CAP" in capsys.readouterr().err


def test_admin_reset_takes_the_user_and_the_store_options_of_serving(tmp_path: Path) -> None:
    state = (tmp_path / "state").resolve()
    after = ["admin-reset", "alice", "--state-dir", str(state), "--database-url", "sqlite:///x.db"]
    before = ["--state-dir", str(state), "--database-url", "sqlite:///x.db", "admin-reset", "alice"]

    wanted = AdminResetSettings("alice", state, StoreSettings("sqlite:///x.db"))
    assert parse_command(after) == parse_command(before) == wanted


def test_admin_reset_defaults_to_the_state_dir_and_database_mcpd_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = (tmp_path / "home").resolve()
    assert parse_command(["admin-reset", "bob"]) == AdminResetSettings(
        "bob", home, StoreSettings(sqlite_url(home / "mcpd.db"))
    )
    monkeypatch.setenv("MCPD_DATABASE_URL", "postgresql://env@h/db")
    reset = parse_command(["admin-reset", "bob"])
    assert isinstance(reset, AdminResetSettings)
    assert reset.store.database_url == "postgresql://env@h/db"


def test_admin_reset_needs_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_command(["admin-reset"])

    assert exited.value.code == 2
    assert "the following arguments are required: USER" in capsys.readouterr().err


def test_no_subcommand_serves() -> None:
    assert isinstance(parse_command(["--port", "7500"]), Settings)


def test_the_runtime_group_has_the_kubernetes_back_off_and_every_runtime_by_default() -> None:
    runtime = parse_settings([]).runtime
    assert (runtime.backoff, runtime.backoff_max, runtime.backoff_reset) == (10.0, 300.0, 600.0)
    assert runtime.runtimes == {"process", "docker", "external"}
    chosen = parse_settings(
        ["--restart-backoff", "0.5,4,60", "--runtimes", "docker, external", "--stop-grace", "2"]
    ).runtime
    assert (chosen.backoff, chosen.backoff_max, chosen.backoff_reset) == (0.5, 4.0, 60.0)
    assert chosen.runtimes == {"docker", "external"}
    assert chosen.grace == 2.0
    assert parse_settings(["--runtimes", "none"]).runtime.runtimes == frozenset()


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--runtimes", "process,kubernetes", "unknown runtime kubernetes"),
        ("--runtimes", ",", "unknown runtime"),
        ("--restart-backoff", "10,300", "expected FIRST,MAX,RESET"),
        ("--restart-backoff", "30,10,600", "0 < FIRST <= MAX"),
    ],
)
def test_a_bad_runtime_flag_is_refused_naming_it(
    flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_settings([flag, value])
    error = capsys.readouterr().err
    assert flag in error
    assert says in error
