"""1,000 resource providers shaped as upstream's performance job makes them (placeload 0.4).

Each provider gets the same inventory, one, two or three of three aggregates and one, two or
three of three traits, in turn; every provider is in AGGREGATES[0] and has TRAITS[0], so
ALLOCATION_CANDIDATES (upstream's query) matches all of them. They are made with placement's
own objects (the calls its API handlers make) in the in-process workers, one per core: four
HTTP requests per provider would take several times as long.
"""

from __future__ import annotations

import uuid

AGGREGATES = [
    "14a5c8a3-5a99-4e8f-88be-00d85fcb1c17",
    "66d98e7c-3c25-485d-a0dc-1cea651884de",
    "a59dbb28-fd98-4c6e-9ec5-ae5f3d04b0aa",
]
TRAITS = ["HW_CPU_X86_AVX2", "HW_CPU_X86_SSE2", "STORAGE_DISK_SSD"]
INVENTORY = {
    "MEMORY_MB": {"total": 8192, "min_unit": 128, "max_unit": 8192},
    "DISK_GB": {"total": 8192, "min_unit": 5, "max_unit": 8192},
    "VCPU": {"total": 32, "min_unit": 1, "max_unit": 16},
}
ALLOCATION_CANDIDATES = ("/allocation_candidates?resources=VCPU:1,DISK_GB:10,MEMORY_MB:256"
                         f"&member_of={AGGREGATES[0]}&required={TRAITS[0]}")


def make_providers(indexes: range) -> list[str]:
    """Create providers `indexes` with their inventory, aggregates and traits; their UUIDs.

    Runs in a process that has loaded placement (benchmark.throughput.inprocess), as its
    handlers do."""
    from placement import context
    from placement.objects import inventory, resource_provider, trait

    ctx = context.RequestContext(user_id="admin", project_id="admin")
    traits = {known.name: known for known in trait.get_all(ctx, filters={"name_in": TRAITS})}
    made = []
    for index in indexes:
        provider = resource_provider.ResourceProvider(ctx, uuid=str(uuid.uuid4()),
                                                      name=f"cn{index:04d}")
        provider.create()
        provider.set_inventory([
            inventory.Inventory(resource_provider=provider, resource_class=name, **fields)
            for name, fields in INVENTORY.items()])
        provider.set_aggregates(AGGREGATES[:index % 3 + 1], increment_generation=True)
        provider.set_traits([traits[name] for name in TRAITS[:index % 3 + 1]])
        made.append(provider.uuid)
    return made


def vacuum_analyze() -> None:
    """VACUUM ANALYZE the database, as autovacuum would do in time: the first configuration
    measured after the seeding then meets the same query plans as the last."""
    import sqlalchemy
    from placement import db_api

    engine = db_api.get_placement_engine()
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            sqlalchemy.text("VACUUM ANALYZE"))


def forget_allocations(url: str) -> None:
    """Delete every allocation and consumer the writes made, so that each writes point starts
    from the seeded capacity. The providers hold 32 VCPU each, 32,000 allocations of the writes'
    VCPU:1 in all; a full run on a quiet machine wrote more than that, and its last points met
    nothing but 409s."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("DELETE FROM allocations"))
            connection.execute(sqlalchemy.text("DELETE FROM consumers"))
    finally:
        engine.dispose()
