"""The real keystone and memcached of tests/support/keystone.py: start, tokens, stop."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import keystone as support
from tests.support.keystone import KeystoneError, KeystoneServer
from tests.support.memcached import MemcachedServer
from tests.support.processes import wait_until
from tests.support.skips import require


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MemcachedServer, KeystoneServer]]:
    require(shutil.which(MemcachedServer.binary) is not None, "Debian's memcached")
    workdir = tmp_path_factory.mktemp("keystone-support")
    memcached = MemcachedServer(workdir / "memcached")
    keystone = KeystoneServer(workdir / "keystone")
    try:
        memcached.start()
        keystone.start()
        print(f"\nkeystone venv {keystone.install_seconds:.1f} s, initialise "
              f"{keystone.init_seconds:.1f} s, uwsgi to first 200 {keystone.start_seconds:.1f} s")
        yield memcached, keystone
    finally:
        keystone.stop()
        memcached.stop()


def test_loopback_only(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    memcached, keystone = servers
    assert keystone.url == f"http://127.0.0.1:{keystone.port}/identity"
    assert memcached.servers == f"127.0.0.1:{memcached.port}"


def test_keystone_says_it_closes_connections(
    servers: tuple[MemcachedServer, KeystoneServer],
) -> None:
    # Without it placement's keep-alive session reuses closed connections: sporadic 503s.
    _, keystone = servers
    status, _, headers = keystone.call("GET", "/v3")
    assert status == 200
    assert headers["Connection"] == "close"


def test_venv_lives_in_the_cache_dir(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    assert keystone.venv == support.keystone_venv()
    assert (keystone.venv / support.READY_MARKER).read_text().split() == list(
        support.KEYSTONE_REQUIREMENTS
    )


def test_admin_token_validates(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    validated = keystone.validate_token(token, token)
    assert validated["user"]["name"] == "admin"
    assert validated["project"]["name"] == "admin"
    assert "admin" in {role["name"] for role in validated["roles"]}


def test_identity_endpoint_is_the_loopback_url(
    servers: tuple[MemcachedServer, KeystoneServer],
) -> None:
    _, keystone = servers
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    _, body, _ = keystone.request("GET", "/v3/endpoints", token)
    urls = {(endpoint["interface"], endpoint["url"]) for endpoint in body["endpoints"]}
    assert urls == {(interface, keystone.url) for interface in ("public", "internal", "admin")}


def test_placement_service_user_is_admin_in_service(
    servers: tuple[MemcachedServer, KeystoneServer],
) -> None:
    _, keystone = servers
    admin = keystone.issue_token("admin", keystone.admin_password, "admin")
    token = keystone.issue_token(support.PLACEMENT_USER, keystone.placement_password, "service")
    validated = keystone.validate_token(admin, token)
    assert validated["project"]["name"] == support.SERVICE_PROJECT
    assert "admin" in {role["name"] for role in validated["roles"]}


def test_demo_is_only_a_member(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    admin = keystone.issue_token("admin", keystone.admin_password, "admin")
    token = keystone.issue_token(support.DEMO_USER, keystone.demo_password, support.DEMO_PROJECT)
    roles = {role["name"] for role in keystone.validate_token(admin, token)["roles"]}
    assert "member" in roles
    assert "admin" not in roles
    with pytest.raises(KeystoneError, match="401"):
        keystone.issue_token(support.DEMO_USER, keystone.demo_password, "admin")


def test_garbage_token_is_rejected(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    admin = keystone.issue_token("admin", keystone.admin_password, "admin")
    with pytest.raises(KeystoneError, match="404"):
        keystone.validate_token(admin, "not-a-token")


def test_wrong_password_is_refused(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    with pytest.raises(KeystoneError, match="401"):
        keystone.issue_token("admin", "wrong", "admin")


def test_restart_keeps_port_and_accounts(servers: tuple[MemcachedServer, KeystoneServer]) -> None:
    _, keystone = servers
    admin = keystone.issue_token("admin", keystone.admin_password, "admin")
    url = keystone.url
    keystone.stop()
    keystone.start()
    assert keystone.url == url
    assert keystone.validate_token(admin, admin)["user"]["name"] == "admin"  # same fernet keys


def test_stop_ends_exactly_the_processes_started(tmp_path: Path) -> None:
    require(shutil.which(MemcachedServer.binary) is not None, "Debian's memcached")
    memcached = MemcachedServer(tmp_path / "memcached")
    memcached.start()
    pid = memcached.pid
    assert _alive(pid)
    memcached.stop()
    wait_until(lambda: not _alive(pid), 5, what=f"memcached {pid} gone")
    assert _refused(memcached.port)
    memcached.stop()  # twice is harmless


def test_stopped_keystone_refuses_connections(
    servers: tuple[MemcachedServer, KeystoneServer],
) -> None:
    memcached, keystone = servers
    pid = keystone.pid
    workers = [int(child) for child in
               Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert workers  # uwsgi's master forked at least one worker
    keystone.stop()
    memcached.stop()
    assert not _alive(pid)
    wait_until(lambda: not any(_alive(worker) for worker in workers), 5,
               what="keystone's workers gone")
    assert _refused(keystone.port)
    assert _refused(memcached.port)
