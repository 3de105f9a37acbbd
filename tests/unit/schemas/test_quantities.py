"""Memory as Kubernetes writes it, and a Server's container-only fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcpctl.manifests import load_text
from mcpctl.schemas import ServerSpec
from mcpctl.schemas.quantities import MAX_MEMORY_BYTES, memory_bytes, parse_quantity
from tests.support.manifests import document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256Mi", 256 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("500M", 500_000_000),
        ("2k", 2000),
        ("0.5Ki", 512),
        ("1048576", 1048576),
        ("1Ei", 2**60),
    ],
)
def test_quantities_read_as_kubernetes_reads_them(text: str, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text", ["", "Mi", "12X", "1mi", "1MiB", " 1Mi", "1Mi ", "-1Mi", "+1Mi", "1e9", "1,5Gi", ".5Gi"]
)
def test_anything_else_is_refused_naming_the_rule(text: str) -> None:
    with pytest.raises(ValueError, match="is not a quantity like 256Mi"):
        parse_quantity(text)


def test_a_fraction_of_a_byte_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'1\.5' is not a whole number of bytes"):
        parse_quantity("1.5")


def test_memory_is_bounded_by_what_docker_gives_and_machines_have() -> None:
    assert memory_bytes("6Mi") == 6 * 2**20
    with pytest.raises(ValueError, match="less than 6Mi"):
        memory_bytes("6143Ki")
    with pytest.raises(ValueError, match="more memory than any machine has"):
        memory_bytes("8Ei")
    assert memory_bytes("7Ei") < MAX_MEMORY_BYTES


def test_resources_default_to_half_a_gigabyte_and_one_cpu() -> None:
    spec = ServerSpec.model_validate({"image": "example/server:1", "resources": {}})
    assert spec.resources is not None
    assert (spec.resources.memory, spec.resources.cpus) == ("512Mi", 1.0)
    assert ServerSpec.model_validate({"image": "x"}).no_new_privileges is True


def test_cpus_take_whole_numbers_and_fractions_within_bounds() -> None:
    for good in (1, 0.25, 0.01, 1024):
        ServerSpec.model_validate({"image": "x", "resources": {"cpus": good}})
    for bad in (0, 0.001, -1, 1025, "1"):
        with pytest.raises(ValidationError) as caught:
            ServerSpec.model_validate({"image": "x", "resources": {"cpus": bad}})
        assert [e["loc"] for e in caught.value.errors()] == [("resources", "cpus")]


def test_a_bad_memory_is_reported_at_its_line() -> None:
    text = document("Server", "s", {"image": "x", "resources": {"memory": "12X"}})
    [issue] = load_text(text, "s.yaml").issues
    assert issue.field == "spec.resources.memory"
    assert issue.line is not None
    assert issue.message.startswith("'12X' is not a quantity like 256Mi, 1Gi or 500M")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"command": ["run"], "resources": {"memory": "1Gi"}},
            "resources applies only to image servers (this one runs a command)",
        ),
        (
            {"command": ["run"], "noNewPrivileges": True},
            "noNewPrivileges applies only to image servers (this one runs a command)",
        ),
        (
            {
                "externalUrl": "https://mcp.example.com/mcp",
                "transport": "streamable-http",
                "resources": {},
                "noNewPrivileges": False,
            },
            "resources and noNewPrivileges apply only to image servers "
            "(this one is reached at an externalUrl)",
        ),
    ],
)
def test_container_fields_on_a_server_without_a_container_are_refused(
    spec: dict[str, object], message: str
) -> None:
    [issue] = load_text(document("Server", "s", spec), "s.yaml").issues
    assert issue.message == message
