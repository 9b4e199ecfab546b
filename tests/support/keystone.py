"""A real keystone on 127.0.0.1 for tests, stopped by its own PID.

    keystone = KeystoneServer(workdir / "keystone")
    keystone.start()                       # install (once), initialise (once), serve, wait
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    keystone.stop(); keystone.start()      # same data, same port, same passwords

keystone is the release from PyPI (KEYSTONE_REQUIREMENT) in a virtualenv of its own, because its
pins may differ from placement's: ``${TESTS_CACHE_DIR:-$HOME/.cache/placedock}/keystone-venv``,
made on first use and reused while its marker file names the same requirements. It runs on
sqlite under uwsgi (the pyuwsgi wheel) and is mounted at ``/identity`` as devstack mounts it.

The accounts are devstack's: ``admin`` (admin role on the admin project, made by
``keystone-manage bootstrap``), ``placement`` (admin role on the ``service`` project: the service
user placement's auth_token middleware logs in as) and ``demo`` (member role on ``demo`` only).
Every password is random per server object.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import http
from tests.support.cache import READY_MARKER, cache_dir, ensure_venv
from tests.support.processes import SYSTEM_PATH, ServerProcess, clean_environment

KEYSTONE_REQUIREMENTS = ("keystone==30.0.0", "pyuwsgi==2.0.30.post1")
DOMAIN = "Default"  # the name of the domain with id "default"
REGION = "RegionOne"
SERVICE_PROJECT = "service"
PLACEMENT_USER = "placement"
DEMO_USER = "demo"
DEMO_PROJECT = "demo"
MOUNT = "/identity"


KEYSTONE_VENV = "keystone-venv"  # in cache_dir()


def keystone_venv() -> Path:
    return cache_dir() / KEYSTONE_VENV


def ensure_keystone_venv() -> Path:
    return ensure_venv(KEYSTONE_VENV, KEYSTONE_REQUIREMENTS)


class KeystoneError(RuntimeError):
    pass


class KeystoneServer(ServerProcess):
    """keystone (PyPI release, own venv) on sqlite under uwsgi at http://127.0.0.1:PORT/identity."""

    kind = "keystone"

    def __init__(self, workdir: Path, public_url: str | None = None) -> None:
        """``public_url``: where clients reach it, when not at ``url`` (an HTTPS proxy's)."""
        super().__init__(workdir)
        self._public_url = public_url
        self.admin_password = secrets.token_hex(16)
        self.placement_password = secrets.token_hex(16)
        self.demo_password = secrets.token_hex(16)
        self.venv: Path | None = None
        self.install_seconds: float | None = None  # time spent in ensure_keystone_venv()
        self.init_seconds: float | None = None  # db_sync, key setup, bootstrap, accounts
        self.start_seconds: float | None = None  # exec of uwsgi to first 200 on /v3

    @property
    def url(self) -> str:
        """The identity root, as devstack prints it ("Keystone is serving at ...")."""
        return f"http://127.0.0.1:{self.port}{MOUNT}"

    @property
    def public_url(self) -> str:
        """What the catalog and the version documents name: the clients' way in."""
        return self._public_url or self.url

    @property
    def auth_url(self) -> str:
        return self.url  # keystoneauth discovers /v3 from the root, as devstack configures it

    @property
    def config_file(self) -> Path:
        return self.workdir / "keystone.conf"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> None:
        """Install (once per machine), initialise (once per workdir), serve and wait for /v3."""
        if self.running:
            return
        started = time.monotonic()
        self.venv = ensure_keystone_venv()
        self.install_seconds = time.monotonic() - started
        self.workdir.mkdir(parents=True, exist_ok=True)
        initialised = (self.workdir / READY_MARKER).exists()
        started = time.monotonic()
        if not initialised:
            self._initialise()
        setup_seconds = time.monotonic() - started
        self.spawn(self._uwsgi_command(), self._environment(), cwd=self.workdir)
        self.start_seconds = self.wait_until_ready(self._answers, timeout)
        if not initialised:
            started = time.monotonic()
            self._create_accounts()
            (self.workdir / READY_MARKER).write_text("accounts made\n")
            self.init_seconds = setup_seconds + time.monotonic() - started

    def _environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        assert self.venv is not None
        return clean_environment({
            "OS_KEYSTONE_CONFIG_DIR": str(self.workdir),
            **(extra or {}),
        }, path=f"{self.venv / 'bin'}:{SYSTEM_PATH}")

    def _uwsgi_command(self) -> list[str]:
        assert self.venv is not None
        return [
            str(self.venv / "bin" / "uwsgi"),
            "--http-socket", f"127.0.0.1:{self.port}",
            "--master", "--need-app", "--die-on-term",
            "--processes", "1", "--threads", "4",
            "--mount", f"{MOUNT}=keystone.wsgi.api:application",
            "--manage-script-name",
            # --http-socket closes every connection after one response but answers HTTP/1.1
            # without saying so: a keep-alive client (keystoneauth's requests session in
            # placement) then reuses a dead connection and the request fails ("Remote end closed
            # connection without response" -> placement 503). Say it.
            "--add-header", "Connection: close",
        ]

    def _answers(self) -> bool:
        return http.status(self.url + "/v3", token=None, timeout=2) == 200

    # -- first start -------------------------------------------------------------------------
    def _initialise(self) -> None:
        """keystone.conf, database schema, key repositories and the bootstrap admin."""
        if self.workdir.exists():
            for leftover in ("keystone.db", "fernet-keys", "credential-keys"):
                path = self.workdir / leftover
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        self.config_file.write_text(self._config_text())
        owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
                 "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
        # Independent of each other: run side by side (each spends ~3 s importing keystone).
        self._manage_all([["db_sync"], ["fernet_setup", *owner], ["credential_setup", *owner]])
        self._manage(
            ["bootstrap",
             "--bootstrap-username", "admin",
             "--bootstrap-project-name", "admin",
             "--bootstrap-role-name", "admin",
             "--bootstrap-service-name", "keystone",
             "--bootstrap-region-id", REGION,
             "--bootstrap-admin-url", self.public_url,
             "--bootstrap-internal-url", self.public_url,
             "--bootstrap-public-url", self.public_url],
            # From the environment, not argv: no password in the process list.
            {"OS_BOOTSTRAP_PASSWORD": self.admin_password},
        )

    def _config_text(self) -> str:
        return "\n".join([
            "[DEFAULT]",
            f"log_file = {self.workdir / 'keystone-app.log'}",
            # The version documents' links: the clients' URL, not the one uwsgi was asked on.
            f"public_endpoint = {self.public_url}",
            "[database]",
            f"connection = sqlite:///{self.workdir / 'keystone.db'}",
            "[token]",
            "provider = fernet",
            "[fernet_tokens]",
            f"key_repository = {self.workdir / 'fernet-keys'}",
            "[fernet_receipts]",
            f"key_repository = {self.workdir / 'fernet-keys'}",
            "[credential]",
            f"key_repository = {self.workdir / 'credential-keys'}",
            "[identity]",
            # Few bcrypt rounds: every token request hashes the password (4 is bcrypt's minimum).
            "password_hash_rounds = 4",
            "",
        ])

    def _manage(self, arguments: list[str], extra_env: dict[str, str] | None = None) -> None:
        self._manage_all([arguments], extra_env)

    def _manage_all(
        self, commands: list[list[str]], extra_env: dict[str, str] | None = None
    ) -> None:
        """Run keystone-manage commands concurrently; raise on the first that failed."""
        assert self.venv is not None
        running = []
        for arguments in commands:
            output = self.workdir / f"keystone-manage-{arguments[0]}.log"
            with open(output, "wb") as log:
                process = subprocess.Popen(
                    [str(self.venv / "bin" / "keystone-manage"),
                     "--config-file", str(self.config_file), *arguments],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self._environment(extra_env), cwd=self.workdir,
                )
            running.append((arguments[0], process, output))
        for name, process, output in running:
            code = process.wait(timeout=300)
            if code != 0:
                tail = output.read_text(errors="replace")[-3000:]
                raise KeystoneError(f"keystone-manage {name} failed ({code}):\n{tail}")

    def _create_accounts(self) -> None:
        """devstack's service project and users, through keystone's own API."""
        token = self.issue_token("admin", self.admin_password, "admin")
        domain = self._find(token, "domains", DOMAIN)
        roles = {name: self._find(token, "roles", name) for name in ("admin", "member")}
        service = self._create(token, "projects", {"name": SERVICE_PROJECT, "domain_id": domain})
        demo = self._create(token, "projects", {"name": DEMO_PROJECT, "domain_id": domain})
        for name, password, project, role in (
            (PLACEMENT_USER, self.placement_password, service, "admin"),
            (DEMO_USER, self.demo_password, demo, "member"),
        ):
            user = self._create(
                token, "users",
                {"name": name, "password": password, "domain_id": domain, "enabled": True},
            )
            self.request("PUT", f"/v3/projects/{project}/users/{user}/roles/{roles[role]}", token)

    def _find(self, token: str, collection: str, name: str) -> str:
        _, body, _ = self.request("GET", f"/v3/{collection}?name={name}", token)
        found = body[collection]
        if len(found) != 1:
            raise KeystoneError(f"{len(found)} {collection} named {name!r}")
        return found[0]["id"]

    def _create(self, token: str, collection: str, fields: dict[str, Any]) -> str:
        singular = collection[:-1]
        _, body, _ = self.request("POST", f"/v3/{collection}", token, {singular: fields})
        return body[singular]["id"]

    # -- API ---------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, token: str | None = None, body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """One keystone API call: (status, parsed JSON body or None, headers); raises on >= 400."""
        status, parsed, answer = self.call(method, path, token, body, headers)
        if status >= 400:
            raise KeystoneError(f"{method} {path}: {status} {parsed}")
        return status, parsed, answer

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Like request() but returns error statuses instead of raising."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("X-Auth-Token", token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _json(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read()), dict(error.headers)

    def issue_token(self, username: str, password: str, project_name: str) -> str:
        """A project-scoped token for a user of the Default domain (password method)."""
        auth = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"name": DOMAIN}, "password": password},
                },
            },
            "scope": {"project": {"name": project_name, "domain": {"name": DOMAIN}}},
        }
        status, body, headers = self.call("POST", "/v3/auth/tokens", body={"auth": auth})
        if status != 201:
            error = ((body or {}).get("error", {}).get("message", "") if isinstance(body, dict)
                     else "")
            raise KeystoneError(f"token for {username!r} on {project_name!r}: {status} {error}")
        return headers["X-Subject-Token"]

    def validate_token(self, admin_token: str, token: str) -> dict[str, Any]:
        """GET /v3/auth/tokens: the token's body, or KeystoneError if keystone rejects it."""
        _, body, _ = self.request(
            "GET", "/v3/auth/tokens", admin_token, headers={"X-Subject-Token": token}
        )
        return body["token"]

    def authtoken_environment(self, memcached_servers: str | None = None) -> dict[str, str]:
        """placement's [keystone_authtoken] as OS_* variables, devstack style (password plugin)."""
        prefix = "OS_KEYSTONE_AUTHTOKEN__"
        values = {
            "AUTH_TYPE": "password",
            "AUTH_URL": self.auth_url,
            "WWW_AUTHENTICATE_URI": self.url,
            "PROJECT_DOMAIN_NAME": DOMAIN,
            "USER_DOMAIN_NAME": DOMAIN,
            "PROJECT_NAME": SERVICE_PROJECT,
            "USERNAME": PLACEMENT_USER,
            "PASSWORD": self.placement_password,
        }
        if memcached_servers:
            values["MEMCACHED_SERVERS"] = memcached_servers
        return {prefix + name: value for name, value in values.items()}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw[:500].decode(errors="replace")}
