"""Mapping mcpctl's errors to one clear line and an exit code, once for the CLI.

Exit codes follow `kubectl diff` and linters: 0 success / no difference,
1 invalid input found / differences found, 2 usage, I/O or any other error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import click

from mcpctl.errors import McpctlError

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_ERROR = 2

P = ParamSpec("P")
R = TypeVar("R")


class CliError(click.ClickException):
    """An error shown as `error: <message>`, exiting with status 2."""

    exit_code = EXIT_ERROR

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn mcpctl and OS errors raised inside into one line and exit code 2."""
    try:
        yield
    except McpctlError as e:
        raise CliError(str(e)) from e
    except OSError as e:
        raise CliError(f"{e.filename or ''}: {e.strerror or e}".lstrip(": ")) from e


def with_cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of `cli_errors`."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with cli_errors():
            return func(*args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def fast_exit(code: int) -> None:
    """Exit with `code`, skipping the teardown of a large heap when this is the real process.

    Freeing tens of thousands of loaded objects one by one at exit costs a
    tenth of `validate`'s run time and serves nobody (mypy does the same).
    Inside a test runner (stdout replaced) it is a plain `sys.exit`.
    """
    real_process = sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
    if real_process:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
