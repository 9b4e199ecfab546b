"""Wide trees: the provider shape whose allocation candidates exploded upstream.

One compute node with VCPU and memory and CHILDREN children of one unit each of the same
resource class (PCI devices in placement), asked for by as many request groups of one unit each:
placement builds every combination of one child per group (8^8 = 16.8 million for 8) before it
checks capacity or applies `limit`. `[placement]max_allocation_candidates` stops the generation
after that many candidates. Each setting gets a fresh placedock on the same database; a request
that outlives the client's timeout is a figure, and so is what its worker does afterwards (uwsgi
has no harakiri here: it keeps computing). A worker whose PSS passes MEMORY_BOUND is stopped with
its server, so that a run cannot take the machine's memory.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmark.scale import servers
from benchmark.scale.load import Request, WorkerPss, send
from benchmark.support import processes

CHILDREN = 8
DEVICE = "CUSTOM_PCI_8086_1563"
GUARD = "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES"
OPTIMIZE = "OS_WORKAROUNDS__OPTIMIZE_FOR_WIDE_PROVIDER_TREES"
STRATEGY = "OS_PLACEMENT__ALLOCATION_CANDIDATES_GENERATION_STRATEGY"
MEMORY_BOUND = 4 * 2**30
AFTER_S = 5.0  # how long the worker is watched after the client gave up
ANSWER_TIMEOUT = 120.0
IDLE_CPU_S = 0.05  # an idle uwsgi spends less over AFTER_S; a busy worker on a loaded machine more


@dataclass(frozen=True)
class Setting:
    name: str
    env: dict[str, str]
    answers: bool = False  # expected to answer: waited for up to ANSWER_TIMEOUT


@dataclass
class WideResult:
    setting: str
    policy: str
    outcome: str  # 2xx, timeout, ... or "stopped at the memory bound"
    seconds: float
    cpu_s: float  # the server's CPU time from the request to its answer or the client's timeout
    candidates: int | None
    size: int | None  # response bytes
    worker_pss: int  # peak, bytes
    afterwards: str  # what the worker did once the client gave up


def query(policy: str, children: int = CHILDREN, limit: int = 1000) -> str:
    groups = "".join(f"&resources{n}={DEVICE}:1" for n in range(1, children + 1))
    return (f"/allocation_candidates?resources=VCPU:1,MEMORY_MB:512{groups}"
            f"&group_policy={policy}&limit={limit}")


def build(port: int, children: int = CHILDREN) -> str:
    """The tree through the API (nine providers: no bulk needed); the root's UUID."""
    def call(method: str, path: str, body: object | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        outcome, _, _ = send(port, Request(method, path, data), 60)
        if outcome != "2xx":
            raise RuntimeError(f"{method} {path}: {outcome}")

    call("PUT", f"/resource_classes/{DEVICE}")
    root = str(uuid.uuid4())
    call("POST", "/resource_providers", {"uuid": root, "name": "wide-node"})
    call("PUT", f"/resource_providers/{root}/inventories", {
        "resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 64}, "MEMORY_MB": {"total": 262144}}})
    for number in range(children):
        child = str(uuid.uuid4())
        call("POST", "/resource_providers", {"uuid": child, "name": f"wide-node-pci{number}",
                                             "parent_provider_uuid": root})
        call("PUT", f"/resource_providers/{child}/inventories", {
            "resource_provider_generation": 0, "inventories": {DEVICE: {"total": 1}}})
    return root


def measure(database_url: str, workdir: Path, setting: Setting, policy: str,
            timeout: float) -> WideResult:
    """One request against a fresh placedock with `setting`; the client waits `timeout` s, or
    ANSWER_TIMEOUT for a setting expected to answer."""
    with servers.placedock(database_url, workdir, setting.env) as (server, port):
        with WorkerPss(server, MEMORY_BOUND) as watch:
            before = processes.tree_jiffies([server.pid])
            outcome, took, body = send(port, Request("GET", query(policy)),
                                       ANSWER_TIMEOUT if setting.answers else timeout)
            cpu_s = (processes.tree_jiffies([server.pid]) - before) / processes.clock_ticks()
            afterwards = "" if outcome == "2xx" else _afterwards(server, watch)
        if watch.stopped:
            outcome = f"worker stopped past {MEMORY_BOUND / 2**30:.0f} GiB"
        candidates = len(json.loads(body)["allocation_requests"]) if body else None
        return WideResult(setting.name, policy, outcome, took, cpu_s, candidates,
                          len(body) if body else None, watch.peak, afterwards)


def _afterwards(server: servers.Placedock, watch: WorkerPss) -> str:
    """Is the worker still computing once the client has gone?"""
    if watch.stopped or not server.running:
        return "server stopped by the memory bound"
    before = processes.tree_jiffies([server.pid])
    time.sleep(AFTER_S)
    busy = (processes.tree_jiffies([server.pid]) - before) / processes.clock_ticks()
    if busy < IDLE_CPU_S:
        return "idle"
    return (f"still computing ({busy / AFTER_S:.0%} of a core over the next {AFTER_S:.0f} s, "
            f"peak worker PSS {watch.peak / 2**20:,.0f} MiB so far)")


def settings(guard: int) -> list[Setting]:
    """placement's defaults, the limit, upstream's optimization, both; and placedock's own
    defaults (nothing set), whatever they are."""
    return [
        Setting("placement's defaults", {GUARD: "-1", OPTIMIZE: "false"}),
        Setting(f"max_allocation_candidates={guard:,}", {GUARD: str(guard), OPTIMIZE: "false"}),
        Setting("optimize_for_wide_provider_trees", {GUARD: "-1", OPTIMIZE: "true"}),
        Setting(f"both ({guard:,}, optimized)", {GUARD: str(guard), OPTIMIZE: "true"},
                answers=True),
        Setting("placedock's defaults", {}, answers=True),
    ]


def plan(guard: int, quick: bool) -> list[tuple[Setting, str]]:
    """Both policies where they may differ; the quick plan only shows the guard's effect."""
    unlimited, limited, optimized, both, placedock = settings(guard)
    if quick:
        return [(unlimited, "none"), (both, "none"), (placedock, "none")]
    return [(unlimited, "none"), (unlimited, "isolate"), (limited, "none"), (optimized, "none"),
            (both, "none"), (both, "isolate"), (placedock, "none")]


def run(database_url: str, workdir: Path, guard: int, timeout: float, quick: bool
        ) -> list[WideResult]:
    """Build the tree on `database_url` (migrated), then measure each planned setting."""
    with servers.placedock(database_url, workdir) as (_, port):
        build(port)
    return [measure(database_url, workdir, setting, policy, timeout)
            for setting, policy in plan(guard, quick)]
