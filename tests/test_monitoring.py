"""monitoring/: the alert and recording rules, their PrometheusRule twin, and the Grafana
dashboard, checked by promtool and then read by a real Prometheus scraping a real placedock."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.http import request
from tests.support.processes import wait_until
from tests.support.prometheus import JOB, PrometheusQueries, PrometheusServer
from tests.support.server import REPO, Server
from tests.support.skips import require

MONITORING = REPO / "monitoring"
RULES = MONITORING / "placedock-rules.yaml"
PROMETHEUSRULE = MONITORING / "placedock-prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboard.json"
UNIT_TESTS = sorted((MONITORING / "tests").glob("*.yaml"))
GUIDE = REPO / "docs" / "observability.md"
METRICS_SOURCE = (REPO / "placedock" / "metrics.py").read_text()

# docs/observability.md's commands, verbatim.
CHECK_RULES = "promtool check rules monitoring/placedock-rules.yaml"
TEST_RULES = "promtool test rules monitoring/tests/*.yaml"
REGENERATE = "{ sed '/^spec:$/q' monitoring/placedock-prometheusrule.yaml; sed 's/^./  &/' monitoring/placedock-rules.yaml; } > monitoring/prometheusrule.new && mv monitoring/prometheusrule.new monitoring/placedock-prometheusrule.yaml"  # noqa: E501 (verbatim)

# What a healthy server with no error may leave empty, and why. Everything else must have data.
EMPTY_WHEN_HEALTHY = {
    "5xx per second by route": "no request failed with a 5xx",
    "Database errors per second by kind": "no database error happened: the series appear with "
                                          "the first one",
    "job_kind:placedock_database_errors:rate5m": "the same",
    "placedock alerts": "no alert pends or fires on a healthy server (the live test then makes "
                        "three pend, and checks this panel shows them)",
}
ADMIN = {"OpenStack-API-Version": "placement latest"}
# Some of every kind of request the panels show, the allocation candidates under both prefixes.
REQUESTS = {"/": 20, "/resource_providers": 10, "/placement/traits": 5, "/no/such/route": 5,
            "/allocation_candidates?resources=VCPU:1": 5,
            "/placement/allocation_candidates?resources=VCPU:1": 5}


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def records() -> list[str]:
    return [rule["record"] for rule in rules() if "record" in rule]


def dashboard_queries() -> dict[str, str]:
    """Each target's expression, by its panel's title (and its refId when a panel has more),
    with the job variable set to the job the live Prometheus scrapes."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    found = {}
    for panel in panels:
        targets = panel.get("targets", [])
        for target in targets:
            name = panel["title"] + (f" ({target['refId']})" if len(targets) > 1 else "")
            found[name] = target["expr"].replace("$job", JOB)
    return found


def run(command: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def promtool() -> None:
    require(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")


def test_promtool_checks_the_rules(promtool: None) -> None:
    checked = run(CHECK_RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_the_unit_tests_pass(promtool: None) -> None:
    tested = run(TEST_RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(UNIT_TESTS) > 0, tested.stdout


def test_every_alert_fires_in_a_unit_test_and_stays_quiet_in_another() -> None:
    fired, quiet = set(), set()
    for path in UNIT_TESTS:
        document = yaml.safe_load(path.read_text())
        # Each file tests the shipped rules, not a copy.
        assert [(path.parent / name).resolve() for name in document["rule_files"]] == [RULES]
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert len(names) == len(alerts()) >= 10
    assert sorted(names - fired) == [], "alerts no unit test makes fire"
    assert sorted(names - quiet) == [], "alerts no unit test keeps quiet"
    assert sorted((fired | quiet) - names) == [], "unit tests of alerts that do not exist"


def test_the_prometheusrule_carries_exactly_the_rules_files_groups(tmp_path: Path) -> None:
    manifest = yaml.safe_load(PROMETHEUSRULE.read_text())
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == rule_groups(), \
        f"the two differ: regenerate the PrometheusRule with {REGENERATE}"
    # The guide's command, run on a copy, changes nothing: the committed file is current, to
    # the comment.
    shutil.copytree(MONITORING, tmp_path / "monitoring")
    regenerated = run(REGENERATE, cwd=tmp_path)
    assert regenerated.returncode == 0, regenerated.stderr
    assert (tmp_path / "monitoring" / PROMETHEUSRULE.name).read_text() == \
        PROMETHEUSRULE.read_text()


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", markdown, re.MULTILINE)}


def test_every_alert_says_how_bad_what_and_where_its_runbook_is() -> None:
    headings = anchors(GUIDE.read_text())
    for rule in alerts():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        url = urllib.parse.urlsplit(annotations["runbook_url"])
        assert url.path == "docs/observability.md", rule["alert"]
        assert url.fragment == rule["alert"].lower() and url.fragment in headings, rule["alert"]


def test_the_anchor_reader_reads_headings_as_github_does() -> None:
    assert anchors("# Alerts\n## Loading them: rule_files\n### PlacedockNoReplicaReady\n") == {
        "alerts", "loading-them-rule_files", "placedocknoreplicaready"}


def test_every_recording_rule_is_read_by_an_alert_or_the_dashboard() -> None:
    readers = " ".join([*(rule["expr"] for rule in alerts()), *dashboard_queries().values()])
    assert sorted(name for name in records() if name not in readers) == []


def test_every_metric_read_is_one_placedock_serves() -> None:
    expressions = [*(rule["expr"] for rule in rules()), *dashboard_queries().values()]
    read = {name for expression in expressions
            for name in re.findall(r"(?<![\w:])placedock_\w+", expression)}
    assert read
    for name in read:
        family = re.sub(r"_(total|bucket|count|sum|info)$", "", name)
        assert f'"{family}"' in METRICS_SOURCE, f"{name}: placedock/metrics.py has no {family}"


def test_every_dashboard_query_is_valid_promql(promtool: None, tmp_path: Path) -> None:
    """promtool parses each as the expression of a recording rule."""
    queries = dashboard_queries()
    assert len(queries) >= 15
    checked = tmp_path / "dashboard-rules.yaml"
    checked.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": expression}
        for number, expression in enumerate(queries.values())]}]}))
    result = run(f"promtool check rules {checked}")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken-rules.yaml"
    broken.write_text(json.dumps({"groups": [{"name": "broken", "rules": [
        {"record": "dashboard:broken", "expr": "sum by (job (up)"}]}]}))
    assert run(f"promtool check rules {broken}").returncode != 0


@pytest.fixture
def prometheus(tmp_path: Path, server: Server) -> Iterator[PrometheusServer]:
    require(shutil.which("prometheus") is not None, "Prometheus (Debian package prometheus)")
    prometheus = PrometheusServer(tmp_path / "prometheus",
                                  [f"127.0.0.1:{server.env['PLACEDOCK_METRICS_PORT']}"],
                                  rule_files=[RULES]).start()
    yield prometheus
    prometheus.stop()


def without_data(prometheus: PrometheusQueries, queries: dict[str, str]) -> list[str]:
    """The queries (by name) whose answer has no finite value: a graph with nothing to draw."""
    return [name for name, expression in queries.items()
            if name not in EMPTY_WHEN_HEALTHY
            and not any(math.isfinite(value) for value in prometheus.query(expression).values())]


def send_requests(url: str) -> None:
    """REQUESTS to placement at ``url``, each answered as expected."""
    for target, count in REQUESTS.items():
        for _ in range(count):
            status, _, _ = request(url + target, headers=ADMIN)
            assert status == (404 if target.startswith("/no/") else 200), target


def evaluated_with_data(prometheus: PrometheusQueries, url: str, timeout: float) -> float:
    """Requests to placement at ``url`` until every record and dashboard query has data in
    ``prometheus``; then every rule must be loaded and healthy and no alert raised. Seconds from
    the first requests until the data was there."""
    began = time.monotonic()
    # A rate needs an increase between two scrapes: a series' first scrape is its baseline, so
    # the same requests again once Prometheus has seen the first ones (their 404s: probes and
    # balancers' checks count other requests too).
    send_requests(url)
    not_found = 'sum(placedock_http_requests_total{status="404"})'
    wait_until(lambda: prometheus.query(not_found).get((), 0) >= REQUESTS["/no/such/route"],
               timeout=timeout)
    send_requests(url)
    queries = {**{name: name for name in records()}, **dashboard_queries()}
    # A rate needs two scrapes after the requests, a record one evaluation after that.
    took = wait_until(lambda: without_data(prometheus, queries) == [], timeout=timeout,
                      interval=0.5, since=began,
                      log=lambda: f"no data: {without_data(prometheus, queries)}")
    loaded = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert len(loaded) == len(rules())
    assert [(rule["name"], rule["lastError"]) for rule in loaded if rule["health"] != "ok"] == []
    assert alert_states(prometheus) == {}, "a healthy placedock raised an alert"
    return took


def alert_states(prometheus: PrometheusQueries) -> dict[str, str]:
    return {alert["labels"]["alertname"]: alert["state"]
            for alert in prometheus.api("alerts")["alerts"]}


def test_a_live_prometheus_finds_data_for_every_record_and_panel(
        server: Server, prometheus: PrometheusServer) -> None:
    assert prometheus.wait_for(f'up{{job="{JOB}"}}', {(): 1.0}) == {(): 1.0}, \
        prometheus.log_tail()
    took = evaluated_with_data(prometheus, server.url, timeout=60)
    candidates = prometheus.query("job:placedock_allocation_candidates_duration_seconds:p95_5m")
    print(f"\n{len(records())} records and {len(dashboard_queries())} dashboard queries had "
          f"data {took:.1f} s after the first requests; allocation candidates p95 "
          f"{candidates[()] * 1000:.1f} ms; empty as allowed: {sorted(EMPTY_WHEN_HEALTHY)}")

    # The only replica goes: its alerts pend at the next evaluations (no metric of placedock
    # is left either), and the dashboard shows them.
    server.stop()
    expected = {"PlacedockScrapeFailing": "pending", "PlacedockNoReplicaReady": "pending",
                "PlacedockMetricsAbsent": "pending"}
    wait_until(lambda: alert_states(prometheus) == expected, timeout=30,
               log=lambda: f"alerts: {alert_states(prometheus)}")
    shown = prometheus.query(dashboard_queries()["placedock alerts"])
    assert {dict(labels)["alertname"] for labels in shown} == set(expected)
