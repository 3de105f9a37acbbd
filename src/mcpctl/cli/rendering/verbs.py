"""The words for what became of an object: `created`, `configured`, `pruned`, `deleted`.

kubectl's words, shared by every command that reports changes: `apply` (and
`apply --watch`) per object, `gitops sync` and `restore` as a summary of
counts. Standard library only, so that the commands that merely report a
summary from mcpd do not load the manifests (and pydantic) for it.
"""

from __future__ import annotations

#: What kubectl says for each action of the change list.
VERBS = {"add": "created", "change": "configured", "remove": "pruned"}

#: apply's words, but for objects a commit removed (not pruned)
_DONE = {**VERBS, "remove": "deleted"}


def render_counts(summary: dict[str, int]) -> str:
    """A change summary in apply's words: `2 created, 1 deleted` (unchanged left out)."""
    done = ", ".join(
        f"{n} {_DONE.get(what, what)}"
        for what, n in sorted(summary.items())
        if n and what != "unchanged"
    )
    return done or "no object changed"
