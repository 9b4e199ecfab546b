"""placedock.db_backup: where the backup goes (a file, or a new one in a folder), never over a
file, and whole or not at all. The round trips are in test_db_restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from placedock import db_backup, db_tools
from tests.support.backups import PLACEMENT, migrated, sqlite_url
from tests.support.server import run_startup


def test_a_folder_gets_a_new_file_named_after_the_time(tmp_path: Path) -> None:
    path = db_backup.destination(tmp_path, "postgresql")
    assert path.parent == tmp_path and path.name.startswith("placement-")
    assert path.suffix == ".pgdump"


def test_an_existing_file_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    with pytest.raises(db_backup.BackupError, match="already there"):
        db_backup.destination(taken, "sqlite")
    with pytest.raises(db_backup.BackupError, match="no folder"):
        db_backup.destination(tmp_path / "no" / "file", "sqlite")


def test_the_file_comes_from_the_argument_or_its_variable(tmp_path: Path) -> None:
    assert db_tools.named_file({db_tools.FILE: "b"}, ["a"], "db-backup").name == "a"
    assert db_tools.named_file({db_tools.FILE: "b"}, [], "db-backup").name == "b"
    result = run_startup(["db-backup"], {PLACEMENT: sqlite_url(tmp_path / "p.sqlite")})
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"placedock: error: {db_tools.FILE}: not set, and no file given "
        "(startup.sh db-backup FILE)"]


def test_a_failed_backup_leaves_no_file(mariadb_url: str, tmp_path: Path) -> None:
    migrated(mariadb_url)
    wrong = mariadb_url.replace("placement:", "placement:x", 1)  # a wrong password
    backup = tmp_path / "backup.sql"
    result = run_startup(["db-backup", str(backup)], {PLACEMENT: wrong, "DB_WAIT_TIMEOUT": "1"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines[-1].startswith(f"placedock: error: {PLACEMENT}: ")
    assert wrong.split(":")[2].split("@")[0] not in result.stderr
    assert list(tmp_path.iterdir()) == []
