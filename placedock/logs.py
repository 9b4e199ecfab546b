"""Log lines for people (the default) or for machines: PLACEDOCK_LOG_FORMAT=json.

In JSON every line on stdout and stderr is one JSON object: placement's own lines through
oslo.log's JSON formatter (``OS_DEFAULT__USE_JSON``, which placedock.environment sets),
placedock's start-up steps and one line per request from here, and uwsgi's own lines through its
log master's json encoder (start_json_output). Field names follow oslo.log's: ``message``,
``levelname``, ``name``, ``created``, and the request's figures under ``extra``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import BinaryIO

FORMAT_VARIABLE = "PLACEDOCK_LOG_FORMAT"
REQUEST_LOGGER = "placedock.request"
# placement's own line per request: in JSON, the line below replaces it (it has the route and the
# duration besides).
PLACEMENT_REQUEST_LOGGER = "placement.requestlog"
_LEVELS = {"error: ": "ERROR", "warning: ": "WARNING"}
# uwsgi's log encoder: ${msg} is escaped for JSON by uwsgi, ${unix} is the time in seconds.
UWSGI_ENCODER = ('json {"name": "uwsgi", "levelname": "INFO", "created": ${unix}, '
                 '"message": "${msg}"}')
_original_stdout: int | None = None  # kept by start_json_output


def is_json(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(FORMAT_VARIABLE) == "json"


def placedock_line(message: str, environ: Mapping[str, str] = os.environ) -> str:
    """One line of placedock's own (start-up steps, the stop); ``message`` starts with
    ``error: `` or ``warning: `` for those."""
    if not is_json(environ):
        return f"placedock: {message}"
    level = "INFO"
    for prefix, name in _LEVELS.items():
        if message.startswith(prefix):
            level, message = name, message[len(prefix):]
    return json.dumps({"name": "placedock", "levelname": level, "created": time.time(),
                       "message": message})


class RequestLines:
    """One JSON log line per request: method, route, status, duration and request id as fields."""

    def __init__(self) -> None:
        self.log = logging.getLogger(REQUEST_LOGGER)
        logging.getLogger(PLACEMENT_REQUEST_LOGGER).setLevel(logging.WARNING)

    def started(self) -> None:
        pass

    def finished(self, method: str, route: str, status: str, seconds: float,
                 request_id: str) -> None:
        fields = {"method": method, "route": route, "status": int(status or 0),
                  "duration_ms": round(seconds * 1000, 3), "request_id": request_id}
        # oslo.log's JSON formatter copies a record's "extra" attribute into the line.
        self.log.info("%s %s %s %.1f ms", method, route, status, seconds * 1000,
                      extra={"extra": fields})


def wrap_lines(lines: Iterable[bytes], out: BinaryIO, name: str = "uwsgi") -> None:
    """Copy ``lines`` to ``out``, each one that is not a JSON object made into one."""
    for line in lines:
        if line.startswith(b"{"):
            out.write(line if line.endswith(b"\n") else line + b"\n")
        else:
            text = line.decode("utf-8", "replace").rstrip("\n")
            out.write(json.dumps({"name": name, "levelname": "INFO", "created": time.time(),
                                  "message": text}).encode() + b"\n")
        out.flush()


def start_json_output() -> None:
    """In placedock.serve, before uwsgi starts: JSON from uwsgi's first line.

    uwsgi's log master (``log-master`` with a json encoder, see serve) writes every line of
    uwsgi's and of stderr as JSON to the original stdout; the few lines uwsgi writes before that
    master exists (reading its ini, registering the encoder) reach stderr through a pipe read by
    a thread here, which wraps them, and which ends when the log master takes stderr over.
    """
    global _original_stdout
    _original_stdout = os.dup(1)
    read_end, write_end = os.pipe()
    stderr = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def wrap_early_lines() -> None:
        with os.fdopen(read_end, "rb") as lines, os.fdopen(stderr, "wb") as out:
            wrap_lines(lines, out)

    threading.Thread(target=wrap_early_lines, name="early-uwsgi-lines", daemon=True).start()


def python_lines_to_original_stdout() -> None:
    """In the app's load, after uwsgi has pointed sys.stdout at its log master: placement's lines
    are JSON already (oslo.log), so they skip the master's encoder."""
    if _original_stdout is not None:
        sys.stdout = os.fdopen(_original_stdout, "w", buffering=1)

