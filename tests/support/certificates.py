"""Certificates for the TLS tests, made with the openssl command in the run: a CA, and
certificates it signs for given names and dates (an expired one too). Never committed."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
[ca]
default_ca = tests
[tests]
database = {folder}/index.txt
new_certs_dir = {folder}
serial = {folder}/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Authority:
    """A CA in ``folder``, which signs certificates with the dates asked for."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder / name
        self.folder.mkdir(parents=True)
        (self.folder / "index.txt").write_text("")
        (self.folder / "serial").write_text("1000\n")
        self.config = self.folder / "ca.cnf"
        self.config.write_text(CONFIG.format(folder=self.folder))
        self.cert, self.key = self.folder / "ca.crt", self.folder / "ca.key"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                "-out", str(self.cert), "-subj", f"/CN={name}", "-days", "2",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.folder)

    def issue(self, name: str, alt_names: str = "IP:127.0.0.1,DNS:localhost",
              start: str = "", end: str = "") -> Issued:
        """A certificate for ``alt_names`` (subjectAltName syntax); ``start`` and ``end`` as
        YYYYMMDDHHMMSSZ, else valid from now for a day."""
        key, request = self.folder / f"{name}.key", self.folder / f"{name}.csr"
        cert = self.folder / f"{name}.crt"
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                str(request), "-subj", f"/CN={name}", "-addext", f"subjectAltName={alt_names}",
                cwd=self.folder)
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "1"]
        openssl("ca", "-batch", "-config", str(self.config), "-cert", str(self.cert),
                "-keyfile", str(self.key), "-in", str(request), "-out", str(cert), *dates,
                cwd=self.folder)
        return Issued(cert, key)
