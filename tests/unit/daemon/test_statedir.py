"""The state dir at start: refused if others may write to it, warned about if they may look."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpctl.daemon.statedir import make_private, open_state_dir
from mcpctl.errors import InvalidInput


@pytest.fixture(autouse=True)
def umask() -> Iterator[None]:
    """The umask 022 during the test, whatever make_private sets (the test run's is restored)."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def state_dir(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    path.chmod(mode)
    return path


def test_a_missing_state_dir_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state"
    open_state_dir(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o702, 0o1777], ids=oct)
def test_a_state_dir_others_may_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    path = state_dir(tmp_path, mode)
    with pytest.raises(InvalidInput) as refused:
        open_state_dir(path)
    assert f"run `chmod 700 {path}`" in str(refused.value)


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o705, 0o711], ids=oct)
def test_a_state_dir_others_may_read_or_enter_is_warned_about_with_the_fix(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = state_dir(tmp_path, mode)
    with caplog.at_level(logging.WARNING, logger="mcpd"):
        open_state_dir(path)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"run `chmod 700 {path}`" in caplog.records[0].getMessage()
    assert stat.S_IMODE(path.stat().st_mode) == mode  # left as it is


def test_a_private_state_dir_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = state_dir(tmp_path, 0o700)
    with caplog.at_level(logging.DEBUG, logger="mcpd"):
        open_state_dir(path)
    assert caplog.records == []


def test_a_state_dir_that_is_a_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_text("")
    with pytest.raises(InvalidInput, match="state dir"):
        open_state_dir(path)


def test_after_make_private_new_files_and_directories_are_for_the_owner_alone(
    tmp_path: Path,
) -> None:
    make_private()
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    os.close(os.open(tmp_path / "opened", os.O_WRONLY | os.O_CREAT, 0o666))
    modes = [stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("dir", "file", "opened")]
    assert modes == [0o700, 0o600, 0o600]
