"""placedock.tls: HTTPS is off unless asked for; with files the tests make with openssl, good
ones pass and each bad one is one line naming its variable (the same checks through startup.sh
are tests/test_tls.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from placedock import PlacedockError, tls
from tests.support.certificates import Authority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tls"), "unit-ca")


def test_off_without_files() -> None:
    assert tls.files({}) is None
    assert not tls.wanted({})


def test_good_files_are_taken(authority: Authority) -> None:
    issued = authority.issue("server")
    environ = {tls.CERT: str(issued.cert), tls.KEY: str(issued.key),
               tls.CLIENT_CA: str(authority.cert)}
    assert tls.files(environ) == tls.Files(str(issued.cert), str(issued.key), str(authority.cert))
    assert tls.wanted(environ)


def test_an_encrypted_key_is_refused_without_a_prompt(authority: Authority,
                                                      tmp_path: Path) -> None:
    import subprocess

    issued = authority.issue("locked")
    locked = tmp_path / "locked.key"
    subprocess.run(["openssl", "pkey", "-in", str(issued.key), "-aes256", "-passout",
                    "pass:secret", "-out", str(locked)], check=True, capture_output=True)
    with pytest.raises(PlacedockError) as raised:
        tls.files({tls.CERT: str(issued.cert), tls.KEY: str(locked)})
    assert str(raised.value).startswith(f"{tls.KEY}: ")
    assert "secret" not in str(raised.value)


def test_an_unreadable_key_names_its_variable(authority: Authority, tmp_path: Path) -> None:
    issued = authority.issue("server2")
    with pytest.raises(PlacedockError) as raised:
        tls.files({tls.CERT: str(issued.cert), tls.KEY: str(tmp_path / "nowhere.key")})
    assert str(raised.value).startswith(f"{tls.KEY}: cannot read ")
