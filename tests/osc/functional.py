"""osc-placement's own functional suite (the tests its wheel ships, unchanged) against a live
placement at URL: run in a venv holding osc-placement and what its suite imports, never in
placedock's.

    python functional.py --url URL [--token TOKEN]

osc-placement 4.9.1's ``BaseTestCase.setUp`` makes its server with placement's
``PlacementFixture()``: placement's app in this process over an in-memory sqlite, reached through
wsgi-intercept at the fixture's ``endpoint``; its ``openstack()`` then runs the real
``OpenStackShell`` with ``--os-endpoint fixture.endpoint --os-token fixture.token
--os-auth-type admin_token``. Neither has a hook to name another server, so the one thing
replaced here is that class, before the suite runs: a fixture whose ``endpoint`` is URL and whose
``token`` is TOKEN (placement's default, "admin", which noauth2 makes an admin), with no app, no
database and no intercept, so every command goes over HTTP to the live server. The tests, their
assertions and the client are upstream's.

Prints one JSON object: tests run, passed, skipped, and each failed test's id with the last line
of its error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import unittest
from pathlib import Path

import fixtures
import osc_placement
from placement.tests.functional.fixtures import placement as placement_fixtures


class LivePlacement(fixtures.Fixture):
    """What the suite reads of ``PlacementFixture`` (``endpoint``, ``token``), for a server
    already running."""

    url = ""
    default_token = "admin"

    def __init__(self, token: str | None = None, **_ignored: object) -> None:
        super().__init__()
        self.endpoint = self.url
        self.token = token or self.default_token


def last_line(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="admin")
    arguments = parser.parse_args(argv)
    LivePlacement.url = arguments.url
    LivePlacement.default_token = arguments.token
    placement_fixtures.PlacementFixture = LivePlacement  # type: ignore[misc]
    package = Path(osc_placement.__file__).parent
    suite = unittest.defaultTestLoader.discover(
        str(package / "tests" / "functional"), top_level_dir=str(package.parent))
    started = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite)
    failed = {test.id(): last_line(trace) for test, trace in [*result.failures, *result.errors]}
    skipped = len(result.skipped)
    print(json.dumps({
        "run": result.testsRun,
        "passed": result.testsRun - len(failed) - skipped - len(result.expectedFailures),
        "skipped": skipped,
        "failed": failed,
        "seconds": round(time.monotonic() - started, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
