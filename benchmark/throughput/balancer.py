"""Keep-alive behind Apache's balancer: placedock (its front, nginx, which keeps a connection
alive for 60 s) behind a real Apache (mod_proxy_balancer, devstack/balancer.sh's file) as
shipped (`disablereuse=On`: a connection per request) and pooling its connections, with every
request's ending counted.

Before the front, uwsgi's own `http11-socket` closed an idle connection after 4 s, and a proxy
that pooled its connections could send a request on one at that moment: the request was lost (a
502 from Apache), the race that made placedock say `Connection: close`. The load here makes that
moment likely for a server that closes after IDLE_GAP_S: rounds of CLIENTS requests sent
together, each on a new connection to Apache, separated by idle gaps swept across IDLE_GAP_S,
so that Apache reuses connections that have been idle for about that long.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.throughput import configs
from benchmark.throughput.measure import Settings, server_env, serving
from tests.support.apache import Apache
from tests.support.load import FAILED, REFUSED, TIMEOUT, send
from tests.support.network import free_port

APACHE = "/usr/sbin/apache2"  # Debian's
BALANCER_SH = configs.REPO / "devstack" / "balancer.sh"
SHIPPED_MEMBER = "disablereuse=On"  # in balancer.sh's member options
IDLE_GAP_S = 4.0  # uwsgi's socket-timeout, how long http11-socket kept an idle connection
PATH = "/placement/resource_providers"
CLIENTS = 8  # more than the defaults' threads (2 x 1): Apache's pool grows past them
CLIENT_TIMEOUT_S = 30.0
# The ways a request ends, in table order; a status not listed counts as "other".
OUTCOMES = ["2xx", "502", "503", "reset", "refused", "timeout", "other"]


@dataclass(frozen=True)
class Variant:
    """One server configuration behind one form of Apache's member line."""

    name: str
    member: str  # replaces SHIPPED_MEMBER in balancer.sh's file ("" drops it)


VARIANTS = [
    Variant("placedock (its front); Apache as shipped (disablereuse=On)", SHIPPED_MEMBER),
    Variant("placedock (its front, keep-alive); Apache pooling its connections", ""),
    Variant("placedock (its front, keep-alive); Apache pooling, ttl=2", "ttl=2"),
]


@dataclass
class Outcome:
    """One variant's requests: how each ended, and how long each took."""

    variant: Variant
    counts: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # the first few failures, for the log

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    @property
    def lost(self) -> int:
        return self.requests - self.counts["2xx"]

    def quantile(self, share: float) -> float:
        if len(self.seconds) < 2:
            return self.seconds[0] if self.seconds else 0.0
        return statistics.quantiles(self.seconds, n=100, method="inclusive")[round(share * 100) - 1]


def classify(outcome: str, status: int | None) -> str:
    """tests.support.load's outcome in this table's words: a connection made and then closed
    or reset without a response is "reset"."""
    if status is not None:
        if 200 <= status < 300:
            return "2xx"
        return str(status) if str(status) in OUTCOMES else "other"
    return {FAILED: "reset", REFUSED: "refused", TIMEOUT: "timeout"}.get(outcome, "other")


def site(port: int, member: str, folder: Path) -> Path:
    """devstack/balancer.sh's file for one member on `port`, its member options changed."""
    text = subprocess.run(["bash", str(BALANCER_SH), "1", str(port)], capture_output=True,
                          text=True, check=True).stdout
    path = folder / f"balancer-{port}.conf"
    path.write_text(text.replace(SHIPPED_MEMBER, member))
    return path


def rounds(url: str, count: int, outcome: Outcome) -> None:
    """`count` rounds of CLIENTS requests sent at once; between rounds an idle gap, swept from
    just under IDLE_GAP_S to just over it."""
    target = urllib.parse.urlsplit(url)
    lock = threading.Lock()

    def one() -> None:
        started = time.monotonic()
        reply = send(target, "GET", target.path, {"x-auth-token": "admin"},
                     timeout=CLIENT_TIMEOUT_S)
        took = time.monotonic() - started
        with lock:
            outcome.counts[classify(reply.outcome, reply.status)] += 1
            outcome.seconds.append(took)
            if (reply.status is None or reply.status >= 300) and len(outcome.details) < 5:
                outcome.details.append(reply.detail or reply.first_line())

    for index in range(count):
        clients = [threading.Thread(target=one) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        sweep = index / max(1, count - 1)  # 0 .. 1
        time.sleep(IDLE_GAP_S - 0.1 + 0.2 * sweep)


def measure(variant: Variant, settings: Settings, base: dict[str, str], count: int) -> Outcome:
    """placedock and an Apache of its own in front of it, under `count` rounds."""
    config = configs.placedock()
    port = free_port()
    env = server_env(base, settings, port)
    outcome = Outcome(variant)
    with serving(config, env, port, settings):
        apache = Apache(settings.workdir / f"apache-{port}")
        try:
            apache.start(site(port, variant.member, settings.workdir))
            rounds(f"{apache.url}{PATH}", count, outcome)
        finally:
            apache.stop()
    return outcome


def measure_all(settings: Settings, base: dict[str, str], count: int) -> list[Outcome]:
    return [measure(variant, settings, base, count) for variant in VARIANTS]


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [(f"| Server; Apache's member settings | Requests | {' | '.join(OUTCOMES)} | "
              "p50 / p99 / max s |"),
             "| --- | ---: | " + " | ".join("---:" for _ in OUTCOMES) + " | ---: |"]
    for outcome in outcomes:
        counts = " | ".join(str(outcome.counts[name]) for name in OUTCOMES)
        timing = (f"{outcome.quantile(0.5):.2f} / {outcome.quantile(0.99):.2f} / "
                  f"{max(outcome.seconds, default=0.0):.2f}")
        lines.append(f"| {outcome.variant.name} | {outcome.requests} | {counts} | {timing} |")
    return lines


def method(count: int) -> str:
    """The paragraph above the table."""
    return (f"One placedock server (its defaults, {configs.default_workers()}) behind Debian's "
            f"Apache 2.4 with devstack/balancer.sh's file for one member, its member options "
            f"changed as each row says. {count} rounds of {CLIENTS} clients each sending "
            f"`GET {PATH}` at once, every request on a new connection to Apache; between rounds "
            f"the clients stay idle for {IDLE_GAP_S - 0.1:g} to {IDLE_GAP_S + 0.1:g} s "
            f"(swept across the rounds), about the {IDLE_GAP_S:g} s after which uwsgi's own "
            f"http11-socket closed a kept connection (the front keeps one 60 s), so that Apache "
            f"reuses pooled connections that have been idle that long. Every "
            f"request is counted by how it ended: 2xx, 502 and 503 from Apache, reset (a "
            f"connection closed without a response), refused, timeout ({CLIENT_TIMEOUT_S:g} s).")
