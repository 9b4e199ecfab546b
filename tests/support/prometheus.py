"""A real Prometheus server (Debian's prometheus) scraping placedock, evaluating rule files, and
its HTTP query API."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.support import http
from tests.support.processes import ServerProcess

BINARY = "prometheus"
SCRAPE_INTERVAL_S = 1
JOB = "placedock"


class PrometheusQueries:
    """The HTTP query API of the Prometheus at ``self.url``."""

    url: str

    def api(self, path: str, parameters: dict[str, str] | None = None) -> Any:
        """The ``data`` of a successful answer of the HTTP API (``/api/v1/`` + ``path``)."""
        query = f"?{urllib.parse.urlencode(parameters)}" if parameters else ""
        status, body = http.get(f"{self.url}/api/v1/{path}{query}", timeout=10)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]

    def query(self, expression: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query: each series' labels (sorted; without the name, job and instance) ->
        value."""
        data = self.api("query", {"query": expression})
        return {
            tuple(sorted((k, v) for k, v in sample["metric"].items()
                         if k not in {"__name__", "job", "instance"})): float(sample["value"][1])
            for sample in data["result"]
        }

    def wait_for(self, expression: str, expected: dict[tuple[tuple[str, str], ...], float],
                 timeout: float = 30) -> dict[tuple[tuple[str, str], ...], float]:
        """Query until the answer is ``expected`` (scrapes are a second apart); return the last
        answer either way, for the caller to compare."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(expression)
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(SCRAPE_INTERVAL_S / 2)


class Prometheus(PrometheusQueries):
    """A Prometheus this test did not start (the Compose stack's), by its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


class PrometheusServer(ServerProcess, PrometheusQueries):
    """Scrapes ``targets`` (host:port) and evaluates ``rule_files`` every second; stopped by its
    own PID."""

    kind = "prometheus"

    def __init__(self, workdir: Path, targets: list[str],
                 rule_files: list[Path] | None = None) -> None:
        super().__init__(workdir)
        self.targets = targets
        self.rule_files = rule_files or []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s",
                       "scrape_timeout": f"{SCRAPE_INTERVAL_S}s",
                       "evaluation_interval": f"{SCRAPE_INTERVAL_S}s"},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": self.targets}]}],
        }))
        binary = shutil.which(BINARY)
        assert binary, "prometheus is not installed"
        self.spawn([binary, f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}"], None)
        http.wait_for(f"{self.url}/-/ready", timeout=timeout, token=None, process=self,
                      interval=0.1)
        return self
