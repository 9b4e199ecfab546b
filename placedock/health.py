"""Health probes run beside the server (Docker HEALTHCHECK, Kubernetes exec probes).

  python3 -m placedock.health ready   GET /health/ready on this host: is the database usable?
  python3 -m placedock.health live    ask the uwsgi master over its stats socket: are there
                                      workers? Busy workers still count as alive, so a server
                                      saturated with slow requests is not restarted for it.

Exit 0 when healthy, 1 with one line saying why. Standard library only: probes run often.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from placedock import addresses, defaults, tls

TIMEOUT_S = 5.0


def stats_socket_path(environ: Mapping[str, str]) -> str:
    """uwsgi's stats socket: a unix socket, never a TCP port anyone else could reach."""
    explicit = environ.get("PLACEDOCK_STATS_SOCKET", "")
    port = environ.get("PLACEDOCK_PORT", defaults.PORT)
    return explicit or os.path.join(tempfile.gettempdir(), f"placedock-{port}.stats")


def ready_url(environ: Mapping[str, str]) -> str:
    """The server's readiness URL from this host: on its address, or a loopback one for 0.0.0.0
    and ::."""
    address = environ.get("PLACEDOCK_ADDRESS") or defaults.ADDRESS
    host = addresses.bracketed(addresses.local_host(address))
    scheme = "https" if tls.wanted(environ) else "http"
    return f"{scheme}://{host}:{environ.get('PLACEDOCK_PORT', defaults.PORT)}/health/ready"


def ready(environ: Mapping[str, str]) -> str | None:
    url = ready_url(environ)
    # Over HTTPS the certificate is not checked: the probe asks its own server, on a loopback
    # address the certificate need not name, whether it is ready, not who it is.
    unchecked = None
    if url.startswith("https"):
        unchecked = ssl.create_default_context()
        unchecked.check_hostname = False
        unchecked.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=unchecked) as response:
            response.read()
        return None
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:  # placedock.middleware.Readiness's error: its detail begins "not ready: "
            return str(json.loads(body)["errors"][0]["detail"])
        except (ValueError, LookupError, TypeError):
            return f"not ready: HTTP {error.code}"
    except OSError as error:
        return f"no answer from {url}: {error}"


def uwsgi_stats(environ: Mapping[str, str]) -> dict[str, Any] | str:
    """uwsgi's stats (workers, listen queue) from the master, or why they could not be read."""
    path = stats_socket_path(environ)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(TIMEOUT_S)
            client.connect(path)
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
        stats: dict[str, Any] = json.loads(b"".join(chunks))
    except (OSError, ValueError) as error:
        return f"uwsgi master does not answer on {path}: {error}"
    return stats


def live(environ: Mapping[str, str]) -> str | None:
    stats = uwsgi_stats(environ)
    if isinstance(stats, str):
        return stats
    workers = [w for w in stats.get("workers", []) if w.get("pid", 0) > 0]
    if not workers:
        return "uwsgi has no running worker"
    return None


def main(argv: list[str]) -> int:
    probes = {"ready": ready, "live": live}
    if len(argv) != 2 or argv[1] not in probes:
        print("usage: python3 -m placedock.health ready|live", file=sys.stderr)
        return 2
    problem = probes[argv[1]](os.environ)
    if problem:
        print(f"placedock: {argv[1]}: {problem}", file=sys.stderr)
        return 1
    print(f"placedock: {argv[1]}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
