"""npm packages the tests run, installed once into a cache outside the repository.

The cache is `MCPCTL_TEST_NPM`, else /var/cache/mcpctl-tests/npm, kept between runs:
`.ci/run` fills it before the tests (`tests.support.everything`,
`tests.support.conformance`), and a test that finds a package missing installs it
itself. Each package pins its version: a package found at another version is installed
again. Each gets a prefix of its own, because `npm install --no-save` into a prefix
removes what an earlier one put there. Standard library only, so that `.ci/run` can run
the installers before the virtualenv exists.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("MCPCTL_TEST_NPM", "/var/cache/mcpctl-tests/npm"))


def _installed(prefix: Path, package: str, version: str) -> Path | None:
    directory = prefix / "node_modules" / package
    try:
        found = json.loads((directory / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return directory if found == version else None


def install(package: str, version: str, prefix: Path) -> Path:
    """The package's directory under `prefix`, installed first if missing or at another
    version (under a lock: one installer per prefix, the others wait and find it)."""
    found = _installed(prefix, package, version)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"installing {package}@{version} needs npm (apt-get install nodejs npm); "
            "it is not on PATH"
        )
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _installed(prefix, package, version)
        if found is not None:
            return found
        done = subprocess.run(
            [
                *(npm, "install", "--prefix", str(prefix)),
                *("--no-audit", "--no-fund", "--no-save", f"{package}@{version}"),
            ],
            capture_output=True,
            text=True,
        )
        found = _installed(prefix, package, version)
        if done.returncode != 0 or found is None:
            raise RuntimeError(
                f"npm install {package}@{version} into {prefix} failed:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return found
