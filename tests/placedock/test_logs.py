"""placedock.logs: lines for people by default, one JSON object per line when asked."""

from __future__ import annotations

import io
import json
import logging

from oslo_log import formatters

from placedock import logs

JSON = {"PLACEDOCK_LOG_FORMAT": "json"}


def test_text_is_todays_line() -> None:
    assert logs.placedock_line("error: X: wrong", {}) == "placedock: error: X: wrong"
    assert logs.placedock_line("serving", {"PLACEDOCK_LOG_FORMAT": "text"}) == "placedock: serving"


def test_json_carries_the_level_in_a_field() -> None:
    line = json.loads(logs.placedock_line("error: X: wrong", JSON))
    assert (line["name"], line["levelname"], line["message"]) == ("placedock", "ERROR", "X: wrong")
    assert json.loads(logs.placedock_line("warning: careful", JSON))["levelname"] == "WARNING"
    assert json.loads(logs.placedock_line("serving", JSON))["levelname"] == "INFO"


def test_wrapped_output_is_json_line_by_line() -> None:
    out = io.BytesIO()
    logs.wrap_lines([b'{"already": "json"}\n', b"*** Starting uWSGI \"2.0\" ***\n", b"no newline"],
                    out)
    lines = out.getvalue().decode().splitlines()
    assert json.loads(lines[0]) == {"already": "json"}
    assert json.loads(lines[1])["message"] == '*** Starting uWSGI "2.0" ***'
    assert json.loads(lines[2])["message"] == "no newline"
    assert len(lines) == 3


def test_a_request_line_through_oslo_logs_json_formatter_has_its_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatters.JSONFormatter())
    logger = logging.getLogger(logs.REQUEST_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logs.RequestLines().finished("GET", "/traits/{name}", "200", 0.0123, "req-7")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "GET /traits/{name} 200 12.3 ms"
    assert line["extra"] == {"method": "GET", "route": "/traits/{name}", "status": 200,
                             "duration_ms": 12.3, "request_id": "req-7"}
    # placement's own line per request would repeat it: quiet in JSON mode.
    assert logging.getLogger(logs.PLACEMENT_REQUEST_LOGGER).level == logging.WARNING
    logging.getLogger(logs.PLACEMENT_REQUEST_LOGGER).setLevel(logging.NOTSET)
