"""benchmark.front.hostile_clients in a quick form: its baseline probe is all answered, and with two
slow-header connections open (which stopped uwsgi's own http-socket for everyone) at least 99%
of the probe's requests are still answered within 1 s. The other phases' figures are the
benchmark's (benchmark/front/hostile_clients.md); tests/test_front.py holds slow, idle and slow-body
clients to the same rule."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import run_in_checkout

COMMAND = ".venv/bin/python -m benchmark.front.hostile_clients"  # the README's, with quick options


def test_the_quick_run_probes_each_phase_and_writes_its_table(tmp_path: Path) -> None:
    output = tmp_path / "hostile.md"
    result = run_in_checkout(f"{COMMAND} --seconds 3 --phases baseline,slow-headers-2 "
                             f"--output {output}", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {cells[0]: cells for cells in (
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in output.read_text().splitlines() if line.startswith("| "))}
    print(" / ".join(" ".join(rows[name]) for name in ("baseline", "slow-headers-2")))
    baseline, slow = rows["baseline"], rows["slow-headers-2"]
    assert int(baseline[2]) >= 20 and baseline[3] == "100.0%" and baseline[5] == "met", baseline
    assert slow[1] == "2" and int(slow[2]) >= 20, slow  # both opened; the probe was counted
    assert float(slow[3].rstrip("%")) >= 99.0 and slow[5] == "met", slow


def test_an_unknown_phase_is_one_line_and_exit_1() -> None:
    result = run_in_checkout(f"{COMMAND} --phases slow-headers-3", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "--phases: unknown phase in 'slow-headers-3'; known: baseline, slow-headers-2, "
        "slow-headers-64, slow-headers-1024, slow-bodies-64, idle-10000"]
