"""placedock.wsgi: the application uwsgi imports, loaded for real on a migrated sqlite database,
in a process of its own (placement's configuration and engine are global to a process), with a
stand-in for the uwsgi module that only exists inside uwsgi."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from placedock import database
from tests.support.server import REPO, base_environment

# Runs in the child: prepare as placedock.serve does, import placedock.wsgi as uwsgi does, then
# call the application as uwsgi's workers would, and print what was seen as JSON.
LOAD_AND_CALL = r'''
import gc, io, json, sys, types, wsgiref.util

signals = []
uwsgi = types.ModuleType("uwsgi")
uwsgi.opt = {"master-fifo": b"/nonexistent.fifo"}
uwsgi.sockets = []
uwsgi.register_signal = lambda number, target, handler: signals.append([number, target])
sys.modules["uwsgi"] = uwsgi

from placedock import prepare
prepare.prepare_server()
from placedock import database, drain, wsgi
from placement import db_api

def call(path, token="admin"):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    if token:
        environ["HTTP_X_AUTH_TOKEN"] = token
    wsgiref.util.setup_testing_defaults(environ)
    seen = {}
    def start_response(status, headers, exc_info=None):
        seen["status"] = int(status.split()[0])
    body = b"".join(wsgi.application(environ, start_response))
    return [seen["status"], body.decode()]

engine = db_api.get_placement_engine()
print(json.dumps({
    "root": call("/", token=None),
    "providers": call("/resource_providers"),
    "no_token": call("/resource_providers", token=None),
    "ready": call("/health/ready"),
    "head": wsgi.HEAD,
    "sqlite_serialised": database.event.contains(engine, "before_cursor_execute",
                                                 database._begin),
    "signals": signals,
    "stop_signal": drain.SIGNAL,
    "frozen": gc.get_freeze_count(),
}))
'''


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("wsgi")
    env = {**base_environment(), "OS_API__AUTH_STRATEGY": "noauth2", "DB_SYNC": "True",
           "PLACEDOCK_DATA_DIR": str(data)}
    result = subprocess.run([sys.executable, "-c", LOAD_AND_CALL], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_placement_answers_through_placedocks_middleware(loaded: dict) -> None:
    status, body = loaded["root"]
    assert status == 200 and json.loads(body)["versions"][0]["id"] == "v1.0"
    status, body = loaded["providers"]
    assert status == 200 and json.loads(body) == {"resource_providers": []}
    assert loaded["no_token"][0] == 401  # noauth2 still wants a token


def test_readiness_is_the_databases_at_this_releases_head(loaded: dict) -> None:
    status, body = loaded["ready"]
    assert status == 200, body
    assert loaded["head"] == database.head()


def test_placements_sqlite_transactions_are_serialised(loaded: dict) -> None:
    assert loaded["sqlite_serialised"] is True


def test_the_stop_handler_is_registered_for_the_first_mule(loaded: dict) -> None:
    """Never a worker: every worker may be busy for as long as the request timeout."""
    assert loaded["signals"] == [[loaded["stop_signal"], "mule1"]]


def test_what_the_master_loaded_is_frozen_out_of_the_garbage_collector(loaded: dict) -> None:
    """Placement and its libraries: hundreds of thousands of objects the workers share."""
    print(f"objects frozen: {loaded['frozen']:,}")
    assert loaded["frozen"] > 100_000
