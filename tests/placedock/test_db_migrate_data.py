"""startup.sh db-migrate-data: placement's online data migrations to completion, then its upgrade
check, on databases placedock migrated; its batch size read and checked by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from placedock import db_migrate_data
from tests.support.backups import PLACEMENT, checked, seeded, sqlite_url
from tests.support.server import NOAUTH, run_startup


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_runs_to_completion(backend: str, request: pytest.FixtureRequest,
                            tmp_path: Path) -> None:
    url = (sqlite_url(tmp_path / "placement.sqlite") if backend == "sqlite"
           else request.getfixturevalue("postgresql_url"))
    seeded(url, 20)
    # Allocations whose consumers are missing: placement's online migration makes those, in
    # batches (12 at 5 a batch: three that do some, one that finds none left).
    engine = sa.create_engine(checked(url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        consumers = connection.exec_driver_sql("SELECT COUNT(*) FROM consumers").scalar()
        connection.exec_driver_sql("DELETE FROM consumers WHERE id IN (SELECT id FROM "
                                   "(SELECT id FROM consumers ORDER BY id LIMIT 12) AS a)")
    result = run_startup(["db-migrate-data"], {**NOAUTH, PLACEMENT: url,
                                               db_migrate_data.BATCH_SIZE: "5"}, timeout=300)
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("placedock: db-migrate-data done: 4 batches of up to 5 rows"), last
    assert "check passed" in last
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM consumers").scalar() == consumers
    print(f"{backend}: {last}")


@pytest.mark.parametrize("value, problem", [("x", "'x' is not a whole number"),
                                            ("0", "0 is out of range 1 to 1000000")])
def test_a_bad_batch_size_is_one_line(value: str, problem: str) -> None:
    result = run_startup(["db-migrate-data"], {**NOAUTH, db_migrate_data.BATCH_SIZE: value})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"placedock: error: {db_migrate_data.BATCH_SIZE}: {problem}"]


def test_the_servers_environment_is_checked_as_the_servers() -> None:
    result = run_startup(["db-migrate-data"], {**NOAUTH, "OS_PLACEMENT_DATABASE__CONECTION": "x"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "placedock: error: OS_PLACEMENT_DATABASE__CONECTION: not an option")


def test_a_missing_database_is_one_line_without_its_password(postgresql_url: str) -> None:
    url = postgresql_url.rsplit("/", 1)[0] + "/nothere"
    result = run_startup(["db-migrate-data"], {**NOAUTH, PLACEMENT: url, "DB_WAIT_TIMEOUT": "1"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines[-1].startswith("placedock: error: "), lines
    password = url.split(":")[2].split("@")[0]
    assert password not in result.stderr and "Traceback" not in result.stderr
