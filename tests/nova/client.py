"""nova's own placement client, set up as nova sets it up, for the scripts beside this file
(run in a venv holding nova, never in placedock's)."""

from __future__ import annotations

import collections
import os
import tempfile
import threading
from typing import Any

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "true")  # plain threads

from keystoneauth1 import session as ksa_session
from nova import objects, utils
from nova.compute import provider_tree
from nova.conf import CONF
from nova.scheduler import utils as scheduler_utils
from nova.scheduler.client import report

VCPUS = 64
MEMORY_MB = 262_144
DISK_GB = 4_000
FLAVOR = {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}
TRAITS = ["HW_CPU_X86_AVX2", "COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_VOLUME_EXTEND"]


class Exchanges:
    """Every HTTP response nova's clients got: counted by status and kind, timed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)
        self.server_errors: list[str] = []

    def reset(self) -> None:
        with self.lock:
            self.statuses.clear()
            self.seconds.clear()
            self.server_errors.clear()

    def hook(self, response: Any, *args: object, **kwargs: object) -> None:
        kind = f"{response.request.method} {_route(response.request.path_url)}"
        with self.lock:
            self.statuses[str(response.status_code)] += 1
            self.seconds[kind].append(response.elapsed.total_seconds())
            if response.status_code >= 500:
                self.server_errors.append(f"{kind} {response.status_code} {response.text[:300]}")


def _route(path: str) -> str:
    parts = path.split("?")[0].strip("/").split("/")
    return "/" + "/".join("{id}" if len(part) == 36 and part.count("-") == 4 else part
                          for part in parts)


def nova_adapter(url: str, exchanges: Exchanges) -> Any:
    """A keystoneauth adapter from nova's own ``[placement]`` options, as nova loads them (an
    admin token: placedock's noauth2 takes ``admin`` as the admin)."""
    objects.register_all()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(f"[placement]\nauth_type = admin_token\nendpoint = {url}\ntoken = admin\n"
                   "region_name = RegionOne\n")
    CONF([], project="nova", default_config_files=[conf.name])
    os.unlink(conf.name)
    adapter = utils.get_ksa_adapter("placement")
    http: ksa_session.Session = adapter.session
    http.session.hooks["response"].append(exchanges.hook)
    return adapter


def update_compute(client: report.SchedulerReportClient, context: Any, rp_uuid: str,
                   name: str) -> None:
    """What nova-compute's resource tracker does for one node: its tree, inventory, traits."""
    tree: provider_tree.ProviderTree = client.get_provider_tree_and_ensure_root(
        context, rp_uuid, name=name)
    tree.update_inventory(name, {
        "VCPU": {"total": VCPUS, "reserved": 0, "min_unit": 1, "max_unit": VCPUS,
                 "step_size": 1, "allocation_ratio": 4.0},
        "MEMORY_MB": {"total": MEMORY_MB, "reserved": 512, "min_unit": 1,
                      "max_unit": MEMORY_MB, "step_size": 1, "allocation_ratio": 1.5},
        "DISK_GB": {"total": DISK_GB, "reserved": 0, "min_unit": 1, "max_unit": DISK_GB,
                    "step_size": 1, "allocation_ratio": 1.0},
    })
    tree.update_traits(name, TRAITS)
    client.update_from_provider_tree(context, tree)


def resource_request() -> Any:
    """The scheduler's resource request for a boot of FLAVOR, made from a request spec."""
    spec = objects.RequestSpec(
        flavor=objects.Flavor(vcpus=FLAVOR["VCPU"], memory_mb=FLAVOR["MEMORY_MB"],
                              root_gb=FLAVOR["DISK_GB"], ephemeral_gb=0, swap=0,
                              extra_specs={}),
        image=objects.ImageMeta(properties=objects.ImageMetaProps()), is_bfv=False,
        requested_resources=[], request_level_params=objects.RequestLevelParams())
    return scheduler_utils.ResourceRequest.from_request_spec(spec)
