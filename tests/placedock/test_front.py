"""placedock.front: nginx's configuration, checked by the real nginx (``nginx -t``), with the
limits asked for and every error nginx answers itself in placement's shape."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from placedock import PlacedockError, errors, front
from tests.support.error_schema import checked_error


def written(tmp_path: Path, address: str = "127.0.0.1") -> tuple[list[str], str]:
    stats = str(tmp_path / "placedock.stats")
    options = front.prepare(address, 8080, stats, 3 << 20, 45)
    return options, (front.folder(stats) / "nginx.conf").read_text()


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::1", "::"])
def test_nginx_accepts_the_configuration(tmp_path: Path, address: str) -> None:
    _, config = written(tmp_path, address)
    result = subprocess.run([front.nginx_binary(), "-t", "-e", "stderr", "-c",
                             str(front.folder(str(tmp_path / "placedock.stats")) / "nginx.conf")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    listen = re.search(r"^\s*listen (\S+)", config, re.MULTILINE)
    assert listen and listen[1] == (f"[{address}]:8080" if ":" in address else f"{address}:8080")
    assert ("ipv6only=off" in config) == (address == "::")  # :: serves both families, as before


def test_the_limits_and_the_timeout_are_the_ones_asked_for(tmp_path: Path) -> None:
    options, config = written(tmp_path)
    assert f"client_max_body_size {3 << 20};" in config
    assert "uwsgi_read_timeout 45s;" in config
    assert "--harakiri=46" in options  # the worker goes a second after the client's 504
    assert "uwsgi_next_upstream off;" in config  # a request never runs twice
    assert f"uwsgi_pass unix:{tmp_path / 'placedock.stats'}.uwsgi;" in config


def test_every_error_nginx_answers_has_placements_shape(tmp_path: Path) -> None:
    _, config = written(tmp_path)
    pages = dict(re.findall(r"error_page (\d+) =(\d+) /.placedock/error/\1;", config))
    assert pages == {"400": "400", "404": "404", "413": "413", "414": "414", "494": "431",
                     "501": "400", "502": "502", "504": "504", "505": "400", "497": "400",
                     "403": "403", "495": "403"}
    for status, text in re.findall(r"return (\d+) '(.*)';", config):
        document = text.replace("\\'", "'").replace("\\\\", "\\").replace("$request_id", "0" * 32)
        error = checked_error(document.encode(), int(status))
        assert error["code"] in errors.CODES
        assert error["request_id"] == "req-" + "0" * 32
        assert json.loads(document)["errors"][0]["status"] == int(status)


def test_a_missing_nginx_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(front, "SEARCH_PATH", ())
    with pytest.raises(PlacedockError) as raised:
        front.nginx_binary()
    assert str(raised.value).startswith("nginx: not found;")


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PlacedockError) as raised:
            front.check_port("127.0.0.1", port)
    assert str(raised.value) == (f"PLACEDOCK_PORT: cannot listen on 127.0.0.1:{port} (Address "
                                 "already in use); another server has it, or choose another port")
    front.check_port("127.0.0.1", port)  # free again: no error


def test_https_with_client_certificates_guards_all_but_health(tmp_path: Path) -> None:
    from placedock import tls

    files = tls.Files("/run/secrets/tls.crt", "/run/secrets/tls.key", "/run/secrets/ca.crt")
    config = front.configuration("::", 443, str(tmp_path / "s"), 1 << 20, 60, files)
    assert "listen [::]:443 ssl backlog=" in config
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in config
    assert "ssl_verify_client optional;" in config
    api, health = config.split("location / {", 1)[1].split("location ~ ^(/placement)?/health/ {")
    assert "if ($ssl_client_verify != SUCCESS)" in api
    assert "ssl_client_verify" not in health.split("}", 1)[0]
    plain = front.configuration("::", 80, str(tmp_path / "s"), 1 << 20, 60)
    assert "ssl" not in plain.replace("/.placedock/", "")
