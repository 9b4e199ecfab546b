"""The database goes away under load and comes back: placedock answers 503 with Retry-After
meanwhile (never a 500, never a hang), says it is not ready, and serves again at once after."""

from __future__ import annotations

import collections
import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests.support.databases import MariaDBServer, PostgreSQLServer
from tests.support.http import get
from tests.support.load import Load
from tests.support.network import free_port
from tests.support.server import QUICK_START, Server

OUTAGE_S = 6
ANSWER_WITHIN_S = 5  # "answered within a few seconds" during the outage
HEADERS = {"x-auth-token": "admin", "OpenStack-API-Version": "placement 1.39",
           "Content-Type": "application/json"}


def create_provider(url: str) -> str:
    import urllib.request

    name = f"before-outage-{uuid.uuid4().hex[:8]}"
    request = urllib.request.Request(url + "/resource_providers", method="POST", headers=HEADERS,
                                     data=json.dumps({"name": name}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return name


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_database_outage_under_load(kind: str, trial: int, request: pytest.FixtureRequest,
                                    tmp_path: Path) -> None:
    database: PostgreSQLServer | MariaDBServer = request.getfixturevalue(f"{kind}_server")
    url: str = request.getfixturevalue(f"{kind}_url")
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    # The last trial logs JSON: its lines must parse and hold no secret, failures included.
    log_format = "json" if trial == 2 else "text"
    server = Server(tmp_path, free_port(), {**QUICK_START,
                                            "OS_PLACEMENT_DATABASE__CONNECTION": url,
                                            "PLACEDOCK_LOG_FORMAT": log_format})
    server.start().wait_ready()
    try:
        kept = create_provider(server.url)
        pids = [server.pid, *server.worker_pids()]
        with Load(server.url + "/resource_providers", clients=6, timeout=ANSWER_WITHIN_S) as load:
            load.wait_for("200", 30)
            cut = time.monotonic()
            database.cut_off(name)
            time.sleep(OUTAGE_S / 2)
            ready_during = get(server.url + "/health/ready", token=None)[0]
            time.sleep(OUTAGE_S / 2)
            database.restore(name)
            restored = time.monotonic()
            load.wait_for("200", load.count("200") + 100)
        during = collections.Counter(o for end, o, _ in load.events if cut < end <= restored)
        started_after = [(end, o) for end, o, took in load.events if end - took > restored]
        first_200 = min(end for end, o in started_after if o == "200") - restored
        slowest = max(took for end, _, took in load.events if cut < end <= restored)
        status, body = get(server.url + f"/resource_providers?name={kept}")
        print(f"\n{kind} outage {OUTAGE_S} s under load: during {dict(during)}, slowest answer "
              f"{slowest:.2f} s; after restore: first 200 in {first_200:.3f} s, "
              f"{dict(collections.Counter(o for _, o in started_after))}")
        assert ready_during == 503
        assert set(during) <= {"200", "503"} and during["503"] > 0, dict(during)
        assert slowest < ANSWER_WITHIN_S
        assert {o for _, o in started_after} == {"200"}, "a request after the restore failed"
        assert first_200 < 5, first_200  # the goal is under 1 s: the figure is printed above
        assert get(server.url + "/health/ready", token=None)[0] == 200
        assert status == 200 and len(json.loads(body)["resource_providers"]) == 1
        assert [server.pid, *server.worker_pids()] == pids, "a process was restarted"
        assert "500 for" not in server.log()
        # The outage shows in the metrics: connections that could not be made, or were lost,
        # and every 503 by route.
        metrics = get(f"http://127.0.0.1:{server.env['PLACEDOCK_METRICS_PORT']}/metrics",
                      token=None)[1].decode()
        errors = {kind: float(count) for kind, count in re.findall(
            r'^placedock_database_errors_total\{kind="(\w+)"\} (\S+)$', metrics, re.MULTILINE)}
        assert errors.get("connect", 0) + errors.get("disconnect", 0) > 0, errors
        served_503 = re.search(r'^placedock_http_requests_total\{method="GET",'
                               r'route="/resource_providers",status="503"\} (\S+)$',
                               metrics, re.MULTILINE)
        assert served_503 and float(served_503.group(1)) >= during["503"], metrics[-2000:]
        print(f"{kind} outage in the metrics: database errors {errors}")
        password = urllib.parse.urlsplit(url).password
        assert password and password not in server.log()
        if log_format == "json":
            lines = [json.loads(line) for line in server.log().splitlines()]
            warnings = [line for line in lines if "database is unreachable" in line["message"]]
            assert warnings and all(line["levelname"] == "WARNING" for line in warnings)
    finally:
        server.stop()
        database.restore(name)
