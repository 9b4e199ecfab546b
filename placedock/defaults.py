"""placedock's own defaults, defined here once.

placedock.environment fills them in (OWN_DEFAULTS), the health probes ask the default port, and
tests hold the Dockerfile (EXPOSE, the data folder it makes) and the README's table to them.
Standard library only: the health probes import it.
"""

from __future__ import annotations

ADDRESS = "0.0.0.0"  # every IPv4 address: a container's port is published from outside it
PORT = "80"
DATA_DIR = "/var/lib/placement"  # the default sqlite database's folder: the image makes it
# Processes x threads: measured on 2 cores (README, "Choosing the defaults").
PROCESSES = "2"
THREADS = "2"
# Prometheus metrics (0: none), on a port of their own: the API's balancer never sees them.
METRICS_PORT = "9180"
