"""Name a request by its route template, never by its raw path.

``/resource_providers/5e0c.../inventories`` is reported as
``/resource_providers/{uuid}/inventories`` (and under ``/placement`` as
``/placement/resource_providers/{uuid}/inventories``): a label per uuid would make a new metric
series for every provider. The templates are placement's own route declarations, so a route
placement adds is named without a change here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from placedock.middleware import PREFIX, READY_PATH

UNMATCHED = "(unmatched)"  # a path placement has no route for: one series for all of them
_PARAMETER = re.compile(r"\{[^}/]+\}")


class RouteNames:
    def __init__(self, templates: Iterable[str]) -> None:
        self._literal: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for template in {t or "/" for t in templates} | {READY_PATH}:
            if _PARAMETER.search(template):
                pattern = "[^/]+".join(re.escape(part) for part in _PARAMETER.split(template))
                self._patterns.append((re.compile(pattern), template))
            else:
                self._literal[template] = template

    def name(self, path: str) -> str:
        """The template of ``path`` (as the client sent it, with or without the prefix)."""
        prefix = ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            prefix, path = PREFIX, path[len(PREFIX):]
        template = self._literal.get(path or "/")
        if template is None:
            template = next((t for p, t in self._patterns if p.fullmatch(path)), UNMATCHED)
        return prefix + template if template != UNMATCHED else UNMATCHED


def placement_routes() -> RouteNames:
    """From placement's route table (imported only in the server: placement is loaded there)."""
    from placement import handler

    return RouteNames(handler.ROUTE_DECLARATIONS)
