"""A rolling upgrade from the previous placement release: N containers of the previous image on one
shared database behind Apache's balancer, replaced one by one with the current image under load."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apache import Apache
from tests.support.containers import Containers, logs, wait_http
from tests.support.docker_engine import build_image, docker
from tests.support.http import get
from tests.support.load import Load
from tests.support.network import free_ports
from tests.support.processes import wait_until
from tests.support.server import REPO
from tests.test_databases import post_json

N = 3
PREVIOUS = {"PLACEMENT_REQUIREMENTS": "placement-requirements-previous.txt",
            "PLACEMENT_VERSION": "15.0.0"}
PREVIOUS_IMAGE = "placedock:previous"
# The README's command, verbatim.
BUILD_PREVIOUS = "docker build --build-arg PLACEMENT_REQUIREMENTS=placement-requirements-previous.txt --build-arg PLACEMENT_VERSION=15.0.0 -t placedock:previous ."  # noqa: E501 (the README's command, verbatim)


@pytest.fixture(scope="module")
def previous_image(base_image: str) -> str:
    build_image(REPO, PREVIOUS_IMAGE, PREVIOUS)
    # Every layer is cached by now: the README's plain command rebuilds the same image.
    readme = subprocess.run(["bash", "-c", BUILD_PREVIOUS], cwd=REPO, capture_output=True,
                            text=True, timeout=600, check=False)
    assert readme.returncode == 0, readme.stderr
    return PREVIOUS_IMAGE


def placement_version(image: str) -> str:
    result = docker("run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
                    "from importlib.metadata import version; print(version('openstack-placement'))")
    return result.stdout.strip()


def on_host_port(containers: Containers, image: str, port: int, url: str) -> str:
    """The README's devstack recipe: host network, 127.0.0.1 only, migrate under the lock."""
    return containers.run("--network", "host", "-e", "PLACEDOCK_ADDRESS=127.0.0.1",
                          "-e", f"PLACEDOCK_PORT={port}", "-e", "OS_API__AUTH_STRATEGY=noauth2",
                          "-e", "DB_SYNC=True", "-e", f"OS_PLACEMENT_DATABASE__CONNECTION={url}",
                          image)


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[tuple[Apache, list[int]]]:
    first = free_ports(N)
    site = tmp_path / "placement-api.conf"
    site.write_text(subprocess.run([str(REPO / "devstack" / "balancer.sh"), str(N), str(first)],
                                   capture_output=True, text=True, check=True).stdout)
    apache = Apache(tmp_path / "apache")
    yield apache, [first + index for index in range(N)]
    apache.stop()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_rolling_upgrade_from_the_previous_release_loses_nothing(
        image: str, previous_image: str, containers: Containers, backend: str,
        balancer: tuple[Apache, list[int]], request: pytest.FixtureRequest) -> None:
    assert (placement_version(previous_image), placement_version(image)) == ("15.0.0", "16.0.0")
    url = request.getfixturevalue(f"{backend}_url")
    apache, ports = balancer
    old = [on_host_port(containers, previous_image, port, url) for port in ports]
    for port, container in zip(ports, old, strict=True):
        wait_http(f"http://127.0.0.1:{port}/health/ready", timeout=120, container=container)
    apache.start(apache.workdir.parent / "placement-api.conf")

    def all_in_service() -> bool:
        return apache.members() == dict.fromkeys(ports, "Init Ok")

    wait_until(all_in_service)
    status, body = post_json(f"{apache.url}/placement/resource_providers", {"name": "kept"})
    assert status == 200, body
    new: list[str] = []
    with Load(f"{apache.url}/placement/resource_providers", clients=6) as load:
        load.wait_for("200", 50)
        for port, container in zip(ports, old, strict=True):
            stop = docker("stop", container)
            assert stop.returncode == 0, stop.stderr + logs(container)[-3000:]
            new.append(on_host_port(containers, image, port, url))
            wait_until(all_in_service, 120)
        # The upgrade's last step, every container on the new release and still under load:
        # placement's online data migrations to completion, then its upgrade check.
        migrated = docker("run", "--rm", "--network", "host", "-e", "OS_API__AUTH_STRATEGY=noauth2",
                          "-e", f"OS_PLACEMENT_DATABASE__CONNECTION={url}",
                          "-e", "PLACEDOCK_MIGRATION_BATCH_SIZE=50", image, "db-migrate-data")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert "placement-status upgrade check passed" in migrated.stderr, migrated.stderr
        load.wait_for("200", load.count("200") + 100)
    print(f"\nrolling upgrade 15.0.0 -> 16.0.0 of {N} on {backend} behind Apache: "
          f"outcomes {dict(load.outcomes)}; data migrations: {migrated.stderr.strip()[-200:]}")
    server_logs = "\n".join(logs(container) for container in old + new)
    assert load.stopped_cleanly(server_logs, stops=N, balanced=True) is None, \
        load.stopped_cleanly(server_logs, stops=N, balanced=True)
    schema_lines = [line for line in server_logs.splitlines() if "database schema" in line]
    # Both releases share one schema: the first old container migrated the empty database, and
    # no other start migrated anything.
    assert sum("migrated from empty" in line for line in schema_lines) == 1, schema_lines
    assert sum("schema: migrated" in line for line in schema_lines) == 1, schema_lines
    status, body = get(f"{apache.url}/placement/resource_providers?name=kept")
    assert status == 200 and len(json.loads(body)["resource_providers"]) == 1
    check = docker("run", "--rm", "--network", "host", "-e", "OS_API__AUTH_STRATEGY=noauth2",
                   "-e", f"OS_PLACEMENT_DATABASE__CONNECTION={url}", image,
                   "placement-status", "upgrade", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Success" in check.stdout, check.stdout
