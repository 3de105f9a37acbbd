"""The semantic diff of two sets: adds, removes, field-level changes, and hidden secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcpctl.manifests import HIDDEN, MISSING, Change, FieldChange, Manifest, diff_sets
from mcpctl.schemas import Resource
from tests.support.manifests import manifest

LoadOne = Callable[[str], Resource]
LoadClean = Callable[[str], list[Manifest]]

SECRET_VALUES = ("hunter2", "s3cr3t-new", "very-private", "fresh-one")


def obj(kind: str, name: str, spec: dict[str, Any], project: str | None = None) -> str:
    return json.dumps(manifest(kind, name, spec, project=project))


def server(**spec: Any) -> str:
    return obj("Server", "s", {"command": ["run"], **spec})


def secret(data: dict[str, str | None] | None = None, sealed: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {}
    if data is not None:
        spec["data"] = data
    if sealed is not None:
        spec["sealedData"] = sealed
    return obj("Secret", "creds", spec)


def only_change(load_one: LoadOne, old: str, new: str) -> Change:
    changes = diff_sets([load_one(old)], [load_one(new)])
    assert len(changes.changes) == 1, changes
    return changes.changes[0]


def fields(change: Change) -> dict[str, tuple[Any, Any]]:
    return {f.path: (f.old, f.new) for f in change.fields}


def assert_no_secret_value(*things: object) -> None:
    for thing in things:
        shown = repr(thing) + str(thing)
        for value in SECRET_VALUES:
            assert value not in shown


# --- sets -----------------------------------------------------------------------------


def test_identical_sets_have_no_changes(load_clean: LoadClean) -> None:
    text = server() + "\n---\n" + obj("User", "u", {"email": "u@example.com"})
    changes = diff_sets(load_clean(text), load_clean(text))
    assert not changes
    assert changes.changes == []
    assert changes.unchanged == 2


def test_added_changed_and_removed_objects_are_listed(load_clean: LoadClean) -> None:
    old = load_clean(
        server()
        + "\n---\n"
        + obj("User", "gone", {"email": "g@example.com"})
        + "\n---\n"
        + obj("User", "same", {"email": "s@example.com"})
    )
    new = load_clean(
        server(replicas=2)
        + "\n---\n"
        + obj("User", "same", {"email": "s@example.com"})
        + "\n---\n"
        + obj("Project", "p", {"servers": ["s"]})
    )
    changes = diff_sets(old, new)
    assert [(c.action, c.ref) for c in changes.changes] == [
        ("remove", "User/gone"),
        ("change", "Server/s"),
        ("add", "Project/p"),
    ]
    assert changes.unchanged == 1
    assert changes.counts() == {"add": 1, "change": 1, "remove": 1}


def test_removals_come_first_in_delete_order_then_the_rest_in_apply_order(
    load_clean: LoadClean,
) -> None:
    old = load_clean(
        obj("Server", "a", {"command": ["x"]}) + "\n---\n" + obj("Project", "p", {"servers": ["a"]})
    )
    new = load_clean(
        obj("Project", "q", {"servers": ["b"]}) + "\n---\n" + obj("Server", "b", {"command": ["x"]})
    )
    changes = diff_sets(old, new)
    assert [(c.action, c.ref) for c in changes.changes] == [
        ("remove", "Project/p"),
        ("remove", "Server/a"),
        ("add", "Server/b"),
        ("add", "Project/q"),
    ]


def test_objects_are_matched_by_kind_project_and_name(load_clean: LoadClean) -> None:
    old = load_clean(obj("Prompt", "intro", {"content": "x"}, project="a"))
    new = load_clean(obj("Prompt", "intro", {"content": "x"}, project="b"))
    changes = diff_sets(old, new)
    assert [(c.action, c.key) for c in changes.changes] == [
        ("remove", ("Prompt", "a", "intro")),
        ("add", ("Prompt", "b", "intro")),
    ]


def test_added_object_lists_its_whole_canonical_form(load_one: LoadOne) -> None:
    changes = diff_sets([], [load_one(server())])
    [change] = changes.changes
    assert change.action == "add"
    assert change.fields == (
        FieldChange(
            "",
            MISSING,
            {
                "apiVersion": "mcpctl/v1",
                "kind": "Server",
                "metadata": {"name": "s"},
                "spec": {"command": ["run"]},
            },
        ),
    )


def test_removed_object_lists_its_whole_canonical_form(load_one: LoadOne) -> None:
    [change] = diff_sets([load_one(server())], []).changes
    assert change.action == "remove"
    [field] = change.fields
    assert field.new is MISSING
    assert field.old["spec"] == {"command": ["run"]}


def test_bare_resources_and_manifests_can_be_mixed(
    load_one: LoadOne, load_clean: LoadClean
) -> None:
    assert not diff_sets([load_one(server())], load_clean(server()))


# --- field-level changes --------------------------------------------------------------


def test_changed_scalar_field_is_reported_with_old_and_new(load_one: LoadOne) -> None:
    change = only_change(load_one, server(replicas=2), server(replicas=3))
    assert change.action == "change"
    assert change.fields == (FieldChange("spec.replicas", 2, 3),)


def test_field_set_to_its_default_shows_as_removed(load_one: LoadOne) -> None:
    change = only_change(load_one, server(replicas=2), server(replicas=1))
    assert fields(change) == {"spec.replicas": (2, MISSING)}


def test_spelled_out_defaults_are_not_changes(load_one: LoadOne) -> None:
    bare = server()
    spelled = server(
        replicas=1,
        env=[],
        headers=[],
        healthCheck=None,
    )
    assert not diff_sets([load_one(bare)], [load_one(spelled)])
    with_probe = server(healthCheck={"tool": "t"})
    with_probe_defaults = server(
        healthCheck={
            "tool": "t",
            "intervalSeconds": 30,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        }
    )
    assert not diff_sets([load_one(with_probe)], [load_one(with_probe_defaults)])


def test_key_order_and_formatting_are_not_changes(load_one: LoadOne) -> None:
    flow = server(env=[{"name": "A", "value": "1"}])
    block = (
        "spec:\n  env:\n  - value: '1'\n    name: A\n  command:\n  - run\n"
        "metadata:\n  name: s\nkind: Server\napiVersion: mcpctl/v1\n"
    )
    assert not diff_sets([load_one(flow)], [load_one(block)])


def test_server_written_metadata_and_status_are_not_changes(load_one: LoadOne) -> None:
    stored = load_one(
        '{"apiVersion": "mcpctl/v1", "kind": "Server", "metadata": {"name": "s", '
        '"resourceVersion": "9", "generation": 4}, "spec": {"command": ["run"]}, '
        '"status": {"phase": "Running"}}'
    )
    assert not diff_sets([stored], [load_one(server())])


def test_nested_field_change_has_a_dotted_path(load_one: LoadOne) -> None:
    change = only_change(
        load_one,
        server(healthCheck={"tool": "a", "arguments": {"q": "x", "n": 1}}),
        server(healthCheck={"tool": "a", "arguments": {"q": "y", "n": 1, "m": True}}),
    )
    assert fields(change) == {
        "spec.healthCheck.arguments.q": ("x", "y"),
        "spec.healthCheck.arguments.m": (MISSING, True),
    }


def test_env_entries_are_matched_by_name_not_position(load_one: LoadOne) -> None:
    old = server(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    new = server(
        env=[
            {"name": "B", "value": "3"},
            {"name": "A", "value": "1"},
            {"name": "C", "valueFrom": {"secretRef": {"name": "x", "key": "k"}}},
        ]
    )
    change = only_change(load_one, old, new)
    assert fields(change) == {
        "spec.env[name=B].value": ("2", "3"),
        "spec.env[name=C]": (
            MISSING,
            {"name": "C", "valueFrom": {"secretRef": {"name": "x", "key": "k"}}},
        ),
    }


def test_removed_env_entry_is_reported_by_name(load_one: LoadOne) -> None:
    old = server(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    new = server(env=[{"name": "B", "value": "2"}])
    assert list(fields(only_change(load_one, old, new))) == ["spec.env[name=A]"]


def test_env_switching_from_value_to_value_from_shows_both_sides(load_one: LoadOne) -> None:
    old = server(env=[{"name": "A", "value": "1"}])
    new = server(env=[{"name": "A", "valueFrom": {"secretRef": {"name": "x", "key": "k"}}}])
    assert fields(only_change(load_one, old, new)) == {
        "spec.env[name=A].value": ("1", MISSING),
        "spec.env[name=A].valueFrom": (MISSING, {"secretRef": {"name": "x", "key": "k"}}),
    }


def test_unnamed_list_items_are_compared_by_position(load_one: LoadOne) -> None:
    change = only_change(load_one, server(command=["a", "b"]), server(command=["a", "c"]))
    assert change.fields == (FieldChange("spec.command[1]", "b", "c"),)


def test_list_of_another_length_is_reported_whole(load_one: LoadOne) -> None:
    change = only_change(load_one, server(command=["a"]), server(command=["a", "b"]))
    assert change.fields == (FieldChange("spec.command", ["a"], ["a", "b"]),)


def test_label_change_is_reported_on_the_label(load_one: LoadOne) -> None:
    old = json.dumps(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "User",
            "metadata": {"name": "u", "labels": {"team": "a"}},
            "spec": {"email": "u@example.com"},
        }
    )
    new = old.replace('"team": "a"', '"team": "b", "tier": "x"')
    assert fields(only_change(load_one, old, new)) == {
        "metadata.labels.team": ("a", "b"),
        "metadata.labels.tier": (MISSING, "x"),
    }


def test_boolean_and_number_of_equal_value_are_different(load_one: LoadOne) -> None:
    change = only_change(
        load_one,
        server(healthCheck={"tool": "t", "arguments": {"flag": 1}}),
        server(healthCheck={"tool": "t", "arguments": {"flag": True}}),
    )
    assert change.fields == (FieldChange("spec.healthCheck.arguments.flag", 1, True),)


def test_integer_and_float_of_equal_value_are_different(load_one: LoadOne) -> None:
    old = obj("Llm", "l", {"type": "ollama", "model": "m", "extra": {"n": [1]}})
    new = obj("Llm", "l", {"type": "ollama", "model": "m", "extra": {"n": [1.0]}})
    change = only_change(load_one, old, new)
    assert [f.path for f in change.fields] == ["spec.extra.n[0]"]


# --- secrets --------------------------------------------------------------------------


def test_changed_secret_value_is_reported_without_either_value(load_one: LoadOne) -> None:
    change = only_change(load_one, secret({"k": "hunter2"}), secret({"k": "s3cr3t-new"}))
    assert change.fields == (FieldChange("spec.data.k", HIDDEN, HIDDEN, secret=True),)
    assert_no_secret_value(change, change.fields)


def test_added_and_removed_secret_keys_are_hidden(load_one: LoadOne) -> None:
    change = only_change(
        load_one,
        secret({"keep": "very-private", "gone": "hunter2"}),
        secret({"keep": "very-private", "new": "s3cr3t-new"}),
    )
    assert fields(change) == {
        "spec.data.gone": (HIDDEN, MISSING),
        "spec.data.new": (MISSING, HIDDEN),
    }
    assert all(f.secret for f in change.fields)
    assert_no_secret_value(change)


def test_secret_gaining_its_first_values_does_not_show_them(load_one: LoadOne) -> None:
    change = only_change(load_one, secret(), secret({"a": "hunter2", "b": "fresh-one"}))
    assert fields(change) == {"spec.data.a": (MISSING, HIDDEN), "spec.data.b": (MISSING, HIDDEN)}
    assert all(f.secret for f in change.fields)
    assert_no_secret_value(change)


def test_secret_losing_all_its_values_does_not_show_them(load_one: LoadOne) -> None:
    change = only_change(load_one, secret({"a": "hunter2"}), secret())
    assert fields(change) == {"spec.data.a": (HIDDEN, MISSING)}
    assert_no_secret_value(change)


def test_sealed_value_replaced_by_a_plain_one_shows_neither(load_one: LoadOne) -> None:
    change = only_change(
        load_one, secret(sealed={"a": "v1:very-private"}), secret({"a": "hunter2"})
    )
    assert fields(change) == {
        "spec.sealedData.a": (HIDDEN, MISSING),
        "spec.data.a": (MISSING, HIDDEN),
    }
    assert all(f.secret for f in change.fields)
    assert_no_secret_value(change)


def test_null_secret_value_keeps_the_stored_plain_value(load_one: LoadOne) -> None:
    changes = diff_sets([load_one(secret({"a": "hunter2"}))], [load_one(secret({"a": None}))])
    assert not changes
    assert changes.unchanged == 1


def test_null_secret_value_keeps_the_stored_sealed_value(load_one: LoadOne) -> None:
    old = load_one(secret(sealed={"a": "v1:very-private"}))
    assert not diff_sets([old], [load_one(secret({"a": None}))])


def test_null_value_for_a_key_not_stored_is_an_addition(load_one: LoadOne) -> None:
    change = only_change(load_one, secret({"a": "hunter2"}), secret({"a": None, "b": None}))
    assert [(f.path, f.secret) for f in change.fields] == [("spec.data.b", True)]
    assert change.fields[0].old is MISSING


def test_added_and_removed_secrets_show_keys_but_never_values(load_one: LoadOne) -> None:
    stored = load_one(secret({"a": "hunter2"}, sealed={"b": "v1:very-private"}))
    added = diff_sets([], [stored])
    removed = diff_sets([stored], [])
    assert added.changes[0].fields[0].new["spec"] == {"data": {"a": None, "b": None}}
    assert removed.changes[0].fields[0].old["spec"] == {"data": {"a": None, "b": None}}
    assert_no_secret_value(added, removed)


def test_secret_backend_change_is_an_ordinary_field(load_one: LoadOne) -> None:
    old = obj("Secret", "creds", {"backend": "a", "data": {"k": "hunter2"}})
    new = obj("Secret", "creds", {"backend": "b", "data": {"k": "hunter2"}})
    change = only_change(load_one, old, new)
    assert change.fields == (FieldChange("spec.backend", "a", "b"),)


def test_env_value_named_like_secret_data_is_not_hidden(load_one: LoadOne) -> None:
    change = only_change(
        load_one,
        server(env=[{"name": "data", "value": "1"}]),
        server(env=[{"name": "data", "value": "2"}]),
    )
    assert change.fields == (FieldChange("spec.env[name=data].value", "1", "2"),)
