"""placedock.db_tools: how the databases' own tools are called (no password on a command line),
and that a cut or foreign backup is recognised by reading it only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from placedock import db_tools
from tests.support.backups import migrated, sqlite_url


def test_postgresql_connection_words_hold_no_password() -> None:
    url = make_url("postgresql+psycopg2://placement:s3cr%27t@db:5433/placement"
                   "?sslmode=verify-full&sslrootcert=/ca's.pem")
    words = db_tools._pg_conninfo(url)
    assert "s3cr" not in words
    assert "host='db'" in words and "port='5433'" in words and "user='placement'" in words
    assert "sslmode='verify-full'" in words and r"sslrootcert='/ca\'s.pem'" in words
    assert db_tools._password_environment(url) == {"PGPASSWORD": "s3cr't"}


def test_mariadb_options_hold_no_password_and_follow_the_urls_tls() -> None:
    plain = make_url("mysql+pymysql://placement:hunter2@db/placement?charset=utf8mb4")
    options = db_tools._mysql_connection(plain)
    assert options[0] == "--no-defaults" and "--skip-ssl" in options
    assert not any("hunter2" in option for option in options)
    assert db_tools._password_environment(plain) == {"MYSQL_PWD": "hunter2"}
    tls = make_url("mysql+pymysql://p:q@db/placement?ssl_ca=/ca.pem")
    assert {"--ssl", "--ssl-verify-server-cert", "--ssl-ca=/ca.pem"} <= set(
        db_tools._mysql_connection(tls))


def test_a_file_is_known_by_its_first_bytes(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("-- not a dump\n")
    assert db_tools.kind_of_file(text) is None
    dump = tmp_path / "dump.sql"
    dump.write_text("/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19\n")
    assert db_tools.kind_of_file(dump) == "mysql"
    with pytest.raises(db_tools.ToolError, match="not a backup"):
        db_tools.checked_revision(text, "sqlite")


def test_a_sqlite_backup_is_checked_whole(tmp_path: Path) -> None:
    url = migrated(sqlite_url(tmp_path / "placement.sqlite"))
    backup = tmp_path / "backup.sqlite"
    db_tools.backup(url, backup, "X")
    assert db_tools.checked_revision(backup, "sqlite")
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    with pytest.raises(db_tools.ToolError, match="cut.sqlite'"):
        db_tools.checked_revision(cut, "sqlite")
    with pytest.raises(db_tools.ToolError, match="a sqlite backup, but the database is Postgre"):
        db_tools.checked_revision(backup, "postgresql")


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_cut_dump_is_refused_by_reading_it(backend: str, request: pytest.FixtureRequest,
                                             tmp_path: Path) -> None:
    url = migrated(request.getfixturevalue(f"{backend}_url"))
    backup = tmp_path / "backup"
    db_tools.backup(url, backup, "X")
    revision = db_tools.checked_revision(backup, url.get_backend_name())
    assert revision
    whole = backup.read_bytes()
    for keep in (len(whole) - 40, len(whole) // 2):
        cut = tmp_path / f"cut-{keep}"
        cut.write_bytes(whole[:keep])
        with pytest.raises(db_tools.ToolError, match=f"cut-{keep}"):
            db_tools.checked_revision(cut, url.get_backend_name())
    print(f"{backend}: a backup of an empty placement is {len(whole)} bytes; cut at "
          f"{len(whole) - 40} and {len(whole) // 2} bytes: both refused")


def test_pg_dump_17s_setting_is_left_out_for_an_older_server(
        postgresql_server, postgresql_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The image's pg_restore (17) writes SET transaction_timeout, which the PostgreSQL 15 here
    does not know: this host's pg_restore 15, made to write it as 17's does, must still restore."""
    import subprocess
    import uuid

    from tests.support.backups import contents

    source = migrated(postgresql_url)
    backup = tmp_path / "backup"
    db_tools.backup(source, backup, "X")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pg_restore"
    real = subprocess.run(["bash", "-c", "command -v pg_restore"], capture_output=True,
                          text=True, check=True).stdout.strip()
    wrapper.write_text(f"#!/bin/sh\n{real} \"$@\" | sed 's/^SET lock_timeout = 0;$/&\\n"
                       "SET transaction_timeout = 0;/'\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    script = subprocess.run(["pg_restore", "--file=-", str(backup)], capture_output=True,
                            text=True, check=True).stdout
    assert "SET transaction_timeout = 0;" in script
    name = f"t{uuid.uuid4().hex[:12]}"
    target = postgresql_server.create_database(name)
    try:
        db_tools.restore(make_url(target), backup, "X")
        assert contents(target) == contents(source)
    finally:
        postgresql_server.drop_database(name)
