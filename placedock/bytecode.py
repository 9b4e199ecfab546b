"""Write the bytecode of what placedock runs, and only that: ``python3 -m placedock.bytecode``,
once, when the image is built.

The image runs read-only and never writes bytecode, so a module without a ``.pyc`` from the
build is compiled again at every import. Compiling the whole virtualenv wrote 28 MB of ``.pyc``
of which placedock imports about 17: the rest is test helpers, other databases' dialects and
code paths placement never takes. Instead, this imports the modules of every entry point (the
server, the health probes, the commands), migrates a throwaway sqlite database with placement's
own migrations, loads placement's application and sends it the requests its clients send, so
that Python writes the ``.pyc`` of every module they import; then compiles placedock's package
whole. A module missed here still works, only compiled at import.
"""

from __future__ import annotations

import compileall
import importlib
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Imported by an entry point, or loaded by name at run time (database dialects and drivers,
# keystone's auth plugin, the metrics' multiprocess collector).
ENTRY_MODULES = [
    "placedock.serve", "placedock.prepare", "placedock.database", "placedock.health",
    "placedock.metrics", "placedock.middleware", "placedock.routes", "placedock.drain",
    "placedock.front", "placedock.logs", "placedock.db_init", "placedock.ks_register",
    "placedock.conf_to_env", "placedock.db_backup", "placedock.db_restore", "placedock.db_copy",
    "placedock.db_migrate_data",
    "placement.cmd.manage", "placement.cmd.status",
    "sqlalchemy.dialects.postgresql.psycopg2", "sqlalchemy.dialects.mysql.pymysql",
    "sqlalchemy.dialects.sqlite.pysqlite", "psycopg2", "pymysql",
    "keystonemiddleware.auth_token", "keystoneauth1.loading._plugins.identity.generic",
    "prometheus_client.multiprocess",
]
HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement latest",
           "content-type": "application/json"}


def requests() -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, JSON body): a provider made, stocked and allocated from, then read back."""
    provider, consumer = str(uuid.uuid4()), str(uuid.uuid4())
    project, user = str(uuid.uuid4()), str(uuid.uuid4())
    return [
        ("GET", "/", None),
        ("POST", "/resource_providers", {"name": "bytecode", "uuid": provider}),
        ("PUT", f"/resource_providers/{provider}/inventories",
         {"resource_provider_generation": 0,
          "inventories": {"VCPU": {"total": 8}, "MEMORY_MB": {"total": 1024}}}),
        ("PUT", f"/resource_providers/{provider}/traits",
         {"resource_provider_generation": 1, "traits": ["HW_CPU_X86_AVX2"]}),
        ("PUT", f"/resource_providers/{provider}/aggregates",
         {"resource_provider_generation": 2, "aggregates": [str(uuid.uuid4())]}),
        ("GET", "/allocation_candidates?resources=VCPU:1,MEMORY_MB:128"
                "&required=HW_CPU_X86_AVX2", None),
        ("PUT", f"/allocations/{consumer}",
         {"allocations": {provider: {"resources": {"VCPU": 1}}}, "project_id": project,
          "user_id": user, "consumer_generation": None, "consumer_type": "INSTANCE"}),
        ("GET", "/resource_providers?resources=VCPU:1", None),
        ("GET", f"/resource_providers/{provider}/usages", None),
        ("GET", f"/usages?project_id={project}", None),
        ("GET", "/traits", None),
        ("GET", "/resource_classes", None),
        ("DELETE", f"/allocations/{consumer}", None),
        ("DELETE", f"/resource_providers/{provider}", None),
    ]


def exercise(app: Callable[..., Any]) -> list[tuple[str, str, int]]:
    """Send `requests()` to a WSGI app in this process; (method, path, status) of each."""
    import json

    import webob

    answered = []
    for method, path, body in requests():
        request = webob.Request.blank(path, method=method, headers=HEADERS,
                                      body=json.dumps(body).encode() if body else b"")
        answered.append((method, path, request.get_response(app).status_int))
    return answered


def write(folder: Path) -> list[tuple[str, str, int]]:
    """Import, migrate, load and exercise as the module's doc says, on a database in `folder`;
    the requests' answers."""
    sys.dont_write_bytecode = False
    url = f"sqlite:///{folder / 'placement.sqlite'}"
    os.environ.update({"OS_API__AUTH_STRATEGY": "noauth2",
                       "OS_PLACEMENT_DATABASE__CONNECTION": url})
    for name in ENTRY_MODULES:
        importlib.import_module(name)
    from sqlalchemy.engine import make_url

    from placedock import database

    database.migrate(make_url(url), lambda _line: None)
    from placement.wsgi import init_application

    return exercise(init_application())


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        answered = write(Path(folder))
    failed = [f"{method} {path}: {status}" for method, path, status in answered if status >= 400]
    if failed:
        print(f"placedock.bytecode: requests failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    own = Path(__file__).resolve().parent
    return 0 if compileall.compile_dir(str(own), quiet=1) else 1


if __name__ == "__main__":
    sys.exit(main())
