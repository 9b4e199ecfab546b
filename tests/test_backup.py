"""Backups of a placedock that is serving and being written to, through placement's API: every
write acknowledged before db-backup began is in the backup, the restored database serves
(gabbi's tour passes on it), on sqlite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.support.backups import PLACEMENT, serve, sqlite_url
from tests.support.http import request
from tests.support.server import run_startup
from tests.test_startup import gabbi

WRITERS = 4
BACKUPS = 3


class Writers:
    """Threads creating providers through the API, noting when each was acknowledged."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[tuple[float, str]] = []
        self.failures: list[int] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._write) for _ in range(WRITERS)]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _write(self) -> None:
        while not self.stopping.is_set():
            name = f"rp-{uuid.uuid4()}"
            status, _, _ = request(self.url + "/resource_providers", "POST",
                                   json.dumps({"name": name}).encode(), timeout=60)
            if status in (200, 201):
                self.acknowledged.append((time.monotonic(), name))
            else:
                self.failures.append(status)

    def before(self, moment: float) -> set[str]:
        return {name for at, name in list(self.acknowledged) if at < moment}


def names(url: str) -> set[str]:
    status, _, body = request(url + "/resource_providers", timeout=60)
    assert status == 200, body
    return {provider["name"] for provider in json.loads(body)["resource_providers"]}


def test_a_backup_under_writes_holds_every_acknowledged_write(fresh_database,
                                                              tmp_path: Path) -> None:
    source = fresh_database()
    server = serve(tmp_path / "source", source)
    restored_servers = []
    try:
        with Writers(server.url) as writers:
            time.sleep(1)
            for number in range(BACKUPS):
                began = time.monotonic()
                backup = tmp_path / f"backup-{number}"
                made = run_startup(["db-backup", str(backup)], {PLACEMENT: source}, timeout=300)
                took = time.monotonic() - began
                assert made.returncode == 0, made.stderr
                acknowledged = writers.before(began)
                target = fresh_database()
                restored = run_startup(["db-restore", str(backup)], {PLACEMENT: target},
                                       timeout=300)
                assert restored.returncode == 0, restored.stderr
                restored_servers.append((target, acknowledged, took))
        assert writers.failures == [], writers.failures[:10]
        for number, (target, acknowledged, took) in enumerate(restored_servers):
            running = serve(tmp_path / f"restored-{number}", target)
            try:
                missing = acknowledged - names(running.url)
                assert missing == set(), f"{len(missing)} acknowledged writes lost"
                if number == 0:
                    result = gabbi(running.url)
                    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            finally:
                running.stop()
            print(f"{source.split(':')[0]}: backup {number + 1} of {BACKUPS} under {WRITERS} "
                  f"writers took {took:.2f} s; {len(acknowledged)} providers acknowledged "
                  "before it began, all restored")
    finally:
        server.stop()


def test_the_operations_guide_runs_as_written(postgresql_url: str, tmp_path: Path) -> None:
    """docs/operations.md's commands for a checkout, verbatim, in the order a user runs them."""
    from tests.support.backups import contents, seeded
    from tests.support.server import NOAUTH, REPO, base_environment

    source = sqlite_url(tmp_path / "placement.sqlite")
    seeded(source, 5)
    folder = tmp_path / "backups"
    folder.mkdir()

    def run(command: str, **env: str) -> str:
        assert command in (REPO / "docs" / "operations.md").read_text()
        result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True,
                                text=True, timeout=300, check=False,
                                env={**base_environment(), **NOAUTH, PLACEMENT: source, **env})
        assert result.returncode == 0, result.stderr
        return result.stderr.strip().splitlines()[-1]

    run('./startup.sh db-backup "$BACKUP_DIR"', BACKUP_DIR=str(folder))
    (backup,) = folder.iterdir()
    restored = sqlite_url(tmp_path / "restored" / "placement.sqlite")
    (tmp_path / "restored").mkdir()
    run('./startup.sh db-restore "$BACKUP_FILE"', BACKUP_FILE=str(backup), **{PLACEMENT: restored})
    assert contents(restored) == contents(source)
    run("./startup.sh db-copy", PLACEDOCK_COPY_TARGET_CONNECTION=postgresql_url)
    assert contents(postgresql_url) == contents(source)
    print(run("./startup.sh db-migrate-data", **{PLACEMENT: postgresql_url}))
