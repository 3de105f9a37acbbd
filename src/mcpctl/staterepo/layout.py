"""Where each object lives in the state repo, and the README that explains it.

One file per exported object: `<plural>/<name>.yaml`, or
`prompts/<project>/<name>.yaml` for project-scoped kinds. Runtime kinds
(instances, events, audit entries, prompt requests) never enter the repo.
"""

from __future__ import annotations

import re

from mcpctl.kindnames import KIND_NAMES, KindName

README_PATH = "README.md"

_GIT_KINDS = {k.KIND: k for k in KIND_NAMES if k.IN_GIT}
_BY_PLURAL = {k.PLURAL: k for k in KIND_NAMES if k.IN_GIT}
_NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_PATH = re.compile(rf"^(?P<plural>[a-z]+)/(?:(?P<project>{_NAME})/)?(?P<name>{_NAME})\.yaml$")

README = """\
# mcpctl state repository

This repository is written by mcpd: every change made through the API is a
commit here, and a push of manifests to it changes the system. The database
wins conflicts; nothing is ever force-pushed.

Layout: one file per object, in canonical form (what `mcpctl get -o yaml`
shows without the server-written fields):

    secretbackends/<name>.yaml   secrets/<name>.yaml     llms/<name>.yaml
    templates/<name>.yaml        servers/<name>.yaml     projects/<name>.yaml
    prompts/<project>/<name>.yaml
    users/<name>.yaml            groups/<name>.yaml      serviceaccounts/<name>.yaml
    rbacs/<name>.yaml            mcptokens/<name>.yaml

Secret values are sealed (`sealedData`) with a key that is not in this
repository; McpTokens carry only the hash of their secret; passwords are
never here. A push takes no value in plaintext: `mcpctl seal -f secret.yaml`
prints a Secret with its values sealed, ready to commit. Validate a change
before pushing it with `mcpctl validate .`.
"""


def path_for(kind: str, project: str | None, name: str) -> str:
    """The file of an object: `servers/github.yaml`, `prompts/demo/intro.yaml`."""
    info = _GIT_KINDS.get(kind)
    if info is None:
        raise ValueError(f"{kind} objects are not kept in the state repo")
    if info.PROJECT_SCOPED:
        if not project:
            raise ValueError(f"a {kind} needs its project")
        return f"{info.PLURAL}/{project}/{name}.yaml"
    return f"{info.PLURAL}/{name}.yaml"


def key_for(path: str) -> tuple[str, str | None, str] | None:
    """(kind, project, name) of a file in the layout, or None for any other path."""
    match = _PATH.match(path)
    if match is None:
        return None
    info: KindName | None = _BY_PLURAL.get(match["plural"])
    if info is None or (match["project"] is not None) != info.PROJECT_SCOPED:
        return None
    return (info.KIND, match["project"], match["name"])
