"""Compute nodes shaped like a real cloud's, written in bulk into placement's own schema.

Each compute node is a tree of four providers: a root (the hypervisor, holding its traits and
its aggregate), two NUMA children holding VCPU and MEMORY_MB, and under the first NUMA node a
device: a GPU with VGPU on even nodes, an SR-IOV physical function with SRIOV_NET_VF on odd ones.
Disk is DISK_GB of a sharing provider (MISC_SHARES_VIA_AGGREGATE), one per STORAGE_BLOCK nodes,
in an aggregate with their roots. Every node already runs one instance (a consumer with VCPU
and MEMORY_MB on a NUMA node, DISK_GB on its share), as a cloud in use does.

The rows go in through SQLAlchemy core on placement's model tables (placement.db.sqlalchemy.models),
a few bulk inserts in one transaction per call: creating 200,000 providers through the API, four
or five requests each, would take hours. Ids are given explicitly so that root_provider_id and
parent_provider_id are known before the insert; PostgreSQL's sequences are moved past them
afterwards (MariaDB's AUTO_INCREMENT follows by itself). The placement server must have loaded
once on the database first (migrations, and the standard traits and resource classes it syncs).
The API checks what this wrote (benchmark.scale.check).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

STORAGE_BLOCK = 100  # compute nodes per sharing provider (and per storage aggregate)
PROVIDERS_PER_NODE = 4  # root, two NUMA nodes, one device
NAMESPACE = uuid.UUID("6f1c7e5e-4a57-4d55-9a4e-3d1f4c0b9a10")  # for reproducible UUIDs
PROJECT = "b0000000-0000-4000-a000-000000000001"
USER = "b0000000-0000-4000-a000-000000000002"
CUSTOM_TRAITS = ["CUSTOM_GOLD", "CUSTOM_GPU_TIER1", "CUSTOM_PHYSNET_DATA0"]
NUMA = {"VCPU": dict(total=32, reserved=0, min_unit=1, max_unit=32, step_size=1,
                     allocation_ratio=4.0),
        "MEMORY_MB": dict(total=131072, reserved=1024, min_unit=1, max_unit=131072, step_size=1,
                          allocation_ratio=1.0)}
GPU = {"VGPU": dict(total=8, reserved=0, min_unit=1, max_unit=8, step_size=1,
                    allocation_ratio=1.0)}
VF = {"SRIOV_NET_VF": dict(total=16, reserved=0, min_unit=1, max_unit=16, step_size=1,
                           allocation_ratio=1.0)}
SHARED_DISK = {"DISK_GB": dict(total=200000, reserved=0, min_unit=1, max_unit=200000,
                               step_size=1, allocation_ratio=1.0)}
INSTANCE = {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40}  # what each node already runs


def node_uuid(index: int, part: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"cn{index}/{part}"))


def storage_uuid(block: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"storage{block}"))


def aggregate_uuid(block: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"aggregate{block}"))


def instance_uuid(index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"instance{index}"))


def root_traits(index: int) -> list[str]:
    """Every node has SSE2; all but one in ten AVX2; one in a hundred is disabled (nova sets
    COMPUTE_STATUS_DISABLED on a disabled compute service's root); one in three is gold."""
    traits = ["HW_CPU_X86_SSE2"]
    if index % 10 != 9:
        traits.append("HW_CPU_X86_AVX2")
    if index % 100 == 50:
        traits.append("COMPUTE_STATUS_DISABLED")
    if index % 3 == 0:
        traits.append("CUSTOM_GOLD")
    return traits


def numa_traits(index: int) -> list[str]:
    """A NUMA node is a socket: the CPU's features are its own too (where a request group that
    takes VCPU from it and asks for them looks)."""
    return ["HW_NUMA_ROOT", *(trait for trait in root_traits(index) if trait.startswith("HW_CPU"))]


def has_gpu(index: int) -> bool:
    return index % 2 == 0


@dataclass
class Seeded:
    """What one call wrote, and what the cloud holds now."""

    nodes: int  # compute nodes in the database after this call
    providers: int  # resource providers in the database after this call
    sharing: int  # sharing providers among them
    seconds: float  # this call's


class _Rows:
    """The rows of one call, table by table, with the next free id of each table."""

    def __init__(self, next_ids: dict[str, int]) -> None:
        self.next_ids = next_ids
        self.tables: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, **row: Any) -> int:
        if table in self.next_ids:
            row["id"] = self.next_ids[table]
            self.next_ids[table] += 1
        self.tables.setdefault(table, []).append(row)
        return int(row.get("id", 0))


def seed(url: str, start: int, stop: int) -> Seeded:
    """Add compute nodes `start` to `stop` (0-based, in order: call again with the next range to
    grow the same cloud) to placement's database at `url`."""
    import sqlalchemy as sa

    started = time.monotonic()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            tables = _tables()
            names = _names(connection, tables)
            rows = _Rows(_next_ids(connection, tables))
            _add_nodes(rows, names, connection, tables, start, stop)
            for table, values in rows.tables.items():
                for chunk in _chunks(values, 5000):
                    connection.execute(tables[table].insert(), chunk)
            if connection.dialect.name == "postgresql":
                _move_sequences(connection, tables)
        _analyze(engine)
        with engine.connect() as connection:
            providers = connection.execute(
                sa.select(sa.func.count()).select_from(tables["resource_providers"])).scalar_one()
    finally:
        engine.dispose()
    sharing = -(-stop // STORAGE_BLOCK)
    return Seeded(stop, int(providers), sharing, time.monotonic() - started)


def _tables() -> dict[str, Any]:
    from placement.db.sqlalchemy import models

    return {model.__tablename__: model.__table__ for model in (
        models.ResourceProvider, models.Inventory, models.Allocation,
        models.ResourceProviderAggregate, models.PlacementAggregate, models.Trait,
        models.ResourceProviderTrait, models.ResourceClass, models.Project, models.User,
        models.Consumer, models.ConsumerType)}


def _names(connection: Any, tables: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Ids of resource classes and traits by name (the custom traits, the consumer type, the
    project and the user made on first use)."""
    import sqlalchemy as sa

    def by_name(table: Any, column: str = "name") -> dict[str, int]:
        return {row[0]: row[1] for row in connection.execute(
            sa.select(table.c[column], table.c.id))}

    traits = by_name(tables["traits"])
    for name in CUSTOM_TRAITS:
        if name not in traits:
            connection.execute(tables["traits"].insert(), {"name": name})
    if "INSTANCE" not in by_name(tables["consumer_types"]):
        connection.execute(tables["consumer_types"].insert(), {"name": "INSTANCE"})
    if PROJECT not in by_name(tables["projects"], "external_id"):
        connection.execute(tables["projects"].insert(), {"external_id": PROJECT})
    if USER not in by_name(tables["users"], "external_id"):
        connection.execute(tables["users"].insert(), {"external_id": USER})
    return {"classes": by_name(tables["resource_classes"]), "traits": by_name(tables["traits"]),
            "consumer_types": by_name(tables["consumer_types"]),
            "projects": by_name(tables["projects"], "external_id"),
            "users": by_name(tables["users"], "external_id")}


def _next_ids(connection: Any, tables: dict[str, Any]) -> dict[str, int]:
    import sqlalchemy as sa

    return {name: int(connection.execute(
        sa.select(sa.func.coalesce(sa.func.max(tables[name].c.id), 0))).scalar_one()) + 1
        for name in ("resource_providers", "inventories", "allocations", "placement_aggregates",
                     "consumers")}


def _aggregate_ids(connection: Any, tables: dict[str, Any]) -> dict[str, int]:
    import sqlalchemy as sa

    table = tables["placement_aggregates"]
    return {row[0]: row[1] for row in connection.execute(sa.select(table.c.uuid, table.c.id))}


def _provider_ids(connection: Any, tables: dict[str, Any], uuids: list[str]) -> dict[str, int]:
    import sqlalchemy as sa

    table = tables["resource_providers"]
    return {row[0]: row[1] for row in connection.execute(
        sa.select(table.c.uuid, table.c.id).where(table.c.uuid.in_(uuids)))}


def _add_nodes(rows: _Rows, names: dict[str, dict[str, int]], connection: Any,
               tables: dict[str, Any], start: int, stop: int) -> None:
    classes, traits = names["classes"], names["traits"]
    blocks = range(start // STORAGE_BLOCK, -(-stop // STORAGE_BLOCK))
    existing_aggregates = _aggregate_ids(connection, tables)
    existing_storage = _provider_ids(connection, tables, [storage_uuid(b) for b in blocks])
    aggregates: dict[int, int] = {}
    storage: dict[int, int] = {}
    for block in blocks:
        aggregate = aggregate_uuid(block)
        aggregates[block] = existing_aggregates.get(aggregate) or rows.add(
            "placement_aggregates", uuid=aggregate)
        if storage_uuid(block) in existing_storage:
            storage[block] = existing_storage[storage_uuid(block)]
            continue
        share = _provider(rows, storage_uuid(block), f"shared-storage-{block:05d}", None, None)
        storage[block] = share
        _inventory(rows, classes, share, SHARED_DISK)
        for trait in ("MISC_SHARES_VIA_AGGREGATE", "STORAGE_DISK_SSD"):
            rows.add("resource_provider_traits", resource_provider_id=share,
                     trait_id=traits[trait])
        rows.add("resource_provider_aggregates", resource_provider_id=share,
                 aggregate_id=aggregates[block])
    for index in range(start, stop):
        block = index // STORAGE_BLOCK
        root = _provider(rows, node_uuid(index, "root"), f"cn{index:05d}", None, None)
        numa = [_provider(rows, node_uuid(index, f"numa{n}"), f"cn{index:05d}_NUMA{n}", root,
                          root) for n in (0, 1)]
        device_part, device = ("pgpu0", GPU) if has_gpu(index) else ("pf0", VF)
        leaf = _provider(rows, node_uuid(index, device_part), f"cn{index:05d}_{device_part}",
                         root, numa[0])
        for provider in numa:
            _inventory(rows, classes, provider, NUMA)
            for trait in numa_traits(index):
                rows.add("resource_provider_traits", resource_provider_id=provider,
                         trait_id=traits[trait])
        _inventory(rows, classes, leaf, device)
        leaf_traits = ["CUSTOM_GPU_TIER1"] if has_gpu(index) else [
            "HW_NIC_SRIOV", "CUSTOM_PHYSNET_DATA0"]
        for trait in leaf_traits:
            rows.add("resource_provider_traits", resource_provider_id=leaf, trait_id=traits[trait])
        for trait in root_traits(index):
            rows.add("resource_provider_traits", resource_provider_id=root, trait_id=traits[trait])
        rows.add("resource_provider_aggregates", resource_provider_id=root,
                 aggregate_id=aggregates[block])
        _instance(rows, names, index, numa[index % 2], storage[block])


def _provider(rows: _Rows, provider_uuid: str, name: str, root: int | None,
              parent: int | None) -> int:
    """A provider; a root is its own root. Generation 1: its inventory was set once."""
    provider = rows.next_ids["resource_providers"]
    rows.add("resource_providers", uuid=provider_uuid, name=name, generation=1,
             root_provider_id=root if root is not None else provider,
             parent_provider_id=parent)
    return provider


def _inventory(rows: _Rows, classes: dict[str, int], provider: int,
               inventory: dict[str, dict[str, Any]]) -> None:
    for name, fields in inventory.items():
        rows.add("inventories", resource_provider_id=provider, resource_class_id=classes[name],
                 **fields)


def _instance(rows: _Rows, names: dict[str, dict[str, int]], index: int, numa: int,
              share: int) -> None:
    consumer = instance_uuid(index)
    rows.add("consumers", uuid=consumer, project_id=names["projects"][PROJECT],
             user_id=names["users"][USER], generation=1,
             consumer_type_id=names["consumer_types"]["INSTANCE"])
    for name, used in INSTANCE.items():
        rows.add("allocations", resource_provider_id=share if name == "DISK_GB" else numa,
                 consumer_id=consumer, resource_class_id=names["classes"][name], used=used)


def _chunks(values: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(values), size):
        yield values[first:first + size]


def _move_sequences(connection: Any, tables: dict[str, Any]) -> None:
    """PostgreSQL: each serial id's sequence past the ids given explicitly."""
    import sqlalchemy as sa

    for name in ("resource_providers", "inventories", "allocations", "placement_aggregates",
                 "consumers", "traits", "consumer_types", "projects", "users"):
        connection.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {name}))"))


def _analyze(engine: Any) -> None:
    """Fresh statistics, as autovacuum or a DBA would leave them, so that the first request
    measured meets the same query plans as the last."""
    import sqlalchemy as sa

    with _autocommit(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("VACUUM ANALYZE"))
        elif connection.dialect.name == "sqlite":
            connection.execute(sa.text("ANALYZE"))
        else:
            connection.execute(sa.text(
                "ANALYZE TABLE resource_providers, inventories, allocations, "
                "resource_provider_aggregates, resource_provider_traits, consumers"))


@contextmanager
def _autocommit(engine: Any) -> Iterator[Any]:
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")
