"""HTTPS on the API: the certificate, key and client CA files the front (nginx) serves with,
checked before anything starts.

Off unless PLACEDOCK_TLS_CERT_FILE and PLACEDOCK_TLS_KEY_FILE are set (paths: a Kubernetes
Secret's mount, a Compose secret). PLACEDOCK_TLS_CLIENT_CA_FILE adds client certificates (mutual
TLS): the API then answers only clients whose certificate that CA signed; the health endpoints
answer any client, so probes need none. Each file is read here with OpenSSL (Python's ssl) as
nginx will read it, so a missing or unreadable file, one that is not PEM, or a key that does not
match its certificate is one line naming the variable; no file's content is ever printed.
Standard library only: the health probes import it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from placedock import PlacedockError

CERT = "PLACEDOCK_TLS_CERT_FILE"
KEY = "PLACEDOCK_TLS_KEY_FILE"
CLIENT_CA = "PLACEDOCK_TLS_CLIENT_CA_FILE"
VARIABLES = (CERT, KEY, CLIENT_CA)


@dataclass(frozen=True)
class Files:
    cert: str
    key: str
    client_ca: str | None = None


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the API is HTTPS (the probes ask it so)."""
    return bool(environ.get(CERT))


def files(environ: Mapping[str, str]) -> Files | None:
    """The checked files, or None when HTTPS is off; PlacedockError naming the variable."""
    cert, key, client_ca = (environ.get(name) or None for name in VARIABLES)
    if not cert and not key:
        if client_ca:
            raise PlacedockError(f"{CLIENT_CA}: client certificates need HTTPS; set {CERT} and "
                                 f"{KEY} too")
        return None
    if not cert or not key:
        missing, given = (CERT, KEY) if not cert else (KEY, CERT)
        raise PlacedockError(f"{missing}: needed with {given} (HTTPS wants both)")
    _parse_certificates(CERT, cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # An empty password: an encrypted key fails here instead of prompting for one.
        context.load_cert_chain(cert, key, password="")
    except OSError as error:
        problem = getattr(error, "reason", None) or error.strerror or str(error)
        if isinstance(error, ssl.SSLError):
            raise PlacedockError(f"{KEY}: {key!r} is not the private key of {CERT} ({problem}; "
                                 "an encrypted key is refused too)") from None
        raise PlacedockError(f"{KEY}: cannot read {key!r} ({problem})") from None
    if client_ca:
        _parse_certificates(CLIENT_CA, client_ca)
    return Files(cert, key, client_ca)


def _parse_certificates(variable: str, path: str) -> None:
    problem = certificate_problem(path)
    if problem:
        raise PlacedockError(f"{variable}: {problem}")


def certificate_problem(path: str) -> str | None:
    """Why OpenSSL cannot take ``path`` as PEM certificates (a CA file), or None."""
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as error:
        return f"{path!r} holds no PEM certificate OpenSSL can read ({error.reason})"
    except OSError as error:
        return f"cannot read {path!r} ({error.strerror})"
    return None
