"""Real PostgreSQL and MariaDB servers on 127.0.0.1 for tests, started and stopped by their own PID.

Both classes share one interface:

    server = PostgreSQLServer(workdir)   # or MariaDBServer(workdir)
    server.start()                       # initialise workdir once, start, wait until it accepts
    url = server.create_database("name") # SQLAlchemy URL for a password-protected user
    server.stop(); server.start()        # same data, same port, same password
    server.drop_database("name")

The port is chosen when the object is made and kept across restarts, so URLs stay valid while the
server is down. The application user (`placement`) has a random password per server object; the
administrative work goes through the server's socket in `workdir` (peer / unix_socket auth), so no
password-less or superuser login is ever reachable over TCP. `start()` is self-contained and may be
called from a background thread.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

from tests.support.certificates import Issued
from tests.support.processes import ServerProcess

PG_BIN = Path("/usr/lib/postgresql/15/bin")
APP_USER = "placement"
ADMIN_USER = "placedock_admin"
CERTIFIED_USER = "certified"  # logs in with a client certificate (its CN); PostgreSQL: only so
_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


class _Server(ServerProcess):
    """What both servers share: workdir, fixed port, per-server password, the process we started."""

    kind = "database"

    def __init__(self, workdir: Path, tls: Issued | None = None,
                 client_ca: Path | None = None) -> None:
        """``tls``: the server's certificate (TLS only, then); ``client_ca``: the CA whose
        client certificates CERTIFIED_USER must show (certified_url)."""
        super().__init__(workdir, "server.log")
        self.client_ca = client_ca
        self.data_dir = self.workdir / "data"
        self.user = APP_USER
        self.password = secrets.token_hex(16)
        self.tls = tls  # a certificate: the server then speaks TLS only, over TCP
        self.admin_password = secrets.token_hex(16)

    def start(self, timeout: float = 60) -> None:
        """Initialise the data dir on first use, start the server, wait until it accepts."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._initialized():
            self._initialize()
        self.spawn(self._server_command(), None, **self._run_as())
        self.wait_until_ready(self._accepts_connections, timeout)
        self._admin_sql(self._ensure_user_sql())

    def admin_url(self) -> str:
        """An administrator's URL over TCP (db-init's): ADMIN_USER, made on first use."""
        self._admin_sql(self._admin_user_sql())
        return self._admin_url()

    def certified_url(self, name: str) -> str:
        """A URL of database ``name`` for CERTIFIED_USER, who must show a client certificate
        the server's client_ca signed (made here; the URL names no certificate yet)."""
        assert self.client_ca is not None, "a server made without client_ca"
        self._admin_sql(self._certified_user_sql(name))
        return self._certified_url(name)

    def placement_url(self, name: str, password: str) -> str:
        """A URL for user ``name`` of database ``name`` (db-init makes both)."""
        return self._admin_url().split("://")[0] + \
            f"://{name}:{password}@127.0.0.1:{self.port}/{name}"

    # -- databases ---------------------------------------------------------------------------
    def create_database(self, name: str) -> str:
        """Create an empty database owned by / granted to the app user; return its URL."""
        self._admin_sql(self._create_sql(_checked(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin_sql(self._drop_sql(_checked(name)))

    def url(self, name: str) -> str:
        raise NotImplementedError

    # -- outages -----------------------------------------------------------------------------
    def cut_off(self, name: str) -> None:
        """Close every connection to database ``name`` and refuse new ones until restore()."""
        raise NotImplementedError

    def restore(self, name: str) -> None:
        raise NotImplementedError

    # -- per-server parts --------------------------------------------------------------------
    def _run_as(self) -> dict[str, object]:
        return {}

    def _run(self, command: list[str], what: str, stdin: str | None = None) -> None:
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=120, check=False,
            **self._run_as(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.kind}: {what} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _initialized(self) -> bool:
        raise NotImplementedError

    def _initialize(self) -> None:
        raise NotImplementedError

    def _server_command(self) -> list[str]:
        raise NotImplementedError

    def _accepts_connections(self) -> bool:
        raise NotImplementedError

    def _admin_sql(self, sql: str) -> None:
        raise NotImplementedError

    def _ensure_user_sql(self) -> str:
        raise NotImplementedError

    def _create_sql(self, name: str) -> str:
        raise NotImplementedError

    def _drop_sql(self, name: str) -> str:
        raise NotImplementedError


class PostgreSQLServer(_Server):
    """PostgreSQL 15 run as the `postgres` OS user (initdb refuses root); socket in workdir."""

    kind = "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnects clients instead of waiting for them

    def url(self, name: str) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}"

    def cut_off(self, name: str) -> None:
        self._admin_sql(f'ALTER DATABASE "{_checked(name)}" ALLOW_CONNECTIONS false;\n'
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE datname = '{name}';\n")

    def restore(self, name: str) -> None:
        self._admin_sql(f'ALTER DATABASE "{_checked(name)}" ALLOW_CONNECTIONS true;\n')

    def _run_as(self) -> dict[str, object]:
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _initialize(self) -> None:
        account = pwd.getpwnam("postgres")
        _let_postgres_reach(self.workdir, account.pw_uid)
        os.chown(self.workdir, account.pw_uid, account.pw_gid)
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                   "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256",
                   "--no-sync"],
                  "initdb")

    def _server_command(self) -> list[str]:
        return [str(PG_BIN / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.workdir), "-c", "listen_addresses=127.0.0.1",
                "-c", "max_connections=300", *self._tls_options()]

    def _tls_options(self) -> list[str]:
        """TLS on, and TCP logins only over it (hostssl); the key the postgres user's alone."""
        if self.tls is None:
            return []
        account = pwd.getpwnam("postgres")
        cert, key, hba, client_ca = (self.workdir / name for name in (
            "server.crt", "server.key", "pg_hba.conf", "client-ca.crt"))
        cert.write_bytes(self.tls.cert.read_bytes())  # where the postgres user can read them
        key.write_bytes(self.tls.key.read_bytes())
        # CERTIFIED_USER logs in with its certificate alone (its CN names it).
        certified = (f"hostssl all {CERTIFIED_USER} 127.0.0.1/32 cert\n"
                     if self.client_ca else "")
        hba.write_text(f"local all all peer\n{certified}"
                       "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        options = ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}",
                   "-c", f"ssl_key_file={key}", "-c", f"hba_file={hba}"]
        if self.client_ca:
            client_ca.write_bytes(self.client_ca.read_bytes())
            options += ["-c", f"ssl_ca_file={client_ca}"]
        for path in (cert, key, hba, client_ca):
            if path.exists():
                os.chown(path, account.pw_uid, account.pw_gid)
        key.chmod(0o600)
        return options

    def _certified_user_sql(self, name: str) -> str:
        return (f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                f"'{CERTIFIED_USER}') THEN CREATE ROLE {CERTIFIED_USER} LOGIN; END IF; END$$;\n"
                f'ALTER DATABASE "{_checked(name)}" OWNER TO {CERTIFIED_USER};\n'
                f'\\c "{name}"\nALTER SCHEMA public OWNER TO {CERTIFIED_USER};\n')

    def _certified_url(self, name: str) -> str:
        return f"postgresql+psycopg2://{CERTIFIED_USER}@127.0.0.1:{self.port}/{name}"

    def connections(self) -> list[tuple[str, bool]]:
        """The application user's connections: (client address, over TLS?)."""
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-A", "-t", "-F", " ", "-h", str(self.workdir),
             "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c",
             "SELECT client_addr, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
             f"WHERE usename = '{self.user}'"],
            capture_output=True, text=True, check=True, timeout=30, **self._run_as())
        return [(address, ssl == "t") for address, ssl in
                (line.split() for line in result.stdout.splitlines() if line.strip())]

    def _accepts_connections(self) -> bool:
        command = [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                   "-t", "2"]
        return subprocess.run(command, check=False).returncode == 0

    def _admin_sql(self, sql: str) -> None:
        self._run([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                   "-h", str(self.workdir), "-p", str(self.port),
                   "-U", "postgres", "-d", "postgres"], "psql", stdin=sql)

    def _ensure_user_sql(self) -> str:
        return (f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{self.user}') "
                f"THEN CREATE ROLE {self.user} LOGIN; END IF; END$$;\n"
                f"ALTER ROLE {self.user} PASSWORD '{self.password}';\n")

    def _create_sql(self, name: str) -> str:
        return f'CREATE DATABASE "{name}" OWNER {self.user} ENCODING \'UTF8\';\n'

    def _admin_user_sql(self) -> str:
        return (f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                f"'{ADMIN_USER}') THEN CREATE ROLE {ADMIN_USER} LOGIN SUPERUSER; END IF; "
                f"END$$;\nALTER ROLE {ADMIN_USER} PASSWORD '{self.admin_password}';\n")

    def _admin_url(self) -> str:
        return (f"postgresql+psycopg2://{ADMIN_USER}:{self.admin_password}@127.0.0.1:"
                f"{self.port}")

    def _drop_sql(self, name: str) -> str:
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\n'


class MariaDBServer(_Server):
    """MariaDB run as root with `--no-defaults`; databases are made utf8mb4 explicitly."""

    kind = "MariaDB"

    @property
    def socket_path(self) -> Path:
        return self.workdir / "mariadb.sock"

    def url(self, name: str) -> str:
        return self.url_without_charset(name) + "?charset=utf8mb4"

    def url_without_charset(self, name: str) -> str:
        return f"mysql+pymysql://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}"

    def cut_off(self, name: str) -> None:
        """The whole server stops (MariaDB has no per-database switch): connections are cut and
        new ones refused on the same port until restore() starts it again."""
        self.stop()

    def restore(self, name: str) -> None:
        self.start()

    def _initialized(self) -> bool:
        return (self.data_dir / "mysql").is_dir()

    def _initialize(self) -> None:
        self._run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data_dir}",
                   "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"],
                  "mariadb-install-db")

    def _server_command(self) -> list[str]:
        return ["mariadbd", "--no-defaults", f"--datadir={self.data_dir}", "--user=root",
                f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket_path}",
                f"--pid-file={self.workdir / 'mariadb.pid'}", "--skip-name-resolve",
                "--max-connections=300", *self._tls_options()]

    def _tls_options(self) -> list[str]:
        """TLS on, and every TCP connection over it (require_secure_transport)."""
        if self.tls is None:
            return []
        client_ca = [f"--ssl-ca={self.client_ca}"] if self.client_ca else []
        return [f"--ssl-cert={self.tls.cert}", f"--ssl-key={self.tls.key}", *client_ca,
                "--require-secure-transport=ON"]

    def _certified_user_sql(self, name: str) -> str:
        account = f"'{CERTIFIED_USER}'@'127.0.0.1'"
        return (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{self.password}' "
                "REQUIRE X509;\n"
                f"GRANT ALL PRIVILEGES ON `{_checked(name)}`.* TO {account};\n")

    def _certified_url(self, name: str) -> str:
        return (f"mysql+pymysql://{CERTIFIED_USER}:{self.password}@127.0.0.1:{self.port}/{name}"
                "?charset=utf8mb4")

    def _accepts_connections(self) -> bool:
        command = ["mariadb-admin", "--no-defaults", f"--socket={self.socket_path}", "-u", "root",
                   "--connect-timeout=2", "ping"]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def _admin_sql(self, sql: str) -> None:
        self._run(["mariadb", "--no-defaults", f"--socket={self.socket_path}", "-u", "root",
                   "--batch"],
                  "mariadb", stdin=sql)

    def _ensure_user_sql(self) -> str:
        account = f"'{self.user}'@'127.0.0.1'"
        return (f"CREATE USER IF NOT EXISTS {account};\n"
                f"ALTER USER {account} IDENTIFIED BY '{self.password}';\n")

    def _admin_user_sql(self) -> str:
        account = f"'{ADMIN_USER}'@'127.0.0.1'"
        return (f"CREATE USER IF NOT EXISTS {account};\n"
                f"ALTER USER {account} IDENTIFIED BY '{self.admin_password}';\n"
                f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;\n")

    def _admin_url(self) -> str:
        return f"mysql+pymysql://{ADMIN_USER}:{self.admin_password}@127.0.0.1:{self.port}/"

    def _create_sql(self, name: str) -> str:
        return (f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
                f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{self.user}'@'127.0.0.1';\n")

    def _drop_sql(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`;\n"


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"database name {name!r}: use letters, digits and _ (at most 63)")
    return name


def _let_postgres_reach(workdir: Path, uid: int) -> None:
    """Give "others" search (x, not read) permission on the parents of `workdir` that lack it.

    pytest makes its temp dirs 0700 (root only), which the `postgres` user cannot traverse.
    Only directories inside the system temp dir are touched; anything else is an error.
    """
    temp_root = Path(tempfile.gettempdir()).resolve()
    for parent in workdir.resolve().parents:
        info = parent.stat()
        if info.st_uid == uid or info.st_mode & stat.S_IXOTH:
            continue
        if parent != temp_root and temp_root not in parent.parents:
            raise RuntimeError(f"the postgres user cannot reach {workdir}: "
                               f"{parent} is closed to it")
        parent.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
