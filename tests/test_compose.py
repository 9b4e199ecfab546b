"""compose.yaml for real: 3 placedock replicas behind HAProxy, a 3-node Galera cluster, memcached,
started with the README's commands on the shared Docker engine (Debian's docker-compose 1.29
where the `docker compose` plugin is missing). Under load, one placedock replica and then the
active Galera node are killed and restarted: every request is counted by outcome, and what was
written before is read back. `down -v` must leave no container, network or volume."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support import http
from tests.support.docker_engine import DockerEngine, build_image, docker, ensure_base_image
from tests.support.load import Load, WriterLoad, send
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.prometheus import Prometheus
from tests.support.server import REPO
from tests.support.skips import require
from tests.test_monitoring import dashboard_queries, evaluated_with_data, records, rules
from tests.test_startup import gabbi
from tests.test_versions import build_argument

# The commands the README and its Compose guide show.
README = (REPO / "README.md").read_text() + (REPO / "docs" / "compose.md").read_text()
UP = "docker compose up -d"
SCALE = "docker compose up -d --scale placedock=4"
MONITORING = "docker compose --profile monitoring up -d prometheus"
MIGRATE_DATA = "docker compose run --rm --no-deps placedock db-migrate-data"
DOWN = "docker compose down -v"
DOWN_KEEPING_DATA = "docker compose down"
ROTATE = ("docker compose run --rm stack-secrets rotate placement-database-url",
          "docker compose run --rm --no-deps db-init",
          "docker compose restart placedock")
READ_SECRET = "docker compose exec -T keystone cat /run/secrets/keystone-admin-password"
CA = "docker compose run --rm -T stack-secrets ca > stack-ca.crt"
BACKUP = "docker compose run --rm --no-deps -v placedock-backups:/var/lib/placement placedock db-backup /var/lib/placement"  # noqa: E501 (verbatim)
BACKUPS_VOLUME = "placedock-backups"
# docs/compose.md's restore into a new project, the example backup's name in the third line.
RESTORE = ("export COMPOSE_PROJECT_NAME=placedock-restored STACK_PLACEMENT_PORT=8790 STACK_PLACEMENT_KEYSTONE_PORT=8791",  # noqa: E501 (verbatim)
           "docker compose run --rm db-init",
           "docker compose run --rm --no-deps -v placedock-backups:/var/lib/placement placedock db-restore /var/lib/placement/placement-20260101T020000Z.sql",  # noqa: E501 (verbatim)
           "docker compose up -d")
EXAMPLE_BACKUP = "placement-20260101T020000Z.sql"
# What compose/secrets/ may hold in git: the generator and its notes, no secret.
COMMITTED_SECRETS_FOLDER = {"compose/secrets/README.md", "compose/secrets/stack-secrets.sh",
                            "compose/secrets/Dockerfile", "compose/secrets/none/.gitkeep"}
# The images compose.yaml builds, each from its folder; placedock's own gets a tag of this test's.
SERVICE_IMAGES = {"placedock-galera": "compose/galera", "placedock-haproxy": "compose/haproxy",
                  "placedock-memcached": "compose/memcached",
                  "placedock-stack-secrets": "compose/secrets",
                  "placedock-prometheus": "compose/prometheus"}
# compose.yaml's STACK_BASE_IMAGE default: every compose/ Dockerfile's base.
COMPOSE_BASE = "debian:bookworm-slim"
KEYSTONE_FOLDER = "compose/keystone"  # the keystone profile's (tests/test_compose_keystone.py)
STACK_IMAGE = "placedock-compose-test:latest"
COMPOSE_V2_IMAGE = "placedock-compose-v2:trixie"
COMPOSE_V2_PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose"
# HAProxy takes a node out after 2 failed checks (compose/haproxy/haproxy.cfg: about 3.5 s at
# worst); then placedock's pool reconnects. No request may fail later than this after a kill:
# the cut requests' 503s ended up to 4.0 s after it in seven runs on a busy machine, so 6 s.
GALERA_FAILOVER_S = 6.0
# Each fault case is repeated within one stack: a failure that comes one time in a few shows.
REPEATS = 3
REPLICA_AWAY_S = 5
GALERA_AWAY_S = 10
# After a crash the engine restarts HAProxy (restart: unless-stopped) within a second or so.
HAPROXY_BACK_S = 10
HAPROXY_ROUND_S = 15
STARTUP_TIMEOUT_S = 240
REPLICAS = 3  # compose.yaml's scale for placedock


def compose_v2(folder: Path) -> dict[str, str]:
    """The environment under which `docker compose` is Compose v2: a DOCKER_CONFIG folder whose
    cli-plugins hold the plugin from Debian trixie's docker-compose package (bookworm has only
    1.29), copied out of an image built from tests/support/compose-v2."""
    build_image(REPO / "tests/support/compose-v2", COMPOSE_V2_IMAGE)
    plugins = folder / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    container = docker("create", COMPOSE_V2_IMAGE).stdout.strip()
    try:
        copied = docker("cp", f"{container}:{COMPOSE_V2_PLUGIN}", str(plugins))
        assert copied.returncode == 0, copied.stderr
    finally:
        docker("rm", container)
    environment = {**os.environ, "DOCKER_CONFIG": str(folder)}
    version = subprocess.run(["docker", "compose", "version"], env=environment,
                             capture_output=True, text=True, check=False)
    assert version.returncode == 0, version.stderr
    print(f"compose: {version.stdout.strip()} (Debian trixie's package)")
    return environment


def compose_v1() -> list[str]:
    require(shutil.which("docker-compose") is not None,
            "docker-compose 1.29 (Debian package docker-compose)")
    return ["docker-compose"]


def test_every_image_of_the_stack_has_one_base() -> None:
    """One variable (STACK_BASE_IMAGE) gives every image compose.yaml builds from compose/ its
    base; each of those Dockerfiles alone defaults to the same. placedock's own image keeps its
    Dockerfile's."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert compose["x-build-args"] == {"BASE_IMAGE": f"${{STACK_BASE_IMAGE:-{COMPOSE_BASE}}}"}
    builds = {name: service["build"] for name, service in compose["services"].items()
              if "build" in service}
    ours = {name: build for name, build in builds.items() if build != "."}
    assert {name for name, build in ours.items()
            if build.get("args") != compose["x-build-args"]} == set()
    contexts = {build["context"] for build in ours.values()}
    assert contexts == {*SERVICE_IMAGES.values(), KEYSTONE_FOLDER}
    assert {folder: build_argument("BASE_IMAGE", REPO / folder / "Dockerfile")
            for folder in contexts} == dict.fromkeys(contexts, COMPOSE_BASE)


@dataclass
class Stack:
    project: str
    url: str
    environment: dict[str, str]
    client: list[str]  # ["docker", "compose"] (v2) or ["docker-compose"] (1.29)
    ca_file: str = ""  # the stack's CA, which the tests' HTTPS clients trust (trust_the_stack)

    def trust_the_stack(self, folder: Path) -> None:
        """docs/compose.md's way to the stack's CA; HTTPS requests here then check against it."""
        command, file_name = CA.split(" > ")
        path = folder / file_name
        path.write_text(self.run(command).stdout)
        self.ca_file = str(path)
        http.trust(self.ca_file)

    def run(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """One of the README's `docker compose ...` lines, verbatim, on this test's project."""
        assert command in README, f"the README and docs/compose.md no longer show {command!r}"
        words = command.split()[2:]  # after "docker compose"
        return self.compose(*words, timeout=timeout)

    def compose(self, *words: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.client, "-p", self.project, *words], cwd=REPO,
                                env=self.environment, capture_output=True, text=True,
                                timeout=timeout, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).stdout.split()

    def left_behind(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        found = {kind: docker(*command, "--filter", label, "-q").stdout.split()
                 for kind, command in {"containers": ["ps", "-a"],
                                       "networks": ["network", "ls"],
                                       "volumes": ["volume", "ls"]}.items()}
        return {kind: ids for kind, ids in found.items() if ids}


def build_images(base_image: str) -> None:
    """The stack's images: placedock's on ``base_image``, the others on COMPOSE_BASE (made here
    if missing: on a fresh machine nothing else may have made it yet)."""
    ensure_base_image(COMPOSE_BASE)
    for tag, folder in SERVICE_IMAGES.items():
        build_image(REPO / folder, tag, {"BASE_IMAGE": COMPOSE_BASE})
    build_image(REPO, STACK_IMAGE)


@pytest.fixture(scope="module")
def stack(docker_engine: DockerEngine, base_image: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The fault cases' stack, under Compose v2 (tests/test_compose_keystone.py uses 1.29)."""
    build_images(base_image)
    port = free_port()
    environment = {**compose_v2(tmp_path_factory.mktemp("docker-config")),
                   "STACK_IMAGE": STACK_IMAGE, "STACK_PLACEMENT_PORT": str(port),
                   "STACK_PROMETHEUS_PORT": str(free_port())}
    started = Stack(f"placedock-test-{uuid.uuid4().hex[:8]}", f"https://127.0.0.1:{port}",
                    environment, ["docker", "compose"])
    try:
        began = time.monotonic()
        started.run(UP)
        started.trust_the_stack(tmp_path_factory.mktemp("stack-ca"))
        served = http.wait_for(started.url + "/resource_providers", timeout=STARTUP_TIMEOUT_S,
                               interval=1)
        # The backups too: a joiner that cannot receive its state transfer leaves HAProxy's
        # active node serving alone, and every fault case after would test nothing.
        wait_until(lambda: all(galera_synced(started.containers(name)[0])
                               for name in GALERA_NODES), STARTUP_TIMEOUT_S, interval=1,
                   what="every Galera node synced")
        print(f"compose: `{UP}` (v2) to the first 200 through HAProxy in "
              f"{time.monotonic() - began:.0f} s ({served:.0f} s after up returned)")
        yield started
    finally:
        started.compose("down", "-v", "--timeout", "5", timeout=300)


def create_providers(stack: Stack, count: int) -> dict[str, str]:
    """``count`` new resource providers: their uuids by name."""
    made = {}
    target = urllib.parse.urlsplit(stack.url)
    headers = {"x-auth-token": "admin", "content-type": "application/json",
               "OpenStack-API-Version": "placement 1.39"}
    for _ in range(count):
        name = f"compose-{uuid.uuid4().hex}"
        reply = send(target, "POST", "/resource_providers", headers,
                     json.dumps({"name": name}).encode())
        if reply.status != 200:
            print(f"compose: a write got {reply.outcome}; the stack's logs:\n{stack_state(stack)}")
        assert reply.status == 200, reply
        made[name] = json.loads(reply.body)["uuid"]
    return made


def stack_state(stack: Stack, lines: int = 30) -> str:
    """For a failure's message: HAProxy's last words (which servers it took out, and why), each
    replica's and each Galera node's."""
    said = []
    for service in ("haproxy", "placedock", *GALERA_NODES):
        for container in stack.containers(service):
            logs = docker("logs", "--tail", str(lines), container)
            said.append(f"--- {service} {container[:12]}:\n{logs.stdout}{logs.stderr}")
    return "\n".join(said)


def read_back(url: str, providers: dict[str, str]) -> None:
    status, body = http.get(url + "/resource_providers", timeout=30)
    assert status == 200, body
    found = {p["name"]: p["uuid"] for p in json.loads(body)["resource_providers"]}
    missing = {name for name in providers if found.get(name) != providers[name]}
    assert not missing, f"{len(missing)} of {len(providers)} providers lost"


def galera_synced(container: str) -> bool:
    result = docker("exec", container, "mariadb", "-N", "-B", "-e",
                    "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'")
    return result.returncode == 0 and result.stdout.split()[-1:] == ["4"]


def outcomes_between(load: Load, start: float, end: float = math.inf) -> dict[str, int]:
    """Every request that ended in (start, end], by outcome."""
    return dict(Counter(outcome for ended, outcome, _ in list(load.events)
                        if start < ended <= end))


def failures(outcomes: dict[str, int]) -> dict[str, int]:
    """Every outcome but a success (a read's 200, a write's 200 or 204), counted."""
    return {outcome: count for outcome, count in outcomes.items() if not outcome.startswith("2")}


def failure_times(load: Load, moment: float, end: float) -> list[str]:
    """Each failed request up to ``end``: seconds from ``moment`` to its end, and its outcome."""
    return [f"{ended - moment:+.1f} s {outcome}" for ended, outcome, _ in list(load.events)
            if outcome != "200" and moment < ended <= end]


def test_gabbi_tour_through_haproxy(stack: Stack) -> None:
    result = gabbi(stack.url, stack.ca_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_monitoring_profile_scrapes_every_replica_and_evaluates_the_rules(
        stack: Stack) -> None:
    """docs/compose.md's Prometheus, added to the running stack: every replica found through
    Docker's DNS and scraped (a fourth one too, once scaled), monitoring/'s rules loaded and
    healthy, every record and dashboard query with data after some traffic, no alert on a
    healthy stack. Removed after, so the fault cases run as before."""
    began = time.monotonic()
    stack.run(MONITORING)
    prometheus = Prometheus(f"http://127.0.0.1:{stack.environment['STACK_PROMETHEUS_PORT']}")
    try:
        http.wait_for(prometheus.url + "/-/ready", timeout=STARTUP_TIMEOUT_S, token=None)
        replicas = len(stack.containers("placedock"))
        up = 'count(up{job="placedock"} == 1)'
        assert prometheus.wait_for(up, {(): replicas}, timeout=60) == {(): replicas}
        started = time.monotonic() - began
        took = evaluated_with_data(prometheus, stack.url, timeout=90)
        stack.run(SCALE)
        scaled = wait_until(lambda: prometheus.query(up) == {(): replicas + 1}, timeout=90,
                            interval=1, log=lambda: f"up: {prometheus.query(up)}")
        print(f"compose: `{MONITORING}`: {replicas} replicas scraped {started:.0f} s after; "
              f"{len(records())} records and {len(dashboard_queries())} dashboard queries had "
              f"data {took:.0f} s after the first requests; {len(rules())} rules healthy, "
              f"no alert; a fourth replica scraped {scaled:.0f} s after `{SCALE}`")
    finally:
        stack.compose("--profile", "monitoring", "rm", "--stop", "--force", "-v", "prometheus")
        stack.compose("up", "-d", "--scale", f"placedock={REPLICAS}", "--no-recreate")


# A killed replica's requests in flight are closed when HAProxy takes it out of service: its
# name no longer resolves (about 1.5 s after the kill in CI), or 3 checks fail; a read sent to it
# before then waits for the same moment. None may fail later than this after the kill.
REPLICA_CUT_S = 8.0


def test_killing_a_replica_under_load_fails_only_what_it_held(stack: Stack) -> None:
    """A killed replica sends no reset: the reads it held, and any sent to it before HAProxy
    takes it out, wait until then and are closed. They are not sent again (the replica may have
    run them: HAProxy never retries after a request has started): each fails within
    REPLICA_CUT_S of the kill; every other request is answered."""
    written = create_providers(stack, 20)
    replicas = stack.containers("placedock")
    rounds = []
    kills: list[float] = []
    clients = 4
    with Load(stack.url + "/resource_providers", clients=clients, max_seconds=600) as load:
        load.wait_for("200", 50)
        for round_number in range(REPEATS):
            victim = replicas[round_number % len(replicas)]
            killed = time.monotonic()
            kills.append(killed)
            assert docker("kill", victim).returncode == 0
            time.sleep(REPLICA_AWAY_S)
            assert docker("start", victim).returncode == 0
            back = wait_until(lambda victim=victim: "healthy" in docker(
                "inspect", "--format", "{{.State.Health.Status}}", victim).stdout,
                120, interval=0.5, what="the replica healthy again")
            time.sleep(3)  # and HAProxy sending it requests again (rise 2, 1 s apart)
            rounds.append(outcomes_between(load, killed, time.monotonic()))
            print(f"compose: replica kill {round_number + 1} of {REPEATS}, restarted after "
                  f"{REPLICA_AWAY_S:g} s, healthy {back:.0f} s later: requests by outcome "
                  f"{rounds[-1]}; failures by time from the kill "
                  f"{failure_times(load, killed, time.monotonic())}")
    print(f"compose: {REPEATS} replica kills: requests by outcome over the whole run "
          f"{dict(load.outcomes)}")
    read_back(stack.url, written)
    assert late_failures(load, kills, REPLICA_CUT_S) == [], (rounds, load.failures[:5])


# Longer than HAProxy's old server timeout (10 s), after which it sent the request again to
# another replica, up to 3 more times, whatever the method.
SLOW_REQUEST_S = 15


def test_a_slow_read_runs_on_one_replica_and_is_answered(stack: Stack) -> None:
    """A read held up by a table lock on the active Galera node (15 s) is answered when the lock
    goes, and ran on exactly one replica: counted from the replicas' own request lines."""
    marker = f"slow-{uuid.uuid4().hex}"
    galera = stack.containers("galera-1")[0]
    lock = ("LOCK TABLES resource_providers WRITE; "
            f"SELECT SLEEP({SLOW_REQUEST_S}); UNLOCK TABLES;")
    holder = subprocess.Popen(
        ["docker", "exec", galera, "sh", "-c",
         f'mariadb -uroot -p"$(cat /run/secrets/db-root-password)" placement -e "{lock}"'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # the lock is taken
        started = time.monotonic()
        status, _, body = http.request(f"{stack.url}/resource_providers?name={marker}",
                                       timeout=SLOW_REQUEST_S + 30)
        took = time.monotonic() - started
    finally:
        _, errors = holder.communicate(timeout=SLOW_REQUEST_S + 30)
    assert holder.returncode == 0, errors
    runs = {replica: (docker("logs", replica).stdout + docker("logs", replica).stderr
                      ).count(marker) for replica in stack.containers("placedock")}
    print(f"compose: a read held {SLOW_REQUEST_S} s by a lock: {status} after {took:.1f} s; "
          f"runs per replica {sorted(runs.values(), reverse=True)}")
    assert status == 200, body[:500]
    assert took > 10  # slower than HAProxy's old server timeout
    assert sum(runs.values()) == 1, runs


def late_failures(load: Load, kills: list[float], grace: float) -> list[str]:
    """Every failed request of the whole load that did not end within ``grace`` s after a kill:
    the kill before it (1-based, 0 for none) and the seconds from it, and the outcome."""
    late = []
    for ended, outcome, _ in list(load.events):
        before = [k for k in kills if k < ended]
        if outcome != "200" and (not before or ended - before[-1] > grace):
            since = f"{ended - before[-1]:+.1f} s" if before else "before any"
            late.append(f"kill {len(before)} {since} {outcome}")
    return late


def test_killing_the_active_galera_node_fails_nothing_after_failover(stack: Stack) -> None:
    written = create_providers(stack, 20)
    victim = stack.containers("galera-1")[0]  # HAProxy's active node; the others are backups
    kills: list[float] = []
    with Load(stack.url + "/resource_providers", clients=4, max_seconds=900) as load:
        load.wait_for("200", 50)
        for round_number in range(REPEATS):
            killed = time.monotonic()  # before the call: requests fail while it runs
            kills.append(killed)
            assert docker("kill", victim).returncode == 0
            time.sleep(GALERA_AWAY_S)
            written.update(create_providers(stack, 5))  # written while the node is away
            assert docker("start", victim).returncode == 0
            restarted = time.monotonic() - killed
            rejoined = wait_until(lambda: galera_synced(victim), 180, interval=0.5,
                                  what="galera-1 synced again")
            time.sleep(5)  # and HAProxy sending new connections to it (rise 3, 1 s apart)
            ended = time.monotonic()
            print(f"compose: Galera kill {round_number + 1} of {REPEATS} (galera-1, the active "
                  f"node): requests by outcome {outcomes_between(load, killed, ended)}; "
                  f"restarted at +{restarted:.1f} s, synced {rejoined:.0f} s later; failures "
                  f"by time from the kill: {failure_times(load, killed, ended)}")
    late = late_failures(load, kills, GALERA_FAILOVER_S)
    print(f"compose: {REPEATS} Galera kills: requests by outcome over the whole run "
          f"{dict(load.outcomes)}; failures more than {GALERA_FAILOVER_S:g} s after a kill: "
          f"{late}")
    read_back(stack.url, written)
    for container in stack.containers("galera-1") + stack.containers("galera-2"):
        assert galera_synced(container)
    # Each restart caught up by IST from the position InnoDB recovered (start-node.sh), not by a
    # full copy that takes a donor out of service.
    recovered = docker("logs", victim).stderr.count("recovered position")
    assert recovered == REPEATS, f"position recovered at {recovered} of {REPEATS} restarts"
    assert late == []


GALERA_NODES = ("galera-1", "galera-2", "galera-3")
# How the whole cluster goes down, and how it is started again.
COLD_STARTS = {
    "power cut (every container of the stack SIGKILLed at once), then up -d":
        ("power-cut", GALERA_NODES),
    "nodes stopped in the order 1, 2, 3, then down and up -d":
        ("stop-down", ("galera-1", "galera-2", "galera-3")),
    "nodes stopped in the order 2, 3, 1, then down and up -d":
        ("stop-down", ("galera-2", "galera-3", "galera-1")),
    "nodes stopped in the order 3, 1, 2, then down and up -d":
        ("stop-down", ("galera-3", "galera-1", "galera-2")),
    "galera-1 stopped, writes on, then the others killed, then started":
        ("stop-1-then-kill", GALERA_NODES),
}
COLD_START_TIMEOUT_S = 240


def bring_down(stack: Stack, nodes: dict[str, str], how: str, order: tuple[str, ...],
               writer: WriterLoad) -> None:
    if how == "power-cut":
        running = docker("ps", "-q", "--filter",
                         f"label=com.docker.compose.project={stack.project}").stdout.split()
        assert docker("kill", *running).returncode == 0
        return
    if how == "stop-1-then-kill":
        assert docker("stop", "--time", "30", nodes["galera-1"]).returncode == 0
        before = writer.cycles
        wait_until(lambda: writer.cycles >= before + 5, 120, interval=0.5,
                   what="writes through galera-2 and galera-3")
        assert docker("kill", nodes["galera-2"], nodes["galera-3"]).returncode == 0
        return
    for name in order:
        assert docker("stop", "--time", "30", nodes[name]).returncode == 0
    stack.run(DOWN_KEEPING_DATA)


def bring_up(stack: Stack, nodes: dict[str, str], how: str) -> dict[str, str]:
    """The stack started again as the case says; the Galera nodes' containers then."""
    if how == "stop-1-then-kill":
        assert docker("start", *nodes.values()).returncode == 0
    else:
        stack.run(UP)  # returns once db-init is through: the cluster is up by then
    return {name: stack.containers(name)[0] for name in GALERA_NODES}


@pytest.mark.parametrize("case", list(COLD_STARTS))
def test_galera_starts_again_by_itself_and_loses_no_acknowledged_write(stack: Stack,
                                                                        case: str) -> None:
    """The cluster down as a whole (start-node.sh): after a power cut of the whole stack Galera
    restores its primary component itself (pc.recovery); after clean stops in any order and
    `down` the nodes tell each other their positions and the most advanced starts the cluster.
    No one edits grastate.dat; `up -d` is all it takes."""
    how, order = COLD_STARTS[case]
    nodes = {name: stack.containers(name)[0] for name in GALERA_NODES}
    writer = WriterLoad(stack.url, clients=2, max_seconds=900, timeout=20).start()
    try:
        wait_until(lambda: writer.cycles >= 5, 120, interval=0.5, what="writes before the fault")
        down, since = time.monotonic(), str(int(time.time()) - 1)
        bring_down(stack, nodes, how, order, writer)
        started, cycles = time.monotonic(), writer.cycles
        nodes = bring_up(stack, nodes, how)
        served = wait_until(lambda: writer.cycles > cycles, COLD_START_TIMEOUT_S, interval=0.5,
                            what=f"a write acknowledged after the cold start ({case})",
                            since=started)
        synced = wait_until(lambda: all(galera_synced(node) for node in nodes.values()),
                            COLD_START_TIMEOUT_S, interval=1, what="every node synced",
                            since=started)
    finally:
        writer.stop()
    missing = writer.missing()
    starter = [name for name, node in nodes.items()
               if "starting the cluster" in docker("logs", "--since", since, node).stderr]
    print(f"compose: Galera cold start, {case}: down {started - down:.1f} s; a write "
          f"acknowledged {served:.1f} s after the start began, every node synced "
          f"{synced:.1f} s after it; started by {starter or 'pc.recovery'}; writes acknowledged: "
          f"{len(writer.providers)} providers, {len(writer.consumers)} allocations; missing: "
          f"{len(missing)}; requests by outcome {dict(writer.outcomes)}")
    assert missing == [], missing[:5]


def test_a_node_that_lost_its_volume_rejoins_under_load(stack: Stack) -> None:
    """galera-3's volume gone: it starts empty and receives the whole data (a mariadb-backup state
    transfer) from galera-2, a node HAProxy sends no client to, while clients read and write
    through galera-1: no acknowledged write is lost."""
    writer = WriterLoad(stack.url, clients=2, max_seconds=900, timeout=20).start()
    try:
        with Load(stack.url + "/resource_providers", clients=2, max_seconds=900) as load:
            load.wait_for("200", 20)
            lost = time.monotonic()
            stack.compose("rm", "--stop", "--force", "galera-3")
            volume = f"{stack.project}_galera-3"
            assert docker("volume", "rm", volume).returncode == 0, volume
            stack.compose("up", "-d", "--no-deps", "galera-3")
            node = stack.containers("galera-3")[0]
            rejoined = wait_until(lambda: galera_synced(node), COLD_START_TIMEOUT_S,
                                  interval=1, what="galera-3 synced from empty")
            time.sleep(3)
            ended = time.monotonic()
            during = outcomes_between(load, lost)
    finally:
        writer.stop()
    missing = writer.missing()
    haproxy = [line for line in docker("logs", stack.containers("haproxy")[0]).stderr.splitlines()
               if "mariadb/" in line]
    joined = docker("logs", node)
    donor = [line.split("WSREP: ")[-1] for line in (joined.stdout + joined.stderr).splitlines()
             if "as donor" in line]
    print(f"compose: galera-3 lost its volume: synced again {rejoined:.0f} s after; reads by "
          f"outcome meanwhile {during}, failures by time {failure_times(load, lost, ended)}; "
          f"writes by outcome {dict(writer.outcomes)} {writer.errors[:3]}; acknowledged writes "
          f"missing: {len(missing)}; HAProxy on the nodes: {haproxy[-4:]}; {donor}")
    # start-node.sh asks first for the nodes HAProxy sends no client to, and got one at once.
    assert len(donor) == 1 and "(galera-3) requested state transfer from 'galera-2,'. " \
        "Selected" in donor[0] and donor[0].endswith("(galera-2)(SYNCED) as donor."), donor
    assert missing == [], missing[:5]
    # The copy costs no serving node: 0 failures in 6 runs of 8 here, one 503 in each of the
    # others (a read 0.2 s after galera-3 left, as the membership changed). Before the donor was
    # chosen, galera-1 (serving) gave it in one run of 4, and a read and a write got placement's
    # 503 at one instant (and the writer's next step on what it had not made, a 404): never a
    # reset, a timeout, a 500, nor more than that.
    read_failures = failures(during)
    write_failures = failures(dict(writer.outcomes))
    assert set(read_failures) <= {"503"} and set(write_failures) <= {"503", "404"}, (
        during, writer.outcomes)
    assert sum(read_failures.values()) + write_failures.get("503", 0) <= 3, (
        during, writer.outcomes)


def test_a_crashed_haproxy_is_restarted_by_the_engine(stack: Stack) -> None:
    """HAProxy is one process on one machine: its loss is an outage until it is back. A crash
    (here its process killed from outside, as the OOM killer would) is restarted by the restart
    policy; `docker kill` is a deliberate stop, which the engine does not undo."""
    haproxy = stack.containers("haproxy")[0]
    outages = []
    with Load(stack.url + "/resource_providers", clients=4, max_seconds=600,
              timeout=10) as load:
        load.wait_for("200", 50)
        for round_number in range(REPEATS):
            pid = int(docker("inspect", "--format", "{{.State.Pid}}", haproxy).stdout)
            crashed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            time.sleep(HAPROXY_ROUND_S)  # back, its checks settled, the pools reconnected
            ended = time.monotonic()
            failed_at = [when for when, outcome, _ in list(load.events)
                         if outcome != "200" and crashed < when <= ended]
            outages.append(max(failed_at, default=crashed) - crashed)
            print(f"compose: HAProxy crash {round_number + 1} of {REPEATS}: requests by outcome "
                  f"{outcomes_between(load, crashed, ended)} (refused: nothing listened; failed: "
                  f"Docker's port proxy took the connection and closed it, and the client tried "
                  f"again at once), the last failure {outages[-1]:.1f} s after the crash, then "
                  f"only 200s for {ended - crashed - outages[-1]:.1f} s")
        restarts = docker("inspect", "--format", "{{.RestartCount}}", haproxy).stdout.strip()
        assert docker("kill", haproxy).returncode == 0
        time.sleep(3)
        state = docker("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", haproxy)
        assert docker("start", haproxy).returncode == 0
        killed_back = http.wait_for(stack.url + "/resource_providers", timeout=60,
                                    interval=0.2)
    print(f"compose: {REPEATS} HAProxy crashes, restarted by the engine ({restarts} restarts): "
          f"outages (crash to last failure) {', '.join(f'{w:.1f}' for w in outages)} s; "
          f"requests by outcome over the whole run {dict(load.outcomes)}; after `docker kill` it "
          f"was {state.stdout.split()[0]!r} 3 s later, served {killed_back:.1f} s after "
          "`docker start`")
    assert restarts == str(REPEATS)
    assert state.stdout.split() == ["exited", restarts], state.stdout
    assert max(outages) < HAPROXY_BACK_S, outages


def test_tls_on_every_hop(stack: Stack) -> None:
    """The API only over HTTPS, with the stack's certificate; each replica's API only to a client
    certificate (HAProxy's); the database only over TLS; Galera's replication over TLS and its
    state transfers (mariadb-backup) streamed over TLS, each end's certificate checked."""
    port = urllib.parse.urlsplit(stack.url).port
    assert http.status(f"http://127.0.0.1:{port}/") == 0  # plain HTTP: no answer at all
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(stack.url + "/", timeout=10, context=ssl.create_default_context())
    # From inside a replica, without a client certificate (its own name is not checked here).
    ask = ("import json, ssl, urllib.request, urllib.error\n"
           "unchecked = ssl.create_default_context()\n"
           "unchecked.check_hostname = False\n"
           "unchecked.verify_mode = ssl.CERT_NONE\n"
           "url = 'https://127.0.0.1:80/resource_providers'\n"
           "try:\n"
           "    urllib.request.urlopen(url, context=unchecked)\n"
           "except urllib.error.HTTPError as error:\n"
           "    print(error.code, json.load(error)['errors'][0]['code'])\n")
    replica = stack.compose("exec", "-T", "placedock", "python3", "-c", ask).stdout.strip()
    assert replica == "403 placement.request.client_certificate", replica
    sql = ("mariadb -uroot -p\"$(cat /run/secrets/db-root-password)\" -N -B -e "
           "\"SELECT @@require_secure_transport\"")
    required = stack.compose("exec", "-T", "galera-2", "bash", "-c", sql).stdout
    assert required.strip() == "1", required
    joined = stack.compose("logs", "galera-2").stdout
    # Galera's group communication listens and connects over TLS only (ssl:// addresses).
    assert "'ssl://0.0.0.0:4567'" in joined and "tcp://" not in joined, joined[-3000:]
    assert "Using openssl based encryption with socat: with key and crt" in joined, joined[-3000:]
    assert "MODE='VERIFY_CA'" in joined, joined[-3000:]
    print("compose: TLS on every hop: the API (HTTPS only), HAProxy to the replicas (client "
          "certificate), the database (require_secure_transport), Galera replication "
          "(socket.ssl) and its state transfer (mariadb-backup through socat's TLS, VERIFY_CA)")


@dataclass
class Backup:
    written: dict[str, str]  # providers written before it began, uuids by name
    file_name: str  # in BACKUPS_VOLUME
    said: str  # db-backup's last line
    served: dict[str, int]  # the reads' outcomes while it ran


def in_backups(command: str) -> str:
    """``command``'s output in a throwaway container that has BACKUPS_VOLUME at /backups."""
    return docker("run", "--rm", "-v", f"{BACKUPS_VOLUME}:/backups", "--entrypoint", "sh",
                  STACK_IMAGE, "-c", command).stdout


@pytest.fixture(scope="module")
def backup(stack: Stack) -> Iterator[Backup]:
    """docs/compose.md's backup, made once under load, for the backup and the restore tests."""
    written = create_providers(stack, 5)
    try:
        with Load(stack.url + "/resource_providers", clients=2, max_seconds=300) as load:
            load.wait_for("200", 20)
            done = stack.run(BACKUP)
            served = dict(load.outcomes)
        files = in_backups("ls /backups").split()
        assert len(files) == 1, files
        yield Backup(written, files[0], done.stderr.strip().splitlines()[-1], served)
    finally:
        docker("volume", "rm", "-f", BACKUPS_VOLUME)


def test_a_backup_while_the_stack_serves(backup: Backup) -> None:
    """docs/compose.md's backup: a one-off replica's db-backup through HAProxy, under load."""
    print(f"compose: db-backup under load: {backup.said}; reads meanwhile {backup.served}")
    assert backup.file_name.endswith(".sql"), backup.file_name
    dump = in_backups(f"cat /backups/{backup.file_name}")
    assert dump.rstrip().splitlines()[-1].startswith("-- Dump completed"), dump[-500:]
    assert all(uuid_ in dump for uuid_ in backup.written.values()), "a provider is missing"
    assert failures(backup.served) == {}, backup.served


def test_a_restore_into_a_new_stack(stack: Stack, backup: Backup,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """docs/compose.md's restore: the backup into a new project, before its replicas start;
    they then serve every provider written before the backup, and the gabbi tour passes."""
    export, *commands = RESTORE
    assert export in README and all(command in README for command in commands)
    # The export line's variables, with this run's own values (a unique project, a free port).
    assert [word.split("=")[0] for word in export.split()[1:]] == [
        "COMPOSE_PROJECT_NAME", "STACK_PLACEMENT_PORT", "STACK_PLACEMENT_KEYSTONE_PORT"], export
    port = free_port()
    restored = Stack(f"placedock-restored-{uuid.uuid4().hex[:8]}", f"https://127.0.0.1:{port}",
                     {**stack.environment, "STACK_PLACEMENT_PORT": str(port),
                      "STACK_PLACEMENT_KEYSTONE_PORT": str(free_port()),
                      "STACK_PROMETHEUS_PORT": str(free_port())}, stack.client)
    try:
        began = time.monotonic()
        init, restore, up = commands
        restored.run(init)
        restore_words = restore.replace(EXAMPLE_BACKUP, backup.file_name).split()[2:]
        said = restored.compose(*restore_words).stderr.strip().splitlines()
        restored.run(up)
        restored.trust_the_stack(tmp_path_factory.mktemp("restored-ca"))
        http.wait_for(restored.url + "/resource_providers", timeout=STARTUP_TIMEOUT_S,
                      interval=1)
        print(f"compose: restored into a new stack, served {time.monotonic() - began:.0f} s "
              f"after its db-init began; db-restore said: {said[-1]}")
        read_back(restored.url, backup.written)
        result = gabbi(restored.url, restored.ca_file)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    finally:
        restored.compose("down", "-v", "--timeout", "5", timeout=300)


def secret(stack: Stack, service: str, name: str) -> str:
    return stack.compose("exec", "-T", service, "cat", f"/run/secrets/{name}").stdout


def test_rotating_placements_database_password(stack: Stack) -> None:
    """docs/compose.md's rotation: a new password in the secret, db-init sets it in MariaDB,
    the replicas restart with it; the API answers, and what was written is read back."""
    written = create_providers(stack, 3)
    before = secret(stack, "placedock", "placement-database-url")
    for command in ROTATE:
        stack.run(command)
    after = secret(stack, "placedock", "placement-database-url")
    assert after != before and after.startswith("mysql+pymysql://placement:")
    took = http.wait_for(stack.url + "/resource_providers", timeout=120, interval=1)
    print(f"compose: rotated placement's database password; 200 through HAProxy {took:.0f} s "
          "after the restart")
    read_back(stack.url, written)


def test_data_migrations_in_a_one_off_replica(stack: Stack) -> None:
    """docs/compose.md's last step of an upgrade: placement's online data migrations and its
    upgrade check, in a one-off replica with the replicas' environment, while the stack serves."""
    result = stack.run(MIGRATE_DATA)
    said = result.stdout + result.stderr
    assert "placement-status upgrade check passed" in said, said[-3000:]
    print(f"compose: `{MIGRATE_DATA}`: {said.strip().splitlines()[-1]}")


def test_scaling_the_replicas(stack: Stack) -> None:
    stack.run(SCALE)
    assert len(stack.containers("placedock")) == 4
    http.wait_for(stack.url + "/resource_providers", timeout=60, interval=1)


def stack_secrets(project: str, environment: dict[str, str], *command: str,
                  entrypoint: str | None = None) -> subprocess.CompletedProcess[str]:
    """The stack-secrets service run alone in ``project`` (Compose 1.29), its own command or
    ``entrypoint`` (to look at its volumes)."""
    options = ["--entrypoint", entrypoint] if entrypoint else []
    return subprocess.run(["docker-compose", "-p", project, "run", "--rm", "-T", *options,
                           "stack-secrets", *command], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


def test_every_stack_generates_its_own_secrets(docker_engine: DockerEngine, base_image: str,
                                               tmp_path: Path) -> None:
    """No committed secret: two stacks (as two fresh clones would be) generate different ones on
    their first run and keep them on the next; a file in STACK_SECRETS is used as given; rotate
    refuses what it cannot change, in one line without a value."""
    require(shutil.which("docker-compose") is not None,
            "docker-compose 1.29 (Debian package docker-compose)")
    build_images(base_image)
    tracked = subprocess.run(["git", "ls-files", "compose/secrets"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    assert set(tracked) <= COMMITTED_SECRETS_FOLDER, tracked
    given = tmp_path / "given"
    given.mkdir()
    (given / "keystone-admin-password").write_text("the-operators-own\n")
    projects = [f"placedock-secrets-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    environment = {**os.environ, "STACK_IMAGE": STACK_IMAGE}
    values = []
    try:
        for project in projects:
            first = stack_secrets(project, environment)
            assert first.returncode == 0, first.stderr
            assert "db-root-password: generated" in first.stderr, first.stderr
            names = "db-root-password placement-database-url placement-keystone-password"
            def cat(path: str, project: str = project) -> str:
                return stack_secrets(project, environment, path, entrypoint="cat").stdout

            stored = [cat(f"/stack/store/{name}") for name in names.split()]
            assert all(len(value) >= 32 for value in stored), [len(v) for v in stored]
            again = stack_secrets(project, {**environment, "STACK_SECRETS": str(given)})
            assert "db-root-password: kept" in again.stderr, again.stderr
            assert "keystone-admin-password: given" in again.stderr, again.stderr
            assert cat("/stack/store/db-root-password") == stored[0]
            assert cat("/stack/for/keystone/keystone-admin-password") == "the-operators-own"
            admin = cat("/stack/for/db-init/db-admin-url")
            assert admin == (f"mysql+pymysql://root:{stored[0]}@haproxy:3306/?charset=utf8mb4"
                             "&ssl_ca=/run/secrets/ca.crt")
            # Only what a service reads is in its volume.
            listing = stack_secrets(project, environment, "/stack/for/placedock",
                                    entrypoint="ls").stdout.split()
            assert listing == ["ca.crt", "placedock.crt", "placedock.key",
                               "placement-database-url"], listing
            values.append(stored)
        assert not set(values[0]) & set(values[1]), "two stacks share a secret"
        refused = stack_secrets(projects[0], environment, "rotate", "db-root-password")
        said = [line for line in refused.stderr.splitlines() if line.startswith("stack-secrets:")]
        assert refused.returncode != 0 and len(said) == 1, refused.stderr
        assert said[0].startswith("stack-secrets: db-root-password: not rotatable"), said
        assert values[0][0] not in refused.stdout + refused.stderr
    finally:
        for project in projects:
            subprocess.run(["docker-compose", "-p", project, "down", "-v"], cwd=REPO,
                           env=environment, capture_output=True, timeout=300, check=False)


def test_down_removes_every_container_network_and_volume(stack: Stack) -> None:
    assert stack.left_behind()["volumes"], "no volumes to begin with: is the label filter wrong?"
    stack.run(DOWN, timeout=300)
    assert stack.left_behind() == {}
