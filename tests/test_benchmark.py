"""The benchmark, run as the README shows it: it finishes and reports every row (never timed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.configs import LIMIT
from benchmark.run import VARIANTS
from tests.support.databases import PG_BIN
from tests.support.docker_engine import DockerEngine
from tests.support.server import REPO
from tests.support.skips import require

COMMAND = ".venv/bin/python -m benchmark.run"
OUTPUTS = [REPO / "benchmark" / "results.md", REPO / "benchmark" / "chart.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = ["## Start", "## Throughput, latency and memory", "## Writes", "## Image", "## Goals"]
START_ROWS = [
    "| docker run, empty sqlite, DB_SYNC=True |",
    "| docker run, sqlite at head, DB_SYNC=True |",
    "| startup.sh natively, empty sqlite, DB_SYNC=True |",
    "| startup.sh natively, sqlite at head, DB_SYNC=True |",
    "| floor: plain uwsgi natively, sqlite at head |",
]
IMAGE_ROWS = ["| `placedock` total |", "| base `debian:bookworm-slim` |", "| added by placedock |"]
# Each configuration has a row in the throughput table and one in the writes table.
CONFIGURATIONS = [LIMIT, "original placedock (2x10)", "upstream docs (--http, 2x10)",
                  "openstack-helm (1x1)"]


@pytest.fixture
def committed_outputs(tmp_path: Path) -> Iterator[None]:
    """The results and chart in the repository are the published ones: put them back after."""
    saved = {path: tmp_path / path.name for path in OUTPUTS if path.exists()}
    for path, copy in saved.items():
        shutil.copy2(path, copy)
    yield
    for path in OUTPUTS:
        if path in saved:
            shutil.copy2(saved[path], path)
        else:
            path.unlink(missing_ok=True)


def test_the_benchmark_reports_every_row(docker_engine: DockerEngine, base_image: str,
                                         committed_outputs: None) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian package wrk)")
    require((PG_BIN / "postgres").exists() and os.geteuid() == 0,
            "PostgreSQL 15 (Debian package postgresql; tests run as root)")
    result = subprocess.run(["bash", "-c", COMMAND], cwd=REPO, capture_output=True, text=True,
                            timeout=1200, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    table = OUTPUTS[0].read_text()
    assert table.strip() in result.stdout
    lines = table.splitlines()
    assert [section for section in SECTIONS if section not in lines] == []
    missing = [row for row in START_ROWS + IMAGE_ROWS
               if not any(line.startswith(row) for line in lines)]
    assert missing == [], f"rows missing: {missing}"
    default = table.split("**placedock defaults (", 1)[1].split(")", 1)[0]
    names = [f"**placedock defaults ({default})**", *CONFIGURATIONS,
             *(f"placedock {p}x{t}" for p, t in VARIANTS if f"{p}x{t}" != default)]
    counts = {name: sum(line.startswith(f"| {name} |") for line in lines) for name in names}
    assert all(count == 2 for count in counts.values()), f"rows per configuration: {counts}"
    assert OUTPUTS[1].read_bytes().startswith(PNG_SIGNATURE)
