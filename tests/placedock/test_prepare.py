"""placedock.prepare: the export lines startup.sh evals keep every value intact, and give a
command what the server applies to itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from placedock import environment, prepare
from placedock.prepare import shell_lines


def test_shell_lines_round_trip_through_bash() -> None:
    tricky = "pa ss'w\"ord $HOME `id` \\ ; echo pwned\nsecond line"
    script = (shell_lines({"TRICKY": tricky, "GONE": None})
              + '\nprintf %s "$TRICKY"; echo; echo "${GONE-unset}"')
    result = subprocess.run(["bash", "-c", script], env={"GONE": "x"}, capture_output=True,
                            text=True, check=True)
    assert result.stdout == f"{tricky}\nunset\n"


def test_a_command_gets_what_the_server_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    secret = tmp_path / "password"
    secret.write_text("pa$s 'word'\n")
    given = {"PATH": "/usr/bin:/bin", "OS_API__AUTH_STRATEGY": "noauth2",
             "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
             "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE": str(secret),
             "PLACEDOCK_DATA_DIR": str(tmp_path)}
    monkeypatch.setattr("os.environ", dict(given))
    applied = dict(given)
    environment.apply(environment.read(given), applied)
    script = prepare.command_shell_lines() + "\nenv -0"
    capsys.readouterr()  # the step's log line: no figure
    result = subprocess.run(["bash", "-c", script], env=given, capture_output=True, check=True)
    evaluated = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if item)
    evaluated.pop("_", None)  # bash's own
    for name in ("PWD", "SHLVL"):
        evaluated.pop(name, None)
    assert evaluated == applied
