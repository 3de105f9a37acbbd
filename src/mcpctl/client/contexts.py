"""The client configuration file: contexts, like a kubeconfig.

`$MCPCTL_HOME/config` (default `~/.mcpctl/config`), YAML, mode 0600 because it
holds credentials, in a directory 0700 when it is created here (and never one
that other users may write to)::

    currentContext: local
    contexts:
    - name: local
      server: http://127.0.0.1:7420
      user: admin
      token: mcpctl_sess_...

mcpd writes a context for its bootstrap admin at first start; `mcpctl login`,
`logout` and `config use-context` edit the file; `ApiClient`'s callers read
it to know where mcpd is. Used by the CLI and by mcpd (and by the coming
mcplocal), so it imports none of them.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mcpctl.errors import InvalidInput, NotFound

DEFAULT_PORT = 7420


def mcpctl_home() -> Path:
    """`$MCPCTL_HOME`, or `~/.mcpctl`."""
    configured = os.environ.get("MCPCTL_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".mcpctl"


def config_path() -> Path:
    return mcpctl_home() / "config"


@dataclass
class Context:
    name: str
    server: str
    user: str | None = None
    token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "server": self.server}
        if self.user is not None:
            out["user"] = self.user
        if self.token is not None:
            out["token"] = self.token
        return out


@dataclass
class ClientConfig:
    current_context: str | None = None
    contexts: list[Context] = field(default_factory=list)

    def get(self, name: str | None = None) -> Context:
        """The named context, or the current one."""
        wanted = name or self.current_context
        if wanted is None:
            raise NotFound("no current context: run `mcpctl login SERVER` or start mcpd")
        for context in self.contexts:
            if context.name == wanted:
                return context
        raise NotFound(f"no context named {wanted!r} in {config_path()}")

    def put(self, context: Context, *, make_current: bool = True) -> None:
        self.contexts = [c for c in self.contexts if c.name != context.name] + [context]
        if make_current:
            self.current_context = context.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "currentContext": self.current_context,
            "contexts": [c.to_dict() for c in self.contexts],
        }


def load_config(path: Path | None = None) -> ClientConfig:
    """The config at `path` (an empty one if there is no file)."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ClientConfig()
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise InvalidInput(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping with currentContext and contexts")
    contexts = []
    for i, raw in enumerate(data.get("contexts") or []):
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("name"), str)
            or not isinstance(raw.get("server"), str)
        ):
            raise InvalidInput(f"{path}: contexts[{i}] needs a name and a server")
        contexts.append(
            Context(
                name=raw["name"],
                server=raw["server"],
                user=raw.get("user") if isinstance(raw.get("user"), str) else None,
                token=raw.get("token") if isinstance(raw.get("token"), str) else None,
            )
        )
    current = data.get("currentContext")
    return ClientConfig(
        current_context=current if isinstance(current, str) else None, contexts=contexts
    )


def save_config(config: ClientConfig, path: Path | None = None) -> Path:
    """Write the config atomically with mode 0600, in a directory others cannot write to.

    The directories it creates are 0700, whatever the umask. An existing
    directory that other users may write to is refused: they could swap the
    file, and the server it names, under the CLI.
    """
    path = path or config_path()
    _private_directory(path.parent)
    text = yaml.safe_dump(config.to_dict(), sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _private_directory(directory: Path) -> None:
    """Create `directory` (and its missing parents) 0700; refuse one others may write to."""
    missing = []
    for level in (directory, *directory.parents):
        if level.exists():
            break
        missing.append(level)
    try:
        for level in reversed(missing):
            level.mkdir(mode=0o700, exist_ok=True)
            os.chmod(level, 0o700)  # mkdir's mode goes through the umask
        mode = stat.S_IMODE(directory.stat().st_mode)
    except OSError as e:
        raise InvalidInput(f"{directory}: cannot create: {e.strerror or e}") from e
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InvalidInput(
            f"{directory} is writable by other users (mode {mode:04o}) and the config holds "
            f"credentials: run `chmod 700 {directory}`"
        )
