"""The requests of the size sweep, as nova's scheduler and conductor send them.

Nova asks for allocation candidates with `limit` set to its `[scheduler]max_placement_results`
(1,000 by default) and, since its compute status filter, with
`root_required=!COMPUTE_STATUS_DISABLED`; it claims a chosen candidate with
`PUT /allocations/{instance}` and moves allocations between consumers with `POST /allocations`.
The variants add what its request filters add: a required trait (flavor extra specs),
`member_of` (tenant and availability-zone aggregates) and `in_tree` (a host asked for by name).
placement leaves sharing providers out of an `in_tree` answer, so that variant is a
boot-from-volume flavor's, which asks for no DISK_GB.
"""

from __future__ import annotations

import json
import random
import uuid

from benchmark.scale import seed
from benchmark.scale.load import Request

ENABLED = "root_required=!COMPUTE_STATUS_DISABLED"
FLAVOR = f"resources=DISK_GB:20,MEMORY_MB:2048,VCPU:2&{ENABLED}"
VOLUME_FLAVOR = f"resources=MEMORY_MB:2048,VCPU:2&{ENABLED}"  # boots from a volume
NOVA_LIMIT = 1000
CANDIDATES = "GET /allocation_candidates"
NOVA = f"{CANDIDATES} limit=1000"
UNLIMITED = f"{CANDIDATES} unlimited"
REQUIRED = f"{CANDIDATES} required"
MEMBER_OF = f"{CANDIDATES} member_of"
IN_TREE = f"{CANDIDATES} in_tree"
PROVIDERS = "GET /resource_providers"
CLAIMS = "PUT /allocations/{consumer}"
MOVES = "POST /allocations (move)"
READS = [NOVA, UNLIMITED, REQUIRED, MEMBER_OF, IN_TREE, PROVIDERS]
WRITES = [CLAIMS, MOVES]
LABELS = READS + WRITES
CLAIM = {"VCPU": 2, "MEMORY_MB": 2048}


def in_tree_node(nodes: int) -> int:
    """The host asked for by name: the last one (an enabled one)."""
    return nodes - 1


def reads(nodes: int) -> dict[str, Request]:
    candidates = f"/allocation_candidates?{FLAVOR}"
    limited = f"{candidates}&limit={NOVA_LIMIT}"
    return {
        NOVA: Request("GET", limited),
        UNLIMITED: Request("GET", candidates),
        REQUIRED: Request("GET", f"{limited}&required=HW_CPU_X86_AVX2"),
        MEMBER_OF: Request("GET", f"{limited}&member_of={seed.aggregate_uuid(0)}"),
        IN_TREE: Request("GET", f"/allocation_candidates?{VOLUME_FLAVOR}&limit={NOVA_LIMIT}"
                                f"&in_tree={seed.node_uuid(in_tree_node(nodes), 'root')}"),
        PROVIDERS: Request("GET", "/resource_providers"),
    }


def node_allocations(node: int, numa: int, resources: dict[str, int], disk: int
                     ) -> dict[str, dict[str, dict[str, int]]]:
    """What a claim on `node` holds: VCPU and memory of one NUMA node, disk of its share."""
    return {seed.node_uuid(node, f"numa{numa}"): {"resources": resources},
            seed.storage_uuid(node // seed.STORAGE_BLOCK):
                {"resources": {"DISK_GB": disk}}}


def claim(nodes: int, index: int) -> Request:
    """A new instance's claim on a node picked at random (the same one for the same index)."""
    chosen = random.Random(index)
    node = chosen.randrange(nodes)
    body = {"allocations": node_allocations(node, chosen.randrange(2), CLAIM, 20),
            "project_id": seed.PROJECT, "user_id": seed.USER,
            "consumer_generation": None}
    return Request("PUT", f"/allocations/{uuid.uuid4()}", json.dumps(body).encode())


class Moves:
    """Pairs of the seeded instances swapping their allocations, one POST /allocations each.

    It keeps what each instance holds and its consumer generation (placement bumps it at every
    write), settled when placement accepts a swap: one refused leaves both as they were."""

    def __init__(self) -> None:
        self.generation: dict[int, int] = {}
        self.holds: dict[int, int] = {}  # instance -> the node whose allocation it holds
        self.cursor = 0

    def request(self, nodes: int) -> Request:
        first = (self.cursor % (nodes // 2)) * 2
        self.cursor += 1
        pair = (first, first + 1)
        held = {instance: self.holds.get(instance, instance) for instance in pair}
        body = {}
        for instance, other in (pair, pair[::-1]):
            node = held[other]
            body[seed.instance_uuid(instance)] = {
                "allocations": node_allocations(node, node % 2, {
                    "VCPU": seed.INSTANCE["VCPU"],
                    "MEMORY_MB": seed.INSTANCE["MEMORY_MB"]},
                    seed.INSTANCE["DISK_GB"]),
                "consumer_generation": self.generation.get(instance, 1),
                "project_id": seed.PROJECT, "user_id": seed.USER}

        def swapped() -> None:
            self.holds[pair[0]], self.holds[pair[1]] = held[pair[1]], held[pair[0]]
            for instance in pair:
                self.generation[instance] = self.generation.get(instance, 1) + 1

        return Request("POST", "/allocations", json.dumps(body).encode(), swapped)
