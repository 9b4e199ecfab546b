"""Metrics and JSON logs of the image, read the way an operator reads them: a real Prometheus
server scrapes a running container; every line of its log is parsed as JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from placedock import database, defaults
from tests.support.containers import QUICK_START_OPTIONS, Containers, logs, wait_http
from tests.support.http import get
from tests.support.load import send
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.prometheus import PrometheusServer
from tests.support.server import REPO
from tests.support.skips import require

ADMIN = {"x-auth-token": "admin", "OpenStack-API-Version": "placement latest"}
# The load, by (route, status): how many requests of each, all with 4 clients at once.
LOAD = {
    ("/", "200"): ("GET", "/", 60),
    ("/resource_providers", "200"): ("GET", "/resource_providers", 30),
    ("/resource_providers/{uuid}", "404"): ("GET", "/resource_providers/{uuid}", 20),
    ("/placement/traits", "200"): ("GET", "/placement/traits?name=startswith:HW_CPU", 10),
    ("/allocation_candidates", "200"): ("GET", "/allocation_candidates?resources=VCPU:1", 5),
}


# The metrics' guide (moved there from the README): its queries and commands, verbatim.
GUIDE = (REPO / "docs" / "observability.md").read_text()
GUIDE_QUERIES = re.search(r"^```promql\n(.*?)^```", GUIDE, re.DOTALL | re.MULTILINE)
GUIDE_RUN = "docker run -d --name placedock-metrics -p 127.0.0.1:8083:80 -p 127.0.0.1:9180:9180 -e DB_SYNC=True -e OS_API__AUTH_STRATEGY=noauth2 placedock"  # noqa: E501 (verbatim)
GUIDE_SCRAPE = "curl -s http://localhost:9180/metrics | grep '^placedock_ready'"
GUIDE_REMOVE = "docker rm -f placedock-metrics"


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(tmp_path: Path, metrics_port: int) -> Iterator[PrometheusServer]:
    require(shutil.which("prometheus") is not None, "Prometheus (Debian package prometheus)")
    server = PrometheusServer(tmp_path / "prometheus", [f"127.0.0.1:{metrics_port}"]).start()
    yield server
    server.stop()


def series(route: str, status: str | None = None) -> tuple[tuple[str, str], ...]:
    labels = {"route": route, **({"status": status} if status else {})}
    return tuple(sorted(labels.items()))


def load(port: int) -> list[str]:
    """Every request of LOAD, 4 at a time; the outcome of each."""
    url = urllib.parse.urlsplit(f"http://127.0.0.1:{port}")
    requests = [target.replace("{uuid}", str(uuid.uuid4()))
                for method, target, count in LOAD.values() for _ in range(count)]
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda target: send(url, "GET", target, ADMIN).outcome, requests))


def test_prometheus_counts_every_request_by_route_and_status(
        image: str, containers: Containers, prometheus: PrometheusServer,
        metrics_port: int) -> None:
    port = free_port()
    # As Kubernetes runs it: read-only root, a tmpfs for the sockets and the metrics' files.
    container = containers.run(
        "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/var/lib/placement:uid=42424,gid=42424",
        "--no-healthcheck", "-p", f"127.0.0.1:{port}:80",
        "-p", f"127.0.0.1:{metrics_port}:{defaults.METRICS_PORT}",
        "-e", "PLACEDOCK_LOG_FORMAT=json", *QUICK_START_OPTIONS, f"{image}:revision")
    wait_http(f"http://127.0.0.1:{port}/", container=container)
    assert prometheus.wait_for('up{job="placedock"}', {(): 1.0}) == {(): 1.0}, \
        prometheus.log_tail()
    # wait_http's own GET / are counted too: as many as answered before the load.
    before = prometheus.query('sum by (route, status) (placedock_http_requests_total)')
    outcomes = Counter(load(port))
    wanted: Counter[str] = Counter()
    for (_, status), (_, _, count) in LOAD.items():
        wanted[status] += count
    assert outcomes == wanted

    expected = {series(route, status): float(count) + before.get(series(route, status), 0)
                for (route, status), (_, _, count) in LOAD.items()}
    found = prometheus.wait_for('sum by (route, status) (placedock_http_requests_total)',
                                expected)
    assert found == expected
    by_route: Counter[tuple[tuple[str, str], ...]] = Counter()
    for labels, value in found.items():
        by_route[series(dict(labels)["route"])] += value
    assert prometheus.query(
        'sum by (route) (placedock_http_request_duration_seconds_count)') == dict(by_route)
    assert prometheus.query(
        'sum by (route) (placedock_http_request_duration_seconds_bucket{le="+Inf"})') == \
        dict(by_route)
    # GET / is answered in milliseconds: most of them fall in the lowest buckets, not in +Inf.
    fast = prometheus.query(
        'sum(placedock_http_request_duration_seconds_bucket{route="/",le="0.1"})')[()]
    assert fast >= 0.9 * by_route[series("/")]
    print(f"Prometheus counted {int(sum(found.values()))} requests over "
          f"{len(found)} route/status series, every count exact")

    assert prometheus.query("placedock_http_requests_in_flight") == {(): 0.0}
    assert prometheus.query("sum(placedock_uwsgi_workers)") == {(): 2.0}
    assert set(prometheus.query("placedock_uwsgi_workers")) == {
        (("state", "busy"),), (("state", "idle"),)}
    assert prometheus.query("placedock_uwsgi_listen_queue") == {(): 0.0}
    assert prometheus.query("placedock_ready") == {(): 1.0}
    # Every connection a request took has gone back (a leak would stay counted).
    assert prometheus.wait_for("placedock_database_connections_in_use", {(): 0.0},
                               timeout=10) == {(): 0.0}
    [info] = prometheus.query("placedock_info")
    assert dict(info)["placement_version"] == "16.0.0"
    assert dict(info)["schema_revision"] == database.head()
    # The image fixture's build, tagged :revision (a README command rebuilds plain `placedock`
    # without the build argument), reports the commit it was built from.
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert dict(info)["placedock_revision"] == head

    # Never on the API's port: there, /metrics is a path placement does not have.
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 404 and b"placedock_" not in body

    # Every line of the log is one JSON object; one per request, from both worker processes.
    lines = [json.loads(line) for line in logs(container).splitlines()]
    requests = [line for line in lines if line["name"] == "placedock.request"]
    probes = [r for r in requests if r["extra"]["route"] == "(unmatched)"]  # GET /metrics above
    assert [(r["extra"]["status"], r["message"].split()[1]) for r in probes] == [
        (404, "(unmatched)")]
    requests = [r for r in requests if r not in probes]
    assert len(requests) == sum(found.values())
    assert {key for key in requests[0]["extra"]} == {
        "method", "route", "status", "duration_ms", "request_id"}
    assert all(r["extra"]["request_id"].startswith("req-") for r in requests)
    per_process = Counter(r["process"] for r in requests)
    assert len(per_process) == 2, per_process
    assert not any(line["name"] == "placement.requestlog" for line in lines)
    print(f"JSON log: {len(lines)} lines, all JSON; requests per worker process: "
          f"{sorted(per_process.values())}")

    # The guide's five queries, on what Prometheus holds now.
    assert GUIDE_QUERIES, "docs/observability.md's promql block is gone"
    rate, p99, errors, queue, ready = GUIDE_QUERIES.group(1).strip().splitlines()
    # A rate needs two scrapes in its window, the second after the load.
    wait_until(lambda: prometheus.query(rate).get(series("/"), 0) > 0, timeout=30)
    assert 0 < prometheus.query(p99)[series("/")] < 1.0
    assert prometheus.query(errors) == {(): 0.0}
    assert prometheus.query(queue) == {(): 0.0}
    assert prometheus.query(ready) == {(): 1.0}


def test_the_guides_metrics_commands_verbatim(image: str) -> None:
    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              timeout=120, check=False)

    for command in (GUIDE_RUN, GUIDE_SCRAPE, GUIDE_REMOVE):
        assert command in GUIDE
    started = run(GUIDE_RUN)
    try:
        assert started.returncode == 0, started.stderr
        wait_http("http://127.0.0.1:8083/health/ready", container="placedock-metrics")
        # The mule starts listening just after the workers: as a user would, wait for it.
        wait_http("http://127.0.0.1:9180/metrics", container="placedock-metrics")
        scraped = run(GUIDE_SCRAPE)
        assert scraped.stdout.strip() == "placedock_ready 1.0", scraped.stdout + scraped.stderr
    finally:
        assert run(GUIDE_REMOVE).returncode == 0
