"""Kubernetes: the manifests offline against the schemas, then bootstrap.sh, rolling restarts, the
autoscaler and cleanup.sh on a real single-node cluster (tests/kubernetes/cluster.sh)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import http
from tests.support.certificates import Authority
from tests.support.docker_engine import (
    DockerEngine,
    build_image,
    docker,
    ensure_base_image,
    image_exists,
)
from tests.support.load import Load
from tests.support.processes import wait_until
from tests.support.server import REPO
from tests.support.skips import require

MANIFESTS = ["deployment.yaml", "autoscaler.yaml", "postgresql.yaml", "networkpolicy.yaml"]
# Validated with them, applied by hand (docs/operations.md): not bootstrap.sh's.
OTHER_MANIFESTS = ["kubernetes/backup-cronjob.yaml"]
SCHEMA_VERSIONS = [f"1.{minor}.0" for minor in range(28, 38)]
K8S_VERSION = "1.20.2"
K8S_BIN = Path(os.environ.get("TESTS_CACHE_DIR", Path.home() / ".cache" / "placedock")) / \
    f"kubernetes-{K8S_VERSION}" / "bin"
CLUSTER_SH = REPO / "tests" / "kubernetes" / "cluster.sh"
POSTGRES_STAND_IN = REPO / "tests" / "kubernetes" / "postgres"
POSTGRES_IMAGE = "postgres:15-bookworm"  # what postgresql.yaml names
POSTGRES_BASE = "debian:bookworm-slim"  # its stand-in's base: bookworm ships PostgreSQL 15
NAMESPACE = "placedock"
LABEL = "app.kubernetes.io/managed-by=placedock-bootstrap"

# docs/kubernetes.md's commands, verbatim (tests/test_readme.py checks they are here).
# autoscaler.yaml's bounds are 1 and 10.
HPA_BOUNDS = '{"spec": {"minReplicas": %d, "maxReplicas": %d}}'
BOOTSTRAP = "./bootstrap.sh --load none --expose nodeport --node-address 127.0.0.1 --replicas 3"
TOP = "kubectl -n placedock top pods"
WATCH_HPA = "kubectl -n placedock get hpa -w"
AB = '''ab -r -t 60 -c 8 -H 'x-auth-token: admin' "$URL/resource_providers"'''
CLEANUP = "./cleanup.sh"
MIGRATE_DATA = "kubectl -n placedock exec deploy/placedock -- /opt/placedock/startup.sh db-migrate-data"  # noqa: E501 (verbatim)
BACKUP_CRONJOB = REPO / "kubernetes" / "backup-cronjob.yaml"
# HTTPS with a certificate of the user's ($CERTS: tls.crt, tls.key and the CA that signed them).
BOOTSTRAP_TLS = './bootstrap.sh --load none --expose nodeport --node-address 127.0.0.1 --tls-cert "$CERTS/tls.crt" --tls-key "$CERTS/tls.key" --tls-ca "$CERTS/ca.crt" --network-policy'  # noqa: E501 (verbatim)
# Run twice is safe; and the HPA API switch for clusters older than 1.23.
BOOTSTRAP_AGAIN = "./bootstrap.sh --load none --expose nodeport --node-address 127.0.0.1 " \
    "--hpa-api autoscaling/v2beta2"

def say(message: str) -> None:
    print(f"[k8s] {message}", file=sys.__stderr__, flush=True)


# --- offline ----------------------------------------------------------------------------------

def kubernetes_validate() -> str:
    path = Path(sys.executable).parent / "kubernetes-validate"
    require(path.exists(), "kubernetes-validate (PyPI, test-requirements.txt)")
    return str(path)


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_manifests_validate_strictly(version: str) -> None:
    result = subprocess.run([kubernetes_validate(), "--strict", "-k", version, *MANIFESTS,
                             *OTHER_MANIFESTS],
                            cwd=REPO, capture_output=True, text=True, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert out.count("passed") == 9, out  # 3 + 1 + 2 + 1 + 2 objects, none skipped


def test_strict_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "deployment.yaml").read_text()
                   .replace("readinessProbe:", "readynessProbe:"))
    result = subprocess.run([kubernetes_validate(), "--strict", "-k", SCHEMA_VERSIONS[-1],
                             str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "readynessProbe" in result.stdout + result.stderr


def test_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    require(shellcheck is not None, "shellcheck (Debian package shellcheck)")
    assert shellcheck is not None
    scripts = ["bootstrap.sh", "cleanup.sh", "kubernetes/lib.sh",
               "tests/kubernetes/postgres/entrypoint.sh"]
    result = subprocess.run([shellcheck, "-S", "warning", *scripts], cwd=REPO, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


# bootstrap.sh's rendering, by kubectl patch --local (no server): sourced, bootstrap.sh only
# defines its functions.
RENDERED = {"EXPOSE": "nodeport", "NODE_PORT": "30123", "REPLICAS": "3",
            "DEPLOY_IMAGE": "placedock:0123456789ab", "HPA_API": "autoscaling/v2beta2",
            "PDB_API": "policy/v1beta1"}


def render(manifest: str, here: Path = REPO,
           extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    kubectl = K8S_BIN / "kubectl"
    require(kubectl.exists(), f"kubectl {K8S_VERSION} (tests/kubernetes/cluster.sh install)")
    settings = " ".join(f"{name}={shlex.quote(value)}"
                        for name, value in {**RENDERED, **(extra or {})}.items())
    script = f". ./bootstrap.sh && HERE={shlex.quote(str(here))} {settings} && render {manifest}"
    return subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{K8S_BIN}:{os.environ['PATH']}"},
                          timeout=60, check=False)


def rendered_objects(manifest: str, here: Path = REPO,
                     extra: dict[str, str] | None = None) -> dict[str, dict]:
    result = render(manifest, here, extra)
    assert result.returncode == 0, result.stderr
    return {f"{o['kind']}/{o['metadata']['name']}": o
            for o in yaml.safe_load_all(result.stdout) if o}


@pytest.mark.usefixtures("kubernetes_build")
def test_render_makes_bootstraps_copy_of_each_object() -> None:
    objects = {**rendered_objects("deployment.yaml"), **rendered_objects("autoscaler.yaml"),
               **rendered_objects("postgresql.yaml")}
    assert sorted(objects) == ["Deployment/placedock", "Deployment/placedock-postgresql",
                               "HorizontalPodAutoscaler/placedock", "PodDisruptionBudget/placedock",
                               "Service/placedock", "Service/placedock-postgresql"]
    for name, obj in objects.items():
        assert (obj["metadata"]["labels"]["app.kubernetes.io/managed-by"]
                == "placedock-bootstrap"), name
    for deployment in ("Deployment/placedock", "Deployment/placedock-postgresql"):
        labels = objects[deployment]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "placedock-bootstrap"
    placedock = objects["Deployment/placedock"]["spec"]
    assert placedock["replicas"] == 3
    assert placedock["template"]["spec"]["containers"][0]["image"] == "placedock:0123456789ab"
    # The metrics port and its annotations pass through untouched.
    assert placedock["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9180"
    postgresql = objects["Deployment/placedock-postgresql"]["spec"]
    assert postgresql["replicas"] == 1
    assert postgresql["template"]["spec"]["containers"][0]["image"] == POSTGRES_IMAGE
    service = objects["Service/placedock"]["spec"]
    assert service["type"] == "NodePort" and service["ports"][0]["nodePort"] == 30123
    assert objects["Service/placedock-postgresql"]["spec"]["type"] == "ClusterIP"
    assert objects["HorizontalPodAutoscaler/placedock"]["apiVersion"] == "autoscaling/v2beta2"
    assert objects["PodDisruptionBudget/placedock"]["apiVersion"] == "policy/v1beta1"


@pytest.mark.usefixtures("kubernetes_build")
def test_render_with_a_tls_secret_serves_https_only() -> None:
    """--tls-cert or --tls-secret: the Secret mounted and named to placedock, the container's
    port and the probes HTTPS, the Service's port 443 named https; nothing left on plain HTTP."""
    objects = rendered_objects("deployment.yaml", extra={"TLS_SECRET": "my-tls"})
    pod = objects["Deployment/placedock"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PLACEDOCK_TLS_CERT_FILE"] == "/etc/placedock/tls/tls.crt"
    assert env["PLACEDOCK_TLS_KEY_FILE"] == "/etc/placedock/tls/tls.key"
    assert {"name": "tls", "mountPath": "/etc/placedock/tls", "readOnly": True} in \
        container["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "my-tls", "defaultMode": 0o440}} in \
        pod["volumes"]
    assert [port["name"] for port in container["ports"]] == ["https", "metrics"]
    for probe in ("readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/health/ready", "port": "https",
                                               "scheme": "HTTPS"}, probe
    service = objects["Service/placedock"]["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in service] == [("https", 443, "https")]
    plain = rendered_objects("deployment.yaml")["Deployment/placedock"]["spec"]["template"]
    assert "PLACEDOCK_TLS_CERT_FILE" not in json.dumps(plain)


@pytest.mark.usefixtures("kubernetes_build")
def test_render_reads_yaml_not_lines(tmp_path: Path) -> None:
    """Re-indented, keys reordered, comments gone: the same objects come out."""
    for manifest in MANIFESTS:
        objects = list(yaml.safe_load_all((REPO / manifest).read_text()))
        (tmp_path / manifest).write_text(yaml.safe_dump_all(objects, indent=4, sort_keys=True))
        assert rendered_objects(manifest, tmp_path) == rendered_objects(manifest), manifest


@pytest.mark.parametrize("edit", [("  replicas: 1\n", "  replicas: 2\n"),
                                  ("image: placedock:latest", "image: placedock:edge"),
                                  ("  type: ClusterIP\n", "  type: NodePort\n")])
@pytest.mark.usefixtures("kubernetes_build")
def test_render_stops_in_one_line_when_a_change_does_not_apply(tmp_path: Path,
                                                               edit: tuple[str, str]) -> None:
    text = (REPO / "deployment.yaml").read_text()
    assert edit[0] in text
    (tmp_path / "deployment.yaml").write_text(text.replace(edit[0], edit[1], 1))
    result = render("deployment.yaml", tmp_path)
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "does not hold what bootstrap.sh changes" in lines[0], lines


# --- live -------------------------------------------------------------------------------------

class Cluster:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {
            **os.environ,
            "PATH": f"{K8S_BIN}:{Path(sys.executable).parent}:{os.environ['PATH']}",
            "KUBECONFIG": str(state / "kubeconfig"),
            "XDG_STATE_HOME": str(state / "xdg-state"),
            "DOCKER_BUILD_FLAGS": "--network host",  # builds reach the registries only so here
        }
        self.url = ""
        self.figures: dict[str, str] = {}

    def sh(self, command: str, timeout: float = 600, check: bool = True,
           extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["bash", "-c", command], cwd=REPO,
                                env={**self.env, **(extra or {})},
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert result.returncode == 0, (f"{command}:\n{result.stdout[-4000:]}\n"
                                            f"{result.stderr[-4000:]}")
        return result

    def kubectl(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([str(K8S_BIN / "kubectl"), "-n", NAMESPACE, *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def replicas(self) -> tuple[int, int]:
        status = json.loads(self.kubectl("get", "deployment", "placedock", "-o", "json"))["status"]
        return status.get("replicas", 0), status.get("readyReplicas", 0)

    def placedock_pods(self) -> list[str]:
        out = self.kubectl("get", "pods", "-l", "app.kubernetes.io/name=placedock", "-o", "name")
        return out.split()


def poll(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 2) -> float:
    return wait_until(predicate, timeout, interval, what=what)


@pytest.fixture(scope="module")
def kubernetes_build() -> None:
    """Kubernetes built from source (tests/kubernetes/cluster.sh install; cached after the first
    time): the render tests need its kubectl before any test needs the cluster."""
    require(os.geteuid() == 0 and shutil.which("apt-get") is not None,
            "root on Debian, to build and run a Kubernetes cluster (tests/kubernetes/cluster.sh)")
    install = subprocess.run(["bash", str(CLUSTER_SH), "install"], capture_output=True, text=True,
                             timeout=3600, check=False)
    require(install.returncode == 0, f"a Kubernetes {K8S_VERSION} build: {install.stderr[-2000:]}")


@pytest.fixture(scope="module")
def cluster(kubernetes_build: None, docker_engine: DockerEngine, base_image: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require(shutil.which("ab") is not None, "ab (Debian package apache2-utils)")
    # The official postgres image cannot be pulled here: a test-only stand-in of the same name.
    if not image_exists(POSTGRES_IMAGE):
        ensure_base_image(POSTGRES_BASE)
        build_image(POSTGRES_STAND_IN, POSTGRES_IMAGE)
    state = tmp_path_factory.mktemp("kubernetes")
    started = time.monotonic()
    # To a file, not a pipe: the daemons it starts inherit its stderr (fd 3) and hold a pipe open.
    log = state / "cluster-start.log"
    try:
        with open(log, "w") as out:
            start = subprocess.run(["bash", str(CLUSTER_SH), "start", str(state)], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   timeout=600, check=False)
        assert start.returncode == 0, log.read_text()[-3000:]
        say(f"cluster up in {time.monotonic() - started:.0f} s")
        yield Cluster(state)
    finally:
        with open(state / "cluster-stop.log", "w") as out:
            subprocess.run(["bash", str(CLUSTER_SH), "stop", str(state)], stdout=out,
                           stderr=subprocess.STDOUT, timeout=300, check=False)


@pytest.fixture(scope="module")
def deployed(cluster: Cluster) -> Cluster:
    """bootstrap.sh as the README runs it: 3 replicas at once on the empty in-cluster PostgreSQL."""
    started = time.monotonic()
    result = cluster.sh(BOOTSTRAP)
    took = time.monotonic() - started
    out = result.stdout
    match = re.search(r"placedock is at (http://127\.0\.0\.1:\d+)", out)
    assert match, out
    cluster.url = match.group(1)
    cluster.figures["bootstrap"] = f"{took:.0f} s (build, PostgreSQL, 3 replicas, gabbi)"
    say(f"bootstrap.sh: {took:.0f} s, {cluster.url}")
    assert "gabbi tests passed" in out, out[-3000:]
    return cluster


def test_bootstrap_starts_three_replicas_at_once_on_an_empty_database(deployed: Cluster) -> None:
    assert deployed.replicas() == (3, 3)
    logs = [deployed.kubectl("logs", pod) for pod in deployed.placedock_pods()]
    migrated = [log for log in logs if "database schema: migrated from empty" in log]
    waited = [log for log in logs if "database schema: already at" in log]
    assert len(migrated) == 1 and len(waited) == 2, "\n---\n".join(logs)


def test_gabbi_through_the_service(deployed: Cluster) -> None:
    gabbi_run = str(Path(sys.executable).parent / "gabbi-run")
    for url in (deployed.url, deployed.url + "/placement"):
        result = subprocess.run([gabbi_run, url, "--", str(REPO / "gabbi.yaml")],
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_pods_run_restricted(deployed: Cluster) -> None:
    pod = json.loads(deployed.kubectl("get", deployed.placedock_pods()[0], "-o", "json"))
    context = pod["spec"]["containers"][0]["securityContext"]
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    out = deployed.kubectl("exec", pod["metadata"]["name"], "--", "id", "-u")
    assert out.strip() == "42424"
    out = deployed.kubectl("exec", pod["metadata"]["name"], "--", "python3", "-m",
                           "placedock.health", "live")
    assert "live: ok" in out


def test_pods_serve_metrics_on_the_annotated_port(deployed: Cluster) -> None:
    """Under the restricted security context (read-only root, the /tmp emptyDir for the
    metrics' files), every replica's metrics answer on the port its annotations name."""
    for name in deployed.placedock_pods():
        pod = json.loads(deployed.kubectl("get", name, "-o", "json"))
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        fetch = ("import urllib.request; print(urllib.request.urlopen("
                 f"'http://127.0.0.1:{annotations['prometheus.io/port']}"
                 f"{annotations['prometheus.io/path']}').read().decode())")
        out = deployed.kubectl("exec", pod["metadata"]["name"], "--", "python3", "-c", fetch)
        assert "placedock_ready 1.0" in out, out[-2000:]
        assert re.search(r'placedock_http_requests_total\{method="GET",route="/health/ready",'
                         r'status="200"\} [1-9]', out), out[-2000:]


def test_memory_per_pod(deployed: Cluster) -> None:
    def measured() -> bool:
        out = deployed.sh(TOP, check=False).stdout
        return len(re.findall(r"^placedock-[a-z0-9]+-[a-z0-9]+\s", out, re.MULTILINE)) == 3
    poll("kubectl top pods sees the 3 placedock pods", measured, 120)
    out = deployed.sh(TOP).stdout
    say(f"kubectl top pods:\n{out}")
    memory = [int(m) for m in re.findall(r"^placedock-\w+-\w+\s+\d+m\s+(\d+)Mi", out, re.MULTILINE)]
    deployed.figures["memory"] = f"{memory} MiB"
    request = re.search(r"requests:\s+cpu: \S+\s+memory: (\d+)Mi",
                        (REPO / "deployment.yaml").read_text())
    assert request, "deployment.yaml: no memory request in Mi"
    assert memory and max(memory) < int(request[1]), out  # every pod within its request


def test_bootstrap_again_changes_nothing_it_need_not(deployed: Cluster) -> None:
    # The deployment's revision moves only when its pod template does (not with the replicas,
    # which bootstrap.sh sets and the autoscaler moves on its own under an earlier test's load).
    revision = "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
    before = deployed.kubectl("get", "deployment", "placedock", "-o", revision)
    template = deployed.kubectl("get", "deployment", "placedock", "-o", "jsonpath={.spec.template}")
    result = deployed.sh(BOOTSTRAP_AGAIN)
    assert "placedock is at " + deployed.url in result.stdout, result.stdout
    assert "gabbi tests passed" in result.stdout
    after = deployed.kubectl("get", "deployment", "placedock", "-o", revision)
    assert before and after == before, (before, after)
    assert deployed.kubectl("get", "deployment", "placedock", "-o",
                            "jsonpath={.spec.template}") == template
    hpa = deployed.kubectl("get", "hpa", "placedock", "-o", "jsonpath={.apiVersion}")
    assert hpa.startswith("autoscaling/")


def test_rolling_restart_under_load_fails_no_request(deployed: Cluster) -> None:
    deployed.kubectl("scale", "deployment", "placedock", "--replicas=1")
    poll("one replica", lambda: deployed.replicas() == (1, 1), 120)
    with Load(deployed.url + "/resource_providers", clients=4, max_seconds=240) as load:
        load.wait_for("200", 50)
        started = time.monotonic()
        deployed.kubectl("rollout", "restart", "deployment/placedock")
        deployed.kubectl("rollout", "status", "deployment/placedock", "--timeout=180s", timeout=200)
        took = time.monotonic() - started
        # Past the old pod's exit (preStop 5 s + drain): keep loading a little longer.
        load.wait_for("200", load.count("200") + 200, timeout=60)
    outcomes = dict(load.outcomes)
    deployed.figures["rolling restart"] = f"{took:.0f} s under load, outcomes {outcomes}"
    say(f"rolling restart: {took:.0f} s, {outcomes}")
    assert set(outcomes) == {"200"}, (outcomes, load.failures[:10])


def test_a_node_drain_under_load_keeps_a_replica_and_fails_no_request(deployed: Cluster) -> None:
    """kubectl drain evicts one of two replicas (preStop, then placedock's stop); the
    PodDisruptionBudget refuses to evict the other while its replacement cannot be scheduled on
    the cordoned node. Under load throughout: not one request fails."""
    # Two replicas held by the autoscaler itself: a plain `kubectl scale` raced it, which an
    # earlier test's load had set scaling (CI once waited 180 s for two in vain).
    deployed.kubectl("patch", "hpa", "placedock", "-p", HPA_BOUNDS % (2, 2))
    node = deployed.kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").strip()
    try:
        poll("two replicas", lambda: deployed.replicas() == (2, 2), 180)
        with Load(deployed.url + "/resource_providers", clients=4, max_seconds=240) as load:
            load.wait_for("200", 50)
            drain = deployed.sh(f"kubectl drain {node} --ignore-daemonsets --delete-emptydir-data "
                                "--pod-selector app.kubernetes.io/name=placedock --timeout=40s",
                                check=False, timeout=120)
            ready_during = deployed.replicas()[1]
            try:
                load.wait_for("200", load.count("200") + 100, timeout=60)
            except AssertionError as failed:
                state = deployed.sh(f"kubectl -n {NAMESPACE} get pods,endpoints,pdb -o wide; "
                                    f"kubectl -n {NAMESPACE} get events "
                                    "--sort-by=.lastTimestamp | tail -30", check=False)
                raise AssertionError(f"{failed}; drain: {drain.stdout[-1500:]}"
                                     f"{drain.stderr[-1500:]}\n{state.stdout}") from None
    finally:
        deployed.kubectl("uncordon", node)
        deployed.kubectl("patch", "hpa", "placedock", "-p", HPA_BOUNDS % (1, 10))
    outcomes = dict(load.outcomes)
    deployed.figures["node drain"] = f"1 of 2 evicted, the other kept; outcomes {outcomes}"
    say(f"node drain: rc {drain.returncode}, ready during {ready_during}, {outcomes}")
    assert drain.returncode != 0, "the drain evicted every replica"
    assert "disruption budget" in drain.stdout + drain.stderr, drain.stderr[-2000:]
    assert ready_during >= 1
    assert set(outcomes) == {"200"}, (outcomes, load.failures[:10])
    poll("every replica ready again", lambda: len(set(deployed.replicas())) == 1, 180)


def test_autoscaler_scales_up_under_load_and_back_down(deployed: Cluster) -> None:
    hpa = deployed.kubectl("get", "hpa", "placedock", "-o", "json")
    assert json.loads(hpa)["spec"]["maxReplicas"] == 10
    watch = subprocess.Popen(["bash", "-c", WATCH_HPA], cwd=REPO, env=deployed.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        # An earlier test's load may have left more replicas: from 1, a scale-up is a scale-up.
        settled = poll("the HPA is at 1 replica before the load",
                       lambda: deployed.replicas() == (1, 1), 300, 5)
        start_replicas = deployed.replicas()[0]
        started = time.monotonic()
        ab = subprocess.Popen(["bash", "-c", AB], cwd=REPO,
                              env={**deployed.env, "URL": deployed.url},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            up = poll("the HPA scales to 3 or more ready replicas",
                      lambda: deployed.replicas()[1] >= 3, 150)
        finally:
            ab.kill()
            ab.wait()
        peak = deployed.replicas()[0]
        stopped = time.monotonic()
        down = poll("the HPA scales back to 1 replica",
                    lambda: deployed.replicas() == (1, 1), 300, 5)
        assert peak > start_replicas == 1
        say(f"HPA: settled at 1 in {settled:.0f} s; {start_replicas} -> {peak} replicas in "
            f"{up:.0f} s under ab; "
            f"back to 1 {down:.0f} s after ab stopped ({stopped - started:.0f} s of load)")
        deployed.figures["hpa"] = (f"up {start_replicas}->{peak} in {up:.0f} s; "
                                   f"down to 1 in {down:.0f} s")
    finally:
        os.killpg(watch.pid, 15)
        watched = watch.communicate(timeout=30)[0]
    say(f"{WATCH_HPA}:\n{watched}")
    assert "placedock" in watched


def test_data_migrations_run_in_a_serving_pod(deployed: Cluster) -> None:
    """docs/kubernetes.md's last step of an upgrade: db-migrate-data in a pod of the Deployment,
    with its environment (the database Secret), to completion and placement's upgrade check."""
    result = deployed.sh(MIGRATE_DATA)
    said = result.stdout + result.stderr
    assert "placement-status upgrade check passed" in said, said[-3000:]
    say(f"db-migrate-data in a pod: {said.strip().splitlines()[-1]}")


def test_the_backup_cronjobs_job_backs_the_database_up(deployed: Cluster,
                                                       tmp_path: Path) -> None:
    """kubernetes/backup-cronjob.yaml's Job, run now as `kubectl create job --from=cronjob/...`
    makes it (this 1.20 cluster serves CronJob as batch/v1beta1 only: the manifest's batch/v1 is
    validated against 1.28-1.37 above), with the Deployment's database Secret and image, into the
    manifest's PersistentVolumeClaim (bound here to a hostPath volume: no provisioner runs): the
    file is a whole pg_dump archive holding a provider written before it, as pg_restore reads it."""
    name = f"backed-up-{os.getpid()}"
    status, _, body = http.request(f"{deployed.url}/resource_providers", "POST",
                                   json.dumps({"name": name}).encode(),
                                   {"OpenStack-API-Version": "placement latest"})
    assert status == 200, body
    manifests = {doc["kind"]: doc for doc in yaml.safe_load_all(BACKUP_CRONJOB.read_text())}
    claim, cronjob = manifests["PersistentVolumeClaim"], manifests["CronJob"]
    image = deployed.kubectl("get", "deployment", "placedock", "-o",
                             "jsonpath={.spec.template.spec.containers[0].image}")
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "placedock-backup-now", "labels": cronjob["metadata"]["labels"]},
           "spec": cronjob["spec"]["jobTemplate"]["spec"]}
    job["spec"]["template"]["spec"]["containers"][0]["image"] = image
    folder = tmp_path / "backups"
    folder.mkdir()
    os.chown(folder, 42424, 42424)  # the Job's fsGroup does not apply to a hostPath
    volume_name = f"placedock-backups-test-{os.getpid()}"
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume_name},
              "spec": {"capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                       "accessModes": claim["spec"]["accessModes"],
                       "hostPath": {"path": str(folder), "type": "Directory"},
                       "claimRef": {"namespace": NAMESPACE,
                                    "name": claim["metadata"]["name"]}}}
    files = {}
    for kind, manifest in (("volume", volume), ("claim", claim), ("job", job)):
        files[kind] = tmp_path / f"{kind}.json"
        files[kind].write_text(json.dumps(manifest))
    try:
        started = time.monotonic()
        for kind in ("volume", "claim", "job"):
            deployed.kubectl("apply", "-f", str(files[kind]))
        deployed.kubectl("wait", "--for=condition=complete", "job/placedock-backup-now",
                         "--timeout=300s", timeout=320)
        took = time.monotonic() - started
        backups = sorted(folder.glob("placement-*.pgdump"))
        assert len(backups) == 1, (sorted(folder.iterdir()),
                                   deployed.kubectl("logs", "job/placedock-backup-now"))
        # Read with the image's own pg_restore: the archive is its pg_dump's format.
        listed = docker("run", "--rm", "-v", f"{folder}:/backups:ro", "--entrypoint",
                        "pg_restore", image, "-f", "-", f"/backups/{backups[0].name}")
        assert listed.returncode == 0, listed.stderr
        assert name in listed.stdout, "the provider written before is not in the backup"
        say(f"the backup CronJob's Job: {backups[0].name}, {backups[0].stat().st_size} bytes, "
            f"complete {took:.0f} s after it was applied")
    finally:
        subprocess.run([str(K8S_BIN / "kubectl"), "-n", NAMESPACE, "delete", "--wait=false",
                        "-f", str(files["job"]), "-f", str(files["claim"])],
                       env=deployed.env, capture_output=True, timeout=120, check=False)
        subprocess.run([str(K8S_BIN / "kubectl"), "delete", "--wait=false", "-f",
                        str(files["volume"])], env=deployed.env, capture_output=True,
                       timeout=120, check=False)


def test_bootstrap_with_a_certificate_serves_https_only(deployed: Cluster,
                                                       tmp_path: Path) -> None:
    """docs/kubernetes.md's HTTPS: the certificate in a Secret, the pods ready through their
    HTTPS probes, the Service's https port answering with that certificate (checked against the
    test's CA), plain HTTP there refused an API."""
    authority = Authority(tmp_path, "kubernetes-ca")
    issued = authority.issue("placedock", alt_names="IP:127.0.0.1,DNS:placedock.placedock.svc")
    certs = tmp_path / "certs"
    certs.mkdir()
    for source, name in ((issued.cert, "tls.crt"), (issued.key, "tls.key"),
                         (authority.cert, "ca.crt")):
        shutil.copy(source, certs / name)
    started = time.monotonic()
    result = deployed.sh(BOOTSTRAP_TLS, extra={"CERTS": str(certs)})
    took = time.monotonic() - started
    match = re.search(r"placedock is at (https://127\.0\.0\.1:\d+)", result.stdout)
    assert match and "gabbi tests passed" in result.stdout, result.stdout[-3000:]
    assert "certificate is not checked" not in result.stdout + result.stderr
    url = match.group(1)
    deployed.figures["bootstrap with TLS"] = f"{took:.0f} s"
    say(f"bootstrap.sh with a certificate: {took:.0f} s, {url}")
    ports = json.loads(deployed.kubectl("get", "service", "placedock", "-o",
                                        "jsonpath={.spec.ports}"))
    assert [(port["name"], port["port"]) for port in ports] == [("https", 443)]
    checked = subprocess.run(["curl", "-fsS", "--cacert", str(authority.cert), "-H",
                              "x-auth-token: admin", f"{url}/resource_providers"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0 and "resource_providers" in checked.stdout, checked.stderr
    plain = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            url.replace("https://", "http://") + "/resource_providers"],
                           capture_output=True, text=True, timeout=30, check=False)
    assert plain.stdout == "400", plain  # the front's "This port speaks HTTPS only."
    assert deployed.replicas()[1] >= 1
    # This cluster's networking (dockershim, no CNI plugin) does not enforce NetworkPolicy: the
    # API server must take the policy as bootstrap.sh renders it, and it must select the pods.
    policy = json.loads(deployed.kubectl("get", "networkpolicy", "placedock", "-o", "json"))
    assert policy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "placedock-bootstrap"
    selected = deployed.kubectl("get", "pods", "-o", "name", "-l", ",".join(
        f"{key}={value}" for key, value in policy["spec"]["podSelector"]["matchLabels"].items()))
    assert set(selected.split()) >= set(deployed.placedock_pods()) and selected.strip()
    say("NetworkPolicy applied (not enforced by this cluster's networking)")


def test_cleanup_leaves_nothing(deployed: Cluster) -> None:
    started = time.monotonic()
    result = deployed.sh(CLEANUP, timeout=400)
    took = time.monotonic() - started
    say(f"cleanup.sh: {took:.0f} s\n{result.stdout}")
    kubectl = str(K8S_BIN / "kubectl")
    left = subprocess.run([kubectl, "get", "all,secrets,hpa,networkpolicies", "-A", "-l", LABEL,
                           "-o", "name"],
                          env=deployed.env, capture_output=True, text=True, check=False)
    assert left.returncode == 0 and left.stdout.strip() == "", left.stdout
    namespaces = subprocess.run([kubectl, "get", "namespaces", "-o", "name"], env=deployed.env,
                                capture_output=True, text=True, check=True).stdout
    assert f"namespace/{NAMESPACE}" not in namespaces.split()
    assert not list((deployed.state / "xdg-state").rglob("*.state"))
    tags = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "placedock").stdout.split()
    assert "placedock:bootstrap" not in tags
    say(f"figures: {deployed.figures}")
