"""compose.yaml's keystone profile for real: keystone from PyPI, placement registered in it by
`startup.sh ks-register`, placedock-keystone replicas behind HAProxy; the openstack CLI (the
README's virtualenv) creates and lists providers with a keystone token. `down -v` after."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.support import http
from tests.support.docker_engine import DockerEngine, build_image, docker
from tests.support.load import Load
from tests.support.network import free_port
from tests.support.server import REPO
from tests.test_compose import (
    COMPOSE_BASE,
    KEYSTONE_FOLDER,
    READ_SECRET,
    STACK_IMAGE,
    Stack,
    build_images,
    compose_v1,
    outcomes_between,
)
from tests.test_devstack import OSC_KEYSTONE, OSC_VENV, bash, ensure_osc_venv

UP_WITH_KEYSTONE = "docker compose --profile keystone up -d"
DOWN_WITH_KEYSTONE = "docker compose --profile keystone down -v"
MEMCACHED_AWAY_S = 15


@pytest.fixture(scope="module")
def keystone_stack(docker_engine: DockerEngine, base_image: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, int]]:
    build_images(base_image)
    build_image(REPO / KEYSTONE_FOLDER, "placedock-keystone", {"BASE_IMAGE": COMPOSE_BASE})
    api_port, keystone_port = free_port(), free_port()
    environment = {**os.environ, "STACK_IMAGE": STACK_IMAGE,
                   "STACK_PLACEMENT_PORT": str(free_port()),
                   "STACK_PLACEMENT_KEYSTONE_PORT": str(api_port),
                   "STACK_KEYSTONE_PORT": str(keystone_port)}
    # Compose 1.29 (Debian bookworm's docker-compose) here; the fault cases run under v2.
    stack = Stack(f"placedock-test-{uuid.uuid4().hex[:8]}", f"https://127.0.0.1:{api_port}",
                  environment, compose_v1())
    try:
        stack.run(UP_WITH_KEYSTONE)
        stack.trust_the_stack(tmp_path_factory.mktemp("stack-ca"))
        took = http.wait_for(stack.url + "/resource_providers", wanted=401, token=None,
                             timeout=300, interval=0.5)
        print(f"compose --profile keystone: 401 without a token through HAProxy {took:.0f} s "
              "after up returned")
        yield stack, keystone_port
    finally:
        stack.run(DOWN_WITH_KEYSTONE, timeout=300)
        assert stack.left_behind() == {}


def admin_password(stack: Stack) -> str:
    """keystone's admin password, which the stack generated on its first up (docs/compose.md)."""
    return stack.run(READ_SECRET).stdout.strip()


def test_openstack_cli_with_a_keystone_token(keystone_stack: tuple[Stack, int]) -> None:
    stack, keystone_port = keystone_stack
    openrc = {"OS_AUTH_URL": f"http://127.0.0.1:{keystone_port}", "OS_USERNAME": "admin",
              "OS_PASSWORD": admin_password(stack), "OS_PROJECT_NAME": "admin",
              "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_DOMAIN_ID": "default",
              "OS_IDENTITY_API_VERSION": "3", "OS_REGION_NAME": "RegionOne",
              "OS_CACERT": stack.ca_file}
    output = bash("\n".join([OSC_VENV[-1], *OSC_KEYSTONE, 'echo "uuid=$rp"']), ensure_osc_venv(),
                  openrc).stdout
    provider = output.rsplit("uuid=", 1)[1].strip()
    assert re.search(rf"\| {provider} \| compute-1 \|", output), output
    assert re.search(rf"\| 1 \| VCPU=2,MEMORY_MB=2048 \| {provider} \|", output), output
    assert http.status(stack.url + "/resource_providers", "not-a-token") == 401


def keystone_token(keystone_port: int, password: str) -> str:
    """An admin token from keystone's own API (POST /v3/auth/tokens)."""
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    request = urllib.request.Request(f"http://127.0.0.1:{keystone_port}/v3/auth/tokens",
                                     json.dumps(auth).encode(),
                                     {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["X-Subject-Token"]


def test_losing_memcached_under_load_fails_no_request(keystone_stack: tuple[Stack, int]) -> None:
    """memcached is only keystonemiddleware's token cache: without it each token is checked with
    keystone again, and requests go on succeeding."""
    stack, keystone_port = keystone_stack
    memcached = stack.containers("memcached")[0]
    headers = {"x-auth-token": keystone_token(keystone_port, admin_password(stack))}
    with Load(stack.url + "/resource_providers", clients=4, max_seconds=300,
              headers=headers) as load:
        load.wait_for("200", 30, timeout=60)
        before = dict(load.outcomes)
        assert docker("kill", memcached).returncode == 0
        killed = time.monotonic()
        time.sleep(MEMCACHED_AWAY_S)
        away = outcomes_between(load, killed, time.monotonic())
        assert docker("start", memcached).returncode == 0
        restarted = time.monotonic()
        time.sleep(MEMCACHED_AWAY_S)
        after = outcomes_between(load, restarted, time.monotonic())
    print(f"compose --profile keystone: requests by outcome with memcached up {before}; in the "
          f"{MEMCACHED_AWAY_S} s after `docker kill memcached` {away}; in the {MEMCACHED_AWAY_S} s "
          f"after its restart {after}; whole run {dict(load.outcomes)}")
    assert set(load.outcomes) == {"200"}, (dict(load.outcomes), load.failures[:5])
    assert away.get("200", 0) > 0, "no request ended while memcached was away"
