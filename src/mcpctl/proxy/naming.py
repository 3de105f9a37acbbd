"""The names a project's endpoint gives its servers' tools, prompts and resources.

One endpoint serves several servers, and their names clash: two servers both
offer `search`, a server offers `a.b` and `a_b`, a name is longer than clients
accept. Clients (Claude, OpenAI) refuse tool names outside
``^[a-zA-Z0-9_-]{1,64}$``, and a client's configuration, an allow-list or a
pinned snapshot refers to a tool by the name it was shown, so that name must
not move when an unrelated server comes or goes, nor with the order anything is
listed in. The rules and their reasons are in docs/architecture.md, "Names
(`proxy/naming.py`)".

The proxy builds a `Names` (`Names.build`) whenever a server's list changes,
and asks it per request: `route_tool` for `tools/call`, `route_prompt` for
`prompts/get`, `route_uri` for `resources/read` and subscriptions, each a dict
lookup or one split. Pure computation: no I/O, no MCP SDK.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mcpctl.errors import Conflict, InvalidInput, NotFound
from mcpctl.schemas import NAME_RE, NAME_RULE

__all__ = ["MAX_NAME", "Named", "Names", "Offer"]

#: The longest tool or prompt name every client accepts.
MAX_NAME = 64
#: Between a server's name and its tool's: a server name (a DNS label) holds no `_`,
#: so the first `__` of a readable name always ends the server's part.
_JOIN = "__"
#: Between a server's name and a resource URI: a DNS label holds no `+`, and
#: `<server>+<scheme>` is still a URI scheme (RFC 3986 allows `+` in one).
_URI_JOIN = "+"
#: Hex digits of sha256 a shortened name starts with: 32 bits, enough that two
#: names of one project meet by chance once in billions of pairs.
_HEX = 8
#: At this many hex digits the prefix is empty: the name is `_` and 63 hex digits.
_LAST_HEX = MAX_NAME - 1
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_SERVER_NAME = 63


@dataclass(frozen=True, slots=True)
class Offer:
    """What one server offers, in its own order, as its last lists said."""

    tools: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    """Resource URIs."""
    templates: tuple[str, ...] = ()
    """Resource template URIs (RFC 6570), such as ``test://template/{id}/data``."""


class Named(NamedTuple):
    """One thing as the client sees it (`exposed`) and as its server does."""

    exposed: str
    server: str
    original: str


@dataclass(frozen=True, slots=True)
class _Table:
    """Tools or prompts: both ways between a server's name for a thing and the client's."""

    ordered: tuple[Named, ...]
    exposed: dict[tuple[str, str], str]
    routes: dict[str, tuple[str, str]]

    @classmethod
    def build(cls, lists: Iterable[tuple[str, tuple[str, ...]]]) -> _Table:
        # A dict keeps each pair once, at its first place.
        pairs = dict.fromkeys(
            (server, original) for server, originals in lists for original in originals
        )
        exposed = _name_pairs(pairs)
        ordered = tuple(Named(exposed[pair], *pair) for pair in pairs)
        return cls(ordered, exposed, {name: pair for pair, name in exposed.items()})


def _name_pairs(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The exposed name of each (server, original) pair: distinct, within `MAX_NAME`.

    A function of the set of pairs alone, not of their order. A pair keeps its
    readable name `<server>__<original>` (unsafe characters as `_`; a server
    name, a DNS label, has none) unless that is too long or another pair has
    the same one; then every pair of that name is shortened with a hash
    (`_hashed`). Since a server name holds no `_`, pairs of two servers never
    share a readable name, so a server coming or going leaves the others'
    names as they are.
    """
    safe = _UNSAFE.sub
    readable = {
        (server, original): f"{server}{_JOIN}{safe('_', original)}" for server, original in pairs
    }
    holders = Counter(readable.values())
    names: dict[tuple[str, str], str] = {}
    crowded: list[tuple[str, str]] = []
    for pair, name in readable.items():
        if holders[name] == 1 and len(name) <= MAX_NAME:
            names[pair] = name
        else:
            crowded.append(pair)
    if crowded:
        names.update(_hashed(crowded, readable, set(names.values())))
    return names


def _hashed(
    pairs: list[tuple[str, str]], readable: Mapping[tuple[str, str], str], taken: set[str]
) -> dict[tuple[str, str], str]:
    """Shortened names: the readable name's start, `_`, and the start of the pair's sha256.

    Round by round, with one more hex digit (and one character less of prefix)
    each: a pair keeps its name of a round unless a readable name holds it
    already or another pair draws the same one in that round, and then every
    pair involved goes on to the next round. Readable names never move for a
    shortened one, and a name given in a round is never taken back, so the
    outcome does not depend on the order of anything. The last round's names
    are `_` and 63 hex digits: a readable name starts with a server name's
    letter or digit, never `_`, so only two pairs whose sha256 agree on 252
    bits could still meet there.
    """
    digests = {pair: _digest(*pair) for pair in pairs}
    names: dict[tuple[str, str], str] = {}
    pending = pairs
    for hex_digits in range(_HEX, _LAST_HEX + 1):
        drawn = {
            pair: readable[pair][: MAX_NAME - 1 - hex_digits] + "_" + digests[pair][:hex_digits]
            for pair in pending
        }
        drawers = Counter(drawn.values())
        pending = []
        for pair, name in drawn.items():
            if drawers[name] == 1 and name not in taken:
                names[pair] = name
            else:
                pending.append(pair)
        taken.update(names.values())
        if not pending:
            return names
    raise Conflict(
        f"sha256 gives the same 252 bits for {sorted(pending)}: no name can tell them apart"
    )


def _digest(server: str, original: str) -> str:
    # surrogatepass: an upstream's JSON may carry a lone surrogate (`"\ud800"`),
    # which strict UTF-8 cannot encode; such a name still needs a hash.
    return hashlib.sha256(f"{server}\0{original}".encode("utf-8", "surrogatepass")).hexdigest()


def _check_server(server: str) -> None:
    if len(server) > _MAX_SERVER_NAME or NAME_RE.fullmatch(server) is None:
        raise InvalidInput(f"server name {server!r} {NAME_RULE}")


@dataclass(frozen=True, slots=True, repr=False)
class Names:
    """Every name a project's endpoint shows, both ways. Build it with `Names.build`."""

    servers: tuple[str, ...]
    """The project's servers, in the project's order."""
    _tools: _Table
    _prompts: _Table
    _resources: tuple[Named, ...]
    _templates: tuple[Named, ...]
    _known: frozenset[str]

    @classmethod
    def build(cls, offers: Mapping[str, Offer]) -> Names:
        """Names for what `offers` holds, keyed by server name in the project's order.

        A server name that is not a DNS label is refused (`InvalidInput`): the
        rules rest on it holding no `_` and no `+`. What a server lists twice is
        named once, at its first place.
        """
        for server in offers:
            _check_server(server)
        items = offers.items()
        return cls(
            servers=tuple(offers),
            _tools=_Table.build((server, offer.tools) for server, offer in items),
            _prompts=_Table.build((server, offer.prompts) for server, offer in items),
            _resources=_uris((server, offer.resources) for server, offer in items),
            _templates=_uris((server, offer.templates) for server, offer in items),
            _known=frozenset(offers),
        )

    def tool(self, server: str, original: str) -> str:
        """The name the client sees for `server`'s tool `original`."""
        return _lookup(self._tools, "tool", server, original)

    def route_tool(self, exposed: str) -> tuple[str, str] | None:
        """(server, original name) of the tool the client calls `exposed`; None if none."""
        return self._tools.routes.get(exposed)

    def prompt(self, server: str, original: str) -> str:
        """The name the client sees for `server`'s prompt `original`."""
        return _lookup(self._prompts, "prompt", server, original)

    def route_prompt(self, exposed: str) -> tuple[str, str] | None:
        """(server, original name) of the prompt the client calls `exposed`; None if none."""
        return self._prompts.routes.get(exposed)

    def resource_uri(self, server: str, uri: str) -> str:
        """The URI the client sees for `server`'s resource or template `uri`.

        Any URI of the server, listed or not: a template's expansions and the
        URIs of `notifications/resources/updated` are named the same way.
        """
        if server not in self._known:
            raise NotFound(f"server {server!r} is not one of the project's servers")
        return server + _URI_JOIN + uri

    def route_uri(self, uri: str) -> tuple[str, str] | None:
        """(server, original URI) of a URI the client sends; None if it names no server.

        The server's part is matched without regard to ASCII case, as a URI
        scheme is (RFC 3986, 3.1), since a client may lower the scheme it was
        given; only ASCII, so that no other letter (the Kelvin sign lowers to
        `k`) stands for a server's.
        """
        server, join, original = uri.partition(_URI_JOIN)
        if not join or not server.isascii():
            return None
        server = server.lower()
        if server not in self._known:
            return None
        return server, original

    def ordered_tools(self) -> tuple[Named, ...]:
        """Every tool, in the order of the merged `tools/list`: by server in the project's
        order, then in the server's own."""
        return self._tools.ordered

    def ordered_prompts(self) -> tuple[Named, ...]:
        """Every prompt, in the order of `ordered_tools`."""
        return self._prompts.ordered

    def ordered_resources(self) -> tuple[Named, ...]:
        """Every resource, in the order of `ordered_tools`."""
        return self._resources

    def ordered_templates(self) -> tuple[Named, ...]:
        """Every resource template, in the order of `ordered_tools`."""
        return self._templates

    def __repr__(self) -> str:
        return (
            f"Names({len(self.servers)} servers, {len(self._tools.ordered)} tools, "
            f"{len(self._prompts.ordered)} prompts, {len(self._resources)} resources, "
            f"{len(self._templates)} templates)"
        )


def _lookup(table: _Table, what: str, server: str, original: str) -> str:
    try:
        return table.exposed[server, original]
    except KeyError:
        raise NotFound(f"server {server!r} lists no {what} {original!r}") from None


def _uris(lists: Iterable[tuple[str, tuple[str, ...]]]) -> tuple[Named, ...]:
    # `<server>+<uri>` is unique without help: the server's part ends at the first `+`.
    pairs = dict.fromkeys((server, uri) for server, uris in lists for uri in uris)
    return tuple(Named(server + _URI_JOIN + uri, server, uri) for server, uri in pairs)
