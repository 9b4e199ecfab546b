"""startup.sh db-copy from the embedded sqlite to PostgreSQL and MariaDB: a cloud's thousands of
rows, the same on both sides (counted and digested here again), and placement serving them on
the target: a stale provider generation is refused, a fresh one accepted."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from placedock import db_copy
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
from tests.support.server import run_startup
from tests.test_databases import OLDEST

NODES = 300  # four providers each, and a sharing provider per hundred: 1,203 providers
TARGET = db_copy.TARGET


def copy(source: str, target: str) -> tuple[int, list[str]]:
    result = run_startup(["db-copy"], {PLACEMENT: source, TARGET: target}, timeout=600)
    return result.returncode, result.stderr.strip().splitlines()


def reparent_a_tree_under_a_newer_root(url: str) -> None:
    """A provider whose parent and root have a higher id than its own (a re-parented tree, as
    microversion 1.37 allows): a copy in id order would break the foreign keys."""
    engine = sa.create_engine(checked(url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        newest = connection.exec_driver_sql("SELECT MAX(id) + 1 FROM resource_providers").scalar()
        connection.exec_driver_sql(
            "INSERT INTO resource_providers (id, uuid, name, generation, root_provider_id) "
            f"VALUES ({newest}, '{uuid.uuid4()}', 'new-root', 0, {newest})")
        connection.exec_driver_sql(
            f"UPDATE resource_providers SET parent_provider_id = {newest}, "
            f"root_provider_id = {newest} WHERE id = 1")
        connection.exec_driver_sql(f"UPDATE resource_providers SET root_provider_id = {newest} "
                                   "WHERE root_provider_id = 1")


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
    generation_is_kept_and_checked(tmp_path, target)


def generation_is_kept_and_checked(tmp_path: Path, target: str) -> None:
    server = serve(tmp_path, target)
    try:
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
    finally:
        server.stop()


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
