"""placedock.routes: a request is named by its route template, never by its raw path."""

from __future__ import annotations

import pytest

from placedock import routes

NAMES = routes.placement_routes()


@pytest.mark.parametrize(("path", "template"), [
    ("/", "/"),
    ("", "/"),
    ("/placement", "/placement/"),
    ("/placement/", "/placement/"),
    ("/resource_providers", "/resource_providers"),
    ("/resource_providers/4e8e5957-649f-477b-9e5b-f1f75b21c03c/inventories",
     "/resource_providers/{uuid}/inventories"),
    ("/resource_providers/4e8e5957/inventories/VCPU",
     "/resource_providers/{uuid}/inventories/{resource_class}"),
    ("/placement/resource_providers/4e8e5957/inventories",
     "/placement/resource_providers/{uuid}/inventories"),
    ("/allocations/0b6c7dea", "/allocations/{consumer_uuid}"),
    ("/allocation_candidates", "/allocation_candidates"),
    ("/traits/CUSTOM_GOLD", "/traits/{name}"),
    ("/health/ready", "/health/ready"),
    ("/placement/health/ready", "/placement/health/ready"),
])
def test_paths_are_named_by_placements_own_templates(path: str, template: str) -> None:
    assert NAMES.name(path) == template


@pytest.mark.parametrize("path", ["/nothing", "/resource_providers/", "/placementx/traits",
                                  "/resource_providers/a/b/c/d", "/traits/a/b"])
def test_any_other_path_is_one_series(path: str) -> None:
    assert NAMES.name(path) == routes.UNMATCHED


def test_every_placement_route_is_known() -> None:
    from placement import handler

    for template in handler.ROUTE_DECLARATIONS:
        example = template.replace("{", "x").replace("}", "") or "/"
        assert NAMES.name(example) == (template or "/")
