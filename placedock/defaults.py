"""placedock's own defaults, defined here once.

placedock.environment fills them in (OWN_DEFAULTS), the health probes ask the default port, and
tests hold the Dockerfile (EXPOSE, the data folder it makes) and docs/configuration.md's table
to them.
Standard library only: the health probes import it.
"""

from __future__ import annotations

ADDRESS = "0.0.0.0"  # every IPv4 address: a container's port is published from outside it
PORT = "80"
DATA_DIR = "/var/lib/placement"  # the default sqlite database's folder: the image makes it
# Processes x threads: measured on 2 cores (docs/performance.md, "Choosing the defaults"): a
# second thread in a process costs every request 10-25% more CPU while both are busy (they take
# turns on the interpreter lock), more than it saves on a database on the same host.
PROCESSES = "2"
THREADS = "1"
# Prometheus metrics (0: none), on a port of their own: the API's balancer never sees them.
METRICS_PORT = "9180"
# The front (placedock.front). The largest request body accepted: 5 times the largest legitimate
# one measured, a 1,000-consumer POST /allocations of 420,000 bytes (docs/performance.md, "Slow
# and hostile clients").
MAX_BODY_SIZE = "2m"
# Seconds a request may take before the client gets a 504 and its worker is replaced: 2.5 times
# the slowest real request of the scale sweep (nova's allocation candidates at 50,000 providers,
# about 23 s).
REQUEST_TIMEOUT = "60"
# placement's own options that placedock gives other defaults (docs/performance.md, "Wide
# trees"): without them one request for many devices of a wide tree (8 single-unit children,
# 8 request groups) never finishes, and its worker keeps computing after the client has gone.
# Set unless the environment, or the placement.conf of OS_PLACEMENT_CONFIG_DIR, gives them (-1,
# false and depth-first are placement's own).
PLACEMENT_OPTIONS = {
    "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES": "1000",  # nova asks for 1,000 (limit=1000)
    "OS_PLACEMENT__ALLOCATION_CANDIDATES_GENERATION_STRATEGY": "breadth-first",
    "OS_WORKAROUNDS__OPTIMIZE_FOR_WIDE_PROVIDER_TREES": "true",
}
