"""startup.sh db-copy from the embedded sqlite to PostgreSQL and MariaDB: a cloud's thousands of
rows, the same on both sides (counted and digested here again), and placement serving them on
the target: a stale provider generation is refused, a fresh one accepted, and osc-placement's
own functional suite runs against it."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from placedock import db_copy, defaults
from tests.support import osc_functional
from tests.support.backups import (
    PLACEMENT,
    checked,
    contents,
    migrated,
    revision,
    seeded,
    serve,
    sqlite_url,
)
from tests.support.http import request
from tests.support.server import Server, run_startup
from tests.test_databases import OLDEST

NODES = 300  # four providers each, and a sharing provider per hundred: 1,203 providers
TARGET = db_copy.TARGET
CANDIDATES_LIMIT = int(defaults.PLACEMENT_OPTIONS["OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES"])
OSC_TESTS = 160  # osc-placement 4.9.1's functional suite
# The suite assumes placement holds only the providers each test made: its own fixture gives
# each test an empty in-memory database. Two of its tests ask for allocation candidates with
# no filter but VCPU (`openstack allocation candidate list --group 1 --resource VCPU=3`, then
# two such groups) and count every row the client prints: on a copied cloud, the copied NUMA
# nodes' candidates are rows too. These two fail, and only by counting more rows than they
# expect, at most the copied cloud's rows more (counted here with the same query before the
# suite runs), exactly that many while the cloud's candidates are under placedock's limit of
# candidates a request (OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES): above it, breadth-first
# generation drops some of the cloud's once the test's own tree takes its share. Every other
# test passes.
GRANULAR = "osc_placement.tests.functional.test_allocation_candidate.TestAllocationCandidate129."
COUNT_THE_WHOLE_CLOUD = {  # test: (rows it expects, the query its first count makes)
    GRANULAR + "test_granular_one_group": (2, {"resources1": "VCPU:3"}),
    GRANULAR + "test_granular_two_groups": (6, {"resources1": "VCPU:3",
                                                "resources2": "VCPU:3"}),
}


def copy(source: str, target: str) -> tuple[int, list[str]]:
    result = run_startup(["db-copy"], {PLACEMENT: source, TARGET: target}, timeout=600)
    return result.returncode, result.stderr.strip().splitlines()


def reparent_a_tree_under_a_newer_root(url: str) -> None:
    """A provider whose parent and root have a higher id than its own (a re-parented tree, as
    microversion 1.37 allows): a copy in id order would break the foreign keys. The first compute
    node's root is moved, not the sharing provider the seed made first (id 1): placement 16.0.0
    answers 500 to allocation candidates once a sharing provider has a parent, on any database
    (tests/test_placement_upstream_bugs.py), and the osc-placement suite asks for them."""
    engine = sa.create_engine(checked(url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        moved = connection.exec_driver_sql(
            "SELECT id FROM resource_providers WHERE name = 'cn00000'").scalar()
        newest = connection.exec_driver_sql("SELECT MAX(id) + 1 FROM resource_providers").scalar()
        assert moved is not None and moved < newest
        connection.exec_driver_sql(
            "INSERT INTO resource_providers (id, uuid, name, generation, root_provider_id) "
            f"VALUES ({newest}, '{uuid.uuid4()}', 'new-root', 0, {newest})")
        connection.exec_driver_sql(
            f"UPDATE resource_providers SET parent_provider_id = {newest}, "
            f"root_provider_id = {newest} WHERE id = {moved}")
        connection.exec_driver_sql(f"UPDATE resource_providers SET root_provider_id = {newest} "
                                   f"WHERE root_provider_id = {moved}")


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_cloud_moves_off_sqlite(backend: str, request: pytest.FixtureRequest,
                                  tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "placement.sqlite")
    providers = seeded(source, NODES)
    reparent_a_tree_under_a_newer_root(source)
    target = request.getfixturevalue(f"{backend}_url")
    started = time.monotonic()
    status, lines = copy(source, target)
    took = time.monotonic() - started
    assert status == 0, lines
    before, after = contents(source), contents(target)
    assert after == before
    assert after["resource_providers"][0] == providers + 1
    assert revision(target) == revision(source)
    rows = sum(count for count, _ in after.values())
    print(f"sqlite -> {backend}: {rows} rows ({providers + 1} providers) in {len(after)} tables "
          f"copied and verified in {took:.1f} s (the command, start to end)")
    server = serve(tmp_path, target)
    try:
        generation_is_kept_and_checked(server)
        osc_placement_suite_passes(server, backend, tmp_path / "osc-home")
    finally:
        server.stop()


def generation_is_kept_and_checked(server: Server) -> None:
    headers = {"openstack-api-version": "placement latest"}
    status, _, body = request(server.url + "/resource_providers?name=new-root",
                              headers=headers)
    provider = json.loads(body)["resource_providers"][0]
    inventories = f"{server.url}/resource_providers/{provider['uuid']}/inventories"
    stale = {"resource_provider_generation": provider["generation"] + 5,
             "inventories": {"VCPU": {"total": 8}}}
    status, _, body = request(inventories, "PUT", json.dumps(stale).encode(), headers)
    assert status == 409, body
    fresh = {**stale, "resource_provider_generation": provider["generation"]}
    status, _, body = request(inventories, "PUT", json.dumps(fresh).encode(), headers)
    assert status == 200, body
    # A new provider gets an id past the copied ones (PostgreSQL's sequence was moved).
    status, _, body = request(server.url + "/resource_providers", "POST",
                              json.dumps({"name": "after-the-copy"}).encode(), headers)
    assert status == 200, body


def candidate_rows(server: Server, query: dict[str, str]) -> tuple[int, int]:
    """The rows `openstack allocation candidate list` prints for ``query`` at microversion 1.29
    (the suite's), one per provider of each allocation request; and the candidates."""
    status, _, body = request(
        f"{server.url}/allocation_candidates?{urlencode({**query, 'group_policy': 'none'})}",
        headers={"openstack-api-version": "placement 1.29"})
    assert status == 200, body
    candidates = json.loads(body)["allocation_requests"]
    return sum(len(candidate["allocations"]) for candidate in candidates), len(candidates)


def osc_placement_suite_passes(server: Server, backend: str, home: Path) -> None:
    """osc-placement's functional suite, its tests unchanged, against the copy placedock
    serves (tests/osc/functional.py: how it is pointed there)."""
    cloud = {test: candidate_rows(server, query)
             for test, (_, query) in COUNT_THE_WHOLE_CLOUD.items()}
    result = osc_functional.run(server.url, home)
    assert (result["run"], result["skipped"]) == (OSC_TESTS, 0), result
    assert sorted(result["failed"]) == sorted(COUNT_THE_WHOLE_CLOUD), result["failed"]
    assert result["passed"] == OSC_TESTS - len(COUNT_THE_WHOLE_CLOUD), result
    counted = []
    for test, (expected, _) in COUNT_THE_WHOLE_CLOUD.items():
        rows, candidates = cloud[test]
        found = re.fullmatch(rf"testtools\.matchers\._impl\.MismatchError: {expected} != (\d+)",
                             result["failed"][test])
        assert found, result["failed"][test]
        seen = int(found.group(1))
        assert expected < seen <= expected + rows, (test, seen, cloud[test])
        if candidates < CANDIDATES_LIMIT:
            assert seen == expected + rows, (test, seen, cloud[test])
        counted.append(f"{seen} rows for {expected}, the cloud's {rows} in {candidates} "
                       "candidates")
    print(f"osc-placement functional: {result['passed']} passed of {result['run']} against the "
          f"{backend} copy in {result['seconds']} s; the {len(COUNT_THE_WHOLE_CLOUD)} others "
          f"failed as expected, counting the copied cloud too ({'; '.join(counted)})")


def test_refusals_are_one_line_and_write_nothing(postgresql_url: str, tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "placement.sqlite")
    seeded(source, 2)
    used = tmp_path / "used.sqlite"
    seeded(sqlite_url(used), 1)
    old = tmp_path / "old.sqlite"
    old_url = checked(sqlite_url(old)).render_as_string(hide_password=False)
    from placement.db.sqlalchemy import migration

    from placedock import database

    with database._placement_database(checked(old_url)):
        migration.upgrade(OLDEST)
    before = used.read_bytes()
    cases = [
        (source, sqlite_url(used), f"{TARGET}: database sqlite:///{used} is not empty"),
        (old_url, postgresql_url, f"{PLACEMENT}: database at schema {OLDEST}"),
        (source, source, f"{TARGET}: the same database as {PLACEMENT}"),
        (source, "", f"{TARGET}: not set (nor {TARGET}_FILE); db-copy needs it"),
    ]
    for source_url, target_url, words in cases:
        status, lines = copy(source_url, target_url)
        assert status == 1 and len(lines) == 1, lines
        assert lines[0].startswith(f"placedock: error: {words}"), lines
    assert used.read_bytes() == before
    assert contents(postgresql_url) == {}


def test_a_target_a_placedock_migrated_but_never_used_is_taken(mariadb_url: str,
                                                                tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "placement.sqlite")
    seeded(source, 3)
    migrated(mariadb_url)
    status, lines = copy(source, mariadb_url)
    assert status == 0, lines
    assert contents(mariadb_url) == contents(source)
