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
# The databases' own tools for db-backup and db-restore (placedock/db_tools.py): pg_dump,
# pg_restore and psql, mariadb-dump and mariadb. Their packages bring perl and 130 MB; the five
# programs and the libraries they need that the runtime lacks are 20-odd MB. So they are copied
# from here, each run by a wrapper that points the loader at its own libraries only (the
# libraries Debian's python3 already brings, present here before the install, are not copied).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN find /usr/lib /lib -name 'lib*.so*' -printf '%f\n' | sort -u >/tmp/libraries-before \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client mariadb-client \
 && rm -rf /var/lib/apt/lists/* \
 && install -d /opt/placedock/tools/bin /opt/placedock/tools/libexec /opt/placedock/tools/lib \
 && for tool in /usr/lib/postgresql/*/bin/pg_dump /usr/lib/postgresql/*/bin/pg_restore \
      /usr/lib/postgresql/*/bin/psql /usr/bin/mariadb-dump /usr/bin/mariadb; do \
      name=$(basename "$tool") \
      && cp "$tool" /opt/placedock/tools/libexec/ \
      && strip --strip-unneeded "/opt/placedock/tools/libexec/$name" \
      && printf '#!/bin/sh\nLD_LIBRARY_PATH=/opt/placedock/tools/lib exec /opt/placedock/tools/libexec/%s "$@"\n' \
           "$name" >"/opt/placedock/tools/bin/$name" \
      && chmod 0755 "/opt/placedock/tools/bin/$name" \
      && ldd "$tool" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r library; do \
           grep -qx "$(basename "$library")" /tmp/libraries-before \
             || cp -Ln "$library" /opt/placedock/tools/lib/; \
         done; \
    done \
 && strip --strip-unneeded /opt/placedock/tools/lib/*
COPY placedock/ /opt/placedock/placedock/
COPY shared/ /opt/placedock/shared/
COPY startup.sh /opt/placedock/
# Bytecode for every module placedock's server, probes and commands import (17 of the 28 MB that
# compiling the whole virtualenv wrote); a module missed still works, compiled at import.
RUN PYTHONPATH=/opt/placedock /opt/placedock/venv/bin/python -m placedock.bytecode

FROM ${BASE_IMAGE}
# /var/lib/placement and port 80 are placedock/defaults.py's DATA_DIR and PORT, which the server
# uses when unset (tests/placedock/test_defaults.py holds this file to them). nginx is the front
# the clients meet (placedock/front.py); its packaged configuration is never read.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 nginx \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /etc/nginx/sites-enabled/* \
 && useradd --system --uid 42424 --user-group --home-dir /var/lib/placement --no-create-home placement \
 && install -d -o placement -g placement -m 0750 /var/lib/placement
COPY --from=build /opt/placedock /opt/placedock
ENV PATH=/opt/placedock/venv/bin:/opt/placedock/tools/bin:$PATH \
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
