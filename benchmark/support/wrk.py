"""HTTP load with Debian's wrk (`wrk --latency`), and the Lua scripts it runs.

One wrk run per point: a warm-up, then the measured window, then one more second. The rate
counts only the 2xx responses that complete inside the window (Lua, with LuaJIT's FFI clock):
a fresh wrk starts with every connection idle, and with responses that take a second or more
(allocation candidates at 10 connections) the first second would otherwise count nearly nothing
for servers that answer many requests at once and so finish them late together. p50 and p99
are wrk's own, over the whole run.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The project and user of every write (benchmark.throughput.inprocess's too).
PROJECT = "b0000000-0000-4000-a000-000000000001"
USER = "b0000000-0000-4000-a000-000000000002"

HEADERS_LUA = """\
wrk.headers["x-auth-token"] = "admin"
wrk.headers["openstack-api-version"] = "placement latest"
"""

# PUT /allocations/{new consumer}: 1 VCPU and 128 MB of one provider picked at random per request
# (the same body as benchmark.inprocess.allocation).
WRITES_LUA = """\
wrk.method = "PUT"
wrk.headers["x-auth-token"] = "admin"
wrk.headers["openstack-api-version"] = "placement latest"
wrk.headers["content-type"] = "application/json"
local providers = %(providers)s
local project = "%(project)s"
local user = "%(user)s"
local prefix = "%(prefix)s"
local counter = 0
math.randomseed(os.time())

function request()
  counter = counter + 1
  local consumer = string.format("%%s-0000-4000-a000-%%012x", prefix, counter)
  local provider = providers[math.random(1, #providers)]
  local body = '{"allocations": {"' .. provider
    .. '": {"resources": {"VCPU": 1, "MEMORY_MB": 128}}}, '
    .. '"project_id": "' .. project .. '", "user_id": "' .. user
    .. '", "consumer_generation": null, '
    .. '"consumer_type": "INSTANCE"}'
  return wrk.format(nil, "/allocations/" .. consumer, nil, body)
end
"""

# Counts the responses completed inside [start + warm-up, start + warm-up + measured).
WINDOW_LUA = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } placedock_timespec;
int clock_gettime(int clock, placedock_timespec *now);
]]
local clock = ffi.new("placedock_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end
local threads = {}
window_ok = 0
window_failed = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  window_start = now() + tonumber(args[1])
  window_end = window_start + tonumber(args[2])
end

function response(status, headers, body)
  local at = now()
  if at >= window_start and at < window_end then
    if status >= 200 and status < 300 then
      window_ok = window_ok + 1
    else
      window_failed = window_failed + 1
    end
  end
end

function done(summary, latency, requests)
  local ok, failed = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("window_ok")
    failed = failed + thread:get("window_failed")
  end
  io.write(string.format("window: %d ok, %d failed\\n", ok, failed))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_WINDOW = re.compile(r"^window: (\d+) ok, (\d+) failed$", re.MULTILINE)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class LoadResult:
    """Requests per second and latency percentiles (ms) of one measured point."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int  # counted in the measured window
    errors: int = 0  # non-2xx responses in the window, refused connections, timeouts
    cpu_busy: float = 0.0  # share of the machine's cores busy during the run
    others: float = 0.0  # share of the machine's CPU taken by other programs (or stolen)
    stolen: float = 0.0  # share of the machine's CPU the hypervisor stole
    load: float = 0.0  # the 1-minute load average at the end of the run
    server_cpu_s: float = 0.0  # the server's user + system time over the counted window

    @property
    def cpu_ms_per_request(self) -> float:
        """The server's CPU time per request completed in the counted window: what a request
        costs, whatever else the machine was doing (throughput moves with that, this barely)."""
        return self.server_cpu_s * 1e3 / self.requests if self.requests else 0.0


def headers_script(folder: Path) -> Path:
    path = folder / "reads.lua"
    path.write_text(HEADERS_LUA + WINDOW_LUA)
    return path


def writes_script(folder: Path, providers: list[str]) -> Path:
    """A script whose consumers are new UUIDs: a random prefix per script, then a counter."""
    path = folder / f"writes-{secrets.token_hex(4)}.lua"
    table = "{" + ", ".join(json.dumps(uuid) for uuid in providers) + "}"
    path.write_text(WRITES_LUA % {"providers": table, "project": PROJECT, "user": USER,
                                  "prefix": secrets.token_hex(4)} + WINDOW_LUA)
    return path


def run(url: str, warmup_s: float, measure_s: float, connections: int, script: Path,
        during_window: Callable[[float], float] | None = None) -> LoadResult:
    """One wrk thread (the client's CPU stays small) for warm-up + window + 1 s.

    `during_window`, given the monotonic time wrk was started at, is called while wrk runs: it
    measures the server over the counted window and returns its CPU seconds (server_cpu_s)."""
    command = ["wrk", "--latency", "-t", "1", "-c", str(connections),
               "-d", f"{math.ceil(warmup_s + measure_s + 1)}s", "--timeout", "60s",
               "-s", str(script), url, "--", str(warmup_s), str(measure_s)]
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        cpu_s = during_window(started) if during_window is not None else 0.0
        stdout, stderr = process.communicate(timeout=300)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{stdout}{stderr}")
    result = parse(stdout, measure_s)
    result.server_cpu_s = cpu_s
    return result


def parse(output: str, measure_s: float) -> LoadResult:
    percentiles = {match[0]: float(match[1]) * _UNITS[match[2]]
                   for match in _LATENCY.findall(output)}
    window = _WINDOW.search(output)
    if window is None or set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    ok, errors = int(window[1]), int(window[2])
    socket_errors = _SOCKET.search(output)
    if socket_errors:  # not read/write: those are servers closing connections they kept open
        errors += int(socket_errors[1]) + int(socket_errors[4])
    return LoadResult(rate=ok / measure_s, p50_ms=percentiles["50"], p99_ms=percentiles["99"],
                      requests=ok, errors=errors)
