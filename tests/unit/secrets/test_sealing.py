"""Sealing Secret values for git: deterministic, bound to their place, refused when wrong."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpctl.errors import InvalidInput
from mcpctl.manifests import dump_object, load_text
from mcpctl.schemas import Secret
from mcpctl.schemas._base import SECRET_KEY_PATTERN
from mcpctl.secrets import KEY_ENV, Sealer, SealingError, load_sealer

SEALER = Sealer.from_key(bytes(range(64)))


def test_sealing_is_deterministic_and_opens_to_the_value() -> None:
    sealed = SEALER.seal("github", "token", "ghp_secret")

    assert sealed == SEALER.seal("github", "token", "ghp_secret")
    assert sealed.startswith("v1:")
    assert "ghp_secret" not in sealed
    assert SEALER.open("github", "token", sealed) == "ghp_secret"


def test_a_sealed_value_moved_to_another_secret_or_key_does_not_open() -> None:
    sealed = SEALER.seal("github", "token", "ghp_secret")

    with pytest.raises(SealingError, match="'other' key 'token'"):
        SEALER.open("other", "token", sealed)
    with pytest.raises(SealingError, match="'github' key 'apiKey'"):
        SEALER.open("github", "apiKey", sealed)


def test_a_fingerprint_changes_with_the_value_its_place_and_the_key_only() -> None:
    """The runtime's revisions hold fingerprints: equal for an unchanged value (no roll),
    and, without the sealing key, no way to test a guessed value against one."""
    fingerprint = SEALER.fingerprint("github", "token", "ghp_secret")

    assert fingerprint == SEALER.fingerprint("github", "token", "ghp_secret")
    others = {
        SEALER.fingerprint("github", "token", "ghp_other"),
        SEALER.fingerprint("github", "apiKey", "ghp_secret"),
        SEALER.fingerprint("gitlab", "token", "ghp_secret"),
        Sealer.from_key(bytes(64)).fingerprint("github", "token", "ghp_secret"),
    }
    assert fingerprint not in others
    assert len(others) == 4
    assert "ghp_secret" not in fingerprint
    assert fingerprint not in {hashlib.sha256(b"ghp_secret").hexdigest()[:32], SEALER.key_id}


def test_another_key_cannot_open_and_the_error_names_the_place_not_the_value() -> None:
    sealed = SEALER.seal("github", "token", "ghp_secret")
    other = Sealer.from_key(bytes(64))

    with pytest.raises(SealingError) as caught:
        other.open("github", "token", sealed)

    assert "Secret 'github' key 'token'" in str(caught.value)
    assert "ghp_secret" not in str(caught.value)


@pytest.mark.parametrize("damaged", ["ghp_plain", "v1:", "v1:!!!!", "v1:AAAA"])
def test_damaged_sealed_text_is_a_sealing_error(damaged: str) -> None:
    with pytest.raises(SealingError):
        SEALER.open("github", "token", damaged)


@settings(max_examples=50, deadline=None)
@given(
    name=st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z"),
    key=st.from_regex(SECRET_KEY_PATTERN.replace("^", r"\A").replace("$", r"\Z")).filter(
        lambda k: len(k) < 60
    ),
    value=st.text(max_size=200),
)
def test_every_value_round_trips_through_a_sealed_secret_manifest(
    name: str, key: str, value: str
) -> None:
    secret = Secret.model_validate(
        {
            "apiVersion": "mcpctl/v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "spec": {"data": {key: value}},
        }
    )
    text = dump_object(secret, secrets="seal", sealer=SEALER.seal)
    loaded = load_text(text).manifests[0].resource

    assert isinstance(loaded, Secret)
    assert loaded.spec.data == {}
    assert SEALER.open(name, key, loaded.spec.sealed_data[key]) == value
    assert dump_object(loaded, secrets="plain") == text


def test_a_key_file_is_created_0600_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = load_sealer(tmp_path, create=True)

    assert (tmp_path / "sealing.key").stat().st_mode & 0o777 == 0o600
    again = load_sealer(tmp_path)
    assert again.open("s", "k", first.seal("s", "k", "v")) == "v"


def test_a_missing_key_is_refused_naming_what_to_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(SealingError, match=r"sealing\.key"):
        load_sealer(tmp_path)


def test_a_key_file_readable_by_others_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    load_sealer(tmp_path, create=True)
    os.chmod(tmp_path / "sealing.key", 0o644)

    with pytest.raises(SealingError, match="chmod 600"):
        load_sealer(tmp_path)


def test_the_environment_key_wins_and_must_be_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, base64.b64encode(bytes(range(64))).decode())
    assert load_sealer(tmp_path).open("s", "k", SEALER.seal("s", "k", "v")) == "v"
    assert not (tmp_path / "sealing.key").exists()

    monkeypatch.setenv(KEY_ENV, "not base64!")
    with pytest.raises(InvalidInput):
        load_sealer(tmp_path)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(b"short").decode())
    with pytest.raises(InvalidInput, match="64 bytes"):
        load_sealer(tmp_path)
