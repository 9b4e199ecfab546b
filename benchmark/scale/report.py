"""The size sweep's results as Markdown (scale.md) and a log-log chart (scale.png).

The growth is computed, not asserted: between two sizes, the slope of log(CPU per request)
against log(nodes). 1 is linear (ten times the nodes, ten times the cost), 0 flat, 2 quadratic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmark.scale import check, nova_requests, seed, wide_tree
from benchmark.scale.load import OUTCOMES, Cell
from benchmark.support.tables import markdown_table

if TYPE_CHECKING:
    from pathlib import Path

MB = 2**20
UPSTREAM = " (placement's defaults)"
BEND = 0.3  # a change of slope this large between two segments is a bend


@dataclass
class SizeResult:
    """One database at one size: what was seeded and checked, and each request's cell."""

    database: str
    nodes: int
    seeded: seed.Seeded
    checked: check.Checked
    cells: dict[str, Cell] = field(default_factory=dict)  # placedock's defaults
    upstream: dict[str, Cell] = field(default_factory=dict)  # with UPSTREAM
    idle_worker_pss: int = 0
    load: str = ""  # the load average after this size


@dataclass
class Results:
    context: list[str]
    sizes: list[SizeResult] = field(default_factory=list)
    wide: list[wide_tree.WideResult] = field(default_factory=list)
    guard: int = 0
    wide_timeout: float = 0.0

    @property
    def databases(self) -> list[str]:
        return list(dict.fromkeys(size.database for size in self.sizes))

    def of(self, database: str) -> list[SizeResult]:
        return [size for size in self.sizes if size.database == database]


def merge(runs: list[Results]) -> Results:
    """Runs of one database each, made at the same time, as one report: their sizes in turn,
    each run's context lines (the load averages differ)."""
    merged = Results([], [], [], runs[0].guard, runs[0].wide_timeout)
    for run in runs:
        databases = ", ".join(run.databases)
        merged.context += [f"{databases}: {line}" for line in run.context[:1]] + run.context[1:]
        merged.sizes += run.sizes
        merged.wide += run.wide
    merged.context = list(dict.fromkeys(merged.context))
    return merged


def cells(size: SizeResult) -> Iterator[tuple[str, Cell]]:
    """Every cell of one size, those on placement's defaults labelled as such."""
    yield from size.cells.items()
    for label, cell in size.upstream.items():
        yield label + UPSTREAM, cell


def labels(results: Results) -> list[str]:
    found: dict[str, None] = {}
    for size in results.sizes:
        for label, _ in cells(size):
            found.setdefault(label)
    return list(found)


def cpu(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.server_cpu_ms is None:
        return "timeout" if cell.outcomes["timeout"] else "failed"
    return _ms(cell.server_cpu_ms)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / MB:,.1f} MB" if value >= MB else f"{value / 1024:,.1f} KB"


def outcomes(cell: Cell) -> str:
    others = ", ".join(f"{cell.outcomes[kind]} {kind}" for kind in OUTCOMES[1:]
                       if cell.outcomes[kind])
    retried = f"{cell.retried} 409s retried" if cell.retried else ""
    notes = ", ".join(note for note in (others, retried) if note)
    return f"{cell.ok}" + (f" ({notes})" if notes else "")


def cell_line(cell: Cell) -> str:
    return (f"{cell.label}: {outcomes(cell)} in {cell.elapsed:.1f} s, CPU {cpu(cell)} ms/req, "
            f"DB {_ms(cell.database_cpu_ms)} ms/req, p50 {_ms(cell.percentile_ms(0.5))} ms, "
            f"response {_bytes(cell.size)}, worker PSS {cell.worker_pss / MB:,.0f} MB")


def slopes(results: Results, database: str, label: str) -> list[float | None]:
    """log-log slope of CPU per request between each two consecutive sizes."""
    points = []
    for size in results.of(database):
        cell = dict(cells(size)).get(label)
        points.append((size.nodes, cell.server_cpu_ms if cell else None))
    found: list[float | None] = []
    for (n1, c1), (n2, c2) in zip(points, points[1:], strict=False):
        found.append(math.log(c2 / c1) / math.log(n2 / n1) if c1 and c2 else None)
    return found


def growth(slope_list: list[float | None]) -> str:
    """In words: each segment's kind, and where the slope bends."""
    words = []
    for slope in slope_list:
        if slope is None:
            words.append("unmeasured")
        elif slope < 0.2:
            words.append("flat")
        elif slope < 0.8:
            words.append("sublinear")
        elif slope <= 1.2:
            words.append("linear")
        else:
            words.append("worse than linear")
    bends = [index for index in range(1, len(slope_list))
             if slope_list[index] is not None and slope_list[index - 1] is not None
             and abs(slope_list[index] - slope_list[index - 1]) >= BEND]  # type: ignore[operator]
    runs = [word for index, word in enumerate(words) if index == 0 or words[index - 1] != word]
    text = " then ".join(runs)
    return text + (f"; bends at segment {', '.join(str(b + 1) for b in bends)}" if bends else "")


def seeding_table(results: Results) -> list[str]:
    lines = ["| Database | Compute nodes | Providers | Seeding s (this step) | Seen through the "
             "API (providers, sharing, providers in a nested + sharing claim) |",
             "| --- | ---: | ---: | ---: | --- |"]
    for size in results.sizes:
        checked = size.checked
        lines.append(f"| {size.database} | {size.nodes:,} | {size.seeded.providers:,} | "
                     f"{size.seeded.seconds:.1f} | {checked.providers:,}, {checked.sharing:,}, "
                     f"{checked.candidate_providers} |")
    return lines


def summary_table(results: Results) -> list[str]:
    """CPU per request, one column per database and size, with the growth per database."""
    columns = [(size.database, size.nodes) for size in results.sizes]
    header = "| Request | " + " | ".join(f"{db} {nodes:,}" for db, nodes in columns)
    header += " | " + " | ".join(f"Growth ({db})" for db in results.databases) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in columns) + " |" + " --- |" * len(
        results.databases)
    lines = [header, rule]
    by_column = {(size.database, size.nodes): dict(cells(size)) for size in results.sizes}
    for label in labels(results):
        row = [label] + [cpu(by_column[column].get(label)) for column in columns]
        row += [_slope_text(slopes(results, db, label)) for db in results.databases]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _slope_text(slope_list: list[float | None]) -> str:
    numbers = ", ".join("-" if s is None else f"{s:.2f}" for s in slope_list)
    return f"{numbers}: {growth(slope_list)}"


def cells_table(results: Results) -> list[str]:
    return markdown_table(
        ["Database", "Nodes", "Request", "2xx (others)", "CPU ms/req", "DB ms/req",
         "p50 / p99 ms", "Response", "Peak worker PSS MB"], "lrlrrrrrr",
        ([size.database, f"{size.nodes:,}", label, outcomes(cell), cpu(cell),
          _ms(cell.database_cpu_ms),
          f"{_ms(cell.percentile_ms(0.5))} / {_ms(cell.percentile_ms(0.99))}",
          _bytes(cell.size), f"{cell.worker_pss / MB:,.0f}"]
         for size in results.sizes for label, cell in cells(size)))


def sizing_table(results: Results) -> list[str]:
    """What one core serves of nova's request, and the memory the largest answers take."""
    lines = ["| Database | Nodes | nova's candidates CPU ms | per core req/s | "
             "claims per core /s | idle worker MB | peak worker MB | largest response |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in results.sizes:
        nova = size.cells.get(nova_requests.NOVA)
        claims = size.cells.get(nova_requests.CLAIMS)
        peak = max((cell.worker_pss for _, cell in cells(size)), default=0)
        largest = max((cell.size or 0 for _, cell in cells(size)), default=0)
        lines.append(f"| {size.database} | {size.nodes:,} | {cpu(nova)} | {_per_core(nova)} | "
                     f"{_per_core(claims)} | {size.idle_worker_pss / MB:,.0f} | "
                     f"{peak / MB:,.0f} | {_bytes(largest)} |")
    return lines


def _per_core(cell: Cell | None) -> str:
    if cell is None or not cell.server_cpu_ms:
        return "-"
    rate = 1000 / cell.server_cpu_ms
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"


def wide_table(results: Results) -> list[str]:
    lines = ["| Setting | group_policy | Outcome | Seconds | Server CPU s | Candidates | "
             "Response | Peak worker PSS MB | After the client gave up |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for result in results.wide:
        lines.append(f"| {result.setting} | {result.policy} | {result.outcome} | "
                     f"{result.seconds:.1f} | {result.cpu_s:.1f} | "
                     f"{'-' if result.candidates is None else f'{result.candidates:,}'} | "
                     f"{_bytes(result.size)} | {result.worker_pss / MB:,.0f} | "
                     f"{result.afterwards or '-'} |")
    return lines


def markdown(results: Results) -> str:
    parts = ["# placedock at scale", ""]
    for paragraph in results.context:
        parts += [paragraph, ""]
    parts += ["## Seeding", "", *seeding_table(results), ""]
    parts += ["## CPU per request by size (ms) and its growth", "",
              ("Growth: the slope of log(CPU per request) against log(nodes) between each two "
               "consecutive sizes (1: linear, 0: flat, 2: quadratic)."), "",
              *summary_table(results), ""]
    parts += ["## Sizing", "", *sizing_table(results), ""]
    parts += ["## Every cell", "", *cells_table(results), ""]
    if results.wide:
        parts += ["## Wide tree", "",
                  ("One compute node with 8 children of one unit each of the same resource "
                   "class, 8 request groups of one unit (`limit=1000`). The client waits "
                   f"{wide_tree.ANSWER_TIMEOUT:g} s for a setting expected to answer, "
                   f"{results.wide_timeout:g} s for the others."), "",
                  *wide_table(results), ""]
    return "\n".join(parts)


def chart(results: Results, path: Path) -> None:
    """Log-log: CPU per request against nodes, one panel per database, one line per request;
    and the peak worker PSS against nodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    databases = results.databases
    figure, axes = plt.subplots(1, len(databases) + 1, figsize=(6 * (len(databases) + 1), 5.5))
    for axis, database in zip(axes, databases, strict=False):
        for label in labels(results):
            points = [(size.nodes, dict(cells(size)).get(label).server_cpu_ms)  # type: ignore[union-attr]
                      for size in results.of(database) if dict(cells(size)).get(label)]
            xs = [nodes for nodes, value in points if value]
            ys = [value for _, value in points if value]
            if xs:
                axis.plot(xs, ys, marker="o", label=label,
                          linestyle="--" if label.endswith(UPSTREAM) else "-")
        _log_axes(axis, f"{database}: server CPU per request", "CPU ms per request")
        axis.legend(fontsize=6)
    axis = axes[-1]
    for database in databases:
        sizes = results.of(database)
        axis.plot([s.nodes for s in sizes],
                  [max(c.worker_pss for _, c in cells(s)) / MB for s in sizes], marker="o",
                  label=f"{database}: peak worker PSS")
    _log_axes(axis, "memory of one worker", "MB")
    axis.legend(fontsize=7)
    figure.suptitle("placedock's defaults as the cloud grows (log-log; 2 cores)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _log_axes(axis: Any, title: str, ylabel: str) -> None:
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("compute nodes")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=9)
    axis.grid(True, which="both", alpha=0.3)
