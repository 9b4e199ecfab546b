"""Start time: from `docker run` (or the exec of a native command) to the first 200 on `/`."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.throughput import configs
from tests.support import http
from tests.support.containers import QUICK_START_OPTIONS
from tests.support.docker_engine import DOCKER, docker
from tests.support.network import free_port
from tests.support.processes import Process
from tests.support.server import QUICK_START

IMAGE_NAME = "placedock-benchmark"  # as the tables name it
# Its own tag, this run's alone: test runs build and replace `placedock`, and another run of the
# benchmark (or a tool built on it) may be building its own at the same moment. Removed at the end.
IMAGE = f"{IMAGE_NAME}-run{os.getpid()}"
UID = 42424  # the image's user, who must own a mounted data folder


@dataclass
class StartTime:
    label: str
    seconds: list[float]
    steps: list[float] = field(default_factory=list)  # placedock's own logged steps, per run

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def docker_run(extra: list[str]) -> float:
    """Seconds from invoking `docker run` to a 200 on `/`; the container is removed after."""
    port = free_port()
    started = time.monotonic()
    result = subprocess.run([DOCKER, "run", "-d", "-p", f"127.0.0.1:{port}:80",
                             *QUICK_START_OPTIONS, *extra, IMAGE],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"docker run failed: {result.stderr}")
    container = result.stdout.strip()
    try:
        return http.wait_for(f"http://127.0.0.1:{port}/", timeout=60, token=None, since=started,
                             interval=0.01, log=lambda: docker("logs", container).stderr[-3000:])
    finally:
        docker("rm", "-f", "-v", container)


def no_op_container(base_image: str) -> float:
    """Seconds for `docker run --rm BASE true` to return: what the engine itself takes to make,
    start and remove a container, with nothing in it to wait for."""
    started = time.monotonic()
    result = subprocess.run([DOCKER, "run", "--rm", "--network", "none", base_image, "true"],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"docker run {base_image} true failed: {result.stderr}")
    return time.monotonic() - started


def native(config: configs.Config, env: dict[str, str], log_path: Path,
           steps: list[float] | None = None) -> float:
    """Seconds from starting the configuration's command to a 200 on `/`; stopped after.
    placedock gets a metrics port of its own (metrics on, as shipped). The seconds its own
    steps took (environment, database, schema: it logs each) are appended to `steps`."""
    port = free_port()
    offset = log_path.stat().st_size if log_path.exists() else 0
    server = Process(log_path, kind=config.name, stop_signal=signal.SIGINT).spawn(
        config.command_for(port),
        {**env, "PLACEDOCK_PORT": str(port), "PLACEDOCK_METRICS_PORT": str(free_port())})
    try:
        return http.wait_for(f"http://127.0.0.1:{port}/", timeout=120, token=None,
                             process=server, since=server.started_at, interval=0.01)
    finally:
        server.stop()
        if steps is not None:
            with open(log_path, "rb") as log:
                log.seek(offset)
                steps.append(step_seconds(log.read().decode(errors="replace")))


STEP = re.compile(r"^placedock: .*\((\d+\.\d+) s\)$", re.MULTILINE)


def step_seconds(log: str) -> float:
    """The sum of the durations placedock logs for its start-up steps."""
    return sum(float(seconds) for seconds in STEP.findall(log))


def data_dir(parent: Path, name: str) -> Path:
    """An empty folder the image's user may write (for `-v folder:/var/lib/placement`)."""
    folder = parent / name
    folder.mkdir(parents=True)
    os.chown(folder, UID, UID)
    return folder


NO_OP = "engine alone: docker run --rm of the base running `true`"
FLOOR = "floor: plain uwsgi natively, sqlite at head"
NATIVE_EMPTY = "startup.sh natively, empty sqlite, DB_SYNC=True"
DOCKER_EMPTY = "docker run, empty sqlite, DB_SYNC=True"


def measure(workdir: Path, base_env: dict[str, str], repeats: int,
            base_image: str) -> list[StartTime]:
    """docker run on an empty sqlite and on one at head, startup.sh natively, the floor, and
    the engine's own cost of running a container from the same base."""
    at_head = data_dir(workdir, "docker-at-head")
    docker_run(["-v", f"{at_head}:/var/lib/placement"])  # migrates it: now at head
    native_env = {**base_env, **QUICK_START, "PLACEDOCK_ADDRESS": "127.0.0.1"}
    sqlite_dir = workdir / "native-at-head"
    floor_env = {**native_env, "OS_PLACEMENT_DATABASE__CONNECTION":
                 f"sqlite:///{sqlite_dir}/placement.sqlite"}
    rows = [StartTime(DOCKER_EMPTY, []),
            StartTime("docker run, sqlite at head, DB_SYNC=True", []),
            StartTime(NATIVE_EMPTY, []),
            StartTime("startup.sh natively, sqlite at head, DB_SYNC=True", []),
            StartTime(FLOOR, []),
            StartTime(NO_OP, [])]
    log = workdir / "starts.log"
    placedock = configs.placedock()
    native(placedock, {**native_env, "PLACEDOCK_DATA_DIR": str(sqlite_dir)}, log)  # now at head
    for attempt in range(repeats):
        rows[0].seconds.append(docker_run([]))
        rows[1].seconds.append(docker_run(["-v", f"{at_head}:/var/lib/placement"]))
        empty = workdir / f"native-empty-{attempt}"
        rows[2].seconds.append(native(placedock, {**native_env, "PLACEDOCK_DATA_DIR": str(empty)},
                                      log, rows[2].steps))
        rows[3].seconds.append(native(placedock,
                                      {**native_env, "PLACEDOCK_DATA_DIR": str(sqlite_dir)}, log,
                                      rows[3].steps))
        rows[4].seconds.append(native(configs.floor(), floor_env, log))
        rows[5].seconds.append(no_op_container(base_image))
    return rows
