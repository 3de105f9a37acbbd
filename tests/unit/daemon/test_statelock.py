"""The state dir's lock: one holder at a time, its pid in the file, free once released."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mcpctl.daemon.statelock import LOCK_FILE, StateDirBusy, lock_state_dir


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
