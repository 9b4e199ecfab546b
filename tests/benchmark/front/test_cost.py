"""benchmark.front.cost in a quick form: every request has its row in both tables (CPU a request,
one connection's latency), each way a figure, the direct way's ratio, nginx's share, and the PSS
line (whether the goals are met is the benchmark's figure, benchmark/front/front_cost.md, not
this test's)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.support.server import run_in_checkout
from tests.support.skips import require

COMMAND = ".venv/bin/python -m benchmark.front.cost"  # the README's, with quick options
TLS_COMMAND = ".venv/bin/python -m benchmark.front.cost --tls"  # docs/performance.md's


def test_the_quick_run_measures_every_request_every_way(tmp_path: Path) -> None:
    require(shutil.which("wrk") is not None, "wrk (Debian package wrk)")
    output = tmp_path / "front.md"
    result = run_in_checkout(f"{COMMAND} --seconds 1 --rounds 1 --output {output}", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = output.read_text()
    tables = [table.strip().splitlines() for table in re.findall(r"(?:^\|.*\n)+", text, re.M)]
    assert len(tables) == 2, text  # CPU a request, then one connection's latency
    for table in tables:
        rows = {cells[0]: cells[1:] for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in table if "---" not in line)}
        print(" / ".join(f"{name}: {' '.join(cells)}" for name, cells in rows.items()))
        assert set(rows) == {"request", "GET /", "GET /resource_providers",
                             "nova's allocation candidates"}
        for name, cells in rows.items():
            if name == "request":
                continue
            figures = [float(cell.split()[0]) for cell in cells]
            assert len(figures) == 3 and all(figure > 0 for figure in figures), (name, cells)
            assert all(re.search(r"\([+-]\d+%\)$", cell) for cell in cells[:2]), cells
    nginx = re.search(r"Of that, nginx's own CPU a request .*: GET / (\d+\.\d+) ms, ", text)
    assert nginx and float(nginx.group(1)) > 0, text
    assert re.search(r"Total PSS .*: \d+ MB idle, \d+ MB under allocation-candidates load .*, "
                     r"\d+ MB at the peak", text), text


def test_the_quick_tls_run_measures_the_handshake(tmp_path: Path) -> None:
    """--tls: the front over HTTPS, both ways, and a handshake's CPU from their difference."""
    require(shutil.which("wrk") is not None, "wrk (Debian package wrk)")
    output = tmp_path / "front-tls.md"
    result = run_in_checkout(f"{TLS_COMMAND} --seconds 1 --rounds 1 --output {output}",
                             timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = output.read_text()
    assert "| request | front over TLS, keep-alive | front over TLS, a connection each |" in text
    handshake = re.search(r"A TLS handshake .*: (\d+\.\d+) ms of server CPU", text)
    print(f"TLS handshake, quick run: {handshake and handshake.group(1)} ms of CPU")
    assert handshake and float(handshake.group(1)) > 0, text


def test_a_bad_option_is_one_line_and_exit_1() -> None:
    result = run_in_checkout(f"{COMMAND} --rounds 0", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["--rounds and --seconds: give positive numbers"]
