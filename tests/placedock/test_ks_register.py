"""`startup.sh ks-register` against a real keystone (tests/support/keystone.py): run twice, it
ensures the service user (the existing one gets the new password), its admin role on the service
project, the placement service and its three endpoints, and the user can then log in."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from tests.support.keystone import KeystoneServer
from tests.support.server import run_startup

PUBLIC = "http://127.0.0.1:8780"
INTERNAL = "http://haproxy:8780"


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    server = KeystoneServer(tmp_path_factory.mktemp("ks-register") / "keystone")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def admin_environment(keystone: KeystoneServer, password_file: str) -> dict[str, str]:
    return {"OS_AUTH_URL": keystone.auth_url, "OS_USERNAME": "admin",
            "OS_PASSWORD_FILE": password_file, "OS_PROJECT_NAME": "admin",
            "OS_KEYSTONE_AUTHTOKEN__USERNAME": "placement", "PLACEDOCK_ENDPOINT_URL": PUBLIC,
            "PLACEDOCK_INTERNAL_ENDPOINT_URL": INTERNAL}


def endpoints(keystone: KeystoneServer, token: str) -> dict[str, str]:
    _, services, _ = keystone.request("GET", "/v3/services?type=placement", token)
    assert len(services["services"]) == 1, services
    service = services["services"][0]["id"]
    _, found, _ = keystone.request("GET", f"/v3/endpoints?service_id={service}", token)
    return {e["interface"]: e["url"] for e in found["endpoints"]}


def test_registers_placement_idempotently(keystone: KeystoneServer, tmp_path) -> None:
    admin_password = tmp_path / "admin-password"
    admin_password.write_text(keystone.admin_password + "\n")
    environment = admin_environment(keystone, str(admin_password))
    outputs = []
    for password in (secrets.token_hex(8), secrets.token_hex(8)):  # the second: a rotated secret
        result = run_startup(["ks-register"], {**environment,
                                               "OS_KEYSTONE_AUTHTOKEN__PASSWORD": password})
        assert result.returncode == 0, result.stderr
        assert password not in result.stderr and keystone.admin_password not in result.stderr
        outputs.append(result.stderr)
    print(f"ks-register, first run: {outputs[0].strip()}\nsecond run: {outputs[1].strip()}")
    assert "service placement created" in outputs[0] or "service placement there" in outputs[0]
    assert "service placement there" in outputs[1]
    assert "public there, internal there, admin there" in outputs[1]
    # keystone revokes by the second: a token issued in the second the password changed is
    # refused.
    time.sleep(1.1)
    token = keystone.issue_token("placement", password, "service")  # the last password
    assert endpoints(keystone, token) == {"public": PUBLIC, "internal": INTERNAL, "admin": PUBLIC}


def test_missing_admin_credentials_are_one_line(keystone: KeystoneServer) -> None:
    result = run_startup(["ks-register"], {"PLACEDOCK_ENDPOINT_URL": PUBLIC,
                                           "OS_KEYSTONE_AUTHTOKEN__PASSWORD": "x"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "placedock: error: OS_AUTH_URL: not set (nor OS_AUTH_URL_FILE); ks-register needs it"]
