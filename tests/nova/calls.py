"""Each call nova makes to placement, once, with nova's own client, and how nova took the answer:
run in a venv holding nova, never in placedock's.

    python calls.py --url URL --host UUID [--instance UUID]

In order: the compute's periodic update of host UUID (``update_from_provider_tree``), the
scheduler's ``get_allocation_candidates``, its ``claim_resources`` of instance UUID on the host,
and a delete's ``delete_allocation_for_instance``. Prints one JSON object: for each call,
"returned REPR", "reported CLASS" (an exception nova raises on purpose: its own, or
keystoneauth's, which nova's callers handle), or "crashed CLASS: ..." (anything else, such as the
KeyError nova raised on an error body without a ``code``). Every HTTP status seen is listed too.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

# First: it readies nova's environment before nova is imported.
from client import FLAVOR, Exchanges, nova_adapter, resource_request, update_compute
from keystoneauth1 import exceptions as ksa_exceptions
from nova import context as nova_context
from nova import exception as nova_exception
from nova.scheduler.client import report


def outcome(call: Callable[[], Any]) -> str:
    try:
        return f"returned {call()!r}"[:200]
    except (nova_exception.NovaException, ksa_exceptions.ClientException) as error:
        return f"reported {type(error).__name__}"
    except Exception as error:  # what nova did not mean to raise
        return f"crashed {type(error).__name__}: {error}"[:300]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--host", required=True, help="the compute node's provider UUID")
    parser.add_argument("--instance", default=str(uuid.uuid4()))
    args = parser.parse_args(argv)

    exchanges = Exchanges()
    adapter = nova_adapter(args.url, exchanges)
    client = report.SchedulerReportClient(adapter)
    context = nova_context.get_admin_context()
    claim = {"allocations": {args.host: {"resources": dict(FLAVOR)}}}

    def candidates() -> Any:
        requests, _, _ = client.get_allocation_candidates(context, resource_request())
        return None if requests is None else len(requests)

    results = {
        "update": outcome(lambda: update_compute(client, context, args.host,
                                                 f"compute-{args.host[:8]}")),
        "candidates": outcome(candidates),
        "claim": outcome(lambda: client.claim_resources(
            context, args.instance, claim, str(uuid.uuid4()), str(uuid.uuid4()),
            report.SAME_SUBTREE_VERSION, consumer_generation=None)),
        "delete": outcome(lambda: client.delete_allocation_for_instance(
            context, args.instance, force=True)),
        "statuses": dict(exchanges.statuses),
        "server_errors": exchanges.server_errors,
    }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
