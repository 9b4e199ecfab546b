# placedock: OpenStack Placement served by uwsgi, configured by the environment alone.
#   docker build -t placedock .
#   docker run -p 127.0.0.1:8081:80 -e DB_SYNC=True -e OS_API__AUTH_STRATEGY=noauth2 placedock
ARG BASE_IMAGE=debian:trixie-slim

FROM ${BASE_IMAGE} AS build
# Empty: placement from PyPI at the version pinned in placement-requirements.txt.
# Set (e.g. master): placement from that git ref of PLACEMENT_GIT_URL instead, on the same
# pinned dependencies.
ARG PLACEMENT_GIT_REF=
ARG PLACEMENT_GIT_URL=https://opendev.org/openstack/placement
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv binutils \
      ${PLACEMENT_GIT_REF:+git ca-certificates} \
 && rm -rf /var/lib/apt/lists/*
# The pinned set: this placement release, or placement-requirements-previous.txt for the one
# before (rolling-upgrade tests, rollbacks; set PLACEMENT_VERSION to match).
ARG PLACEMENT_REQUIREMENTS=placement-requirements.txt
COPY ${PLACEMENT_REQUIREMENTS} /tmp/placement-requirements.txt
RUN python3 -m venv /opt/placedock/venv \
 && /opt/placedock/venv/bin/pip install --no-cache-dir --no-compile -r /tmp/placement-requirements.txt \
 && if [ -n "$PLACEMENT_GIT_REF" ]; then \
      /opt/placedock/venv/bin/pip install --no-cache-dir --no-compile --no-deps \
        "git+${PLACEMENT_GIT_URL}@${PLACEMENT_GIT_REF}"; \
    fi \
 && /opt/placedock/venv/bin/pip uninstall -y -q pip setuptools \
 && site=$(echo /opt/placedock/venv/lib/python3*/site-packages) \
 && find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} + \
 && find "$site" -name '*.so*' -type f -exec strip --strip-unneeded {} + \
 # netaddr's IEEE registries (8 MB) serve only MAC-vendor lookups, which placement never makes.
 && rm "$site"/netaddr/eui/oui.txt "$site"/netaddr/eui/iab.txt
COPY placedock/ /opt/placedock/placedock/
COPY shared/ /opt/placedock/shared/
COPY startup.sh /opt/placedock/
# Bytecode for every module placedock's server, probes and commands import (17 of the 28 MB that
# compiling the whole virtualenv wrote); a module missed still works, compiled at import.
RUN PYTHONPATH=/opt/placedock /opt/placedock/venv/bin/python -m placedock.bytecode

FROM ${BASE_IMAGE}
# /var/lib/placement and port 80 are placedock/defaults.py's DATA_DIR and PORT, which the server
# uses when unset (tests/placedock/test_defaults.py holds this file to them). nginx is the front
# the clients meet (placedock/front.py); its packaged configuration is never read. The databases'
# own backup tools serve db-backup and db-restore (placedock/db_tools.py): pg_dump and pg_restore,
# mariadb-dump and mariadb.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 nginx postgresql-client mariadb-client \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /etc/nginx/sites-enabled/* \
 && useradd --system --uid 42424 --user-group --home-dir /var/lib/placement --no-create-home placement \
 && install -d -o placement -g placement -m 0750 /var/lib/placement
COPY --from=build /opt/placedock /opt/placedock
ENV PATH=/opt/placedock/venv/bin:$PATH \
    PYTHONPATH=/opt/placedock \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 42424:42424
WORKDIR /var/lib/placement
# The API, and the Prometheus metrics (PLACEDOCK_METRICS_PORT; never on the API's port).
EXPOSE 80 9180
# Ready = the database answers and its schema is at head (see docs/operations.md, "Health").
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["python3", "-m", "placedock.health", "ready"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/placedock/startup.sh"]

# Last, so that a new revision rebuilds nothing but this metadata. The version is
# PLACEMENT_VERSION-IMAGE_RELEASE, CHANGELOG.md's newest entry (tests/test_versions.py).
ARG PLACEMENT_VERSION=16.0.0
ARG IMAGE_RELEASE=1
ARG REVISION=unknown
ARG SOURCE=
# Reported in the placedock_info metric.
ENV PLACEDOCK_REVISION=${REVISION}
LABEL org.opencontainers.image.title="placedock" \
      org.opencontainers.image.description="OpenStack Placement in a container, configured by the environment" \
      org.opencontainers.image.version="${PLACEMENT_VERSION}-${IMAGE_RELEASE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
