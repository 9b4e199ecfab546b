"""placement's error body, as a JSON schema: what placement.util.json_error_formatter writes at
microversion 1.23 and later (the API working group's errors guideline, with placement's dotted
codes). The tests hold placement's own errors and every error placedock writes to it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

PLACEMENT_ERROR = {
    "type": "object",
    "required": ["errors"],
    "additionalProperties": False,
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["status", "title", "detail", "code", "request_id"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "title": {"type": "string", "minLength": 1},
                    "detail": {"type": "string"},
                    "code": {"type": "string", "pattern": r"^placement(\.[a-z_]+)+$"},
                    "request_id": {"type": "string"},
                    # placement adds these to a 406 for a microversion it cannot serve.
                    "max_version": {"type": "string"},
                    "min_version": {"type": "string"},
                },
            },
        },
    },
}


def checked_error(payload: bytes, status: int) -> dict[str, Any]:
    """The one error in ``payload``, after checking it against the schema and ``status``."""
    document = json.loads(payload)
    jsonschema.validate(document, PLACEMENT_ERROR)
    error: dict[str, Any] = document["errors"][0]
    assert error["status"] == status, error
    return error
