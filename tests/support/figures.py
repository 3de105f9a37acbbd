"""How the benchmarks under `benchmarks/` print their figures: units, spreads, the load.

Each benchmark judges its own figures (its `Figure` says what a target means there);
what they print a duration, a spread or the machine's load with is shared here, so that
every benchmark's lines read alike.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["Line", "emit", "load", "ms", "percentile", "secs", "spread"]


class Line(Protocol):
    def line(self) -> str: ...


F = TypeVar("F", bound=Line)


def emit(figures: list[F], figure: F) -> F:
    """Keep `figure` for the summary and print its line at once (a long run shows progress)."""
    figures.append(figure)
    print(figure.line(), flush=True)
    return figure


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    """Milliseconds under a second, seconds above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def spread(values: Sequence[float]) -> str:
    """p50/p95/max of `values` (seconds), in milliseconds."""
    if not values:
        return "none"
    return (
        f"p50 {ms(statistics.median(values))}, p95 {ms(percentile(values, 0.95))}, "
        f"max {ms(max(values))}"
    )


def load() -> str:
    """The load average (1, 5, 15 min): a figure measured on a busy machine says so."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"
