"""Placement 16.0.0 bugs: two that only PostgreSQL exposes, worked around in gabbi.yaml, and one
sqlite shows too (a sharing provider with a parent), found by osc-placement's functional
suite on a copied cloud (tests/placedock/test_db_copy.py).

Each test proves its bug is still there: a 500 on PostgreSQL (with no SQL in placedock's body).
When one of these fails, upstream fixed the bug: remove the workaround (in gabbi.yaml, or
test_db_copy.py's choice of the provider it re-parents) and this test.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.network import free_port
from tests.support.server import Server

LEAKS = ("SELECT", "SQL", "psycopg2", "GROUP BY", "trait_id", "resource_class_id")


@pytest.fixture
def server(tmp_path: Path, postgresql_url: str) -> Iterator[Server]:
    server = Server(tmp_path, free_port(), {"OS_API__AUTH_STRATEGY": "noauth2", "DB_SYNC": "True",
                                            "OS_PLACEMENT_DATABASE__CONNECTION": postgresql_url})
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def call(server: Server, method: str, path: str, body: dict | None = None,
         version: str = "latest") -> tuple[int, str]:
    request = urllib.request.Request(
        server.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"x-auth-token": "admin", "content-type": "application/json",
                 "openstack-api-version": f"placement {version}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def assert_500_without_sql(server: Server, status: int, body: str, logged: str) -> None:
    assert status == 500, body
    for leak in LEAKS:
        assert leak not in body, body
    time.sleep(0.2)  # the log line may trail the response
    assert logged in server.log(), server.log()[-3000:]


def test_forbidden_trait_in_a_nested_tree_is_a_500(server: Server) -> None:
    """Bug 1: research_context.get_trees_matching_all passes forbidden trait NAMES to
    _get_trees_with_traits, which compares them with integer trait ids."""
    status, body = call(server, "POST", "/resource_providers", {"name": "root"})
    assert status == 200, body
    root = json.loads(body)["uuid"]
    status, body = call(server, "POST", "/resource_providers",
                        {"name": "child", "parent_provider_uuid": root})
    assert status == 200, body
    child = json.loads(body)
    status, body = call(server, "POST", f"/resource_providers/{child['uuid']}/inventories",
                        {"resource_provider_generation": child["generation"],
                         "resource_class": "VCPU", "total": 1})
    assert status == 201, body
    status, body = call(server, "GET",
                        "/allocation_candidates?resources=VCPU:1&required=!HW_CPU_X86_AVX")
    assert_500_without_sql(server, status, body, "InvalidTextRepresentation")
    # The workaround in gabbi.yaml, a numbered group, still works.
    status, body = call(server, "GET",
                        "/allocation_candidates?resources1=VCPU:1&required1=!HW_CPU_X86_AVX")
    assert status == 200 and len(json.loads(body)["allocation_requests"]) == 1, body


def test_usages_by_consumer_type_is_a_500(server: Server) -> None:
    """Bug 2: usage._get_by_consumer_type selects allocations.resource_class_id but groups
    only by consumer type name (microversion 1.38 and later)."""
    status, body = call(server, "GET", "/usages?project_id=any")
    assert_500_without_sql(server, status, body, "GroupingError")
    # The workarounds in gabbi.yaml, consumer_type=all and microversion 1.37, still work.
    assert (call(server, "GET", "/usages?project_id=any&consumer_type=all")
            == (200, '{"usages": {}}'))
    assert call(server, "GET", "/usages?project_id=any", version="1.37") == (200, '{"usages": {}}')


def test_a_sharing_provider_with_a_parent_is_a_500(server: Server) -> None:
    """Bug 3, not PostgreSQL's alone (sqlite shows it too, checked by hand): once a sharing provider
    (MISC_SHARES_VIA_AGGREGATE) is re-parented under another provider (microversion 1.37 allows
    it), a request for allocation candidates it could serve raises KeyError in
    _alloc_candidates_multiple_providers (its id is not among the summaries built for the trees'
    roots)."""
    aggregate = str(uuid.uuid4())

    def made(name: str, inventory: dict[str, int], traits: list[str]) -> dict:
        status, body = call(server, "POST", "/resource_providers", {"name": name})
        assert status == 200, body
        provider = json.loads(body)
        path = f"/resource_providers/{provider['uuid']}"
        for suffix, content in (
                ("/inventories", {"inventories": {rc: {"total": total}
                                                  for rc, total in inventory.items()}}),
                ("/traits", {"traits": traits}),
                ("/aggregates", {"aggregates": [aggregate] if inventory else []})):
            status, body = call(server, "PUT", path + suffix,
                                {**content, "resource_provider_generation":
                                 json.loads(call(server, "GET", path)[1])["generation"]})
            assert status == 200, body
        return provider

    share = made("share", {"DISK_GB": 1000}, ["MISC_SHARES_VIA_AGGREGATE"])
    made("compute", {"MEMORY_MB": 8192}, [])
    new_root = made("new-root", {}, [])
    wanted = "/allocation_candidates?resources=MEMORY_MB:1024,DISK_GB:80"
    status, body = call(server, "GET", wanted)
    assert status == 200 and len(json.loads(body)["allocation_requests"]) == 1, body
    status, body = call(server, "PUT", f"/resource_providers/{share['uuid']}",
                        {"name": "share", "parent_provider_uuid": new_root["uuid"]})
    assert status == 200, body
    status, body = call(server, "GET", wanted)
    assert_500_without_sql(server, status, body, "KeyError")
