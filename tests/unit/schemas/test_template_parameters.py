"""A Template's typed parameters: what a value of each type looks like, and the rules a
parameter's own default and enum obey."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mcpctl.schemas import TemplateParameter, TemplateSpec


def parameter(**fields: Any) -> TemplateParameter:
    return TemplateParameter.model_validate({"name": "P", **fields})


def refused(**fields: Any) -> str:
    """The one message a parameter with these fields is refused with."""
    with pytest.raises(ValidationError) as caught:
        TemplateParameter.model_validate({"name": "P", **fields})
    [error] = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("integer", "12", None),
        ("integer", "-3", None),
        ("integer", "1.5", "an integer"),
        ("number", "1e3", None),
        ("number", "inf", "a finite number"),
        ("number", "ten", "a number"),
        ("boolean", "false", None),
        ("boolean", "yes", "true or false"),
        ("url", "https://example.com/x", None),
        ("url", "example.com", "an http(s) URL"),
        ("string", "anything at all", None),
    ],
)
def test_a_literal_is_checked_against_the_type(
    type_: str, value: str, expected: str | None
) -> None:
    assert parameter(type=type_).refusal(value) == expected


def test_an_enum_closes_the_values() -> None:
    browser = parameter(enum=["chrome", "firefox"])
    assert browser.refusal("firefox") is None
    assert browser.refusal("safari") == "one of chrome, firefox"


def test_an_enum_value_must_be_of_the_type() -> None:
    assert refused(type="integer", enum=["1", "two"]) == ("enum value 'two' must be an integer")


def test_an_enum_lists_each_value_once() -> None:
    assert refused(enum=["a", "b", "a"]) == "enum names 'a' more than once"


def test_an_empty_enum_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        parameter(enum=[])
    assert [e["loc"] for e in caught.value.errors()] == [("enum",)]


def test_a_default_must_be_of_the_type() -> None:
    assert refused(type="boolean", default="yes") == "default 'yes' must be true or false"


def test_a_default_must_be_one_of_the_enum() -> None:
    assert refused(enum=["restricted", "unrestricted"], default="open") == (
        "default 'open' must be one of restricted, unrestricted"
    )


def test_a_secret_parameter_has_no_default() -> None:
    message = refused(secret=True, default="ghp_in_plain_text")
    assert message == (
        "a secret parameter has no default (it would be a credential in plain text): "
        "Servers give it from a Secret"
    )
    assert "ghp_in_plain_text" not in message


def test_a_secret_parameter_has_no_enum() -> None:
    assert refused(secret=True, enum=["a"]) == (
        "a secret parameter has no enum: its value comes from a Secret, which no check reads"
    )


def test_a_name_is_a_fixed_env_entry_or_a_parameter_not_both() -> None:
    with pytest.raises(ValidationError) as caught:
        TemplateSpec.model_validate(
            {
                "command": ["x"],
                "env": [{"name": "MODE", "value": "fast"}],
                "parameters": [{"name": "MODE"}],
            }
        )
    assert "MODE is both a fixed env entry and a parameter" in str(caught.value)


def test_a_valid_parameter_keeps_every_field() -> None:
    mode = parameter(
        description="How much the server may do",
        required=True,
        default="restricted",
        enum=["restricted", "unrestricted"],
    )
    assert (mode.required, mode.default, mode.enum) == (
        True,
        "restricted",
        ["restricted", "unrestricted"],
    )
