"""mcpd's locks: the state dir's (one exclusive holder with its pid in the file, or shared
holders), and the SQLite file's; free once released."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mcpctl.daemon.statelock import (
    LOCK_FILE,
    DatabaseBusy,
    StateDirBusy,
    lock_database_file,
    lock_state_dir,
)


def test_the_lock_writes_the_holders_pid_in_a_private_file(tmp_path: Path) -> None:
    state = tmp_path / "state"

    lock = lock_state_dir(state)

    try:
        path = state / LOCK_FILE
        assert path.read_text() == f"{os.getpid()}\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
    finally:
        lock.release()


def test_a_second_holder_is_refused_naming_the_file_and_the_pid(tmp_path: Path) -> None:
    lock = lock_state_dir(tmp_path)
    try:
        with pytest.raises(StateDirBusy) as refused:
            lock_state_dir(tmp_path)
    finally:
        lock.release()

    assert refused.value.pid == os.getpid()
    assert refused.value.path == tmp_path / LOCK_FILE
    assert f"pid {os.getpid()} holds {tmp_path / LOCK_FILE}" in str(refused.value)


def test_a_released_lock_is_taken_again_and_its_old_pid_replaced(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("99999999\nleft by a killed mcpd\n")

    first = lock_state_dir(tmp_path)
    first.release()
    first.release()  # twice is harmless
    again = lock_state_dir(tmp_path)

    try:
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    finally:
        again.release()


def test_a_holder_that_wrote_no_pid_yet_is_another_process(tmp_path: Path) -> None:
    lock = lock_state_dir(tmp_path)
    (tmp_path / LOCK_FILE).write_text("")
    try:
        with pytest.raises(StateDirBusy) as refused:
            lock_state_dir(tmp_path)
    finally:
        lock.release()

    assert refused.value.pid is None
    assert "another process holds" in str(refused.value)


def test_shared_holders_share_the_lock_and_write_no_pid(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("99999999\n")  # left by a killed exclusive holder

    with lock_state_dir(tmp_path, shared=True), lock_state_dir(tmp_path, shared=True):
        assert (tmp_path / LOCK_FILE).read_text() == ""


def test_an_exclusive_taker_is_refused_by_shared_holders_naming_them(tmp_path: Path) -> None:
    with lock_state_dir(tmp_path, shared=True), pytest.raises(StateDirBusy) as refused:
        lock_state_dir(tmp_path)

    assert refused.value.pid is None
    assert refused.value.holder.shared
    assert str(refused.value) == (
        f"the state dir {tmp_path} is in use: mcpd replicas on PostgreSQL share "
        f"{tmp_path / LOCK_FILE}; only mcpd on PostgreSQL may share a state dir: stop them "
        "first, or give another --state-dir"
    )


def test_a_shared_taker_is_refused_by_an_exclusive_holder_naming_its_pid(tmp_path: Path) -> None:
    with lock_state_dir(tmp_path), pytest.raises(StateDirBusy) as refused:
        lock_state_dir(tmp_path, shared=True)

    assert refused.value.pid == os.getpid()
    assert f"pid {os.getpid()} holds {tmp_path / LOCK_FILE} (a running mcpd" in str(refused.value)


def test_once_shared_holders_are_gone_an_exclusive_taker_gets_the_lock(tmp_path: Path) -> None:
    with lock_state_dir(tmp_path, shared=True):
        pass

    with lock_state_dir(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_the_lock_of_a_sqlite_file_lies_beside_it_private_with_the_holders_pid(
    tmp_path: Path,
) -> None:
    database = tmp_path / "mcpd.db"

    with lock_database_file(database):
        path = tmp_path / "mcpd.db.lock"
        assert path.read_text() == f"{os.getpid()}\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not database.exists()  # the database itself is SQLite's to create
        with pytest.raises(DatabaseBusy) as refused:
            lock_database_file(database)

    assert str(refused.value) == (
        f"the database {database} is in use: pid {os.getpid()} holds {path} (a running mcpd); "
        "SQLite serves one mcpd: stop it first, give another --database-url, or run replicas "
        "on PostgreSQL"
    )
    with lock_database_file(database):  # released at the end of the block
        pass
