"""placedock.prepare: the export lines startup.sh evals keep every value intact."""

from __future__ import annotations

import subprocess

from placedock.prepare import shell_lines


def test_shell_lines_round_trip_through_bash() -> None:
    tricky = "pa ss'w\"ord $HOME `id` \\ ; echo pwned\nsecond line"
    script = shell_lines({"TRICKY": tricky, "GONE": None}) + '\nprintf %s "$TRICKY"; echo; echo "${GONE-unset}"'
    result = subprocess.run(["bash", "-c", script], env={"GONE": "x"}, capture_output=True,
                            text=True, check=True)
    assert result.stdout == f"{tricky}\nunset\n"
