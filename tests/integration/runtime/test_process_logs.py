"""An instance's log (its stderr): bounded rotated files that keep the newest lines, with
`tail`, `since` and `follow` (docs/architecture.md, "The runtime")."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcpctl.runtime.logfiles import MAX_LINE
from tests.support.runtime import (
    guard,
    launch,
    log_lines,
    next_exit,
    process_driver,
    wait_for_log,
)

pytestmark = pytest.mark.integration


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


# Writes `count` numbered lines to stderr, then a last one, then ends.
MANY_LINES = """
import sys
for i in range({count}):
    print(f"line {{i:05d}} " + "x" * 40, file=sys.stderr)
print("last line", file=sys.stderr)
"""

# Writes a batch of lines, then waits for a line on stdin before the next batch.
BATCHES = """
import sys
for batch in range({batches}):
    for i in range({per_batch}):
        print(f"batch {{batch:03d}} line {{i:03d}} " + "z" * 20, file=sys.stderr)
    sys.stderr.flush()
    if batch < {batches} - 1:
        sys.stdin.readline()
"""


def test_rotation_keeps_the_log_bounded_and_the_newest_lines(
    state: Path, started: set[int]
) -> None:
    log_bytes, log_files, count = 4096, 3, 3000

    async def main() -> None:
        async with process_driver(state, log_bytes=log_bytes, log_files=log_files) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(python(MANY_LINES.format(count=count))))
            started.add(int(observed.ref))
            assert (await next_exit(exits)).code == 0
            directory = state / "instances" / "srv-1"
            names = sorted(p.name for p in directory.iterdir() if p.name.startswith("log"))
            assert names == ["log", "log.1", "log.2"]
            for name in names:
                size = (directory / name).stat().st_size
                assert 0 < size <= log_bytes, (name, size)
                assert (directory / name).stat().st_mode & 0o777 == 0o600

            lines = await log_lines(driver, "srv-1")
            assert lines[-1] == b"last line\n"
            numbered = [int(line.split()[1]) for line in lines[:-1]]
            # The newest lines are kept, in order, without a gap; the oldest are not.
            assert numbered == list(range(numbered[0], count))
            assert numbered[0] > 0
            # Each file holds what fits (a stamp of 28 bytes and 51 of text a line).
            assert len(lines) > (log_files - 1) * (log_bytes // (28 + 51))

            assert await log_lines(driver, "srv-1", tail=2) == lines[-2:]
            assert await log_lines(driver, "srv-1", tail=0) == []
            assert await log_lines(driver, "srv-1", tail=10**6) == lines

    asyncio.run(main())


def test_a_log_keeps_the_newest_lines_with_one_file(state: Path, started: set[int]) -> None:
    async def main() -> None:
        async with process_driver(state, log_bytes=2048, log_files=1) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(python(MANY_LINES.format(count=500))))
            started.add(int(observed.ref))
            await next_exit(exits)
            directory = state / "instances" / "srv-1"
            assert sorted(p.name for p in directory.iterdir()) == ["home", "log"]
            assert (directory / "log").stat().st_size <= 2048
            assert (await log_lines(driver, "srv-1"))[-1] == b"last line\n"

    asyncio.run(main())


def test_a_line_longer_than_max_line_is_kept_in_pieces(state: Path, started: set[int]) -> None:
    long = "print('long ' + 'y' * 200000, file=__import__('sys').stderr)"

    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(python(long)))
            started.add(int(observed.ref))
            await next_exit(exits)
            pieces = await log_lines(driver, "srv-1")
            assert [len(p) for p in pieces] == [MAX_LINE + 1] * 3 + [200005 - 3 * MAX_LINE + 1]
            assert b"".join(p.rstrip(b"\n") for p in pieces) == b"long " + b"y" * 200000

    asyncio.run(main())


def test_since_gives_the_lines_after_a_time_and_follow_ends_with_the_instance(
    state: Path, started: set[int]
) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            exits = driver.exits()
            observed = await driver.start(launch(python(BATCHES.format(batches=2, per_batch=5))))
            started.add(int(observed.ref))
            follower = asyncio.create_task(log_lines(driver, "srv-1", follow=True))
            await wait_for_log(driver, "srv-1", b"batch 000 line 004")
            between = datetime.now(UTC)
            first = await log_lines(driver, "srv-1")
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            await pipe.write(b"next\n")
            assert (await next_exit(exits)).code == 0

            everything = await guard(follower)
            assert len(everything) == 10
            assert everything[:5] == first
            assert all(line.startswith(b"batch 000") for line in first)
            since = await log_lines(driver, "srv-1", since=between)
            assert since == everything[5:]
            assert await log_lines(driver, "srv-1", since=between, tail=2) == everything[-2:]
            # A naive time is taken as UTC.
            naive = between.replace(tzinfo=None)
            assert await log_lines(driver, "srv-1", since=naive) == everything[5:]
            # Following an instance that has ended gives what it wrote, and ends.
            assert await guard(log_lines(driver, "srv-1", follow=True)) == everything
            assert await log_lines(driver, "srv-1", follow=True, tail=1) == everything[-1:]

    asyncio.run(main())


def test_a_follower_reads_every_line_across_rotations(state: Path, started: set[int]) -> None:
    batches, per_batch = 20, 30

    async def main() -> None:
        async with process_driver(state, log_bytes=4096, log_files=2) as driver:
            observed = await driver.start(
                launch(python(BATCHES.format(batches=batches, per_batch=per_batch)))
            )
            started.add(int(observed.ref))
            pipe = driver.stdio("srv-1")
            assert pipe is not None
            got: list[bytes] = []

            async def follow() -> None:
                async for line in driver.logs("srv-1", follow=True):
                    got.append(line)
                    batch, _, number = line.split()[1:4]
                    last = number == b"%03d" % (per_batch - 1)
                    if last and int(batch) < batches - 1:
                        await pipe.write(b"next\n")  # this batch is read: the next one

            await guard(follow())
            expected = [
                b"batch %03d line %03d %s\n" % (b, i, b"z" * 20)
                for b in range(batches)
                for i in range(per_batch)
            ]
            assert got == expected
            # ... which the files no longer hold all of.
            assert len(await log_lines(driver, "srv-1")) < len(expected)

    asyncio.run(main())


def test_the_logs_of_an_unknown_instance_are_empty(state: Path) -> None:
    async def main() -> None:
        async with process_driver(state) as driver:
            assert await log_lines(driver, "never-1", follow=True) == []

    asyncio.run(main())
