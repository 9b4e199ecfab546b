"""keystone over TLS: a real keystone served over HTTPS (nginx in front of it, with a certificate
from a CA the test makes), placedock's auth_token middleware checking its certificate
(OS_KEYSTONE_AUTHTOKEN__CAFILE), and ks-register checking it too (OS_CACERT). A wrong CA gets no
request through; a CA file that cannot be read is one line naming the variable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import http
from tests.support.certificates import Authority
from tests.support.keystone import KeystoneServer
from tests.support.network import free_port
from tests.support.server import Server, run_startup
from tests.support.skips import require
from tests.support.tls_proxy import TlsProxy


@dataclass
class HttpsKeystone:
    keystone: KeystoneServer
    proxy: TlsProxy
    authority: Authority
    stranger: Authority

    @property
    def url(self) -> str:
        return self.keystone.public_url


@pytest.fixture(scope="module")
def https_keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsKeystone]:
    require(os.geteuid() == 0, "root (the TLS proxy's nginx runs as the test's user, root)")
    folder = tmp_path_factory.mktemp("keystone-tls")
    authority = Authority(folder, "keystone-ca")
    proxy = TlsProxy(folder / "proxy", authority.issue("keystone", alt_names="IP:127.0.0.1"))
    keystone = KeystoneServer(folder / "keystone", public_url=f"{proxy.url}/identity")
    try:
        keystone.start()
        proxy.start(keystone.port)
        yield HttpsKeystone(keystone, proxy, authority, Authority(folder, "stranger-ca"))
    finally:
        proxy.stop()
        keystone.stop()


def authtoken_settings(url: str, password: str, ca: Path) -> dict[str, str]:
    """placedock's keystone settings, as Compose and the devstack recipe give them."""
    prefix = "OS_KEYSTONE_AUTHTOKEN__"
    return {"OS_API__AUTH_STRATEGY": "keystone",
            f"{prefix}WWW_AUTHENTICATE_URI": url, f"{prefix}AUTH_URL": url,
            f"{prefix}AUTH_TYPE": "password", f"{prefix}USERNAME": "placement",
            f"{prefix}PASSWORD": password, f"{prefix}PROJECT_NAME": "service",
            f"{prefix}USER_DOMAIN_NAME": "Default", f"{prefix}PROJECT_DOMAIN_NAME": "Default",
            f"{prefix}CAFILE": str(ca)}


def authtoken(keystone: HttpsKeystone, ca: Path) -> dict[str, str]:
    return authtoken_settings(keystone.url, keystone.keystone.placement_password, ca)


def serve(folder: Path, settings: dict[str, str]) -> Server:
    server = Server(folder, free_port(), {"DB_SYNC": "True", "PLACEDOCK_DATA_DIR": str(folder),
                                          **settings})
    server.start()
    server.wait_ready()
    return server


def test_tokens_are_checked_with_keystone_over_verified_tls(https_keystone: HttpsKeystone,
                                                            tmp_path: Path) -> None:
    keystone = https_keystone.keystone
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    server = serve(tmp_path, authtoken(https_keystone, https_keystone.authority.cert))
    try:
        assert http.status(server.url + "/resource_providers", token) == 200
        assert http.status(server.url + "/resource_providers", "not-a-token") == 401
    finally:
        server.stop()


def test_a_wrong_ca_gets_no_request_through(https_keystone: HttpsKeystone,
                                            tmp_path: Path) -> None:
    """keystonemiddleware cannot check a token with a keystone it does not trust: 503, never the
    request served; its log says why."""
    keystone = https_keystone.keystone
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    server = serve(tmp_path, authtoken(https_keystone, https_keystone.stranger.cert))
    try:
        status = http.status(server.url + "/resource_providers", token)
        log = server.log_path.read_text()
        print(f"keystone over TLS with another CA: {status}")
        assert status == 503, status
        assert "CERTIFICATE_VERIFY_FAILED" in log or "certificate verify failed" in log, \
            log[-3000:]
    finally:
        server.stop()


def ks_register(keystone: HttpsKeystone, ca: Path | None) -> tuple[int, str]:
    inner = keystone.keystone
    env = {"OS_AUTH_URL": keystone.url, "OS_USERNAME": "admin",
           "OS_PASSWORD": inner.admin_password, "OS_PROJECT_NAME": "admin",
           "OS_KEYSTONE_AUTHTOKEN__PASSWORD": inner.placement_password,
           "PLACEDOCK_ENDPOINT_URL": "https://placement.test:8778", "KS_WAIT_TIMEOUT": "60"}
    if ca is not None:
        env["OS_CACERT"] = str(ca)
    result = run_startup(["ks-register"], env, timeout=120)
    return result.returncode, result.stderr.strip().splitlines()[-1]


def test_ks_register_checks_keystones_certificate(https_keystone: HttpsKeystone,
                                                  tmp_path: Path) -> None:
    status, line = ks_register(https_keystone, https_keystone.authority.cert)
    assert status == 0 and "ks-register done" in line, line
    for ca, expected in ((https_keystone.stranger.cert, "OS_AUTH_URL: keystone's TLS certificate "
                          "is not trusted or not for this host"),
                         (None, "OS_AUTH_URL: keystone's TLS certificate"),
                         (tmp_path / "missing.crt", "OS_CACERT: cannot read")):
        status, line = ks_register(https_keystone, ca)
        print(f"ks-register, CA {ca.name if ca else '(the system CAs)'}: {line}")
        assert status == 1 and expected in line and "Traceback" not in line, line
        assert https_keystone.keystone.admin_password not in line


def test_a_ca_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    """With keystone on HTTPS, at the start; with plain HTTP it is unused: a note."""
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    settings = {**authtoken_settings("https://127.0.0.1:1/identity", "unused", not_pem),
                "KS_WAIT_TIMEOUT": "1"}
    for path, expected in ((tmp_path / "missing.crt", "cannot read"),
                           (not_pem, "holds no PEM certificate")):
        result = run_startup(["true"], {**settings, "OS_KEYSTONE_AUTHTOKEN__CAFILE": str(path)})
        line = result.stderr.strip().splitlines()[-1]
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert line.startswith("placedock: error: OS_KEYSTONE_AUTHTOKEN__CAFILE: ") and \
            expected in line, line
    plain = authtoken_settings("http://127.0.0.1:1/identity", "unused", tmp_path / "missing.crt")
    result = run_startup(["true"], plain)
    assert result.returncode == 0, result.stderr
    assert "OS_KEYSTONE_AUTHTOKEN__CAFILE: cannot read" in result.stderr, result.stderr
    assert "unused while keystone is plain HTTP" in result.stderr, result.stderr
