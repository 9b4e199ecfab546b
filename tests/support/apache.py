"""Debian's apache2 as devstack runs it in front of placement: a balancer over placedock members
(devstack/balancer.sh's file), with its balancer-manager page read to see each member's state."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from tests.support import http
from tests.support.processes import ServerProcess, clean_environment

MODULES = ["mpm_event", "authz_core", "slotmem_shm", "proxy", "proxy_http", "proxy_balancer",
           "lbmethod_byrequests", "proxy_hcheck"]
HTTPD_CONF = """\
ServerRoot "{dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{dir}/apache2.pid"
DefaultRuntimeDir "{dir}"
ErrorLog "{dir}/error.log"
LogFormat "%h %{{msec}}t \\"%r\\" %>s %D %{{BALANCER_WORKER_NAME}}e" balancer
CustomLog "{dir}/access.log" balancer
User www-data
Group www-data
{modules}
Include "{site}"
<Location "/balancer-manager">
    SetHandler balancer-manager
</Location>
"""
MEMBER_ROW = re.compile(r">http://127\.0\.0\.1:(\d+)/placement</a></td>(?:<td>[^<]*</td>){4}"
                        r"<td>([^<]*)</td>")


class Apache(ServerProcess):
    """Debian's apache2 in the foreground with a config of its own; stopped by its PID."""

    kind = "apache"

    def start(self, site: Path, timeout: float = 30) -> float:
        modules = "\n".join(f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so"
                            for name in MODULES)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "httpd.conf"
        config.write_text(HTTPD_CONF.format(dir=self.workdir, port=self.port, modules=modules,
                                            site=site))
        self.spawn(["/usr/sbin/apache2", "-f", str(config), "-DFOREGROUND"], clean_environment(),
                   cwd=self.workdir)
        return self.wait_until_ready(lambda: bool(self.members()), timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graceful(self) -> None:
        """What `apache2ctl graceful` does: re-read the config, let requests in flight finish."""
        os.kill(self.pid, signal.SIGUSR1)

    def members(self) -> dict[int, str]:
        """Port -> status ("Init Ok", "Init HcFl", ...) from the balancer-manager page."""
        try:
            _, page = http.get(self.url + "/balancer-manager", token=None, timeout=5)
        except OSError:
            return {}
        return {int(port): status.strip() for port, status in MEMBER_ROW.findall(page.decode())}

    def access_log(self) -> list[str]:
        return (self.workdir / "access.log").read_text().splitlines()
