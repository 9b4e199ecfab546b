"""An HTTPS front for a test server that speaks plain HTTP (keystone under the pyuwsgi wheel,
which has no TLS): nginx on 127.0.0.1, with a certificate the test made, passing every request to
the server's port with ``X-Forwarded-Proto: https``. Stopped by its own PID.

    proxy = TlsProxy(workdir, certificate)   # its port is chosen now: URLs can name it
    proxy.start(backend_port)
    proxy.url                                # https://127.0.0.1:PORT
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.support.certificates import Issued
from tests.support.processes import ServerProcess

NGINX_SEARCH_PATH = "/usr/sbin:/usr/local/sbin"


class TlsProxy(ServerProcess):
    kind = "nginx (TLS proxy)"

    def __init__(self, workdir: Path, certificate: Issued) -> None:
        super().__init__(workdir, "nginx.log")
        self.certificate = certificate

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, backend_port: int, timeout: float = 30) -> TlsProxy:
        nginx = shutil.which("nginx") or shutil.which("nginx", path=NGINX_SEARCH_PATH)
        assert nginx, "nginx (Debian package nginx) is needed for the TLS proxy"
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "nginx.conf"
        config.write_text(self._configuration(backend_port))
        self.spawn([nginx, "-e", "stderr", "-c", str(config)], None)
        self.wait_until_ready(self._listening, timeout)
        return self

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _configuration(self, backend_port: int) -> str:
        temp = "".join(f"    {kind}_temp_path {self.workdir / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""\
user root root;
daemon off;
worker_processes 1;
pid {self.workdir / 'nginx.pid'};
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {self.certificate.cert};
        ssl_certificate_key {self.certificate.key};
        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""
