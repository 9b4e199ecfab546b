"""Bad input to startup.sh: one line naming the variable, a non-zero exit, no traceback, no
secret."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.support.http import get
from tests.support.network import free_port
from tests.support.server import NOAUTH, QUICK_START, Server, run_startup

SECRET = "s3cret-Value-42"  # put in every case; must never appear in any output
KEYSTONE = {
    "OS_API__AUTH_STRATEGY": "keystone",
    "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI": "http://127.0.0.1:1/identity",
    "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
    "OS_KEYSTONE_AUTHTOKEN__AUTH_URL": "http://127.0.0.1:1/identity",
    "OS_KEYSTONE_AUTHTOKEN__USERNAME": "placement",
    "OS_KEYSTONE_AUTHTOKEN__PASSWORD": SECRET,
    "OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME": "service",
    "OS_KEYSTONE_AUTHTOKEN__PROJECT_DOMAIN_NAME": "Default",
    "OS_KEYSTONE_AUTHTOKEN__USER_DOMAIN_NAME": "Default",
}


def pg(url_tail: str) -> str:
    return f"postgresql+psycopg2://placement:{SECRET}@{url_tail}"


def without(env: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != name}


# (case id, environment, the variable the message must name, words the message must contain)
CASES = [
    ("auth-missing", {}, "OS_API__AUTH_STRATEGY", "not set"),
    ("auth-empty", {"OS_API__AUTH_STRATEGY": ""}, "OS_API__AUTH_STRATEGY",
     "set but empty; set it to keystone or noauth2"),
    ("auth-unknown", {"OS_API__AUTH_STRATEGY": "noauth"}, "OS_API__AUTH_STRATEGY",
     "keystone, noauth2"),
    ("auth-misspelt-name", {**NOAUTH, "OS_API__AUTH_STRATEGI": "noauth2"}, "OS_API__AUTH_STRATEGI",
     "did you mean OS_API__AUTH_STRATEGY"),
    ("single-underscore", {**NOAUTH, "OS_API_AUTH_STRATEGY": "noauth2"}, "OS_API_AUTH_STRATEGY",
     "did you mean OS_API__AUTH_STRATEGY"),
    ("connection-misspelt", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONECTION": pg("127.0.0.1/p")},
     "OS_PLACEMENT_DATABASE__CONECTION", "did you mean OS_PLACEMENT_DATABASE__CONNECTION"),
    ("unknown-group", {**NOAUTH, "OS_DATABASE__CONNECTION": pg("127.0.0.1/p")},
     "OS_DATABASE__CONNECTION", "not an option"),
    ("bool-invalid", {**NOAUTH, "OS_DEFAULT__DEBUG": "maybe"}, "OS_DEFAULT__DEBUG", "maybe"),
    ("int-invalid", {**NOAUTH, "OS_PLACEMENT_DATABASE__MAX_POOL_SIZE": "lots"},
     "OS_PLACEMENT_DATABASE__MAX_POOL_SIZE", "lots"),
    ("int-option-float", {**NOAUTH, "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES": "1.5"},
     "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES", "1.5"),
    ("db-sync-invalid", {**NOAUTH, "DB_SYNC": "perhaps"}, "DB_SYNC", "not a boolean"),
    ("db-sync-misspelt", {**NOAUTH, "DB_SYNCH": "True"}, "DB_SYNCH", "did you mean DB_SYNC"),
    ("wait-invalid", {**NOAUTH, "DB_WAIT_TIMEOUT": "soon"}, "DB_WAIT_TIMEOUT", "seconds"),
    ("wait-negative", {**NOAUTH, "DB_WAIT_TIMEOUT": "-1"}, "DB_WAIT_TIMEOUT", "out of range"),
    ("processes-zero", {**NOAUTH, "PLACEDOCK_PROCESSES": "0"}, "PLACEDOCK_PROCESSES",
     "out of range"),
    ("threads-word", {**NOAUTH, "PLACEDOCK_THREADS": "many"}, "PLACEDOCK_THREADS", "whole number"),
    ("address-name", {**NOAUTH, "PLACEDOCK_ADDRESS": "localhost"}, "PLACEDOCK_ADDRESS",
     "not an IP address"),
    ("address-bracketed", {**NOAUTH, "PLACEDOCK_ADDRESS": "[::1]"}, "PLACEDOCK_ADDRESS",
     "not an IP address"),
    ("body-size-no-size", {**NOAUTH, "PLACEDOCK_MAX_BODY_SIZE": "2mb"}, "PLACEDOCK_MAX_BODY_SIZE",
     "is not a size"),
    ("timeout-no-duration", {**NOAUTH, "PLACEDOCK_REQUEST_TIMEOUT": "1h"},
     "PLACEDOCK_REQUEST_TIMEOUT", "is not a duration"),
    ("timeout-below-the-probe", {**NOAUTH, "PLACEDOCK_REQUEST_TIMEOUT": "3"},
     "PLACEDOCK_REQUEST_TIMEOUT", "longer than the health probe's"),
    ("port-high", {**NOAUTH, "PLACEDOCK_PORT": "70000"}, "PLACEDOCK_PORT", "out of range"),
    ("own-misspelt", {**NOAUTH, "PLACEDOCK_PROCESS": "2"}, "PLACEDOCK_PROCESS",
     "did you mean PLACEDOCK_PROCESSES"),
    ("file-missing", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION_FILE": "/nonexistent/secret"},
     "OS_PLACEMENT_DATABASE__CONNECTION_FILE", "cannot read"),
    ("file-is-directory", {**without(KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__PASSWORD"),
                           "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE": "/"},
     "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE", "cannot read"),
    ("file-and-value", {**KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE": "/etc/hostname"},
     "OS_KEYSTONE_AUTHTOKEN__PASSWORD", "both"),
    ("url-not-a-url", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": f"placement {SECRET}"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "not a database URL"),
    ("url-bad-port", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": pg("127.0.0.1:port/p")},
     "OS_PLACEMENT_DATABASE__CONNECTION", "malformed"),
    ("url-unknown-database", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION":
                              f"oracle://placement:{SECRET}@127.0.0.1/p"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "unsupported database"),
    ("url-driver-missing", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION":
                            f"mysql+mysqldb://placement:{SECRET}@127.0.0.1/p"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "mysql+pymysql"),
    ("url-unknown-driver", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION":
                            f"postgresql+nosuch://placement:{SECRET}@127.0.0.1/p"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "not installed"),
    ("url-sqlite-memory", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": "sqlite://"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "in-memory"),
    ("url-no-host", {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": f"postgresql://u:{SECRET}@/p"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "no host"),
    ("keystone-no-uri", without(KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI"),
     "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI", "keystone needs"),
    ("keystone-no-password", without(KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__PASSWORD"),
     "OS_KEYSTONE_AUTHTOKEN__PASSWORD", "keystone needs"),
    ("keystone-no-auth-type", without(KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE"),
     "OS_KEYSTONE_AUTHTOKEN__AUTH_URL", "it needs OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE"),
    ("keystone-bad-auth-type", {**KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "pasword"},
     "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE", "not a keystoneauth plugin"),
    ("deprecated-name", {**NOAUTH, "OS_KEYSTONE_AUTHTOKEN__MEMCACHE_SERVERS": "127.0.0.1:11211"},
     "OS_KEYSTONE_AUTHTOKEN__MEMCACHE_SERVERS", "use OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS"),
    ("multi-valued", {**NOAUTH, "OS_OSLO_POLICY__POLICY_DIRS": "/etc/placement/policy.d"},
     "OS_OSLO_POLICY__POLICY_DIRS", "multi-valued"),
    ("sqlite-for-replicas", {**NOAUTH, "PLACEDOCK_REQUIRE_SHARED_DATABASE": "true"},
     "OS_PLACEMENT_DATABASE__CONNECTION", "not shared between replicas"),
    ("config-dir-empty", {**NOAUTH, "OS_PLACEMENT_CONFIG_DIR": "/nonexistent"},
     "OS_PLACEMENT_CONFIG_DIR", "no placement.conf"),
    # Single underscore: the OpenStack client's exact names are ignored, near misses of
    # placement's options are not.
    ("single-underscore-debug", {**NOAUTH, "OS_DEFAULT_DEBUG": "True"}, "OS_DEFAULT_DEBUG",
     "did you mean OS_DEFAULT__DEBUG"),
    ("single-underscore-beside-openrc", {**NOAUTH, "OS_PASSWORD": SECRET, "OS_USERNAME": "admin",
                                         "OS_PLACEMENT_DATABASE_CONNECTION": pg("127.0.0.1/p")},
     "OS_PLACEMENT_DATABASE_CONNECTION", "did you mean OS_PLACEMENT_DATABASE__CONNECTION"),
    ("client-name-misspelt", {**NOAUTH, "OS_PASWORD": SECRET}, "OS_PASWORD", "not an option"),
    # The project's own tools' variables are not placedock's (QUICKSTART_PORT now).
    ("quickstart-old-name", {**NOAUTH, "PLACEDOCK_QUICKSTART_PORT": "9000"},
     "PLACEDOCK_QUICKSTART_PORT", "not an option"),
]

# Set but empty is not unset: each refused, naming the variable (a templating slip).
EMPTY = "set but empty; unset it for the default, or give a value"
EMPTY_CASES = [
    (f"empty-{name.lower()}", {**NOAUTH, name: ""}, name, EMPTY) for name in [
        "OS_PLACEMENT_DATABASE__CONNECTION",  # was: a throwaway sqlite, silently
        "OS_PLACEMENT_DATABASE__CONNECTION_FILE",
        "OS_PLACEMENT_DATABASE__MAX_POOL_SIZE",
        "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES",
        "OS_PLACEMENT_DATABASE__CONNECTION_RECYCLE_TIME",
        "OS_DEFAULT__DEBUG",
        "OS_DEFAULT__LOG_DIR",
        "OS_OSLO_POLICY__POLICY_FILE",
        "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE",
        "OS_PLACEMENT_CONFIG_DIR",
        "DB_SYNC",
        "DB_WAIT_TIMEOUT",
        "PLACEDOCK_ADDRESS",
        "PLACEDOCK_PORT",
        "PLACEDOCK_PROCESSES",
        "PLACEDOCK_THREADS",
        "PLACEDOCK_DATA_DIR",
        "PLACEDOCK_STATS_SOCKET",
        "PLACEDOCK_REQUIRE_SHARED_DATABASE",
    ]
] + [
    ("empty-keystone-uri", {**KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI": ""},
     "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI", EMPTY),
    ("empty-keystone-auth-url", {**KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__AUTH_URL": ""},
     "OS_KEYSTONE_AUTHTOKEN__AUTH_URL", EMPTY),
    ("empty-keystone-password", {**KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__PASSWORD": ""},
     "OS_KEYSTONE_AUTHTOKEN__PASSWORD", EMPTY),
    ("empty-secret-file", {**without(KEYSTONE, "OS_KEYSTONE_AUTHTOKEN__PASSWORD"),
                           "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE": "/dev/null"},
     "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE", "'/dev/null' is empty"),
]
CASES += EMPTY_CASES


def assert_one_line_error(result, variable: str, words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert SECRET not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("placedock: error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"placedock: error: {variable}: "), errors[0]
    assert words in errors[0], errors[0]


@pytest.mark.parametrize(("env", "variable", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_server_refuses_bad_environment(tmp_path: Path, env, variable, words) -> None:
    result = run_startup([], {"PLACEDOCK_DATA_DIR": str(tmp_path), "PLACEDOCK_PORT": "1", **env})
    assert_one_line_error(result, variable, words)
    assert result.stderr.strip().count("\n") == 0, "more than the one error line"


# What a shell that sourced devstack's openrc (or an env-file made from one) carries.
OPENRC = {
    "OS_AUTH_URL": "http://127.0.0.1:1/identity", "OS_USERNAME": "admin", "OS_PASSWORD": SECRET,
    "OS_PROJECT_NAME": "admin", "OS_TENANT_NAME": "admin", "OS_USER_DOMAIN_ID": "default",
    "OS_PROJECT_DOMAIN_ID": "default", "OS_REGION_NAME": "RegionOne",
    "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_TYPE": "password", "OS_CLOUD": "devstack-admin",
    "OS_CACERT": "/opt/stack/data/ca-bundle.pem", "OS_VOLUME_API_VERSION": "3",
    "OS_PLACEMENT_API_VERSION": "1.39", "OS_INTERFACE": "public", "OS_NO_CACHE": "1",
    "OS_CLIENT_CONFIG_FILE": "/nonexistent/clouds.yaml",
}


def test_openrc_variables_are_ignored_with_one_warning(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path, port, {**QUICK_START,
                                     "PLACEDOCK_DATA_DIR": str(tmp_path / "data"), **OPENRC})
    try:
        server.start().wait_ready()
        assert get(server.url + "/")[0] == 200
    finally:
        server.stop()
    log = server.log()
    assert SECRET not in log and "Traceback" not in log
    warnings = [line for line in log.splitlines() if "OpenStack client" in line]
    assert len(warnings) == 1, log
    assert warnings[0].startswith("placedock: warning: ignored, as variables of the OpenStack ")
    assert all(name in warnings[0] for name in OPENRC), warnings[0]
    assert "RegionOne" not in warnings[0]


def test_command_gets_the_same_checks(tmp_path: Path) -> None:
    result = run_startup(["true"], {**NOAUTH, "DB_SYNCH": "1"})
    assert_one_line_error(result, "DB_SYNCH", "did you mean DB_SYNC")


def test_schema_missing_without_db_sync(tmp_path: Path) -> None:
    result = run_startup([], {**NOAUTH, "PLACEDOCK_DATA_DIR": str(tmp_path), "PLACEDOCK_PORT": "1"})
    assert_one_line_error(result, "DB_SYNC", "set DB_SYNC=True")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket closes


def test_database_never_up_gives_up_within_timeout(tmp_path: Path) -> None:
    env = {**NOAUTH, "DB_WAIT_TIMEOUT": "4", "PLACEDOCK_PORT": "1",
           "OS_PLACEMENT_DATABASE__CONNECTION": pg(f"127.0.0.1:{closed_port()}/placement")}
    started = time.monotonic()
    result = run_startup([], env)
    elapsed = time.monotonic() - started
    assert_one_line_error(result, "OS_PLACEMENT_DATABASE__CONNECTION", "not reachable")
    waits = [line for line in result.stderr.splitlines() if "waiting for database" in line]
    assert len(waits) >= 2, result.stderr  # one progress line per attempt
    # The wait itself, as placedock measured it (the whole run adds start-up, which moves with
    # the machine's load): it gave up before the timeout ran out, not long after.
    waited = float(re.search(r"not reachable after ([0-9.]+) s", result.stderr).group(1))
    assert 2 <= waited <= 4, result.stderr
    print(f"database never up, DB_WAIT_TIMEOUT=4: gave up after {waited} s "
          f"({elapsed:.1f} s in all)")


def test_a_port_already_taken_is_one_line_before_anything_is_touched(tmp_path: Path) -> None:
    """A second start on a port in use: one line, exit 1, and the running server's runtime
    files (its stats socket, its front's folder) left alone: it still stops cleanly."""
    port = free_port()
    first = Server(tmp_path, port, {**QUICK_START, "PLACEDOCK_DATA_DIR": str(tmp_path / "one")})
    try:
        first.start().wait_ready()
        result = run_startup([], {**QUICK_START, "PLACEDOCK_ADDRESS": "127.0.0.1",
                                  "PLACEDOCK_PORT": str(port),
                                  "PLACEDOCK_DATA_DIR": str(tmp_path / "two")})
        assert_one_line_error(result, "PLACEDOCK_PORT", "Address already in use")
        assert get(first.url + "/")[0] == 200
    finally:
        first.stop()
    assert "placedock: stopping: the front (nginx, pid" in first.log()
