"""Checks, through placement's API, that a bulk-seeded cloud is what placement itself would
have made: the providers counted, a node's tree as placement reports it, an allocation-candidates
answer that uses nested and sharing providers, and a claim on it that placement accepts."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from benchmark.scale import seed
from benchmark.scale.load import Request, send

TIMEOUT = 300


class SeedCheckFailed(AssertionError):
    """The API does not see what the seeding wrote."""


@dataclass
class Checked:
    providers: int  # seen by GET /resource_providers
    sharing: int  # seen with required=MISC_SHARES_VIA_AGGREGATE
    candidate_providers: int  # providers in the nested-and-sharing candidate claimed


def _get(port: int, path: str) -> Any:
    outcome, _, body = send(port, Request("GET", path), TIMEOUT)
    if outcome != "2xx":
        raise SeedCheckFailed(f"GET {path}: {outcome}")
    return json.loads(body)


def check(port: int, seeded: seed.Seeded, providers_body: bytes) -> Checked:
    """`providers_body`: a GET /resource_providers answer the sweep already fetched."""
    if not providers_body:
        raise SeedCheckFailed("GET /resource_providers gave no answer to count")
    listed = json.loads(providers_body)["resource_providers"]
    if len(listed) != seeded.providers:
        raise SeedCheckFailed(f"GET /resource_providers lists {len(listed)} providers, "
                              f"{seeded.providers} were seeded")
    sharing = _get(port, "/resource_providers?required=MISC_SHARES_VIA_AGGREGATE")
    if len(sharing["resource_providers"]) != seeded.sharing:
        raise SeedCheckFailed(f"{len(sharing['resource_providers'])} sharing providers, "
                              f"{seeded.sharing} seeded")
    _check_tree(port)
    return Checked(len(listed), len(sharing["resource_providers"]), _claim_nested(port))


def _check_tree(port: int) -> None:
    root = seed.node_uuid(0, "root")
    tree = _get(port, f"/resource_providers?in_tree={root}")["resource_providers"]
    parents = {provider["uuid"]: provider["parent_provider_uuid"] for provider in tree}
    expected = {root: None, seed.node_uuid(0, "numa0"): root,
                seed.node_uuid(0, "numa1"): root,
                seed.node_uuid(0, "pgpu0"): seed.node_uuid(0, "numa0")}
    if parents != expected or any(p["root_provider_uuid"] != root for p in tree):
        raise SeedCheckFailed(f"node 0's tree as the API sees it: {parents}")


def _claim_nested(port: int) -> int:
    """Candidates for a GPU instance in the first storage aggregate: VCPU and memory from a NUMA
    child, VGPU from the GPU under it, disk from the share. Claim the first; the number of its
    providers."""
    answer = _get(port, "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:10,VGPU:1"
                        f"&member_of={seed.aggregate_uuid(0)}&limit=1")
    if not answer["allocation_requests"]:
        raise SeedCheckFailed("no allocation candidate for a GPU instance")
    allocations = answer["allocation_requests"][0]["allocations"]
    nodes = {seed.node_uuid(index, "pgpu0"): index
             for index in range(seed.STORAGE_BLOCK) if seed.has_gpu(index)}
    gpu = [nodes[provider] for provider in allocations if provider in nodes]
    numa = {seed.node_uuid(index, f"numa{n}") for index in gpu for n in (0, 1)}
    if (len(gpu) != 1 or seed.storage_uuid(0) not in allocations
            or not numa & set(allocations)):
        raise SeedCheckFailed(f"the candidate does not use a GPU, a NUMA node of the same node "
                              f"and the share: {sorted(allocations)}")
    body = {"allocations": allocations, "project_id": seed.PROJECT,
            "user_id": seed.USER, "consumer_generation": None}
    consumer = str(uuid.uuid4())
    outcome, _, _ = send(port, Request("PUT", f"/allocations/{consumer}",
                                       json.dumps(body).encode()), TIMEOUT)
    if outcome != "2xx":
        raise SeedCheckFailed(f"claiming the candidate: {outcome}")
    held = _get(port, f"/allocations/{consumer}")["allocations"]
    if set(held) != set(allocations):
        raise SeedCheckFailed(f"the claim holds {sorted(held)}, not {sorted(allocations)}")
    return len(allocations)
