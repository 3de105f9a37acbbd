"""The names a project's endpoint shows: valid for every client, distinct, stable, routable.

The shortened form is pinned here byte for byte (the sha256 of `server NUL
tool`): a client's configuration refers to the names it was shown, so a
change of form renames tools under it. The chance collisions of 8 and 9 hex
digits below were found by search, once, over names that read the same.
"""

from __future__ import annotations

import hashlib
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpctl.errors import Conflict, InvalidInput, NotFound
from mcpctl.proxy import naming
from mcpctl.proxy.naming import MAX_NAME, Named, Names, Offer

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

#: Two tools of server `s` that read the same (`s__x______`) and whose sha256
#: agree on their first 8 hex digits, not the 9th.
SAME_8 = ("x.:!/% ", "x.:*$^.")
#: The same on their first 9 hex digits, not the 10th.
SAME_9 = ("x./#.+(", "x./))! ")


def sha(server: str, tool: str) -> str:
    return hashlib.sha256(f"{server}\0{tool}".encode("utf-8", "surrogatepass")).hexdigest()


def tools(offers: dict[str, tuple[str, ...]]) -> Names:
    return Names.build({server: Offer(tools=names) for server, names in offers.items()})


def test_a_tool_is_named_by_its_server_then_its_own_name_and_routed_back() -> None:
    names = tools({"time": ("get_current_time", "convert_time")})

    assert names.tool("time", "get_current_time") == "time__get_current_time"
    assert names.route_tool("time__convert_time") == ("time", "convert_time")


@pytest.mark.parametrize(
    ("tool", "exposed"),
    [
        ("a.b", "s__a_b"),
        ("read file", "s__read_file"),
        ("ns/get:x", "s__ns_get_x"),
        ("Mixed-Case_9", "s__Mixed-Case_9"),
        ("héllo", "s__h_llo"),
        ("日本", "s____"),
        ("🚀", "s___"),
        ("lone\ud800", "s__lone_"),
        ("", "s__"),
    ],
)
def test_every_character_outside_the_clients_set_becomes_an_underscore(
    tool: str, exposed: str
) -> None:
    names = tools({"s": (tool,)})

    assert names.tool("s", tool) == exposed
    assert names.route_tool(exposed) == ("s", tool)


def test_two_servers_tools_of_one_name_keep_readable_names() -> None:
    names = tools({"github": ("search",), "gitlab": ("search",)})

    assert names.tool("github", "search") == "github__search"
    assert names.tool("gitlab", "search") == "gitlab__search"


def test_tools_that_read_the_same_are_all_shortened_with_their_hash() -> None:
    names = tools({"s": ("a.b", "a_b", "a:b", "other")})

    assert names.tool("s", "a.b") == "s__a_b_407e8e5c"
    for tool in ("a.b", "a_b", "a:b"):
        assert names.tool("s", tool) == "s__a_b_" + sha("s", tool)[:8]
        assert names.route_tool(names.tool("s", tool)) == ("s", tool)
    assert names.tool("s", "other") == "s__other"


def test_a_name_of_64_characters_stays_and_one_of_65_is_cut_to_64() -> None:
    fits, over = "t" * (MAX_NAME - 3), "u" * (MAX_NAME - 2)
    names = tools({"s": (fits, over)})

    assert names.tool("s", fits) == "s__" + fits
    assert names.tool("s", over) == ("s__" + over)[:55] + "_" + sha("s", over)[:8]
    assert len(names.tool("s", over)) == MAX_NAME
    assert names.route_tool(names.tool("s", over)) == ("s", over)


def test_a_server_whose_name_leaves_no_room_has_every_tool_shortened() -> None:
    server = "a" + "b" * 61 + "c"
    names = tools({server: ("x", "y")})

    assert names.tool(server, "x") == server[:55] + "_" + sha(server, "x")[:8]
    assert {names.route_tool(names.tool(server, t)) for t in "xy"} == {(server, "x"), (server, "y")}


@pytest.mark.parametrize(("pair", "hex_digits"), [(SAME_8, 9), (SAME_9, 10)])
def test_shortened_names_that_meet_by_chance_both_take_one_more_hex_digit(
    pair: tuple[str, str], hex_digits: int
) -> None:
    first, second = pair
    assert sha("s", first)[: hex_digits - 1] == sha("s", second)[: hex_digits - 1]

    names = tools({"s": pair})

    for tool in pair:
        assert names.tool("s", tool) == (
            "s__x______"[: MAX_NAME - 1 - hex_digits] + "_" + sha("s", tool)[:hex_digits]
        )
    assert names.tool("s", first) != names.tool("s", second)


def test_a_readable_name_keeps_its_place_and_the_shortened_one_takes_more_digits() -> None:
    shortened = "s__a_b_" + sha("s", "a.b")[:8]
    squatter = shortened.removeprefix("s__")

    names = tools({"s": ("a.b", "a_b", squatter)})

    assert names.tool("s", squatter) == shortened
    assert names.tool("s", "a.b") == "s__a_b_" + sha("s", "a.b")[:9]
    assert names.tool("s", "a_b") == "s__a_b_" + sha("s", "a_b")[:8]


def test_a_server_squatting_every_shortened_name_of_its_tool_still_leaves_it_one() -> None:
    long = "l" * 70
    readable = "s__" + long
    squatters = tuple(
        (readable[: MAX_NAME - 1 - k] + "_" + sha("s", long)[:k]).removeprefix("s__")
        for k in range(8, 62)
    )
    names = tools({"s": (long, *squatters)})

    # A shortened name reads as one of `s` while its prefix and `_` make `s__`;
    # with a shorter prefix (`s_` and 62 digits), no readable name can be it.
    for squatter in squatters:
        assert names.tool("s", squatter) == "s__" + squatter
    assert names.tool("s", long) == "s_" + sha("s", long)[:62]
    assert names.route_tool(names.tool("s", long)) == ("s", long)


def test_two_pairs_whose_sha256_agree_on_252_bits_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No such pair is known; a digest that is the same for every pair stands in.
    monkeypatch.setattr(naming, "_digest", lambda server, original: "0" * 64)

    assert tools({"s": ("only.one",)}).tool("s", "only.one") == "s__only_one"
    with pytest.raises(Conflict, match=r"'a\.b'"):
        tools({"s": ("a.b", "a_b")})


def test_names_do_not_depend_on_the_order_of_servers_or_tools() -> None:
    given_order = tools({"s": ("a.b", "a_b", "z" * 80), "t": ("x", "y")})
    other_order = tools({"t": ("y", "x"), "s": ("z" * 80, "a_b", "a.b")})

    assert sorted(given_order.ordered_tools()) == sorted(other_order.ordered_tools())


def test_a_new_server_renames_no_tool_of_the_others() -> None:
    before = tools({"s": ("a.b", "a_b", "search"), "s-2": ("search",)})
    after = tools({"s": ("a.b", "a_b", "search"), "s-2": ("search",), "s-3": ("a.b", "search")})

    assert set(before.ordered_tools()) <= set(after.ordered_tools())


def test_tools_are_listed_by_server_in_the_projects_order_then_each_servers_own() -> None:
    names = tools({"zeta": ("b", "a", "b"), "alpha": ("a.b", "a_b", "c")})

    assert [(n.server, n.original) for n in names.ordered_tools()] == [
        ("zeta", "b"),
        ("zeta", "a"),
        ("alpha", "a.b"),
        ("alpha", "a_b"),
        ("alpha", "c"),
    ]
    assert names.ordered_tools()[0] == Named("zeta__b", "zeta", "b")
    assert names.servers == ("zeta", "alpha")


def test_an_unknown_name_routes_nowhere_and_an_unknown_pair_is_not_found() -> None:
    names = tools({"s": ("a.b", "a_b")})

    assert names.route_tool("s__a_b") is None
    assert names.route_tool("t__x") is None
    assert names.route_tool("") is None
    with pytest.raises(NotFound, match=r"'s' lists no tool 'nope'"):
        names.tool("s", "nope")
    with pytest.raises(NotFound, match=r"'t' lists no tool 'a\.b'"):
        names.tool("t", "a.b")


@pytest.mark.parametrize(
    "server", ["", "Time", "a_b", "a+b", "a.b", "-a", "a-", "a b", "a\n", "x" * 64, "caf\u00e9"]
)
def test_a_server_name_that_is_no_dns_label_is_refused_by_name(server: str) -> None:
    with pytest.raises(InvalidInput, match="DNS label") as caught:
        Names.build({"ok": Offer(), server: Offer(tools=("t",))})

    assert repr(server) in str(caught.value)


def test_prompts_follow_the_tools_rules_in_a_namespace_of_their_own() -> None:
    names = Names.build(
        {"s": Offer(tools=("greet",), prompts=("greet", "a.b", "a_b")), "t": Offer(prompts=("x",))}
    )

    assert names.tool("s", "greet") == "s__greet"
    assert names.prompt("s", "greet") == "s__greet"
    assert names.prompt("s", "a.b") == "s__a_b_" + sha("s", "a.b")[:8]
    assert names.route_prompt("t__x") == ("t", "x")
    assert names.route_prompt("s__a_b") is None
    assert [n.exposed for n in names.ordered_prompts()][-1] == "t__x"
    with pytest.raises(NotFound, match="prompt"):
        names.prompt("s", "nope")


def test_resources_and_templates_take_their_server_and_a_plus_before_the_uri() -> None:
    names = Names.build(
        {
            "time": Offer(resources=("file:///x", "file:///x")),
            "srv": Offer(
                resources=("test://static-text",), templates=("test://template/{id}/data",)
            ),
        }
    )

    assert names.ordered_resources() == (
        Named("time+file:///x", "time", "file:///x"),
        Named("srv+test://static-text", "srv", "test://static-text"),
    )
    assert names.ordered_templates() == (
        Named("srv+test://template/{id}/data", "srv", "test://template/{id}/data"),
    )
    assert names.resource_uri("time", "file:///y") == "time+file:///y"
    assert names.route_uri("time+file:///x") == ("time", "file:///x")
    # A template's expansion was never listed, and routes all the same.
    assert names.route_uri("srv+test://template/42/data") == ("srv", "test://template/42/data")


@pytest.mark.parametrize(
    ("uri", "route"),
    [
        ("git+git+ssh://host/repo", ("git", "git+ssh://host/repo")),
        ("git-2+file:///a", ("git-2", "file:///a")),
        ("GIT-2+file:///a", ("git-2", "file:///a")),
        ("git+", ("git", "")),
        ("gi+file:///a", None),
        ("file:///a", None),
        ("+file:///a", None),
        ("", None),
        ("git_2+file:///a", None),
        ("\u212ait+file:///a", None),
    ],
)
def test_a_uri_routes_by_the_server_before_its_first_plus(
    uri: str, route: tuple[str, str] | None
) -> None:
    names = Names.build({"git": Offer(), "git-2": Offer(), "kit": Offer()})

    assert names.route_uri(uri) == route


def test_a_uri_of_a_server_outside_the_project_cannot_be_named() -> None:
    with pytest.raises(NotFound, match="'other'"):
        Names.build({"s": Offer()}).resource_uri("other", "file:///x")


def test_a_project_without_servers_names_nothing() -> None:
    names = Names.build({})

    assert names.ordered_tools() == names.ordered_prompts() == ()
    assert names.ordered_resources() == names.ordered_templates() == ()
    assert names.route_tool("s__x") is None
    assert names.route_uri("s+file:///x") is None


def test_the_repr_counts_rather_than_lists() -> None:
    names = Names.build({"s": Offer(tools=("a", "b"), resources=("file:///x",))})

    assert repr(names) == "Names(1 servers, 2 tools, 0 prompts, 1 resources, 0 templates)"


# Properties, over projects made to collide: few characters, a few long names and
# long server names, so that clashes, cuts and shortened names are common.

servers = st.sampled_from(["s", "s-2", "t", "a" * 40, "b" * 63, "b" * 62 + "c"]) | st.from_regex(
    r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True
)
tool_names = (
    st.text(alphabet="ab._-:", max_size=6)
    | st.text(max_size=10)
    | st.text(alphabet="ab.", min_size=55, max_size=130)
)
projects = st.dictionaries(servers, st.lists(tool_names, max_size=10).map(tuple), max_size=5)


def pairs_of(names: Names) -> dict[tuple[str, str], str]:
    return {(n.server, n.original): n.exposed for n in names.ordered_tools()}


@given(projects)
def test_every_name_is_valid_distinct_and_routes_back(project: dict[str, tuple[str, ...]]) -> None:
    names = tools(project)
    exposed = pairs_of(names)

    assert set(exposed) == {(server, tool) for server, ts in project.items() for tool in ts}
    assert len(set(exposed.values())) == len(exposed)
    for pair, name in exposed.items():
        assert VALID.match(name), name
        assert names.tool(*pair) == name
        assert names.route_tool(name) == pair


@given(projects)
def test_a_unique_short_readable_name_is_kept_as_it_is(project: dict[str, tuple[str, ...]]) -> None:
    exposed = pairs_of(tools(project))
    readable = {pair: re.sub(r"[^a-zA-Z0-9_-]", "_", pair[0] + "__" + pair[1]) for pair in exposed}
    taken = list(readable.values())

    for pair, name in readable.items():
        if len(name) <= MAX_NAME and taken.count(name) == 1:
            assert exposed[pair] == name


@given(projects, st.randoms(use_true_random=False))
def test_the_same_project_in_any_order_gets_the_same_names(
    project: dict[str, tuple[str, ...]], shuffler: random.Random
) -> None:
    order = list(project)
    shuffler.shuffle(order)
    shuffled = {}
    for server in order:
        ts = list(project[server])
        shuffler.shuffle(ts)
        shuffled[server] = tuple(ts)

    assert pairs_of(tools(shuffled)) == pairs_of(tools(project))


@given(projects, servers, st.lists(tool_names, max_size=10).map(tuple))
def test_a_new_server_renames_nothing(
    project: dict[str, tuple[str, ...]], server: str, offered: tuple[str, ...]
) -> None:
    project.pop(server, None)
    before = pairs_of(tools(project))
    after = pairs_of(tools({**project, server: offered}))

    assert {pair: after[pair] for pair in before} == before


@given(servers, st.text())
def test_every_uri_of_a_server_routes_back_to_it(server: str, uri: str) -> None:
    names = Names.build({server: Offer(), "s": Offer()})

    assert names.route_uri(names.resource_uri(server, uri)) == (server, uri)


@given(st.text())
def test_any_text_a_client_sends_routes_somewhere_or_nowhere(text: str) -> None:
    names = tools({"s": ("a.b", "a_b", "x")})

    assert names.route_tool(text) in {None, ("s", "a.b"), ("s", "a_b"), ("s", "x")}
    assert names.route_uri(text) in {None, ("s", text.partition("+")[2])}
