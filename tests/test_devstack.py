"""Beside devstack: docs/devstack.md's commands, verbatim, in a folder standing for a devstack host.

devstack's placement.conf (the sample in tests/placedock/data, pointed at a real keystone,
memcached and MariaDB on 127.0.0.1) becomes an env-file through the image's conf-to-env; N
containers share the host's network and one database; Debian's apache2 (our config, our PID)
balances over them with devstack/balancer.sh's file; the real openstack CLI talks to it through
keystone's catalog, and to a noauth2 container directly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.apache import Apache
from tests.support.cache import cache_dir, locked
from tests.support.containers import QUICK_START_OPTIONS, Containers, logs, wait_http
from tests.support.databases import MariaDBServer
from tests.support.docker_engine import docker
from tests.support.keystone import (
    DEMO_PROJECT,
    DEMO_USER,
    REGION,
    KeystoneServer,
)
from tests.support.load import BALANCER_RESET, Load
from tests.support.memcached import MemcachedServer
from tests.support.network import free_ports
from tests.support.processes import wait_until
from tests.support.server import REPO
from tests.support.skips import require

SAMPLE = REPO / "tests" / "placedock" / "data" / "devstack-placement.conf"
N = 3
# docs/devstack.md's commands, verbatim.
CONF_TO_ENV = "docker run --rm -i placedock conf-to-env < placement.conf > dockerenv"
RUN_CONTAINERS = 'for port in $(seq "$FIRST_PORT" $((FIRST_PORT + N - 1))); do docker run -d --name "placement-$port" --network host --env-file dockerenv -e DB_SYNC=True -e PLACEDOCK_ADDRESS=127.0.0.1 -e "PLACEDOCK_PORT=$port" -e "PLACEDOCK_METRICS_PORT=$((port + 1000))" placedock; done'  # noqa: E501 (the README's command, verbatim)
BALANCER = 'devstack/balancer.sh "$N" "$FIRST_PORT" > placement-api.conf'
SCALE_DOWN = 'devstack/balancer.sh $((N - 1)) "$FIRST_PORT" > placement-api.conf'
STOP_LAST = 'docker stop "placement-$((FIRST_PORT + N - 1))"'
OSC_VENV = ["python3 -m venv osc-venv",
            "osc-venv/bin/pip install python-openstackclient==10.5.0 osc-placement==4.9.1",
            ". osc-venv/bin/activate"]
OSC_KEYSTONE = [
    "rp=$(openstack resource provider create compute-1 -f value -c uuid)",
    'openstack resource provider inventory set "$rp" --resource VCPU=8 --resource MEMORY_MB=16384 --resource DISK_GB=100',  # noqa: E501 (verbatim)
    "openstack resource provider list",
    "openstack allocation candidate list --resource VCPU=2 --resource MEMORY_MB=2048",
]
OSC_NOAUTH = [
    "openstack --os-endpoint http://127.0.0.1:8081 --os-token admin resource provider create cat-tree",  # noqa: E501 (verbatim)
    "openstack --os-endpoint http://127.0.0.1:8081 --os-token admin resource provider list",
]
# What the seed README listed by hand for [keystone_authtoken].
SEED_AUTHTOKEN = ["WWW_AUTHENTICATE_URI", "MEMCACHED_SERVERS", "PROJECT_DOMAIN_NAME",
                  "PROJECT_NAME", "USER_DOMAIN_NAME", "PASSWORD", "USERNAME", "AUTH_URL",
                  "AUTH_TYPE"]
@dataclass
class Devstack:
    keystone: KeystoneServer
    apache: Apache
    host: Path  # the folder the README's commands run in
    env: dict[str, str]  # N and FIRST_PORT, as the README tells the reader to set them
    first_port: int
    containers: Containers = field(default_factory=Containers)

    @property
    def ports(self) -> list[int]:
        return [self.first_port + index for index in range(N)]

    def token(self, user: str = "admin") -> str:
        if user == DEMO_USER:
            return self.keystone.issue_token(DEMO_USER, self.keystone.demo_password, DEMO_PROJECT)
        return self.keystone.issue_token("admin", self.keystone.admin_password, "admin")


def bash(script: str, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run README commands in bash; no OS_* variable of ours leaks in."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment["PATH"] = (f"{Path(sys.executable).parent}:"
                           f"{environment.get('PATH', '/usr/bin:/bin')}")
    result = subprocess.run(["bash", "-ec", script], cwd=cwd, env={**environment, **(env or {})},
                            capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def call(url: str, token: str | None) -> tuple[int, dict[str, str], bytes]:
    """One GET; an empty reply or a reset raises (placement must always answer)."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("x-auth-token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def devstack_placement_conf(keystone: KeystoneServer, memcached: MemcachedServer,
                            database_url: str) -> str:
    """The sample devstack placement.conf, pointed at our servers (devstack writes charset=utf8)."""
    text = SAMPLE.read_text()
    for old, new in (
        ("mysql+pymysql://root:devstack-db-secret@127.0.0.1/placement?charset=utf8", database_url),
        ("http://192.168.1.76/identity", keystone.url),
        ("devstack-service-secret", keystone.placement_password),
        ("localhost:11211", memcached.servers),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def add_placement_to_catalog(keystone: KeystoneServer, url: str) -> None:
    """What devstack does for its own placement: a `placement` service at Apache's /placement."""
    token = keystone.issue_token("admin", keystone.admin_password, "admin")
    _, body, _ = keystone.request("POST", "/v3/services", token,
                                  {"service": {"type": "placement", "name": "placement"}})
    for interface in ("public", "internal", "admin"):
        keystone.request("POST", "/v3/endpoints", token, {"endpoint": {
            "service_id": body["service"]["id"], "interface": interface, "region_id": REGION,
            "url": url}})


@pytest.fixture(scope="module")
def devstack(image: str, mariadb_server: MariaDBServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    require(Path("/usr/sbin/apache2").exists(), "Debian's apache2")
    require(shutil.which(MemcachedServer.binary) is not None, "Debian's memcached")
    workdir = tmp_path_factory.mktemp("devstack")
    memcached = MemcachedServer(workdir / "memcached")
    keystone = KeystoneServer(workdir / "keystone")
    apache = Apache(workdir / "apache")
    name = f"t_{uuid.uuid4().hex[:16]}"
    first = free_ports(N)
    host = workdir / "host"
    host.mkdir()
    (host / "devstack").symlink_to(REPO / "devstack")
    stack = Devstack(keystone, apache, host, {"N": str(N), "FIRST_PORT": str(first)}, first)
    try:
        memcached.start()
        keystone.start()
        mariadb_server.create_database(name)
        database_url = mariadb_server.url_without_charset(name) + "?charset=utf8"
        (host / "placement.conf").write_text(
            devstack_placement_conf(keystone, memcached, database_url))
        add_placement_to_catalog(keystone, f"{apache.url}/placement")
        bash(CONF_TO_ENV, host)
        stack.containers.ids += bash(RUN_CONTAINERS, host, stack.env).stdout.split()
        bash(BALANCER, host, stack.env)
        for port, container in zip(stack.ports, stack.containers.ids, strict=True):
            wait_http(f"http://127.0.0.1:{port}/health/ready", timeout=120, container=container)
            # Each on the host's network, each with metrics of its own, 1000 ports above.
            wait_http(f"http://127.0.0.1:{port + 1000}/metrics", container=container)
        apache.start(host / "placement-api.conf")
        yield stack
    finally:
        apache.stop()
        stack.containers.remove_all()
        keystone.stop()
        memcached.stop()
        mariadb_server.start()
        mariadb_server.drop_database(name)


def test_balancer_script_matches_the_readme() -> None:
    script = REPO / "devstack" / "balancer.sh"
    for bad in ([], ["3"], ["0", "8780"], ["x", "8780"], ["2", "65535"]):
        result = subprocess.run([script, *bad], capture_output=True, text=True, check=False)
        assert (result.returncode, result.stdout) == (2, ""), bad
        assert result.stderr.startswith("usage: "), bad
    made = subprocess.run([script, "3", "8780"], capture_output=True, text=True, check=True).stdout
    guide = (REPO / "docs" / "devstack.md").read_text()
    assert "```apache" in guide, "docs/devstack.md no longer shows Apache's balancer"
    assert made.split("\n", 1)[1] in guide  # all but its first line, a comment


def test_conf_to_env_gives_the_seeds_variables(devstack: Devstack) -> None:
    lines = (devstack.host / "dockerenv").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    for option in SEED_AUTHTOKEN:
        assert env[f"OS_KEYSTONE_AUTHTOKEN__{option}"], option
    assert env["OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI"] == devstack.keystone.url
    assert env["OS_KEYSTONE_AUTHTOKEN__PASSWORD"] == devstack.keystone.placement_password
    assert env["OS_API__AUTH_STRATEGY"] == "keystone"
    assert env["OS_PLACEMENT_DATABASE__CONNECTION"].endswith("?charset=utf8mb4")
    assert "DB_SYNC" not in env  # the user's decision: the README's docker run adds it
    for container in devstack.containers.ids:
        logs = docker("logs", container)
        assert "placedock: environment checked: auth keystone" in logs.stdout + logs.stderr


def test_keystone_tokens_through_the_image(devstack: Devstack) -> None:
    direct = f"http://127.0.0.1:{devstack.first_port}/resource_providers"
    admin = devstack.token()
    assert call(direct, admin)[0] == 200
    assert call(f"{devstack.apache.url}/placement/resource_providers", admin)[0] == 200
    status, headers, _ = call(direct, None)
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Keystone uri="{devstack.keystone.url}"'
    assert call(direct, "garbage")[0] == 401
    assert call(direct, devstack.token(DEMO_USER))[0] == 403  # member, not admin


def test_keystone_stopped_gives_503(devstack: Devstack) -> None:
    cached, fresh = devstack.token(), devstack.token()
    direct = f"http://127.0.0.1:{devstack.first_port}/resource_providers"
    through_apache = f"{devstack.apache.url}/placement/resource_providers"
    assert call(direct, cached)[0] == 200  # now in memcached, for every container
    devstack.keystone.stop()
    try:
        for url in (direct, through_apache):
            status, _, body = call(url, fresh)  # never seen: keystone must be asked
            assert status == 503 and body, (url, status, body)
            assert call(url, cached)[0] == 200  # validated before: memcached answers
        assert call(direct, None)[0] == 401
    finally:
        devstack.keystone.start()
    assert set(devstack.apache.members().values()) == {"Init Ok"}  # no member was blamed
    assert call(through_apache, fresh)[0] == 200


def ensure_osc_venv() -> Path:
    """The README's virtualenv for the openstack CLI, in the cache folder (made once, reused)."""
    with locked(cache_dir() / "osc-venv.lock"):
        bash("\n".join(OSC_VENV), cache_dir())
    return cache_dir()


# Prints the variable of every --os-* flag of the real openstack command (its plugins included).
OSC_FLAGS = """
from openstackclient.shell import OpenStackShell
shell = OpenStackShell()
parser = shell.build_option_parser("placedock", "0")
for action in parser._actions:
    for flag in action.option_strings:
        if flag.startswith("--os-"):
            print("OS_" + flag[5:].replace("-", "_").upper())
"""


def test_every_variable_of_the_openstack_command_is_a_client_variable() -> None:
    """placedock's list of the client's variables, checked against the client itself: none of
    them may refuse placedock's start (an openrc sourced in the same shell)."""
    from placedock import options

    output = bash(f"osc-venv/bin/python - <<'PY'\n{OSC_FLAGS}PY", ensure_osc_venv()).stdout
    flags = set(output.split())
    assert "OS_PASSWORD" in flags and "OS_PLACEMENT_API_VERSION" in flags
    assert sorted(flags - options.client_variables()) == []


def test_openstack_cli_through_apache_with_keystone(devstack: Devstack) -> None:
    keystone = devstack.keystone
    openrc = {  # what devstack's `source openrc admin admin` sets
        "OS_AUTH_URL": keystone.url, "OS_USERNAME": "admin", "OS_PASSWORD": keystone.admin_password,
        "OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default", "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": REGION,
    }
    output = bash("\n".join([OSC_VENV[-1], *OSC_KEYSTONE, 'echo "uuid=$rp"']), ensure_osc_venv(),
                  openrc).stdout
    provider = output.rsplit("uuid=", 1)[1].strip()
    assert re.search(rf"\| {provider} \| compute-1 \|", output), output
    assert re.search(rf"\| 1 \| VCPU=2,MEMORY_MB=2048 \| {provider} \|", output), output
    log = "\n".join(devstack.apache.access_log())
    assert f'"PUT /placement/resource_providers/{provider}/inventories HTTP/1.1" 200' in log


def test_openstack_cli_with_noauth2(image: str, devstack: Devstack) -> None:
    containers = Containers()
    try:
        container = containers.run("-p", "127.0.0.1:8081:80", *QUICK_START_OPTIONS, image)
        wait_http("http://127.0.0.1:8081/", container=container)
        output = bash("\n".join([OSC_VENV[-1], *OSC_NOAUTH]), ensure_osc_venv()).stdout
    finally:
        containers.remove_all()
    assert re.search(r"\| [0-9a-f-]{36} \| cat-tree \|", output), output


def test_balancer_loses_nothing_when_containers_stop_and_restart(devstack: Devstack) -> None:
    """Under load through Apache: a docker stop of one container, a docker restart of one, all
    three stopped and started one after another, and a planned removal: no request the servers
    had started fails (Load.stopped_cleanly)."""
    apache, ports, ids = devstack.apache, devstack.ports, devstack.containers.ids
    url = f"{apache.url}/placement/resource_providers"
    figures: list[str] = []

    def all_in_service() -> bool:
        return apache.members() == dict.fromkeys(ports, "Init Ok")

    def stop_and_start(index: int, how: str) -> None:
        figures.append(f"{how} {index} at {time.time():.3f}")
        started = time.monotonic()
        if how == "restart":
            assert docker("restart", ids[index]).returncode == 0
        else:
            assert docker("stop", ids[index]).returncode == 0
            stopped = time.monotonic() - started
            out = wait_until(lambda: apache.members()[ports[index]] != "Init Ok", 30)
            figures.append(f"stop {index}: {stopped:.2f} s, out of rotation after {out:.2f} s")
            assert docker("start", ids[index]).returncode == 0
        back = wait_until(all_in_service, 60)
        figures.append(f"{how} {index}: back in rotation {back:.2f} s later")

    wait_until(all_in_service)
    began_ms = int(time.time() * 1000)  # Apache's %{msec}t: when it received a request
    with Load(url, clients=6, headers={"x-auth-token": devstack.token()}) as load:
        load.wait_for("200", 60)
        stop_and_start(1, "stop")  # Apache is not told: it notices by itself
        stop_and_start(0, "restart")
        for index in range(N):
            stop_and_start(index, "stop")
        # Planned: take the last one out of Apache first, then stop it.
        bash(SCALE_DOWN, devstack.host, devstack.env)
        apache.graceful()
        wait_until(lambda: apache.members() == dict.fromkeys(ports[:2], "Init Ok"), 30)
        bash(STOP_LAST, devstack.host, devstack.env)
        time.sleep(3)
    # Only this test's requests: the module's earlier tests share the log (keystone's 503s).
    failed = [line for line in apache.access_log() if re.search(r'" 5\d\d ', line)
              and int(line.split()[1]) >= began_ms]
    drains = [line for container in ids for line in logs(container).splitlines()
              if "stopped listening" in line]
    print(f"\nbalancer of {N}, 6 clients: outcomes {dict(load.outcomes)}; " + "; ".join(figures))
    print("\n".join(drains + failed))
    # 6 stops (one planned: taken out of Apache first); each may reset, unread, a connection
    # made in the instant the front closed (Load.stopped_cleanly): Apache's 502 for it.
    server_logs = "\n".join(logs(container) for container in ids)
    assert load.stopped_cleanly(server_logs, stops=6, balanced=True) is None, \
        (load.stopped_cleanly(server_logs, stops=6, balanced=True), failed[:5])
    assert len(failed) == load.outcomes[BALANCER_RESET], failed[:5]  # no 5xx but those
