"""Drive placement as a nova deployment does, with nova's own code: run in a venv holding nova.

    python boots.py --url URL [--computes N] [--schedulers S] [--boots-per-minute B[,B...]]
                    [--seconds T] [--period P] [--lifetime L] [--hosts-per-claim K]
                    [--register-threads R]

- Computes: one ``SchedulerReportClient`` each (as each nova-compute has), sharing one HTTP
  session; each sends its provider tree through ``get_provider_tree_and_ensure_root`` and
  ``update_from_provider_tree`` (inventory and traits, as the resource tracker does) at start and
  then every ``--period`` seconds.
- Schedulers: ``--schedulers`` threads with one report client each, together booting
  ``--boots-per-minute``, arriving at random. A boot asks ``get_allocation_candidates``, ranks
  the hosts by free memory (nova's RAM weigher, host_subset_size 1: every scheduler picks the
  same host first, so claims meet on it), and ``claim_resources`` on each in turn until one
  succeeds, as the scheduler does; no host claimed is a failed boot.
- Deletes: each booted instance lives ``--lifetime`` seconds, then
  ``delete_allocation_for_instance`` removes it, as a delete does.

Every HTTP exchange is counted by status and timed; every exception out of nova's client is a
crash. At the end every instance still alive must hold its allocation in placement, and every
deleted one none. Prints JSON lines on stdout: the registration, then for each rate a line as
it starts and one with what happened.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import traceback
import uuid
from typing import Any

# First: it readies nova's environment before nova is imported.
from client import FLAVOR, Exchanges, nova_adapter, resource_request, update_compute
from nova import context as nova_context
from nova.scheduler.client import report

PROJECT = str(uuid.uuid4())
USER = str(uuid.uuid4())


class Computes:
    def __init__(self, adapter: Any, count: int, period: float) -> None:
        self.adapter = adapter
        self.period = period
        run = uuid.uuid4().hex[:6]  # a name is unique in placement: one per run
        self.hosts = [(str(uuid.uuid4()), f"compute-{run}-{index:05d}") for index in range(count)]
        self.clients = {host: report.SchedulerReportClient(adapter) for host in self.hosts}
        self.updates = 0

    def update(self, context: Any, host: tuple[str, str]) -> None:
        update_compute(self.clients[host], context, *host)
        self.updates += 1

    def run(self, context: Any, until: float, crashes: list[str]) -> None:
        """Each compute every period, spread over it, until ``until``."""
        while time.monotonic() < until:
            started = time.monotonic()
            for index, host in enumerate(self.hosts):
                due = started + self.period * index / len(self.hosts)
                time.sleep(max(0.0, min(due, until) - time.monotonic()))
                if time.monotonic() >= until:
                    return
                try:
                    self.update(context, host)
                except Exception:
                    crashes.append("compute update: " + traceback.format_exc(limit=3))
            time.sleep(max(0.0, min(until, started + self.period) - time.monotonic()))


class Boots:
    def __init__(self, adapter: Any, per_minute: float, lifetime: float,
                 hosts_per_claim: int) -> None:
        self.adapter = adapter
        self.interval = 60.0 / per_minute
        self.lifetime = lifetime
        self.hosts_per_claim = hosts_per_claim
        self.lock = threading.Lock()
        self.booted: dict[str, tuple[float, str]] = {}  # instance -> (when, host)
        self.deleted: set[str] = set()
        self.failed: list[str] = []  # why each failed boot failed
        self.claims_refused = 0  # claims that returned False before one succeeded
        self.crashes: list[str] = []
        self.next_at = time.monotonic()
        self.arrivals = random.Random(1)

    def _slot(self, until: float) -> bool:
        """Wait for this scheduler's next boot at the shared pace; False once it is over."""
        with self.lock:  # boots arrive at random (a Poisson process), as users ask for them
            at = self.next_at
            self.next_at += self.arrivals.expovariate(1.0 / self.interval)
        if at >= until:
            return False
        time.sleep(max(0.0, at - time.monotonic()))
        return True

    def boot(self, client: report.SchedulerReportClient, context: Any) -> None:
        instance = str(uuid.uuid4())
        allocation_requests, summaries, version = client.get_allocation_candidates(
            context, resource_request())
        if not allocation_requests:
            self.failed.append("no allocation candidates")
            return

        def free_memory(request: dict[str, Any]) -> int:
            host = next(iter(request["allocations"]))
            memory = summaries[host]["resources"]["MEMORY_MB"]
            return int(memory["capacity"] - memory["used"])

        ranked = sorted(allocation_requests, key=free_memory, reverse=True)
        for request in ranked[:self.hosts_per_claim]:
            if client.claim_resources(context, instance, request, PROJECT, USER, version,
                                      consumer_generation=None):
                with self.lock:
                    self.booted[instance] = (time.monotonic(), next(iter(request["allocations"])))
                return
            with self.lock:
                self.claims_refused += 1
        self.failed.append(f"no host of {min(len(ranked), self.hosts_per_claim)} claimed")

    def delete_expired(self, client: report.SchedulerReportClient, context: Any,
                       everything_before: float) -> None:
        with self.lock:
            due = [instance for instance, (when, _) in self.booted.items()
                   if when < everything_before and instance not in self.deleted]
            self.deleted.update(due)
        for instance in due:
            if not client.delete_allocation_for_instance(context, instance, force=True):
                self.failed.append(f"delete of {instance} refused")

    def run_scheduler(self, context: Any, until: float) -> None:
        client = report.SchedulerReportClient(self.adapter)
        while self._slot(until):
            try:
                self.boot(client, context)
                self.delete_expired(client, context, time.monotonic() - self.lifetime)
            except Exception:
                self.crashes.append("scheduler: " + traceback.format_exc(limit=3))


def missing_allocations(adapter: Any, boots: Boots) -> dict[str, int]:
    """Every instance alive holds its allocation; every deleted one holds none."""
    client = report.SchedulerReportClient(adapter)
    context = nova_context.get_admin_context()
    lost = kept_deleted = 0
    for instance, (_, host) in boots.booted.items():
        allocations = client.get_allocs_for_consumer(context, instance)["allocations"]
        if instance in boots.deleted:
            kept_deleted += bool(allocations)
        elif allocations.get(host, {}).get("resources") != FLAVOR:
            lost += 1
    return {"alive": len(boots.booted) - len(boots.deleted), "lost": lost,
            "deleted_but_still_allocated": kept_deleted}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def register(computes: Computes, context: Any, threads: int) -> float:
    """Every node registers before the first boot, as at a cloud's start; seconds taken."""
    started = time.monotonic()
    pending = list(computes.hosts)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                host = pending.pop()
            computes.update(context, host)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - started


def rung(args: argparse.Namespace, adapter: Any, exchanges: Exchanges, computes: Computes,
         context: Any, per_minute: float) -> dict[str, Any]:
    """Boots at ``per_minute`` for ``args.seconds`` while the computes update; what happened."""
    exchanges.reset()
    crashes: list[str] = []
    updates_before = computes.updates
    boots = Boots(adapter, per_minute, args.lifetime, args.hosts_per_claim)
    started = time.monotonic()
    until = started + args.seconds
    threads = [threading.Thread(target=computes.run, args=(context, until, crashes))]
    threads += [threading.Thread(target=boots.run_scheduler, args=(context, until))
                for _ in range(args.schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.monotonic() - started
    checked = missing_allocations(adapter, boots)
    allocation_candidates = exchanges.seconds.get("GET /allocation_candidates", [])
    slowest = max(((max(times), kind) for kind, times in exchanges.seconds.items()),
                  default=(0.0, ""))
    return {
        "computes": args.computes, "schedulers": args.schedulers,
        "boots_per_minute_asked": per_minute, "seconds": round(wall_s, 1),
        "compute_updates": computes.updates - updates_before,
        "boots": len(boots.booted), "failed_boots": len(boots.failed),
        "failures": boots.failed[:5], "claims_refused": boots.claims_refused,
        "crashes": (crashes + boots.crashes)[:5], "crash_count": len(crashes + boots.crashes),
        "statuses": dict(exchanges.statuses), "server_errors": exchanges.server_errors[:5],
        "server_error_count": len(exchanges.server_errors),
        "slowest_s": round(slowest[0], 3), "slowest_kind": slowest[1],
        "allocation_candidates_p95_s": round(percentile(allocation_candidates, 0.95), 3),
        **checked,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--computes", type=int, default=3)
    parser.add_argument("--schedulers", type=int, default=6)
    parser.add_argument("--boots-per-minute", default="600",
                        help="a rate, or rates separated by commas: one run after another")
    parser.add_argument("--seconds", type=float, default=20, help="of each rate")
    parser.add_argument("--period", type=float, default=60, help="compute update period (s)")
    parser.add_argument("--lifetime", type=float, default=5, help="seconds an instance lives")
    parser.add_argument("--hosts-per-claim", type=int, default=10)
    parser.add_argument("--register-threads", type=int, default=1)
    args = parser.parse_args(argv)

    exchanges = Exchanges()
    adapter = nova_adapter(args.url, exchanges)
    context = nova_context.get_admin_context()
    computes = Computes(adapter, args.computes, args.period)
    registered_s = register(computes, context, args.register_threads)
    print(json.dumps({"registered_s": round(registered_s, 2),
                      "registration_statuses": dict(exchanges.statuses)}), flush=True)
    # One line as each rate starts and one with its result: a caller measuring the server
    # (benchmark.scale.capacity) reads them as they come.
    for per_minute in (float(rate) for rate in args.boots_per_minute.split(",")):
        print(json.dumps({"starting": per_minute}), flush=True)
        print(json.dumps(rung(args, adapter, exchanges, computes, context, per_minute)),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
