"""What the front (nginx, placedock/front.py) costs, side by side with uwsgi's own http-socket:
`.venv/bin/python -m benchmark.front.cost` from the repository's root.

One placedock quick start (startup.sh natively, its defaults: 2 processes x 1 thread, the
embedded sqlite, noauth2) serves two ways at once, from the same workers:
- through its front, on PLACEDOCK_PORT, as every client now meets it: with keep-alive, and
  with a new connection per request (`Connection: close`);
- directly on uwsgi's http-socket (on another port, added with startup.sh's uwsgi flags and
  Connection: close, as the shipped ini served before the front), a new connection each time.
For `GET /`, `GET /resource_providers` and nova's allocation-candidates request over 100
providers, wrk (2 connections) measures each way in turn, the ways interleaved over ROUNDS
rounds: the server's CPU time (every process of its tree: uwsgi, its workers, nginx) per request
answered, the median of the rounds, and its ratio to the direct way's; of that, nginx's own share.
Then, in the same round, one connection alone asks for a while: the median latency a client
waiting for each answer sees (the goal's "no slower" read as a client's wait, beside the CPU).
The total PSS of the tree is read idle, under allocation-candidates load through the front on
the fresh server (the goal's figure), and at its peak under that load over the whole run.
Writes benchmark/front/front_cost.md (or --output). Every connection is to 127.0.0.1; the server is
stopped by its PID at the end.

With --tls the front serves HTTPS (placedock/tls.py, a certificate from a CA made for the run with
openssl) and the two front ways are over TLS: the new-connection way then pays a full handshake
a request (TLS 1.3, ECDHE; no session resumption: wrk's each connection is new), and the
difference between the two ways is the handshake's cost. Writes front_cost_tls.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmark.support import processes, wrk
from benchmark.support.tables import markdown_table
from tests.support import http
from tests.support.certificates import Authority
from tests.support.network import free_port
from tests.support.server import QUICK_START, STARTUP, Server

PROVIDERS = 100
ROUNDS = 3
CONNECTIONS = 2
# nova's request for a flavor with 1 VCPU, 512 MB and 10 GB (its report client's query).
ALLOCATION_CANDIDATES = ("/allocation_candidates?limit=1000&resources=VCPU:1,MEMORY_MB:512,"
                         "DISK_GB:10")
REQUESTS = {"GET /": "/", "GET /resource_providers": "/resource_providers",
            "nova's allocation candidates": ALLOCATION_CANDIDATES}
WAYS = ("front, keep-alive", "front, a connection each", "http-socket (before)")
TLS_WAYS = ("front over TLS, keep-alive", "front over TLS, a connection each",
            "http-socket (before)")
CLOSE_LUA = 'wrk.headers["Connection"] = "close"\n'
GOALS = "<= 5% more CPU a request for allocation candidates; GET / no dearer, cheaper with " \
        "keep-alive; total PSS under allocation-candidates load <= 150 MB"


def https_settings(folder: Path) -> dict[str, str]:
    """The front's HTTPS: a certificate for 127.0.0.1 from a CA made for this run, which the
    benchmark's own requests (seed) then trust; wrk checks no certificate."""
    authority = Authority(folder, "front-cost-ca")
    http.trust(str(authority.cert))
    certificate = authority.issue("placedock")
    return {"PLACEDOCK_TLS_CERT_FILE": str(certificate.cert),
            "PLACEDOCK_TLS_KEY_FILE": str(certificate.key)}


def seed(url: str) -> None:
    """PROVIDERS compute nodes with nova's three resource classes."""
    for index in range(PROVIDERS):
        made = _call(url, "POST", "/resource_providers", {"name": f"cn{index:04d}"})
        _call(url, "PUT", f"/resource_providers/{made['uuid']}/inventories", {
            "resource_provider_generation": made["generation"],
            "inventories": {"VCPU": {"total": 32}, "MEMORY_MB": {"total": 65536},
                            "DISK_GB": {"total": 1000}}})


def _call(url: str, method: str, path: str, document: dict) -> dict:
    sent = urllib.request.Request(url + path, json.dumps(document).encode(), method=method,
                                  headers={"x-auth-token": "admin",
                                           "content-type": "application/json",
                                           "openstack-api-version": "placement 1.20"})
    with urllib.request.urlopen(sent, timeout=30, context=http.tls_context()) as response:
        return json.loads(response.read() or b"{}")


def scripts(folder: Path, ways: tuple[str, ...]) -> dict[str, Path]:
    keep = wrk.headers_script(folder)
    close = folder / "close.lua"
    close.write_text(CLOSE_LUA + keep.read_text())
    return {ways[0]: keep, ways[1]: close, ways[2]: close}


@dataclass
class Figures:
    """One figure per round for every (request, way)."""

    cpu_ms: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    nginx_cpu_ms: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    alone_p50_ms: dict[tuple[str, str], list[float]] = field(default_factory=dict)


@dataclass
class Window:
    """wrk's ``during_window``: the CPU seconds of the server's whole tree over the counted
    window, which it returns, and nginx's part of them, which it keeps."""

    server_pid: int
    nginx: list[int]
    warmup_s: float
    measure_s: float
    nginx_s: float = 0.0

    def __call__(self, started: float) -> float:
        time.sleep(max(0.0, started + self.warmup_s - time.monotonic()))
        tree, nginx = processes.tree_jiffies([self.server_pid]), processes.jiffies(self.nginx)
        time.sleep(max(0.0, started + self.warmup_s + self.measure_s - time.monotonic()))
        self.nginx_s = (processes.jiffies(self.nginx) - nginx) / processes.clock_ticks()
        return (processes.tree_jiffies([self.server_pid]) - tree) / processes.clock_ticks()


def measure(server: Server, urls: dict[str, str], warmup_s: float, measure_s: float,
            rounds: int, ways: tuple[str, ...] = WAYS) -> tuple[Figures, list[int]]:
    """CPU ms per request (and nginx's part of it) and one connection's median latency, for
    every (request, way), one figure per round; the total PSS idle, under
    allocation-candidates load first, and at its peak under it over the whole run."""
    folder = Path(tempfile.mkdtemp(prefix="placedock-front-cost-"))
    by_way = scripts(folder, ways)
    idle = processes.pss_bytes(server.pid)
    # The goal's figure: allocation-candidates load on the fresh server, before any other request
    # has grown the workers' heaps (GET /resource_providers does, and they keep what they took).
    with processes.PeakPss(lambda: [server.pid]) as sampled:
        wrk.run(urls[ways[0]] + ALLOCATION_CANDIDATES, warmup_s, measure_s, CONNECTIONS,
                by_way[ways[0]])
    first = max(sampled.peak, processes.pss_bytes(server.pid))
    figures = Figures()
    nginx = sorted(set(processes.descendants(server.pid))
                   & set(processes.pids_named({"nginx"})))
    peak = 0
    for round_number in range(rounds):
        order = ways if round_number % 2 == 0 else tuple(reversed(ways))
        for label, path in REQUESTS.items():
            for way in order:
                window = Window(server.pid, nginx, warmup_s, measure_s)
                with processes.PeakPss(lambda: [server.pid]) as sampled:
                    result = wrk.run(urls[way] + path, warmup_s, measure_s, CONNECTIONS,
                                     by_way[way], window)
                if label == "nova's allocation candidates" and way == ways[0]:
                    peak = max(peak, sampled.peak)
                alone = wrk.run(urls[way] + path, warmup_s, measure_s, 1, by_way[way])
                if result.errors or alone.errors:
                    raise RuntimeError(f"{label} {way}: {result.errors + alone.errors} errors")
                nginx_ms = window.nginx_s * 1e3 / result.requests
                for table, figure in ((figures.cpu_ms, result.cpu_ms_per_request),
                                      (figures.nginx_cpu_ms, nginx_ms),
                                      (figures.alone_p50_ms, alone.p50_ms)):
                    table.setdefault((label, way), []).append(figure)
                print(f"round {round_number + 1}: {label}, {way}: "
                      f"{result.cpu_ms_per_request:.3f} ms of CPU a request ({nginx_ms:.3f} in "
                      f"nginx), {result.rate:.0f}/s; one connection alone: p50 "
                      f"{alone.p50_ms:.3f} ms", flush=True)
    return figures, [idle, first, peak]


def _rows(table: dict[tuple[str, str], list[float]], ways: tuple[str, ...]) -> list[list[str]]:
    """A row per request: each way's median, and the front's against the direct way's."""
    rows = []
    for label in REQUESTS:
        direct = statistics.median(table[(label, ways[2])])
        cells = [label]
        for way in ways:
            median = statistics.median(table[(label, way)])
            ratio = f" ({median / direct - 1:+.0%})" if way != ways[2] and direct else ""
            cells.append(f"{median:.3f}{ratio}")
        rows.append(cells)
    return rows


def report(figures: Figures, pss: list[int], rounds: int,
           ways: tuple[str, ...] = WAYS) -> list[str]:
    tls = ways == TLS_WAYS
    handshakes = [statistics.median(figures.cpu_ms[(label, ways[1])])
                  - statistics.median(figures.cpu_ms[(label, ways[0])]) for label in REQUESTS]
    nginx = [f"{label} {statistics.median(figures.nginx_cpu_ms[(label, ways[0])]):.3f} ms"
             for label in REQUESTS]
    mb = 1 << 20
    idle, first, peak = (size / mb for size in pss)
    handshake = (["", f"A TLS handshake (a new connection's, less a kept one's, the median over "
                       f"the three requests): {statistics.median(handshakes):.3f} ms of server "
                       "CPU."] if tls else [])
    return [
        f"# The front's cost{' over TLS' if tls else ''} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`.venv/bin/python -m benchmark.front.cost{' --tls' if tls else ''}`: placedock's quick "
        "start (2 processes x 1 "
        f"thread, sqlite, {PROVIDERS} providers), wrk with {CONNECTIONS} connections, the median "
        f"of {rounds} interleaved rounds. Server CPU ms per request (every process of the tree), "
        "and against uwsgi's own http-socket on the same workers:", "",
        *markdown_table(["request", *ways], "lrrr", _rows(figures.cpu_ms, ways)), *handshake,
        "", f"Of that, nginx's own CPU a request ({ways[0]}): {', '.join(nginx)}.", "",
        "One connection alone, each request sent when the last was answered: the median latency "
        "(wrk's p50, ms), the median of the rounds, and against the http-socket:", "",
        *markdown_table(["request", *ways], "lrrr", _rows(figures.alone_p50_ms, ways)), "",
        f"Total PSS of the tree (uwsgi, workers, mules, nginx): {idle:.0f} MB idle, {first:.0f} MB "
        "under allocation-candidates load through the front on the fresh server, "
        f"{peak:.0f} MB at the peak under that load over the whole run (after "
        "`GET /resource_providers` had grown the workers).",
        "", f"Goals: {GOALS}." if not tls else "", ""]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmark.front.cost", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured window per point")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--output", type=Path, help="default: front_cost.md (front_cost_tls.md "
                        "with --tls) beside this module")
    parser.add_argument("--tls", action="store_true", help="the front over HTTPS")
    options = parser.parse_args(argv)
    ways = TLS_WAYS if options.tls else WAYS
    output = options.output or Path(__file__).parent / (
        "front_cost_tls.md" if options.tls else "front_cost.md")
    if options.rounds < 1 or options.seconds <= 0:
        print("--rounds and --seconds: give positive numbers", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="placedock-front-cost-"))
    direct = free_port()
    server = Server(workdir, free_port(), {**QUICK_START, "PLACEDOCK_DATA_DIR": str(workdir),
                                           **(https_settings(workdir) if options.tls else {})})
    # A stop (SIGTERM) ends the run through the finally below: the server goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        server.log_path.unlink(missing_ok=True)
        server.spawn([str(STARTUP), f"--http-socket=127.0.0.1:{direct}",
                      "--add-header=Connection: close"], server.env)
        front = server.url.replace("http://", "https://") if options.tls else server.url
        http.wait_for(f"{front}/health/ready", process=server)
        seed(front)
        urls = {ways[0]: front, ways[1]: front, ways[2]: f"http://127.0.0.1:{direct}"}
        figures, pss = measure(server, urls, 1.0, options.seconds, options.rounds, ways)
    finally:
        server.stop()
    lines = report(figures, pss, options.rounds, ways)
    output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
