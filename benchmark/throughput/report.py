"""The results as Markdown tables (printed and written to results.md) and a bar chart (PNG)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.support.tables import markdown_table
from benchmark.throughput import balancer, batches, configs, starts
from benchmark.throughput.configs import IMAGE_LIMIT, IMAGE_ROW, LIMIT, PLACEDOCK, default_workers
from benchmark.throughput.measure import WRITES
from benchmark.throughput.repeats import Row, Spread
from benchmark.throughput.starts import StartTime

MB = 1e6
# The goals: CPU per request is what they are judged by, not requests per second.
# The rows measured in closed batches too: each pair on one Python (benchmark.throughput.batches).
# The CPU goal's pairs, and 2 x 2 beside the defaults: what a second thread costs per request.
THREADED = "placedock 2x2"
BATCH_ROWS = [IMAGE_ROW, IMAGE_LIMIT, PLACEDOCK, THREADED, LIMIT]
GOAL_CANDIDATES_CPU_VS_LIMIT = 1.10
GOAL_ROOT_RATE_VS_LIMIT = 0.80
GOAL_CANDIDATES_PSS_MB = 150
GOAL_START_VS_FLOOR = 1.05
GOAL_IMAGE_ADDED_MB = 100
GOAL_METRICS_COST = 0.03


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
    images: list[Image] = field(default_factory=list)  # the default base's first
    rows: list[Row] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)  # the reads; WRITES comes last
    behind_apache: list[balancer.Outcome] = field(default_factory=list)
    behind_apache_method: str = ""

    def row(self, name: str) -> Row:
        return next(row for row in self.rows if row.config.name == name)

    def start(self, label: str) -> StartTime | None:
        return next((row for row in self.starts if row.label == label), None)


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _whole(value: float) -> str:
    return f"{value:.0f}"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _spread(spread: Spread, show: Callable[[float], str] = _rate) -> str:
    """median (min-max); the range is left out when there was one run."""
    if len(spread.values) < 2:
        return show(spread.median)
    return f"{show(spread.median)} ({show(spread.low)}-{show(spread.high)})"


def _name(row: Row) -> str:
    if row.config.name == PLACEDOCK:
        return f"**placedock defaults ({row.workers or default_workers()})**"
    return row.config.name


def _conditions(row: Row, labels: list[str]) -> str:
    """The highest load average, and the most CPU others took and the hypervisor stole."""
    points = [point for label in labels for point in row.points(label)]
    return (f"{max(point.load for point in points):.1f} / "
            f"{max(point.others for point in points):.0%} / "
            f"{max(point.stolen for point in points):.0%}")


def interference(results: Results) -> str:
    """One line on how much other programs disturbed the measurements."""
    points = [point for row in results.rows for label in [*results.endpoints, WRITES]
              for point in row.points(label)]
    mean = sum(point.others for point in points) / len(points)
    worst = max(point.others for point in points)
    verdict = ("quiet enough" if worst < 0.05 else
               "DISTURBED: requests per second are not comparable; CPU per request still is")
    return (f"Other programs (and the hypervisor) took {mean:.1%} of the CPU on average during "
            f"the measured points, {worst:.0%} at most: {verdict}.")


def starts_table(rows: list[StartTime]) -> list[str]:
    lines = ["| Start (to the first 200 on `/`) | Median s | Runs s | placedock's own steps s |",
             "| --- | ---: | --- | ---: |"]
    for row in rows:
        runs = ", ".join(f"{value:.2f}" for value in row.seconds)
        steps = f"{statistics.median(row.steps):.2f}" if row.steps else ""
        lines.append(f"| {row.label} | {row.median:.2f} | {runs} | {steps} |")
    return lines


def throughput_table(results: Results) -> list[str]:
    header = "| Configuration |"
    rule = "| --- |"
    for endpoint in results.endpoints:
        header += f" {endpoint} req/s | CPU ms/req | p50 / p99 ms |"
        rule += " ---: | ---: | ---: |"
    lines = [header + " PSS idle / candidates MB | Load / others / stolen |",
             rule + " ---: | ---: |"]
    candidates = results.endpoints[-1]
    for row in results.rows:
        cells = [_name(row)]
        for endpoint in results.endpoints:
            errors = row.errors(endpoint)
            cells.append(_spread(row.rate(endpoint)) + (f", {errors} errors" if errors else ""))
            cells.append(_spread(row.cpu_per_request(endpoint), _ms))
            cells.append(f"{row.p50(endpoint).median:.0f} / {row.p99(endpoint).median:.0f}")
        cells.append(f"{row.idle_pss().median / MB:.0f} / "
                     f"{row.pss_during(candidates).median / MB:.0f}")
        cells.append(_conditions(row, results.endpoints))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def writes_table(results: Results) -> list[str]:
    return markdown_table(
        ["Configuration", "PUT /allocations/{new consumer}: allocations/s", "CPU ms/req",
         "p50 / p99 ms", "Errors", "Load / others / stolen"], "lrrrrr",
        ([_name(row), _spread(row.rate(WRITES)), _spread(row.cpu_per_request(WRITES), _ms),
          f"{row.p50(WRITES).median:.0f} / {row.p99(WRITES).median:.0f}",
          str(row.errors(WRITES)), _conditions(row, [WRITES])] for row in results.rows))


def spread_table(results: Results) -> list[str]:
    """How far apart the repeats landed, per request type: req/s against CPU per request."""
    lines = ["| Request | req/s spread: median / worst | CPU/req spread: median / worst |",
             "| --- | ---: | ---: |"]
    if max(len(row.runs) for row in results.rows) < 2:
        return [*lines, *(f"| {label} | one run | one run |"
                          for label in [*results.endpoints, WRITES])]
    for label in [*results.endpoints, WRITES]:
        rates = [row.rate(label).relative for row in results.rows]
        cpus = [row.cpu_per_request(label).relative for row in results.rows]
        lines.append(f"| {label} | {statistics.median(rates):.0%} / {max(rates):.0%} | "
                     f"{statistics.median(cpus):.0%} / {max(cpus):.0%} |")
    return lines


def image_table(images: list[Image]) -> list[str]:
    lines = ["| Image | Total MB | Base | Base MB | Added by placedock MB |",
             "| --- | ---: | --- | ---: | ---: |"]
    for image in images:
        lines.append(f"| `{image.name}` | {image.size / MB:.1f} | `{image.base_name}` | "
                     f"{image.base_size / MB:.1f} | {image.added / MB:.1f} |")
    return lines


def goals(results: Results) -> list[str]:
    """The issue's targets, each with the measured figure and whether it is met."""
    placedock = results.row(PLACEDOCK)
    # Like with like: the image against the limit in the same image (the same Python); the
    # native rows run on the benchmark's own Python, whatever that is.
    image, image_limit = results.row(IMAGE_ROW), results.row(IMAGE_LIMIT)
    candidates = results.endpoints[-1]
    root = results.endpoints[0]
    lines = [_cpu_vs_limit(image, image_limit, candidates),
             _rate_vs_limit(image, image_limit, root),
             _pss_under_candidates(image, placedock, candidates)]
    lines += _start_goals(results)
    if results.images:
        image = results.images[0]
        added = image.added / MB
        lines.append(_goal(added <= GOAL_IMAGE_ADDED_MB, f"image: {added:.0f} MB added over "
                           f"{image.base_name} (goal: at most {GOAL_IMAGE_ADDED_MB} MB)"))
    metrics_off = results.row(f"placedock {default_workers()}, metrics off")
    lines.append(_metrics_cost(placedock, metrics_off, [root, candidates]))
    return lines


def _cpu_vs_limit(placedock: Row, limit: Row, label: str) -> str:
    """Judged on the closed batches (no request cut by a window's edge)."""
    ours, best = placedock.batch_cpu().median, limit.batch_cpu().median
    ratio = ours / best if best else float("inf")
    return _goal(ratio <= GOAL_CANDIDATES_CPU_VS_LIMIT,
                 f"{label}: placedock's CPU per request in its image {ours:.1f} ms, {ratio:.2f}x "
                 f"the in-process limit's in the same image {best:.1f} ms, closed batches "
                 f"(goal: at most {GOAL_CANDIDATES_CPU_VS_LIMIT:.2f}x)")


def batch_table(results: Results) -> list[str]:
    lines = ["| Configuration | CPU ms per request | Requests | Failed |",
             "| --- | ---: | ---: | ---: |"]
    measured = {row.config.name for row in results.rows}
    for name in (name for name in BATCH_ROWS if name in measured):  # 2x2 may be the defaults
        row = results.row(name)
        failed = sum(run.batch.failed for run in row.runs if run.batch)
        lines.append(f"| {_name(row)} | {_spread(row.batch_cpu(), _ms)} | "
                     f"{row.batch_requests()} | {failed} |")
    return lines


def _rate_vs_limit(placedock: Row, limit: Row, label: str) -> str:
    """Judged on req/s, as the goal says; beside it the same on CPU per request, because the
    limit has both cores to itself and the server shares them with wrk."""
    ours, best = placedock.rate(label).median, limit.rate(label).median
    share = ours / best if best else 0.0
    cpu, limit_cpu = placedock.cpu_per_request(label).median, limit.cpu_per_request(label).median
    return _goal(share >= GOAL_ROOT_RATE_VS_LIMIT,
                 f"{label}: placedock in its image {_rate(ours)} req/s, {share:.0%} of the "
                 f"in-process limit's in the same image {_rate(best)} (goal: at least "
                 f"{GOAL_ROOT_RATE_VS_LIMIT:.0%}); per core of CPU, {cpu:.2f} ms per request "
                 f"against the limit's {limit_cpu:.2f} ms: "
                 f"{limit_cpu / cpu if cpu else 0.0:.0%} of its rate, with wrk on the same cores")


def _pss_under_candidates(image: Row, native: Row, label: str) -> str:
    """Judged on the image, what ships; the native server (the benchmark's own Python) beside."""
    pss = image.pss_during(label)
    return _goal(pss.median / MB <= GOAL_CANDIDATES_PSS_MB,
                 f"placedock's image ({image.workers or default_workers()}) total PSS under "
                 f"{label} load: {_spread(Spread(tuple(v / MB for v in pss.values)), _whole)} MB, "
                 f"idle {image.idle_pss().median / MB:.0f} MB; natively "
                 f"{native.pss_during(label).median / MB:.0f} MB, idle "
                 f"{native.idle_pss().median / MB:.0f} MB (goal: at most "
                 f"{GOAL_CANDIDATES_PSS_MB} MB)")


def _start_goals(results: Results) -> list[str]:
    """startup.sh within 5% of plain uwsgi; docker run within that plus the engine's own cost."""
    floor = results.start(starts.FLOOR)
    native = results.start(starts.NATIVE_EMPTY)
    docker_run = results.start(starts.DOCKER_EMPTY)
    engine = results.start(starts.NO_OP)
    if not (floor and native and docker_run and engine):
        return []
    allowed = GOAL_START_VS_FLOOR * floor.median
    return [
        _goal(native.median <= allowed,
              f"{native.label}: {native.median:.2f} s, {native.median / floor.median:.2f}x the "
              f"floor's {floor.median:.2f} s, of which placedock's own steps (environment, "
              f"database, migrating the schema) {statistics.median(native.steps or [0]):.2f} s "
              f"(goal: at most {GOAL_START_VS_FLOOR:.2f}x, {allowed:.2f} s)"),
        _goal(docker_run.median <= allowed + engine.median,
              f"{docker_run.label}: {docker_run.median:.2f} s (goal: at most {allowed:.2f} s + "
              f"the engine's {engine.median:.2f} s for a no-op container = "
              f"{allowed + engine.median:.2f} s)"),
    ]


def _metrics_cost(placedock: Row, metrics_off: Row, labels: list[str]) -> str:
    """What serving metrics adds to each request's CPU, against the same server without."""
    costs = {label: placedock.cpu_per_request(label).median
             / metrics_off.cpu_per_request(label).median - 1 for label in labels}
    text = ", ".join(f"{label} {cost:+.1%}" for label, cost in costs.items())
    return _goal(all(cost < GOAL_METRICS_COST for cost in costs.values()),
                 f"metrics' CPU per request (defaults against PLACEDOCK_METRICS_PORT=0): {text} "
                 f"(goal: under {GOAL_METRICS_COST:.0%})")


def _goal(met: bool, text: str) -> str:
    return f"- {'met' if met else 'NOT MET'}: {text}"


def markdown(results: Results) -> str:
    parts = ["# placedock benchmark", ""]
    for paragraph in [*results.context, interference(results)]:
        parts += [paragraph, ""]
    if results.starts:
        parts += ["## Start", "", *starts_table(results.starts), ""]
    parts += ["## Throughput, CPU per request, latency and memory", "",
              *throughput_table(results), ""]
    parts += ["## CPU per allocation-candidates request, closed batches", "",
              (f"{batches.CLIENTS} clients x {batches.EACH} requests against a server idle "
               "before and after (the limit: its workers looping "
               f"{batches.LIMIT_S:g} s), after the reads above in the same start; each pair on "
               "one Python: the image and the limit in it (Python 3.13), the native servers (the "
               "defaults and 2 x 2) and the native limit (the benchmark's own Python)."), "",
              *batch_table(results), ""]
    parts += ["## Writes", "", *writes_table(results), ""]
    parts += ["## Spread across the repeats", "",
              ("(max - min) / median of each configuration's runs; the median and the worst "
               "configuration:"), "", *spread_table(results), ""]
    if results.behind_apache:
        parts += ["## Keep-alive behind Apache's balancer", "", results.behind_apache_method, "",
                  *balancer.table(results.behind_apache), ""]
    if results.images:
        parts += ["## Image", "", *image_table(results.images), ""]
    parts += ["## Goals", "", *goals(results), ""]
    return "\n".join(parts)


def chart(results: Results, path: Path) -> None:
    """CPU per request (top, with the range of the runs) and requests per second (bottom), one
    panel per request type, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels = [*results.endpoints, WRITES]
    names = [_name(row).strip("*") for row in results.rows]
    colours = [COLOURS[row.config.kind] for row in results.rows]
    figure, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 0.9 * len(names) + 3),
                                sharey=True)
    for column, title in enumerate(panels):
        cpu = [row.cpu_per_request(title) for row in results.rows]
        _bars(axes[0][column], [s.median for s in cpu], colours,
              ([s.median - s.low for s in cpu], [s.high - s.median for s in cpu]), _ms)
        axes[0][column].set_title(f"{title} (writes)" if title == WRITES else title, fontsize=9)
        axes[0][column].set_xlabel("server CPU ms per request (lower is better)")
        rates = [row.rate(title) for row in results.rows]
        _bars(axes[1][column], [s.median for s in rates], colours,
              ([s.median - s.low for s in rates], [s.high - s.median for s in rates]), _rate)
        axes[1][column].set_xlabel("requests/s")
    for axis in (axes[0][0], axes[1][0]):
        axis.set_yticks(range(len(names)), names, fontsize=8)
    axes[0][0].invert_yaxis()  # every panel shares this axis: once turns them all
    figure.suptitle("placedock against the in-process limit and peer uwsgi configurations "
                    "(median and range of the runs; 2 cores)", fontsize=10)
    kinds = [kind for kind in configs.KINDS if kind in {row.config.kind for row in results.rows}]
    figure.legend(handles=[Patch(color=COLOURS[kind], label=kind) for kind in kinds],
                  loc="lower center", ncol=len(kinds), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _bars(axis: Any, values: list[float], colours: list[str],
          errors: tuple[list[float], list[float]], show: Callable[[float], str]) -> None:
    bars = axis.barh(range(len(values)), values, color=colours, xerr=errors, capsize=2)
    axis.bar_label(bars, labels=[show(v) if v else "" for v in values], padding=4, fontsize=7)
    axis.margins(x=0.3)


COLOURS = {configs.DEFAULTS: "#1f77b4", configs.VARIANT: "#9ecae1", configs.IMAGE: "#2ca02c",
           configs.LIMIT_KIND: "#7f7f7f", configs.PEER: "#ff7f0e"}
