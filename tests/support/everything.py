"""npm's reference MCP server (`@modelcontextprotocol/server-everything`) for the tests.

Installed once into a cache outside the repository (`MCPCTL_TEST_NPM`, else
/var/cache/mcpctl-tests/npm) and kept there between runs; `.ci/run` runs this module
(`python3 -m tests.support.everything`) so that a fresh machine installs it before the
tests. It imports only the standard library for that reason.

The server listens on every interface by default: it is started with a preloaded script
(`loopback.mjs`) that pins its listen to 127.0.0.1, and `listening_addresses` lets a
test check that nothing else listens on its port.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "@modelcontextprotocol/server-everything"
#: Pinned: its tools and behaviour are what the tests expect.
VERSION = "2026.8.31"
LOOPBACK = Path(__file__).with_name("loopback.mjs")


def cache_dir() -> Path:
    return Path(os.environ.get("MCPCTL_TEST_NPM", "/var/cache/mcpctl-tests/npm"))


def _installed(root: Path) -> Path | None:
    package = root / "node_modules" / PACKAGE
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return package if version == VERSION else None


def install() -> Path:
    """The package's directory, installed first if missing (under a lock: one installer)."""
    root = cache_dir()
    found = _installed(root)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError(
            f"{PACKAGE} needs node and npm (apt-get install nodejs npm); neither is on PATH"
        )
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _installed(root)
        if found is not None:
            return found
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(root),
                "--no-audit",
                "--no-fund",
                "--no-save",
                f"{PACKAGE}@{VERSION}",
            ],
            capture_output=True,
            text=True,
        )
        found = _installed(root)
        if done.returncode != 0 or found is None:
            raise RuntimeError(
                f"npm install {PACKAGE}@{VERSION} into {root} failed:\n{done.stdout}\n{done.stderr}"
            )
        return found


def command(transport: str) -> list[str]:
    """The command that runs it (`stdio`, `sse` or `streamableHttp`; `PORT` in the environment)."""
    entry = install() / "dist" / "index.js"
    return ["node", "--import", LOOPBACK.as_uri(), str(entry), transport]


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every TCP socket listening on `port` (IPv4 and IPv6), as
    /proc/net shows them in hex (`0100007F` is 127.0.0.1)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


#: /proc/net/tcp's spelling of 127.0.0.1.
LOOPBACK_V4 = "0100007F"


if __name__ == "__main__":
    print(f"{PACKAGE}@{VERSION} in {install()}", file=sys.stderr)
