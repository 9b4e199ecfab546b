"""HTTPS on the API (placedock/tls.py, served by the front), against startup.sh with certificates
the tests make with openssl: real clients (curl, openssl s_client, the openstack CLI) succeed with
the right CA and fail with a wrong CA, a wrong name, an expired certificate or TLS 1.1; plain HTTP
gets no API; with a client CA the API wants a client certificate and the health endpoints do not;
bad files are one line naming the variable, and no key's content is ever printed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.certificates import Authority, Issued
from tests.support.error_schema import checked_error
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.server import QUICK_START, REPO, Server, base_environment, run_startup


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tls"), "placedock-test-ca")


@pytest.fixture(scope="module")
def issued(authority: Authority) -> Issued:
    return authority.issue("placedock")


def tls_env(cert: Issued, client_ca: Path | None = None) -> dict[str, str]:
    env = {"PLACEDOCK_TLS_CERT_FILE": str(cert.cert), "PLACEDOCK_TLS_KEY_FILE": str(cert.key)}
    if client_ca:
        env["PLACEDOCK_TLS_CLIENT_CA_FILE"] = str(client_ca)
    return env


def https_server(folder: Path, env: dict[str, str]) -> Server:
    server = Server(folder, free_port(), {**QUICK_START, "PLACEDOCK_DATA_DIR": str(folder),
                                          **env})
    server.log_path.unlink(missing_ok=True)
    server.spawn([str(REPO / "startup.sh")], server.env)
    probe = ["python3", "-m", "placedock.health", "ready"]  # the image's HEALTHCHECK, over HTTPS
    wait_until(lambda: subprocess.run(probe, cwd=REPO, env={**base_environment(), **server.env},
                                      capture_output=True, timeout=30,
                                      check=False).returncode == 0,
               timeout=60, interval=0.5, what="ready over HTTPS", process=server)
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issued: Issued) -> Iterator[Server]:
    running = https_server(tmp_path_factory.mktemp("https"), tls_env(issued))
    yield running
    running.stop()


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10",
                           "-H", "x-auth-token: admin", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def test_curl_with_the_ca_gets_the_api(server: Server, authority: Authority) -> None:
    result = curl("--cacert", str(authority.cert),
                  f"https://127.0.0.1:{server.port}/resource_providers")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rsplit("\n", 1)[1] == "200"
    by_name = curl("--cacert", str(authority.cert), f"https://localhost:{server.port}/")
    assert by_name.returncode == 0 and by_name.stdout.endswith("200"), by_name.stderr


def test_plain_http_gets_no_api(server: Server) -> None:
    result = curl(f"http://127.0.0.1:{server.port}/resource_providers")
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "400"
    assert checked_error(body.encode(), 400)["detail"] == "This port speaks HTTPS only."


def test_a_wrong_ca_a_wrong_name_and_an_expired_certificate_fail(
        server: Server, authority: Authority, tmp_path: Path) -> None:
    other = Authority(tmp_path, "another-ca")
    wrong_ca = curl("--cacert", str(other.cert), f"https://127.0.0.1:{server.port}/")
    assert wrong_ca.returncode == 60, wrong_ca.stderr  # curl: peer certificate not verified
    name = "placedock-wrong-name.invalid"
    wrong_name = curl("--cacert", str(authority.cert), "--resolve",
                      f"{name}:{server.port}:127.0.0.1", f"https://{name}:{server.port}/")
    assert wrong_name.returncode == 60, wrong_name.stderr
    expired = authority.issue("expired", start="20200101000000Z", end="20200102000000Z")
    stale = https_server(tmp_path / "expired", tls_env(expired))
    try:
        result = curl("--cacert", str(authority.cert), f"https://127.0.0.1:{stale.port}/")
        assert result.returncode == 60 and "expired" in result.stderr, result.stderr
    finally:
        stale.stop()


def s_client(port: int, version: str) -> subprocess.CompletedProcess[str]:
    """A handshake offering ``version`` only; the client's own floor lowered, so that a refusal
    is the server's."""
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version,
                           "-cipher", "DEFAULT@SECLEVEL=0"], input="", capture_output=True,
                          text=True, timeout=30, check=False)


def test_tls_1_1_is_refused_and_1_2_and_1_3_are_served(server: Server) -> None:
    assert s_client(server.port, "-tls1_1").returncode != 0
    for version in ("-tls1_2", "-tls1_3"):
        result = s_client(server.port, version)
        assert result.returncode == 0 and "Cipher is" in result.stdout, result.stdout[-500:]


def test_the_openstack_cli_with_os_cacert(server: Server, authority: Authority) -> None:
    from tests.test_devstack import ensure_osc_venv

    folder = ensure_osc_venv()
    url = f"https://127.0.0.1:{server.port}"
    command = [str(folder / "osc-venv/bin/openstack"), "--os-endpoint", url, "--os-token",
               "admin", "--os-cacert", str(authority.cert)]
    made = subprocess.run([*command, "resource", "provider", "create", "tls-cat", "-f", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["name"] == "tls-cat"
    refused = subprocess.run([str(folder / "osc-venv/bin/openstack"), "--os-endpoint", url,
                              "--os-token", "admin", "resource", "provider", "list"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr


def test_a_client_ca_guards_the_api_but_not_the_health_endpoints(
        issued: Issued, authority: Authority, tmp_path: Path) -> None:
    client = authority.issue("nova-compute", alt_names="DNS:nova-compute")
    stranger = Authority(tmp_path, "stranger-ca").issue("stranger", alt_names="DNS:stranger")
    running = https_server(tmp_path / "mutual", tls_env(issued, authority.cert))
    try:
        url = f"https://127.0.0.1:{running.port}"
        ca = ["--cacert", str(authority.cert)]
        none = curl(*ca, url + "/resource_providers")
        body, status = none.stdout.rsplit("\n", 1)
        assert status == "403", none.stdout
        assert checked_error(body.encode(), 403)["code"] == "placement.request.client_certificate"
        for path in ("/health/ready", "/placement/health/ready"):
            assert curl(*ca, url + path).stdout.endswith("200"), path
        signed = curl(*ca, "--cert", str(client.cert), "--key", str(client.key),
                      url + "/resource_providers")
        assert signed.stdout.endswith("200"), signed.stdout
        other = curl(*ca, "--cert", str(stranger.cert), "--key", str(stranger.key),
                     url + "/resource_providers")
        assert other.stdout.endswith("403"), other.stdout
    finally:
        running.stop()


def refusal(env: dict[str, str], tmp_path: Path) -> str:
    result = run_startup([], {**QUICK_START, "PLACEDOCK_DATA_DIR": str(tmp_path),
                              "PLACEDOCK_PORT": str(free_port()), **env})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "PRIVATE KEY" not in output, output
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0].split("error: ", 1)[1]


def test_bad_files_are_one_line_naming_the_variable(issued: Issued, authority: Authority,
                                                    tmp_path: Path) -> None:
    other = authority.issue("other")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    missing = str(tmp_path / "missing.crt")
    cases = {
        "missing certificate": ({**tls_env(issued), "PLACEDOCK_TLS_CERT_FILE": missing},
                                "PLACEDOCK_TLS_CERT_FILE: cannot read"),
        "certificate not PEM": ({**tls_env(issued), "PLACEDOCK_TLS_CERT_FILE": str(not_pem)},
                                "PLACEDOCK_TLS_CERT_FILE: "),
        "another's key": ({**tls_env(issued), "PLACEDOCK_TLS_KEY_FILE": str(other.key)},
                          "PLACEDOCK_TLS_KEY_FILE: "),
        "no key": ({"PLACEDOCK_TLS_CERT_FILE": str(issued.cert)},
                   "PLACEDOCK_TLS_KEY_FILE: needed with PLACEDOCK_TLS_CERT_FILE"),
        "client CA not PEM": (tls_env(issued, not_pem), "PLACEDOCK_TLS_CLIENT_CA_FILE: "),
        "client CA alone": ({"PLACEDOCK_TLS_CLIENT_CA_FILE": str(authority.cert)},
                            "PLACEDOCK_TLS_CLIENT_CA_FILE: client certificates need HTTPS"),
    }
    for case, (env, start) in cases.items():
        line = refusal(env, tmp_path)
        print(f"{case}: {line}")
        assert line.startswith(start), (case, line)
