"""The image, built and run by a real Docker engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.containers import (
    QUICK_START_OPTIONS,
    Containers,
    inspect,
    logs,
    wait_health,
    wait_http,
)
from tests.support.docker_engine import build_image, docker, ensure_base_image
from tests.support.http import get
from tests.support.load import Load, WriterLoad
from tests.support.network import free_port
from tests.support.processes import wait_until
from tests.support.server import REPO
from tests.test_databases import post_json
from tests.test_startup import gabbi
from tests.test_versions import image_version

UID = 42424
OLDSTABLE = "debian:bookworm-slim"  # still a supported BASE_IMAGE (docs/operations.md, "The image")
OLDSTABLE_IMAGE = "placedock-ci:bookworm"
# The docs' build of the versioned tag production runs (tests/test_versions.py: the current one).
VERSIONED_BUILD = "docker build -t placedock:16.0.0-1 ."
QUICK_START_RUN = 'docker run -t -p 127.0.0.1:8081:80 -e "DB_SYNC=True" -e "OS_API__AUTH_STRATEGY=noauth2" placedock'  # noqa: E501 (the README's command, verbatim)


def test_the_seeds_quick_start_verbatim(image: str) -> None:
    build = subprocess.run(["bash", "-c", "docker build -t placedock ."], cwd=REPO,
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr  # every layer is cached by the image fixture
    run = subprocess.Popen(["bash", "-c", f"exec {QUICK_START_RUN}"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http("http://127.0.0.1:8081/")
        curl = subprocess.run(["bash", "-c", "curl http://localhost:8081/"], capture_output=True,
                              text=True, timeout=30, check=True)
        versions = json.loads(curl.stdout)["versions"]
        assert versions[0]["max_version"] == "1.39"
        token = subprocess.run(
            ["bash", "-c", "curl -H 'x-auth-token: admin' http://localhost:8081/resource_providers"],
            capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(token.stdout) == {"resource_providers": []}
    finally:
        run.send_signal(signal.SIGTERM)  # the client passes it to the container, which stops
        output = run.communicate(timeout=30)[0].decode(errors="replace")
    assert "placedock: serving on port 80" in output


def test_gabbi_on_the_embedded_sqlite(image: str, containers: Containers) -> None:
    port = free_port()
    container = containers.run("-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, image)
    wait_http(f"http://127.0.0.1:{port}/", container=container)
    for url in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/placement"):
        result = gabbi(url)
        assert result.returncode == 0, result.stdout[-3000:]


def test_the_image_runs_debian_13_and_python_3_13(image: str) -> None:
    result = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c",
                    ". /etc/os-release && echo $VERSION_CODENAME && python3 --version")
    assert result.returncode == 0, result.stderr
    codename, python = result.stdout.split("\n", 1)
    assert codename == "trixie" and python.startswith("Python 3.13."), result.stdout


def test_the_bookworm_base_still_builds_and_passes_gabbi(image: str,
                                                         containers: Containers) -> None:
    ensure_base_image(OLDSTABLE)
    build_image(REPO, OLDSTABLE_IMAGE, {"BASE_IMAGE": OLDSTABLE})
    port = free_port()
    container = containers.run("-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, OLDSTABLE_IMAGE)
    wait_http(f"http://127.0.0.1:{port}/", container=container)
    result = gabbi(f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stdout[-3000:]
    python = docker("run", "--rm", "--network", "none", "--entrypoint", "python3",
                    OLDSTABLE_IMAGE, "--version")
    assert python.stdout.startswith("Python 3.11."), python.stdout


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_gabbi_on_a_real_database_with_the_url_from_a_mounted_secret(
        image: str, containers: Containers, backend: str, request: pytest.FixtureRequest,
        tmp_path: Path) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    secret = tmp_path / "connection"
    secret.write_text(url + "\n")
    secret.chmod(0o444)
    port = free_port()
    # Host networking: the databases listen on 127.0.0.1 only; so does placedock here.
    container = containers.run(
        "--network", "host", "-v", f"{secret}:/run/secrets/connection:ro",
        "-e", "OS_PLACEMENT_DATABASE__CONNECTION_FILE=/run/secrets/connection",
        "-e", "PLACEDOCK_ADDRESS=127.0.0.1", "-e", f"PLACEDOCK_PORT={port}", *QUICK_START_OPTIONS,
        image)
    wait_http(f"http://127.0.0.1:{port}/health/ready", container=container)
    result = gabbi(f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stdout[-3000:]
    password = make_url(url).password
    assert password and password not in logs(container)


def test_env_file(image: str, containers: Containers, tmp_path: Path) -> None:
    env_file = tmp_path / "dockerenv"
    env_file.write_text("OS_API__AUTH_STRATEGY=noauth2\nDB_SYNC=True\nOS_DEFAULT__DEBUG=True\n")
    port = free_port()
    container = containers.run("--env-file", str(env_file), "-p", f"127.0.0.1:{port}:80", image)
    wait_http(f"http://127.0.0.1:{port}/", container=container)
    assert " DEBUG " in logs(container)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (["-e", "OS_API__AUTH_STRATEGY=bogus"],
         "placedock: error: OS_API__AUTH_STRATEGY: 'bogus' is not one of keystone, noauth2"),
        (["-e", "OS_API__AUTH_STRATEGY=noauth2", "-e", "OS_DEFAULT__DEBUGG=True"],
         ("placedock: error: OS_DEFAULT__DEBUGG: not an option placedock or placement knows; "
          "did you mean OS_DEFAULT__DEBUG?")),
    ],
)
def test_environment_errors_fail_docker_run(image: str, env: list[str], message: str) -> None:
    result = docker("run", "--rm", *env, image)
    assert result.returncode == 1
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stdout + result.stderr


def test_a_command_instead_of_the_server(image: str) -> None:
    command = "docker run --rm -e OS_API__AUTH_STRATEGY=noauth2 placedock placement-manage db version"  # noqa: E501 (verbatim)
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"  # the embedded sqlite of a new container is empty


def test_runs_as_non_root_with_uwsgi_as_pid_1(image: str, containers: Containers) -> None:
    container = containers.run(*QUICK_START_OPTIONS, image)
    wait_until(lambda: "serving on port" in logs(container), 60, interval=0.2,
               what="serving on port", log=lambda: logs(container))
    status = docker("exec", container, "cat", "/proc/1/status").stdout
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(UID)] * 4
    cmdline = docker("exec", container, "cat", "/proc/1/cmdline").stdout
    assert "placedock.serve" in cmdline


def test_https_in_the_image_with_its_healthcheck(image: str, containers: Containers,
                                                 tmp_path: Path) -> None:
    """The README's HTTPS: a certificate and key mounted read-only, readable by uid 42424 only
    through its group; curl with the CA gets the API, and the image's HEALTHCHECK (over HTTPS)
    says healthy."""
    from tests.support.certificates import Authority

    authority = Authority(tmp_path, "image-ca")
    issued = authority.issue("placedock")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for source, name in ((issued.cert, "tls.crt"), (issued.key, "tls.key")):
        target = secrets / name
        target.write_bytes(source.read_bytes())
        target.chmod(0o640)
        os.chown(target, 0, UID)
    port = free_port()
    container = containers.run(
        "-p", f"127.0.0.1:{port}:80", "-v", f"{secrets}:/run/secrets/tls:ro",
        "-e", "PLACEDOCK_TLS_CERT_FILE=/run/secrets/tls/tls.crt",
        "-e", "PLACEDOCK_TLS_KEY_FILE=/run/secrets/tls/tls.key", *QUICK_START_OPTIONS, image)
    wait_health(container, timeout=90)
    result = subprocess.run(["curl", "-sS", "--cacert", str(authority.cert), "-H",
                             "x-auth-token: admin", f"https://127.0.0.1:{port}/resource_providers"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr + logs(container)[-2000:]
    assert json.loads(result.stdout) == {"resource_providers": []}


def test_read_only_root_filesystem(image: str, containers: Containers) -> None:
    port = free_port()
    container = containers.run("--read-only", "--tmpfs", "/tmp", "--tmpfs",
                               f"/var/lib/placement:uid={UID},gid={UID}",
                               "-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, image)
    wait_http(f"http://127.0.0.1:{port}/health/ready", container=container)
    status, _ = post_json(f"http://127.0.0.1:{port}/resource_providers", {"name": "read-only cat"})
    assert status == 200


@pytest.mark.parametrize("network", ["published", "host-1", "host-2", "host-3"])
def test_docker_stop_under_load(image: str, containers: Containers, network: str) -> None:
    """With --network host (the README's devstack recipe), from the stop on a new connection is
    refused and every request the server read is answered. A connection the kernel completed in
    the instant between nginx's last accept and its closing the socket is reset before a byte of
    it is read (a socket filter that drops new SYNs first is refused in containers here): 1
    connection in 1 of the 3 stops of the last CI run, 3-4 a stop before the front. Through a
    published port docker-proxy accepts each connection before the container does, and closes it
    once the container stopped listening: there the guarantee is that nothing the server had
    started is lost."""
    port = free_port()
    if network == "published":
        where = ["-p", f"127.0.0.1:{port}:80"]
    else:
        where = ["--network", "host", "-e", "PLACEDOCK_ADDRESS=127.0.0.1",
                 "-e", f"PLACEDOCK_PORT={port}"]
    container = containers.run(*where, *QUICK_START_OPTIONS, image)
    wait_http(f"http://127.0.0.1:{port}/", container=container)
    with Load(f"http://127.0.0.1:{port}/resource_providers", clients=6) as load:
        load.wait_for("200", 50)
        started = time.monotonic()
        stop = docker("stop", "--time", "30", container)
        took = time.monotonic() - started
        load.wait_for("refused", 6)
    print(f"docker stop ({network}) under load: {took:.2f} s, outcomes {dict(load.outcomes)}, "
          f"connections reset unread: {len(load.unread_resets())}")
    assert stop.returncode == 0 and inspect(container, "{{.State.ExitCode}}") == "0"
    assert took < 10, f"docker stop took {took:.1f} s"
    log = logs(container)
    assert load.lost_in_flight(log) == [], load.failures[:5]  # nothing the server had started
    assert "placedock: stopping: the front (nginx, pid" in log, log[-2000:]
    if network != "published":
        assert load.stopped_cleanly(log) is None, load.stopped_cleanly(log)


def test_docker_stop_while_the_database_is_awaited(image: str, containers: Containers) -> None:
    """In a container the server is PID 1, which the kernel spares any signal it has no handler
    for: before placedock.early_stop, a stop during the checks waited for the engine's SIGKILL
    (status 137) and the server came up meanwhile."""
    nowhere = f"postgresql+psycopg2://placement:pw@127.0.0.1:{free_port()}/placement"
    container = containers.run("-e", f"OS_PLACEMENT_DATABASE__CONNECTION={nowhere}",
                               "-e", "DB_WAIT_TIMEOUT=120", *QUICK_START_OPTIONS, image)
    wait_until(lambda: "waiting for database" in logs(container), timeout=60,
               what="a wait for the database")
    stop = docker("stop", "--time", "60", container)
    log = logs(container)
    assert stop.returncode == 0 and inspect(container, "{{.State.ExitCode}}") == "0", log
    assert "placedock: stopped by SIGTERM before serving" in log and "Traceback" not in log, log


def test_healthcheck_follows_the_database(image: str, containers: Containers,
                                          postgresql_server, postgresql_url: str) -> None:
    port = free_port()
    container = containers.run(
        "--network", "host", "--health-interval", "1s", "--health-retries", "2",
        "--health-start-period", "60s", "-e", f"OS_PLACEMENT_DATABASE__CONNECTION={postgresql_url}",
        "-e", "PLACEDOCK_ADDRESS=127.0.0.1", "-e", f"PLACEDOCK_PORT={port}", *QUICK_START_OPTIONS,
        image)

    wait_health(container)
    postgresql_server.stop()
    try:
        wait_health(container, "unhealthy")
        last = json.loads(inspect(container, "{{json .State.Health.Log}}"))[-1]["Output"]
        assert "not ready: database check failed" in last
    finally:
        postgresql_server.start()
    wait_health(container)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_backup_and_restore_with_the_images_own_tools(image: str, backend: str,
                                                       request: pytest.FixtureRequest,
                                                       tmp_path: Path) -> None:
    """db-backup and db-restore in the image: its pg_dump and mariadb-dump (newer than the
    servers the tests start), the URLs from mounted secrets, the file in a volume uid 42424
    writes; every row back in a new database."""
    from tests.support.backups import contents, seeded

    server = request.getfixturevalue(f"{backend}_server")
    source = request.getfixturevalue(f"{backend}_url")
    seeded(source, 20)
    name = f"i{uuid.uuid4().hex[:12]}"
    target = server.create_database(name)
    secrets, backups = tmp_path / "secrets", tmp_path / "backups"
    secrets.mkdir(mode=0o755)
    backups.mkdir()
    os.chown(backups, UID, UID)
    for secret, url in (("source", source), ("target", target)):
        (secrets / secret).write_text(url + "\n")
        (secrets / secret).chmod(0o444)
    try:
        for command, secret in ((["db-backup", "/backups"], "source"),
                                (["db-restore", "/backups/placement.backup"], "target")):
            if command[0] == "db-restore":
                (backup,) = backups.iterdir()
                backup.rename(backups / "placement.backup")
            result = docker("run", "--rm", "--network", "host",
                            "-v", f"{secrets}:/run/secrets:ro", "-v", f"{backups}:/backups",
                            "-e", f"OS_PLACEMENT_DATABASE__CONNECTION_FILE=/run/secrets/{secret}",
                            image, *command, timeout=300)
            assert result.returncode == 0, result.stderr
            assert make_url(source).password not in result.stderr
        assert contents(target) == contents(source)
    finally:
        server.drop_database(name)


def test_restart_on_a_volume_keeps_the_sqlite_data(image: str, containers: Containers) -> None:
    volume = f"placedock-test-{uuid.uuid4().hex[:8]}"
    name = f"cat-{uuid.uuid4().hex[:8]}"
    try:
        for attempt in range(2):
            port = free_port()
            container = containers.run("-v", f"{volume}:/var/lib/placement",
                                       "-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, image)
            wait_http(f"http://127.0.0.1:{port}/health/ready", container=container)
            if attempt == 0:
                assert post_json(f"http://127.0.0.1:{port}/resource_providers",
                                 {"name": name})[0] == 200
            else:
                status, body = get(f"http://127.0.0.1:{port}/resource_providers?name={name}")
                assert status == 200 and len(json.loads(body)["resource_providers"]) == 1
                assert "database schema: already at" in logs(container)
            docker("rm", "-f", container)
    finally:
        containers.remove_all()
        docker("volume", "rm", "-f", volume)


POWER_CUTS = 3


def test_sigkill_under_writers_loses_no_acknowledged_write_on_a_volume(
        image: str, containers: Containers) -> None:
    """The embedded sqlite on a named volume, SIGKILLed (`docker kill`: a power cut, the OOM
    killer) while 6 clients write, POWER_CUTS times: each new container on the volume holds every
    provider and allocation any container acknowledged before its death."""
    volume = f"placedock-test-{uuid.uuid4().hex[:8]}"
    writers: list[WriterLoad] = []
    try:
        for cut in range(POWER_CUTS + 1):
            port = free_port()
            container = containers.run("-v", f"{volume}:/var/lib/placement",
                                       "-p", f"127.0.0.1:{port}:80", *QUICK_START_OPTIONS, image)
            url = f"http://127.0.0.1:{port}"
            served = wait_http(f"{url}/health/ready", container=container)
            missing = [gone for writer in writers for gone in writer.missing(url)]
            assert missing == [], (cut, missing[:5])
            if cut == POWER_CUTS:
                break
            writer = WriterLoad(url, clients=6, max_seconds=120, timeout=10).start()
            writers.append(writer)
            wait_until(lambda writer=writer: writer.cycles >= 20, 60, interval=0.1,
                       what="20 write cycles")
            assert docker("kill", container).returncode == 0
            writer.stop()
            docker("rm", "-f", container)
            print(f"sqlite SIGKILL {cut + 1} of {POWER_CUTS} under 6 writers: served again "
                  f"{served:.1f} s after its start; acknowledged {len(writer.providers)} "
                  f"providers, {len(writer.consumers)} allocations; requests by outcome "
                  f"{dict(writer.outcomes)}")
    finally:
        containers.remove_all()
        docker("volume", "rm", "-f", volume)
    acknowledged = sum(len(w.providers) + len(w.consumers) for w in writers)
    print(f"sqlite: {POWER_CUTS} SIGKILLs under 6 writers on a volume: {acknowledged} writes "
          "acknowledged, 0 missing")


@pytest.mark.parametrize("storage", ["container", "volume", "read-only"])
def test_concurrent_writers_on_the_embedded_sqlite(image: str, containers: Containers,
                                                   storage: str) -> None:
    """The README's docker run (its file in the container, on a named volume, or with a
    read-only root and the documented tmpfs): 8 clients writing for 10 s, no failed request."""
    volume = f"placedock-test-{uuid.uuid4().hex[:8]}"
    storage_args = {
        "container": [],
        "volume": ["-v", f"{volume}:/var/lib/placement"],
        "read-only": ["--read-only", "--tmpfs", "/tmp", "--tmpfs",
                      f"/var/lib/placement:uid={UID},gid={UID}"],
    }[storage]
    port = free_port()
    try:
        container = containers.run(*storage_args, "-p", f"127.0.0.1:{port}:80",
                                   *QUICK_START_OPTIONS, image)
        wait_http(f"http://127.0.0.1:{port}/health/ready", container=container)
        load = WriterLoad(f"http://127.0.0.1:{port}", clients=8, max_seconds=10).run()
        log = logs(container)
    finally:
        containers.remove_all()
        if storage == "volume":
            docker("volume", "rm", "-f", volume)
    print(f"sqlite writers ({storage}): {load.summary()}")
    assert load.errors == [], (load.summary(), load.errors[:5])
    assert load.cycles >= 10, load.summary()
    assert "database is locked" not in log


def test_labels_name_placement_and_the_revision(image: str) -> None:
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}",
                               f"{image}:revision").stdout)
    assert labels["org.opencontainers.image.version"] == image_version()
    assert f"docker build -t placedock:{image_version()} ." == VERSIONED_BUILD
    build = subprocess.run(["bash", "-c", VERSIONED_BUILD], cwd=REPO, capture_output=True,
                           text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr  # the image fixture's layers, cached
    tagged = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}",
                               f"placedock:{image_version()}").stdout)
    assert tagged["org.opencontainers.image.version"] == image_version()
    assert labels["org.opencontainers.image.revision"] not in ("", "unknown")


def test_quickstart_uses_docker_when_an_engine_answers(image: str) -> None:
    from tests.test_readme import serve_in_background

    serve_in_background("./quickstart.sh", 8081, REPO)
    assert docker("ps", "--filter", "publish=8081", "-q").stdout.strip() == ""  # gone


def test_quickstart_in_docker_on_the_port_asked_for(image: str) -> None:
    from tests.test_readme import serve_in_background

    port = free_port()
    serve_in_background("./quickstart.sh", port, REPO, path="/",
                        env={"QUICKSTART_PORT": str(port)})
    assert docker("ps", "--filter", f"publish={port}", "-q").stdout.strip() == ""  # gone


def test_ipv6_everywhere_answers_on_both_families(image: str, containers: Containers) -> None:
    """PLACEDOCK_ADDRESS=:: (a dual-stack cluster's setting) on the host's network: the server
    answers on ::1 and on 127.0.0.1, and its healthcheck asks the right one."""
    port = free_port()
    container = containers.run("--network", "host", "--health-interval", "1s",
                               "-e", "PLACEDOCK_ADDRESS=::", "-e", f"PLACEDOCK_PORT={port}",
                               *QUICK_START_OPTIONS, image)
    wait_http(f"http://[::1]:{port}/health/ready", container=container)
    assert get(f"http://127.0.0.1:{port}/")[0] == 200
    assert get(f"http://[::1]:{port}/")[0] == 200
    wait_health(container, timeout=30)


def test_ipv6_loopback_only(image: str, containers: Containers) -> None:
    port = free_port()
    container = containers.run("--network", "host", "-e", "PLACEDOCK_ADDRESS=::1",
                               "-e", f"PLACEDOCK_PORT={port}", *QUICK_START_OPTIONS, image)
    wait_http(f"http://[::1]:{port}/", container=container)
    result = docker("exec", container, "python3", "-m", "placedock.health", "ready")
    assert result.returncode == 0, result.stderr
    try:
        status = get(f"http://127.0.0.1:{port}/", timeout=2)[0]
    except OSError:
        status = None
    assert status is None, "answered on IPv4 though told ::1"
