"""npm's reference MCP server (`@modelcontextprotocol/server-everything`) for the tests.

Installed once into the tests' npm cache outside the repository (`tests.support.npmcache`)
and kept there between runs; `.ci/run` runs this module
(`python3 -m tests.support.everything`) so that a fresh machine installs it before the
tests. It imports only the standard library (and `npmcache`, which does too) for that reason.

The server listens on every interface by default: it is started with a preloaded script
(`loopback.mjs`) that pins its listen to 127.0.0.1, and `listening_addresses` lets a
test check that nothing else listens on its port.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.support import npmcache

PACKAGE = "@modelcontextprotocol/server-everything"
#: Pinned: its tools and behaviour are what the tests expect.
VERSION = "2026.8.31"
LOOPBACK = Path(__file__).with_name("loopback.mjs")


def cache_dir() -> Path:
    return npmcache.cache_dir()


def install() -> Path:
    """The package's directory, installed first if missing (under a lock: one installer)."""
    if shutil.which("node") is None:
        raise RuntimeError(f"{PACKAGE} needs node (apt-get install nodejs npm); it is not on PATH")
    # The cache's root is this package's prefix: it was the only one before there were more.
    return npmcache.install(PACKAGE, VERSION, cache_dir())


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
