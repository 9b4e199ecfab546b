"""benchmark.scale.capacity in a quick form: it registers the nodes through nova's own client,
climbs its ladder of boot rates, measures the server's CPU, and writes its tables."""

from __future__ import annotations

from pathlib import Path

from tests.support.nova import ensure_nova_venv
from tests.support.server import run_in_checkout

COMMAND = ".venv/bin/python -m benchmark.scale.capacity"  # the README's, with quick options


def test_the_quick_capacity_run_climbs_the_ladder_and_writes_its_tables(tmp_path: Path) -> None:
    ensure_nova_venv()
    output = tmp_path / "capacity.md"
    result = run_in_checkout(f"{COMMAND} --sizes 10 --rates 60,600 --window 4 "
                             f"--databases sqlite --output {output}", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = output.read_text()
    print(result.stdout.strip().splitlines()[2])  # a rung's line: the figures
    rows = [line for line in table.splitlines() if line.startswith("| sqlite | 10 |")]
    assert len(rows) == 3, table  # two rungs, and the capacity line
    for rung in rows[:2]:
        cells = [cell.strip() for cell in rung.strip("|").split("|")]
        boots, failed, server_errors, cpu_ms = int(cells[4]), cells[6], cells[7], float(cells[10])
        assert boots > 0 and failed == "0" and server_errors == "0", rung
        assert cpu_ms > 0, rung  # the server's CPU was measured
    assert rows[2].endswith("| 600 |"), rows[2]
