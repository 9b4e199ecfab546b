"""A configuration measured several times over: its figures as median and range.

The benchmark measures every configuration once per repeat, the repeats interleaved, so that a
burst of load from other programs lands on one repeat of several configurations rather than on
every repeat of one. A figure is then shown as its median with the range of the repeats.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmark.support.wrk import LoadResult
from benchmark.throughput.configs import Config
from benchmark.throughput.measure import Measured


@dataclass(frozen=True)
class Spread:
    """The values one figure took across the repeats."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else 0.0

    @property
    def low(self) -> float:
        return min(self.values, default=0.0)

    @property
    def high(self) -> float:
        return max(self.values, default=0.0)

    @property
    def relative(self) -> float:
        """(max - min) / median: how far apart the repeats landed, as a share of the figure."""
        return (self.high - self.low) / self.median if self.median else 0.0


@dataclass
class Row:
    """One configuration: one Measured per repeat."""

    config: Config
    runs: list[Measured] = field(default_factory=list)

    @property
    def workers(self) -> str:
        return next((run.workers for run in self.runs if run.workers), "")

    def points(self, label: str) -> list[LoadResult]:
        return [run.results[label] for run in self.runs if label in run.results]

    def rate(self, label: str) -> Spread:
        return Spread(tuple(point.rate for point in self.points(label)))

    def cpu_per_request(self, label: str) -> Spread:
        """Milliseconds of the server's CPU per request, per repeat."""
        return Spread(tuple(point.cpu_ms_per_request for point in self.points(label)))

    def p50(self, label: str) -> Spread:
        return Spread(tuple(point.p50_ms for point in self.points(label)))

    def p99(self, label: str) -> Spread:
        return Spread(tuple(point.p99_ms for point in self.points(label)))

    def batch_cpu(self) -> Spread:
        """CPU ms per allocation-candidates request in closed batches, per repeat."""
        return Spread(tuple(run.batch.cpu_ms_per_request for run in self.runs if run.batch))

    def batch_requests(self) -> int:
        return sum(run.batch.requests for run in self.runs if run.batch)

    def errors(self, label: str) -> int:
        return sum(point.errors for point in self.points(label))

    def idle_pss(self) -> Spread:
        return Spread(tuple(float(run.idle_pss) for run in self.runs))

    def pss_during(self, label: str) -> Spread:
        """The peak total PSS while `label` was under load, per repeat."""
        return Spread(tuple(float(run.pss_during[label]) for run in self.runs
                            if label in run.pss_during))
