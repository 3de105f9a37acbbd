"""The write context a session carries and the notice its followers get after commit."""

from __future__ import annotations

import pytest

from mcpctl.schemas import Secret, User
from mcpctl.store import WriteContext, WriteSource

ALICE = User.model_validate(
    {
        "apiVersion": "mcpctl/v1",
        "kind": "User",
        "metadata": {"name": "alice"},
        "spec": {"email": "alice@example.com"},
    }
)
TOKEN = Secret.model_validate(
    {
        "apiVersion": "mcpctl/v1",
        "kind": "Secret",
        "metadata": {"name": "token"},
        "spec": {"data": {"value": "x"}},
    }
)


def test_the_change_log_keeps_the_source_as_before() -> None:
    assert str(WriteSource()) == ""
    assert str(WriteSource.imported("push", "abc123")) == "push:abc123"
    assert str(WriteSource.imported("recover", "abc123")) == "recover:abc123"


@pytest.mark.parametrize(
    "source", [WriteSource(), WriteSource.imported("push", "abc123"), WriteSource("sync", "f00")]
)
def test_the_change_log_s_source_reads_back_as_written(source: WriteSource) -> None:
    assert WriteSource.parse(str(source)) == source


def test_an_import_names_a_known_source() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        WriteSource.imported("api", "abc123")


def test_a_write_that_changed_nothing_gives_no_notice() -> None:
    assert WriteContext().committed() is None


def test_the_notice_says_who_wrote_what_and_what_was_deleted() -> None:
    write = WriteContext(source=WriteSource.imported("sync", "abc"))
    write_id = write.begin("alice")
    write.note({("User", None, "alice"): ALICE, ("User", None, "bob"): None})

    notice = write.committed()

    assert notice is not None
    assert (notice.write_id, notice.actor, str(notice.source)) == (write_id, "alice", "sync:abc")
    assert notice.written == {("User", None, "alice"): ALICE}
    assert notice.deleted == frozenset({("User", None, "bob")})


def test_a_write_storing_a_secret_leaves_its_objects_unknown() -> None:
    write = WriteContext()
    write.begin("alice")
    write.note({("User", None, "alice"): ALICE})
    write.note({("Secret", None, "token"): TOKEN})

    notice = write.committed()

    assert notice is not None
    assert notice.written is None
    assert notice.deleted is None


def test_a_rolled_back_write_notes_nothing() -> None:
    write = WriteContext()
    write.begin("alice")
    write.note({("User", None, "alice"): ALICE})
    write.rolled_back()

    notice = write.committed()

    assert notice is not None
    assert notice.written is None
