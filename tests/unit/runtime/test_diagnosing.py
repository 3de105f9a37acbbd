"""The docker driver's words: exit reasons, engine causes, the probe, masked secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mcpctl.runtime.base import Secret
from mcpctl.runtime.diagnosing import exit_reason, failure_cause, mask_secrets, probe_engine


@pytest.mark.parametrize(
    ("code", "options", "reason"),
    [
        (0, {}, "exited"),
        (None, {}, "exited"),
        (3, {}, "exited with code 3"),
        (137, {}, "killed by signal 9"),
        (143, {}, "killed by signal 15"),
        (255, {}, "exited with code 255"),
        (137, {"oom": True}, "OOMKilled"),
        (143, {"stopped": True}, "stopped by mcpd"),
    ],
)
def test_exit_reasons(code: int | None, options: dict[str, bool], reason: str) -> None:
    assert exit_reason(code, **options) == reason


class WrappedError(OSError):
    """An error of a library that carries the real one in its arguments, as requests does."""


def test_the_innermost_os_error_is_the_cause() -> None:
    inner = FileNotFoundError(2, "No such file or directory")
    error = WrappedError(RuntimeError("Connection aborted.", inner))
    assert failure_cause(error) == "No such file or directory"


def test_a_chained_cause_is_followed() -> None:
    error = ValueError("could not talk to the engine")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert failure_cause(error) == "Connection refused"


def test_a_timeout_without_words_is_said_plainly() -> None:
    class ReadTimeout(Exception):
        pass

    assert failure_cause(ReadTimeout("HTTPConnection: Read timed out")) == "no answer in time"
    assert failure_cause(ValueError("odd")) == "odd"


def test_probe_names_a_socket_that_is_missing_or_dead(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_engine(f"unix://{tmp_path / 'none.sock'}", 1.0)
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(dead))
    with pytest.raises(ConnectionRefusedError):
        probe_engine(f"unix://{dead}", 1.0)


def test_probe_reaches_a_listening_socket(tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen()
        probe_engine(f"unix://{path}", 1.0)
    with socket.socket() as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        probe_engine(f"tcp://127.0.0.1:{tcp.getsockname()[1]}", 1.0)


def test_secrets_are_masked_and_plain_values_kept() -> None:
    text = "refused env TOKEN=s3cret and MODE=fast"
    masked = mask_secrets(text, [Secret("s3cret"), "fast", Secret("")])
    assert masked == "refused env TOKEN=*** and MODE=fast"
