"""Three real mcpd replicas on one real PostgreSQL database (issue 10, item 6).

One replica leads (the lease, `store.leases`) and exports; every replica serves the
API and relays the git endpoint and the gitops operations to the leader; followers
fetch the leader's `main` (docs/architecture.md; `reconciler.leadership`,
`reconciler.following`). The oracle is the single mcpd's, held by the cluster once
it is quiet (`tests/support/cluster.py`):

- every replica's `main` is the cluster's, and `verify` is in sync through each;
- one commit per write: the commits since the start each carry one `Mcpctl-Change`
  trailer, the trailers along `main` strictly increase, and the new ones are exactly
  the changes the writes made; each written file is written by one commit;
- no acknowledged write is missing from `main`.

Broken leaders are killed (-9) or paused (SIGSTOP) mid-writes. A takeover is checked by
the lease in the database (a new term, held by another replica, acquired no earlier
than the old lease ended), never by timing the test. The replicas run with a lease of
`LEASE_SECONDS` (3 s), so a takeover is quick.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpctl.manifests.builtins import builtin_templates
from mcpctl.secrets.sealing import KEY_FILE, generate_key_file
from tests.support.cluster import Cluster, Commit, Lease, Replica, history, running_cluster
from tests.support.gitrepo import Clone
from tests.support.manifests import server, to_yaml
from tests.support.mcpd import WAIT_TIMEOUT
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IN_SYNC = {"inSync": True, "differences": [], "diff": ""}


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """A fresh, empty database of the session's PostgreSQL server."""
    return postgres.create_database()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


# ---- the oracle ------------------------------------------------------------------------------


def changes(cluster: Cluster, replica: Replica) -> int:
    """The last change of the database (the change log's, as any replica reads it)."""
    return int(cluster.status(replica)["lastChange"])


def assert_in_sync_everywhere(cluster: Cluster, head: str) -> None:
    """Every live replica's `main` is `head`, and `verify` (relayed to the leader by the
    followers) is in sync through each."""
    for replica in cluster.live():
        assert replica.head() == head, f"{replica.name}'s main is not the cluster's"
        status = cluster.status(replica)
        assert status["head"] == status["clusterHead"] == head, status
        assert cluster.verify(replica) == IN_SYNC, replica.name


def assert_one_commit_per_write(
    cluster: Cluster, replica: Replica, since: str, before: int, names: list[str]
) -> None:
    """On `replica`'s `main`: the commits after `since` are one per write the change log
    holds after change `before`, and those writes are `names`, each once: every commit
    carries one trailer, the write's last change, strictly increasing along `main`; each
    of `names` is a file written by exactly one commit."""
    writes = cluster.writes_since(before)
    assert len(writes) == len(names), f"{len(names)} writes made {len(writes)} in the change log"
    commits = history(replica)
    shas = [c.sha for c in commits]
    assert since in shas, f"{since[:12]} is no longer on {replica.name}'s main"
    numbers = [n for c in commits for n in c.changes]
    assert numbers == sorted(set(numbers)), f"trailers go backwards or repeat: {numbers}"
    new = commits[shas.index(since) + 1 :]
    for commit in new:
        assert len(commit.parents) == 1, f"{commit.sha[:12]} {commit.subject!r} is a merge"
        assert len(commit.changes) == 1, f"{commit.sha[:12]} {commit.subject!r}: {commit.changes}"
    assert [c.changes[0] for c in new] == writes
    tree = replica.tree()
    paths = [f"servers/{name}.yaml" for name in names]
    missing = [p for p in paths if p not in tree]
    assert not missing, f"acknowledged writes missing from {replica.name}'s main: {missing}"
    touched = Counter(
        line
        for line in replica.git("log", "--format=", "--name-only", f"{since}..main").splitlines()
        if line
    )
    twice = {p: touched[p] for p in paths if touched[p] != 1}
    assert not twice, f"written by more than one commit (or none): {twice}"


def assert_linear_without_twins(commits: list[Commit]) -> None:
    """A history (oldest first) without merges whose trailers strictly increase."""
    for commit in commits[1:]:
        assert len(commit.parents) == 1, f"{commit.sha[:12]} {commit.subject!r} is a merge"
    numbers = [n for c in commits for n in c.changes]
    assert numbers == sorted(set(numbers)), f"trailers go backwards or repeat: {numbers}"


def kill_the_leader(cluster: Cluster) -> tuple[Replica, Lease]:
    """Pause the leader (it renews nothing more), read its lease, kill it (-9)."""
    leader = cluster.leader()
    leader.pause()
    lease = cluster.lease()
    leader.kill()
    assert lease.replica == leader.name, f"{leader.name} had lost the lease already: {lease}"
    return leader, lease


def assert_taken_over(cluster: Cluster, old: Replica, old_lease: Lease) -> Replica:
    """Another replica leads, in a later term acquired no earlier than the old lease ended."""
    new = cluster.leader(after_term=old_lease.term)
    lease = cluster.lease()
    assert new is not old
    assert lease.replica == new.name
    assert lease.acquired_at >= old_lease.expires_at, (
        f"taken over before the old lease ended: {old_lease} then {lease}"
    )
    return new


# ---- the scenarios ---------------------------------------------------------------------------


def test_concurrent_writes_through_every_replica_make_one_commit_each(
    database: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, database) as cluster:
        leader = cluster.leader()
        start = cluster.quiet()
        before = changes(cluster, leader)

        writing = cluster.writing(90)
        names = writing.join()
        head = cluster.quiet()

        assert sorted(writing.retried) == [], f"writes refused: {writing.retried}"
        assert_in_sync_everywhere(cluster, head)
        for replica in cluster.live():
            assert_one_commit_per_write(cluster, replica, start, before, names)
        roles = sorted(str(r.role()) for r in cluster.live())
        assert roles == ["follower", "follower", "leader"]


def test_a_follower_takes_over_from_a_killed_leader_and_loses_no_write(
    database: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, database) as cluster:
        start = cluster.quiet()
        before = changes(cluster, cluster.leader())

        writing = cluster.writing(90)
        writing.wait_for(30)
        old, old_lease = kill_the_leader(cluster)
        died_at = old.head()  # its main as it died
        assert_taken_over(cluster, old, old_lease)
        names = writing.join()
        head = cluster.quiet()

        assert_in_sync_everywhere(cluster, head)
        for replica in cluster.live():
            assert_one_commit_per_write(cluster, replica, start, before, names)

        # the killed replica comes back on its state dir: it follows, its main the cluster's
        old.start()
        assert old.wait_ready()["role"] == "follower"
        head = cluster.quiet()
        assert cluster.leader() is not old
        assert old.head() == head
        assert_in_sync_everywhere(cluster, head)
        assert_one_commit_per_write(cluster, old, start, before, names)
        if not old.is_ancestor(died_at, head):  # it had commits no one else got: kept aside
            timelines = old.branches("refs/heads/timelines/")
            assert died_at in timelines.values(), f"{died_at[:12]} lost: {timelines}"
        status = cluster.status(old)
        assert status["replica"]["role"] == "follower"
        assert status["following"]["able"], status["following"]


def test_a_new_leader_fetches_the_dead_leaders_last_commit_from_a_follower(
    database: str, tmp_path: Path
) -> None:
    """The old leader's last commits reached one follower only, then it died: the replica
    taking over fetches them from that follower (`store.replicas` says where it serves)
    instead of exporting the writes again, so no replica's `main` forks. The follower
    holding them may not lead (its sealing key is not the cluster's), so the other one
    takes over; it was paused while the commits were made, so it lacks them."""
    with running_cluster(tmp_path, database, count=1) as cluster:
        leader = cluster.leader()
        holder = cluster.replica("r1")
        generate_key_file(holder.state_dir / KEY_FILE)  # another key: it follows only
        lagging = cluster.replica("r2")
        cluster.start([holder, lagging])
        start = cluster.quiet()
        before = changes(cluster, leader)

        lagging.pause()
        names = cluster.writing(12, through=lambda: [leader]).join()
        died_at = cluster.quiet()  # exported, and the holder's main (the live ones') there
        assert lagging.head() != died_at
        old, old_lease = kill_the_leader(cluster)
        lagging.resume()

        new = assert_taken_over(cluster, old, old_lease)
        assert new is lagging
        head = cluster.quiet()
        assert head == died_at  # nothing was exported again: the commits were fetched
        assert_in_sync_everywhere(cluster, head)
        for replica in cluster.live():
            assert replica.branches("refs/heads/timelines/") == {}, replica.name
            assert_one_commit_per_write(cluster, replica, start, before, names)
        assert f"fetched the cluster's main from {holder.url}" in lagging.logged()
        members = {m["name"]: m["role"] for m in cluster.status(holder)["replicas"]}
        assert (members["r1"], members["r2"]) == ("follower", "leader"), members


def test_a_restarted_replica_takes_its_own_lease_back_at_once(
    database: str, tmp_path: Path
) -> None:
    """A lone replica killed (-9) and started again holds its old process's lease: the
    new process sees that nothing serves where the old one did and takes the lease over
    at once. The lease is long (10 minutes): waiting for it to end would not pass."""
    with running_cluster(tmp_path, database, count=1, lease_seconds=600) as cluster:
        only = cluster.leader()
        names = cluster.writing(5).join()
        head = cluster.quiet()
        _, old_lease = kill_the_leader(cluster)
        assert old_lease.held

        only.start()
        assert only.wait_ready()["role"] == "leader"
        lease = cluster.lease()
        assert lease.replica == only.name
        assert lease.term == old_lease.term + 1
        assert lease.acquired_at < old_lease.expires_at  # taken before it ended
        assert "which serves no more: taking it over now" in only.logged()
        assert only.head() == head
        assert {f"servers/{n}.yaml" for n in names} <= set(only.tree())
        more = cluster.writing(3, prefix="after").join()
        head = cluster.quiet()
        assert {f"servers/{n}.yaml" for n in more} <= set(only.tree())
        assert cluster.verify(only) == IN_SYNC


def test_a_paused_replica_keeps_its_lease_from_its_own_restart(
    database: str, tmp_path: Path
) -> None:
    """A process of the same replica name whose predecessor is alive but paused (it still
    listens) does not take the lease: it follows until the lease ends."""
    with running_cluster(tmp_path, database, count=1) as cluster:
        first = cluster.leader()
        first.pause()
        held = cluster.lease()
        twin = cluster.replica("twin")  # its own state dir, port and log
        twin.command[twin.command.index("--replica-name") + 1] = first.name
        twin.state_dir.mkdir()
        shutil.copy2(first.state_dir / KEY_FILE, twin.state_dir / KEY_FILE)  # it may lead
        twin.start()
        try:
            # once the paused one's lease ends (the harness knows replicas by name: the
            # twin's is the paused one's, so the lease is read by its URL)
            _wait(lambda: twin.role() == "leader", "the twin leads")
            lease = cluster.lease()
            assert (lease.url, lease.replica) == (twin.url, first.name), lease
            assert lease.term == held.term + 1
            assert lease.acquired_at >= held.expires_at, (held, lease)
            assert "which serves no more" not in twin.logged()
        finally:
            first.resume()


def test_a_leader_paused_past_its_lease_changes_nothing_when_it_resumes(
    database: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, database) as cluster:
        start = cluster.quiet()
        old = cluster.leader()
        before = changes(cluster, old)
        followers = [r for r in cluster.live() if r is not old]

        writing = cluster.writing(90, through=lambda: followers)
        writing.wait_for(30)
        old.pause()
        paused_lease = cluster.lease()
        assert paused_lease.replica == old.name
        at_pause = cluster.status(followers[0])["clusterHead"]
        paused_head = old.head()

        new = assert_taken_over(cluster, old, paused_lease)
        # the new leader commits (the cluster's main moves on without the old one)
        _wait(lambda: cluster.status(new)["clusterHead"] != at_pause, "the new leader commits")
        writing.wait_for(60)
        old.resume()
        _wait(lambda: old.role() == "follower", f"{old.name} steps down")
        names = writing.join()
        head = cluster.quiet()

        lease = cluster.lease()
        assert lease.replica == new.name
        assert lease.term > paused_lease.term
        assert cluster.status(old)["replica"]["role"] == "follower"
        assert_in_sync_everywhere(cluster, head)
        for replica in cluster.live():
            assert_one_commit_per_write(cluster, replica, start, before, names)
        # commits the leader made just before its pause that no follower had fetched yet
        # (the new leader exported those writes again, once): kept aside on its replica;
        # or, for a commit it made once deposed (its ref moved after the lease ended), taken
        # back at once: then what it had published is kept aside
        if not old.is_ancestor(paused_head, head):
            assert old.is_ancestor(at_pause, paused_head)
            kept = old.branches("refs/heads/timelines/").values()
            published = old.git("rev-parse", f"{paused_head}^").strip()
            assert any(
                old.is_ancestor(paused_head, branch) or old.is_ancestor(published, branch)
                for branch in kept
            ), (paused_head, list(kept))


def test_a_replica_joining_with_an_empty_state_dir_follows_and_relays(
    database: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, database) as cluster:
        leader = cluster.leader()
        names = cluster.writing(30).join()
        cluster.quiet()

        joined = cluster.add("r3")
        assert joined.role() == "follower"
        head = cluster.quiet()
        assert joined.head() == head
        assert joined.tree() == leader.tree()
        status = cluster.status(joined)
        assert status["replica"] == {"name": "r3", "url": joined.url, "role": "follower"}
        assert status["leader"]["name"] == cluster.leader().name
        assert status["following"]["able"], status["following"]
        assert cluster.verify(joined) == IN_SYNC
        assert not (joined.state_dir / "config").exists()  # the admin is the first start's

        # a clone through it is the cluster's main; a push through it is imported
        clone = Clone.of(cluster.as_mcpd(joined), tmp_path / "clone")
        assert clone.head() == head
        assert {f"servers/{n}.yaml" for n in names} <= set(joined.tree())
        manifest = server("pushed", replicas=0)
        clone.write("servers/pushed.yaml", to_yaml(manifest))
        clone.commit("Add server pushed")
        pushed = clone.push()
        assert pushed.returncode == 0, pushed.stderr
        head = cluster.quiet()
        assert "servers/pushed.yaml" in joined.tree()
        with cluster.client(joined) as client:
            got = client.get("/api/v1/servers/pushed")
            assert got.status_code == 200, got.text
            assert got.json()["spec"] == manifest["spec"]
        assert_in_sync_everywhere(cluster, head)
        assert clone.remote_main() == head


def test_three_replicas_starting_at_once_on_an_empty_database_elect_one_leader(
    database: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path, database, at_once=True) as cluster:
        leader = cluster.leader()
        roles = sorted(str(r.role()) for r in cluster.replicas)
        assert roles == ["follower", "follower", "leader"]
        assert len(cluster.bootstrapped()) == 1, cluster.bootstrapped()
        start = cluster.quiet()
        with cluster.client(leader) as client:
            users = client.get("/api/v1/users").raise_for_status().json()["items"]
            audited = (
                client.get("/api/v1/auditevents", params={"kind": "User", "limit": 1000})
                .raise_for_status()
                .json()["items"]
            )
        assert [u["metadata"]["name"] for u in users] == ["admin"]
        created = [a for a in audited if a["spec"]["verb"] == "create"]
        assert len(created) == 1, created  # bootstrapped once
        # main: the repo's first commit, then the bootstrap's one write and the built-in
        # templates' one write (their last changes), each exported once
        before = changes(cluster, leader)
        first = history(leader)
        seeded = before - len(builtin_templates())
        assert [c.changes for c in first] == [[], [seeded], [before]], first

        names = cluster.writing(60).join()
        head = cluster.quiet()
        assert_in_sync_everywhere(cluster, head)
        for replica in cluster.live():
            assert_one_commit_per_write(cluster, replica, start, before, names)


def test_three_replicas_on_one_shared_state_dir(database: str, tmp_path: Path) -> None:
    with running_cluster(tmp_path, database, shared_state=True) as cluster:
        leader = cluster.leader()
        start = cluster.quiet()
        before = changes(cluster, leader)
        names = cluster.writing(60).join()
        head = cluster.quiet()
        assert_in_sync_everywhere(cluster, head)
        assert_one_commit_per_write(cluster, leader, start, before, names)
        assert len(cluster.bootstrapped()) == 1

        old, old_lease = kill_the_leader(cluster)
        assert_taken_over(cluster, old, old_lease)
        more = cluster.writing(30, prefix="after").join()
        head = cluster.quiet()
        assert_in_sync_everywhere(cluster, head)
        survivor = cluster.leader()
        assert_one_commit_per_write(cluster, survivor, start, before, names + more)


def test_a_mirrored_remote_gets_one_linear_history_across_a_takeover(
    database: str, tmp_path: Path, remote: Path
) -> None:
    args = ["--git-remote", str(remote), "--git-sync-interval", "300"]
    with running_cluster(tmp_path, database, args=args) as cluster:
        leader = cluster.leader()
        start = cluster.quiet(mirrored=True)
        before = changes(cluster, leader)

        names = cluster.writing(60).join()
        head = cluster.quiet(mirrored=True)
        assert_in_sync_everywhere(cluster, head)
        assert_remote_is_main(cluster, remote, head)
        assert_one_commit_per_write(cluster, leader, start, before, names)

        writing = cluster.writing(60, prefix="during")
        writing.wait_for(30)
        old, old_lease = kill_the_leader(cluster)
        new = assert_taken_over(cluster, old, old_lease)
        more = writing.join()
        head = cluster.quiet(mirrored=True)
        assert_in_sync_everywhere(cluster, head)
        assert_remote_is_main(cluster, remote, head)
        assert_one_commit_per_write(cluster, new, start, before, names + more)


def assert_remote_is_main(cluster: Cluster, remote: Path, head: str) -> None:
    """The remote's `main` is the cluster's, one linear history with each change once,
    and no conflict was recorded (nothing to merge: only the leader pushes)."""
    commits = history(remote)
    assert commits[-1].sha == head
    assert_linear_without_twins(commits)
    leader = cluster.leader()
    assert cluster.status(leader)["conflicts"] == []
    with cluster.client(leader) as client:
        events = client.get("/api/v1/events", params={"limit": 1000}).raise_for_status().json()
    conflicts = [e for e in events["items"] if e["spec"].get("reason") == "GitConflict"]
    assert conflicts == []


def _wait(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds (the limit is a hang guard)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)
