"""The results as Markdown tables (printed and written to results.md) and a bar chart (PNG)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.configs import LIMIT, PLACEDOCK
from benchmark.starts import StartTime
from benchmark.throughput import WRITES, Measured
from benchmark.wrk import LoadResult

MB = 1e6
GOAL_LIMIT_SHARE = 0.90
GOAL_COLD_START_S = 2.0
GOAL_PSS_MB = 200
GOAL_IMAGE_ADDED_MB = 120


@dataclass
class Image:
    name: str
    size: int
    base_name: str
    base_size: int

    @property
    def added(self) -> int:
        return self.size - self.base_size


@dataclass
class Results:
    context: list[str]  # lines describing the machine and the method
    starts: list[StartTime] = field(default_factory=list)
    image: Image | None = None
    measured: list[Measured] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)  # the reads; WRITES comes last

    def row(self, name: str) -> Measured:
        return next(m for m in self.measured if m.config.name == name)


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x" if reference else "-"


def _busy(points: list[LoadResult]) -> str:
    """The least busy point's share of the cores, and the most other programs took."""
    return (f"{min(point.cpu_busy for point in points):.0%} "
            f"({max(point.others for point in points):.0%})")


def interference(results: Results) -> str:
    """One line on how much other programs disturbed the measurements."""
    points = [point for measured in results.measured for point in measured.results.values()]
    mean = sum(point.others for point in points) / len(points)
    worst = max(points, key=lambda point: point.others).others
    verdict = "quiet enough" if worst < 0.05 else "DISTURBED: re-run on a quieter machine"
    return (f"Other programs (and the hypervisor) took {mean:.1%} of the CPU on average during "
            f"the measured points, {worst:.0%} at most: {verdict}.")


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def starts_table(starts: list[StartTime]) -> list[str]:
    lines = ["| Start (to the first 200 on `/`) | Median s | Runs s |", "| --- | ---: | --- |"]
    for row in starts:
        runs = ", ".join(f"{value:.2f}" for value in row.seconds)
        lines.append(f"| {row.label} | {row.median:.2f} | {runs} |")
    return lines


def throughput_table(results: Results) -> list[str]:
    reference = results.row(PLACEDOCK)
    header = "| Configuration |"
    rule = "| --- |"
    for endpoint in results.endpoints:
        header += f" {endpoint} req/s (x placedock) | p50 / p99 ms |"
        rule += " ---: | ---: |"
    lines = [header + " PSS idle / load MB | Cores busy (others) |", rule + " ---: | ---: |"]
    for measured in results.measured:
        cells = [_name(measured)]
        for endpoint in results.endpoints:
            result = measured.results[endpoint]
            errors = f", {result.errors} errors" if result.errors else ""
            cells.append(f"{_rate(result.rate)} ({_ratio(result.rate, reference.results[endpoint].rate)}"
                         f"{errors})")
            cells.append(f"{result.p50_ms:.0f} / {result.p99_ms:.0f}")
        points = [measured.results[endpoint] for endpoint in results.endpoints]
        cells.append(f"{measured.idle_pss / MB:.0f} / {measured.load_pss / MB:.0f}")
        cells.append(_busy(points))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _name(measured: Measured) -> str:
    if measured.config.name == PLACEDOCK and measured.workers:
        return f"**placedock defaults ({measured.workers})**"
    return measured.config.name


def writes_table(results: Results) -> list[str]:
    reference = results.row(PLACEDOCK).results[WRITES].rate
    lines = [("| Configuration | PUT /allocations/{new consumer}: allocations/s (x placedock) | "
              "p50 / p99 ms | Errors | Cores busy (others) |"), "| --- | ---: | ---: | ---: | ---: |"]
    for measured in results.measured:
        result = measured.results[WRITES]
        lines.append(f"| {_name(measured)} | {_rate(result.rate)} ({_ratio(result.rate, reference)})"
                     f" | {result.p50_ms:.0f} / {result.p99_ms:.0f} | {result.errors} | "
                     f"{_busy([result])} |")
    return lines


def image_table(image: Image) -> list[str]:
    return ["| Image | MB |", "| --- | ---: |",
            f"| `{image.name}` total | {image.size / MB:.1f} |",
            f"| base `{image.base_name}` | {image.base_size / MB:.1f} |",
            f"| added by placedock | {image.added / MB:.1f} |"]


def goals(results: Results) -> list[str]:
    """The issue's targets, each with the measured value and whether it is met."""
    lines: list[str] = []
    placedock = results.row(PLACEDOCK)
    candidates = results.endpoints[-1]
    limit = results.row(LIMIT).results[candidates].rate
    share = placedock.results[candidates].rate / limit
    lines.append(_goal(share >= GOAL_LIMIT_SHARE, f"{candidates}: placedock at {share:.0%} of "
                       f"the in-process limit (goal: {GOAL_LIMIT_SHARE:.0%} or more)"))
    peers = [m for m in results.measured if not m.config.name.startswith(PLACEDOCK)
             and m.config.name != LIMIT]
    best_peer = max(peers, key=lambda m: m.results[candidates].rate)
    ahead = placedock.results[candidates].rate > best_peer.results[candidates].rate
    lines.append(_goal(ahead, f"{candidates}: placedock ahead of every peer configuration "
                       f"(best peer: {best_peer.config.name}, "
                       f"{_ratio(best_peer.results[candidates].rate, placedock.results[candidates].rate)})"))
    if results.starts:
        cold = results.starts[0]
        lines.append(_goal(cold.median < GOAL_COLD_START_S, f"{cold.label}: {cold.median:.2f} s "
                           f"(goal: under {GOAL_COLD_START_S:.0f} s)"))
    pss = max(placedock.idle_pss, placedock.load_pss) / MB
    before = placedock.pss_after.get(results.endpoints[-2], 0) / MB
    lines.append(_goal(pss < GOAL_PSS_MB, f"placedock ({placedock.workers}) total PSS: idle "
                       f"{placedock.idle_pss / MB:.0f} MB, {before:.0f} MB after "
                       f"{results.endpoints[-2]}, {pss:.0f} MB at the peak of all the reads "
                       f"(goal: under {GOAL_PSS_MB} MB)"))
    if results.image:
        added = results.image.added / MB
        lines.append(_goal(added < GOAL_IMAGE_ADDED_MB, f"image: {added:.0f} MB added over "
                           f"its base (goal: under {GOAL_IMAGE_ADDED_MB} MB)"))
    return lines


def _goal(met: bool, text: str) -> str:
    return f"- {'met' if met else 'NOT MET'}: {text}"


def markdown(results: Results) -> str:
    parts = ["# placedock benchmark", ""]
    for paragraph in [*results.context, interference(results)]:
        parts += [paragraph, ""]
    if results.starts:
        parts += ["## Start", "", *starts_table(results.starts), ""]
    parts += ["## Throughput, latency and memory", "", *throughput_table(results), ""]
    parts += ["## Writes", "", *writes_table(results), ""]
    if results.image:
        parts += ["## Image", "", *image_table(results.image), ""]
    parts += ["## Goals", "", *goals(results), ""]
    return "\n".join(parts)


def chart(results: Results, path: Path) -> None:
    """Requests per second per endpoint (one panel each) and configuration; writes last."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*results.endpoints, WRITES]
    names = [_name(m).strip("*") for m in results.measured]
    colours = [_colour(m.config.name) for m in results.measured]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.45 * len(names) + 2),
                                sharey=True)
    for axis, title in zip(axes, panels, strict=True):
        values = [m.results[title].rate for m in results.measured]
        bars = axis.barh(range(len(names)), values, color=colours)
        axis.bar_label(bars, labels=[_rate(v) if v else "" for v in values], padding=2,
                       fontsize=8)
        axis.set_title(f"{title} (writes)" if title == WRITES else title, fontsize=9)
        axis.set_xlabel("requests/s")
        axis.margins(x=0.25)
    axes[0].set_yticks(range(len(names)), names, fontsize=8)
    axes[0].invert_yaxis()
    figure.suptitle("placedock vs the in-process limit and peer uwsgi configurations "
                    "(1,000 providers, PostgreSQL, 2 cores)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _colour(name: str) -> str:
    if name == PLACEDOCK:
        return "#1f77b4"
    if name.startswith(PLACEDOCK):
        return "#9ecae1"
    return "#7f7f7f" if name == LIMIT else "#ff7f0e"
