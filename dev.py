#!/usr/bin/env python3
"""Set-up and checks for mcpctl, from nothing but Python 3.11+ and git.

    python3 dev.py up      # create .venv, install mcpctl, run mcpd with examples/ applied
    python3 dev.py test    # create .venv with the dev tools, run every check

Both create (or reuse) the virtualenv `.venv` next to this file and install
the project into it in editable mode, pinned by `requirements/constraints.txt`.
`test` runs, in order: ruff format --check, ruff check, mypy --strict,
lint-imports, the schema staleness check, and pytest; it ends with one
summary line and exits non-zero if any step failed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"


def _stamp(extras: str) -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS):
        if path.exists():
            digest.update(path.read_bytes())
    digest.update(extras.encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_venv(extras: str = "") -> None:
    """Create `.venv` and install the project (with `extras`) unless already done."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before anything checks it
        sys.exit(f"mcpctl needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    stamp_file = VENV / ".mcpctl-installed"
    wanted = _stamp(extras)
    if stamp_file.exists() and stamp_file.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating virtualenv {VENV.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    command = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if CONSTRAINTS.exists():
        command += ["--constraint", str(CONSTRAINTS)]
    command += ["--editable", target]
    print(f"installing mcpctl{f'[{extras}]' if extras else ''} into .venv", flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    stamp_file.write_text(wanted)


def _tool(name: str) -> str:
    return str(BIN / name)


def up(args: list[str]) -> int:
    """The main job: mcpd on the embedded default, with the examples applied.

    Starts `mcpd` (SQLite and state in $MCPCTL_HOME or ~/.mcpctl, on
    127.0.0.1:7420, extra arguments passed on), waits until it is ready,
    validates and applies `examples/`, then serves until Ctrl-C. The example servers
    that run offline (PyPI's mcp-server-time) are installed into `.venv`, whose `bin`
    leads mcpd's PATH: mcpd runs them as its child processes.
    """
    ensure_venv("examples")
    if subprocess.run([_tool("mcpctl"), "validate", "examples/"], cwd=ROOT).returncode != 0:
        return 1
    env = {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
    server = subprocess.Popen([_tool("mcpd"), *args], cwd=ROOT, env=env)
    try:
        if not _wait_ready(server, args):
            return 1
        applied = subprocess.run([_tool("mcpctl"), "apply", "-f", "examples/"], cwd=ROOT)
        if applied.returncode != 0:
            return applied.returncode
        print(
            "mcpd is running with the examples applied; try `.venv/bin/mcpctl get servers`. "
            "Ctrl-C stops it.",
            flush=True,
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def _wait_ready(server: subprocess.Popen[bytes], args: list[str]) -> bool:
    import urllib.error
    import urllib.request

    port = args[args.index("--port") + 1] if "--port" in args else "7420"
    url = f"http://127.0.0.1:{port}/readyz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            print(f"mcpd exited with status {server.returncode}", file=sys.stderr)
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    print(f"mcpd did not become ready at {url} within 60 s", file=sys.stderr)
    return False


def test(pytest_args: list[str]) -> int:
    ensure_venv("dev")
    steps: list[tuple[str, list[str]]] = [
        ("ruff format", [_tool("ruff"), "format", "--check", "--quiet", "."]),
        ("ruff check", [_tool("ruff"), "check", "--quiet", "."]),
        ("mypy", [_tool("mypy")]),
        ("lint-imports", [_tool("lint-imports")]),
        ("schemas", [_tool("mcpctl"), "schema", "export", "--check", "schemas"]),
        ("pytest", [str(PYTHON), "-m", "pytest", *pytest_args]),
    ]
    results: list[tuple[str, int, float]] = []
    for name, command in steps:
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=ROOT).returncode
        results.append((name, code, time.monotonic() - started))
    failed = [name for name, code, _ in results if code != 0]
    parts = ", ".join(f"{n} {'ok' if c == 0 else f'FAILED ({c})'} {t:.0f}s" for n, c, t in results)
    verdict = "FAILED: " + ", ".join(failed) if failed else "all checks passed"
    print(f"summary: {verdict} [{parts}]", flush=True)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("up", "test"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "up":
        return up(argv[1:])
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
