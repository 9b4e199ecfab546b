"""placedock.serve: uwsgi's command line (the ini, the caller's flags, the front, and what the
environment asks for: the metrics mule, JSON logs), and a start that stops before uwsgi on a bad
environment."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from placedock import environment, front, logs, metrics, prepare, serve
from tests.support.server import REPO, base_environment


def settings(tmp_path: Path) -> environment.Settings:
    return environment.read({"OS_API__AUTH_STRATEGY": "noauth2",
                             "PLACEDOCK_DATA_DIR": str(tmp_path), "PLACEDOCK_PORT": "8080",
                             "PLACEDOCK_STATS_SOCKET": str(tmp_path / "stats"),
                             "PLACEDOCK_REQUEST_TIMEOUT": "30"}).settings


def front_options(tmp_path: Path) -> list[str]:
    config = front.folder(str(tmp_path / "stats")) / "nginx.conf"
    return [f"--socket={tmp_path / 'stats'}.uwsgi", "--chmod-socket=600",
            f"--listen={front.queue_length()}",
            f"--attach-control-daemon=exec {front.nginx_binary()} -e stderr -c {config}",
            "--harakiri=31"]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither metrics nor JSON logs; what serve changes in os.environ is put back after."""
    for name in (metrics.PORT_VARIABLE, logs.FORMAT_VARIABLE, "PLACEDOCK_STATS_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(metrics.DIRECTORY_VARIABLE, "")
    return monkeypatch


def test_nothing_asked_for_adds_the_front_alone(environ: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    assert serve.ready_uwsgi_features(settings(tmp_path)) == front_options(tmp_path)
    config = front.folder(str(tmp_path / "stats")) / "nginx.conf"
    assert "listen 0.0.0.0:8080 " in config.read_text()


def test_metrics_add_the_mule_and_an_empty_folder_for_the_counts(
        environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    left_over = Path(metrics.directory(str(stats)))
    left_over.mkdir()
    (left_over / "counter_123.db").write_bytes(b"an earlier run's counts")
    environ.setenv(metrics.PORT_VARIABLE, "9180")
    environ.setenv("PLACEDOCK_STATS_SOCKET", str(stats))
    assert serve.ready_uwsgi_features(settings(tmp_path)) == [
        *front_options(tmp_path), "--mule=placedock.metrics:serve"]
    assert left_over.is_dir() and list(left_over.iterdir()) == []
    assert os.environ[metrics.DIRECTORY_VARIABLE] == str(left_over)


def test_json_logs_add_uwsgis_log_master_and_encoders(environ: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    started: list[bool] = []
    # The real one redirects this process's stderr: what it does is tests/placedock/test_logs.py's.
    environ.setattr(logs, "start_json_output", lambda: started.append(True))
    environ.setenv(logs.FORMAT_VARIABLE, "json")
    assert serve.ready_uwsgi_features(settings(tmp_path)) == [
        *front_options(tmp_path), "--log-master", f"--log-encoder={logs.UWSGI_ENCODER}",
        "--log-encoder=nl"]
    assert started == [True]


def test_uwsgi_gets_the_callers_arguments_then_what_the_environment_adds(
        environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ran: list[tuple[str, ...]] = []
    environ.setitem(sys.modules, "pyuwsgi", types.SimpleNamespace(run=lambda *a: ran.append(a)))
    environ.setattr(prepare, "prepare_server", lambda: settings(tmp_path))
    environ.setattr(sys, "argv", list(sys.argv))
    environ.setenv(metrics.PORT_VARIABLE, "9180")
    environ.setenv("PLACEDOCK_STATS_SOCKET", str(tmp_path / "stats"))
    assert serve.main(["serve.py", "--ini", "placement-uwsgi.ini", "--processes", "3"]) == 0
    expected = ("--ini", "placement-uwsgi.ini", "--processes", "3", *front_options(tmp_path),
                "--mule=placedock.metrics:serve")
    assert ran == [expected]
    assert sys.argv == ["uwsgi", *expected]  # what uwsgi shows, and re-executes on reload


@pytest.mark.parametrize(("setting", "said"), [
    ({"OS_API__AUTH_STRATEGGY": "noauth2"}, "OS_API__AUTH_STRATEGGY"),
    ({"OS_PLACEMENT_DATABASE__CONNECTION": "sqlite:////dev/null/no/placement.sqlite"},
     "cannot create '/dev/null/no'"),
])
def test_a_bad_start_is_one_line_and_exit_1_before_uwsgi(
        tmp_path: Path, setting: dict[str, str], said: str) -> None:
    env = {**base_environment(), "OS_API__AUTH_STRATEGY": "noauth2",
           "PLACEDOCK_DATA_DIR": str(tmp_path), **setting}
    result = subprocess.run([sys.executable, "-m", "placedock.serve", "--ini", "/nonexistent.ini"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and said in errors[0], result.stderr
    assert "uWSGI" not in result.stdout + result.stderr
