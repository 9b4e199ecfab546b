"""placedock.addresses: one listening address, written for uwsgi, for a URL, and for a client on
the same host."""

from __future__ import annotations

import pytest

from placedock import addresses


@pytest.mark.parametrize(("text", "is_ip"), [
    ("0.0.0.0", True), ("127.0.0.1", True), ("::", True), ("fe80::1", True),
    ("localhost", False), ("", False), ("256.0.0.1", False), ("[::1]", False),
])
def test_is_ip_address(text: str, is_ip: bool) -> None:
    assert addresses.is_ip_address(text) is is_ip


@pytest.mark.parametrize(("address", "written"), [
    ("0.0.0.0", "0.0.0.0:8080"), ("::", "[::]:8080"), ("::1", "[::1]:8080"),
    ("placedock.example", "placedock.example:8080"),
])
def test_socket_address_brackets_ipv6_only(address: str, written: str) -> None:
    assert addresses.socket_address(address, 8080) == written
    assert addresses.socket_address(address, "8080") == written


@pytest.mark.parametrize(("address", "local"), [
    ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
    ("192.0.2.10", "192.0.2.10"),
])
def test_local_host_is_the_loopback_for_an_unspecified_address(address: str, local: str) -> None:
    assert addresses.local_host(address) == local
