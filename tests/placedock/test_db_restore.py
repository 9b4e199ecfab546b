"""startup.sh db-backup then db-restore on sqlite, PostgreSQL and MariaDB: every row back, an
old schema migrated to head, and each refusal one line, exit status 1, the target unchanged."""

from __future__ import annotations

from pathlib import Path

from placedock import database
from tests.support.backups import PLACEMENT, contents, migrated, revision, seeded
from tests.support.server import run_startup
from tests.test_databases import OLDEST, at_oldest_revision_holding_data


def command(name: str, url: str, *args: str) -> tuple[int, list[str]]:
    result = run_startup([name, *args], {PLACEMENT: url}, timeout=300)
    return result.returncode, result.stderr.strip().splitlines()


def test_every_row_comes_back(fresh_database, tmp_path: Path) -> None:
    source, target = fresh_database(), fresh_database()
    providers = seeded(source, 50)
    status, lines = command("db-backup", source, str(tmp_path))
    assert status == 0, "\n".join(lines)
    backups = list(tmp_path.glob("placement-*"))
    assert len(backups) == 1 and not list(tmp_path.glob("*.partial"))
    status, lines = command("db-restore", target, str(backups[0]))
    assert status == 0, "\n".join(lines)
    assert contents(target) == contents(source)
    assert contents(target)["resource_providers"][0] == providers
    print(f"{database.head()}: {providers} providers, {backups[0].stat().st_size} bytes, "
          f"restored: {lines[-1]}")


def test_an_old_schema_is_restored_and_migrated(fresh_database, tmp_path: Path) -> None:
    source, target = fresh_database(), fresh_database()
    at_oldest_revision_holding_data(migrated_url_text(source))
    backup = tmp_path / "old"
    assert command("db-backup", source, str(backup))[0] == 0
    status, lines = command("db-restore", target, str(backup))
    assert status == 0, "\n".join(lines)
    assert f"schema migrated from {OLDEST} to {database.head()}" in lines[-1]
    assert revision(target) == database.head()
    assert contents(target)["allocations"][0] == 1


def migrated_url_text(url: str) -> str:
    from tests.support.backups import checked

    return checked(url).render_as_string(hide_password=False)


def test_refusals_are_one_line_and_write_nothing(fresh_database, tmp_path: Path) -> None:
    source, occupied, empty = fresh_database(), fresh_database(), fresh_database()
    seeded(source, 2)
    migrated(occupied)
    backup = tmp_path / "backup"
    assert command("db-backup", source, str(backup))[0] == 0
    cut = tmp_path / "cut"
    cut.write_bytes(backup.read_bytes()[:-100])
    stranger = tmp_path / "notes.txt"
    stranger.write_text("CREATE TABLE t (x INTEGER);\n")
    before = contents(occupied)
    cases = [(occupied, backup, "is not empty"), (empty, cut, "cut"),
             (empty, stranger, "not a backup"), (empty, tmp_path / "none", "no such file")]
    for target, path, words in cases:
        status, lines = command("db-restore", target, str(path))
        assert status == 1 and len(lines) == 1, lines
        assert lines[0].startswith("placedock: error: ") and words in lines[0], lines
        assert "Traceback" not in lines[0]
    assert contents(occupied) == before
    assert contents(empty) == {} if not empty.startswith("sqlite") else \
        not Path(empty.removeprefix("sqlite:///")).exists()
    status, lines = command("db-backup", source, str(backup))
    assert status == 1 and lines == [f"placedock: error: '{backup}': already there; a backup "
                                      "never overwrites a file"]
