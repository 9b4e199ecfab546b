"""The address placedock listens on, written for uwsgi, for URLs and for a probe on this host.

Standard library only: the health probes import it.
"""

from __future__ import annotations

import ipaddress


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def bracketed(host: str) -> str:
    """An IPv6 address in brackets, as URLs and uwsgi's host:port need; anything else as it is."""
    return f"[{host}]" if ":" in host else host


def socket_address(address: str, port: int | str) -> str:
    """uwsgi's http-socket: 0.0.0.0:80, [::]:80 (uwsgi reads a bare IPv6 address as a port)."""
    return f"{bracketed(address)}:{port}"


def local_host(address: str) -> str:
    """Where a client on this host reaches a server listening on ``address``: the loopback of
    the same family for an unspecified address (0.0.0.0, ::), else the address itself. ::1 for
    :: works whether or not the kernel also gives :: the IPv4 addresses (bindv6only)."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "::1"
    return address
