"""The server configurations compared: placedock (its defaults and other worker counts) and peers.

Every peer is a plain ``uwsgi`` command line (the pyuwsgi wheel's, from the same virtualenv) on
``placement.wsgi.api:application``, as the peer runs it, minus what cannot apply here (config
files, ``wsgi-file`` scripts gone since placement 15.0.0, stats servers, /placement routes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from placedock import defaults

REPO = Path(__file__).resolve().parents[2]
STARTUP = REPO / "startup.sh"
SHIPPED_INI = REPO / "shared" / "placement-uwsgi.ini"
APP = "placement.wsgi.api:application"
PLACEDOCK = "placedock"
LIMIT = "limit: in-process, no HTTP"
IMAGE_ROW = "image: trixie, Python 3.13"  # the shipped image: what the CPU and req/s goals judge
IMAGE_LIMIT = "limit: in-process in the trixie image"
# What a row is, for the chart's colours and legend (in the legend's order).
DEFAULTS = "placedock's defaults"
VARIANT = "placedock: other settings, experiments"
IMAGE = "placedock's image"
LIMIT_KIND = "the in-process limit"
PEER = "other uwsgi settings"
KINDS = [DEFAULTS, VARIANT, IMAGE, LIMIT_KIND, PEER]


@dataclass
class Config:
    """One row of the throughput table."""

    name: str
    how: str  # one line for the README
    command: list[str] = field(default_factory=list)  # "{port}" is replaced; empty: in-process
    env: dict[str, str] = field(default_factory=dict)
    image: str = ""  # run this image (on the host's network) instead of the command
    kind: str = PEER  # one of KINDS

    @property
    def in_process(self) -> bool:
        """The limit: placement's app called in a loop (benchmark.throughput.inprocess),
        natively or in `image`."""
        return self.kind == LIMIT_KIND

    def command_for(self, port: int) -> list[str]:
        return [word.replace("{port}", str(port)) for word in self.command]


def uwsgi() -> str:
    return str(Path(sys.executable).parent / "uwsgi")


def placedock(processes: int | None = None, threads: int | None = None) -> Config:
    """startup.sh as shipped; with a worker count, that count through PLACEDOCK_* variables."""
    if processes is None or threads is None:
        return Config(PLACEDOCK, "startup.sh, PLACEDOCK_PROCESSES/THREADS unset",
                      [str(STARTUP)], kind=DEFAULTS)
    return Config(f"placedock {processes}x{threads}",
                  f"startup.sh, PLACEDOCK_PROCESSES={processes} PLACEDOCK_THREADS={threads}",
                  [str(STARTUP)],
                  {"PLACEDOCK_PROCESSES": str(processes), "PLACEDOCK_THREADS": str(threads)},
                  kind=VARIANT)


def default_workers() -> str:
    """placedock's own default worker count, "PxT"."""
    return f"{defaults.PROCESSES}x{defaults.THREADS}"


def metrics_off() -> Config:
    """placedock's defaults with the metrics mule turned off: what metrics cost per request."""
    return Config(f"placedock {default_workers()}, metrics off",
                  "startup.sh as shipped, PLACEDOCK_METRICS_PORT=0",
                  [str(STARTUP)], {"PLACEDOCK_METRICS_PORT": "0"}, kind=VARIANT)


def jemalloc_library() -> str:
    """Debian's libjemalloc2 (package libjemalloc2), wherever its multiarch folder is."""
    found = sorted(Path("/usr/lib").glob("*/libjemalloc.so.2"))
    return str(found[0]) if found else ""


def allocators() -> list[Config]:
    """placedock's defaults on other memory allocators than glibc's own defaults."""
    return [
        Config(f"placedock {default_workers()}, MALLOC_ARENA_MAX=2",
               "startup.sh, glibc's malloc held to 2 arenas per process",
               [str(STARTUP)], {"MALLOC_ARENA_MAX": "2"}, kind=VARIANT),
        Config(f"placedock {default_workers()}, jemalloc",
               "startup.sh, Debian's libjemalloc2 preloaded",
               [str(STARTUP)], {"LD_PRELOAD": jemalloc_library()}, kind=VARIANT),
    ]


def unfrozen_ini(shipped: str) -> str:
    """The shipped uwsgi ini serving benchmark.throughput.unfrozen: placedock's app without
    gc.freeze()."""
    return shipped.replace("module = placedock.wsgi:application",
                           "module = benchmark.throughput.unfrozen:application", 1)


def unfrozen(ini: Path) -> Config:
    """placedock's server (placedock.serve) on `ini`, an unfrozen_ini."""
    return Config(f"placedock {default_workers()}, without gc.freeze",
                  "placedock.serve on the shipped ini, the app's objects left to the collector",
                  [str(Path(uwsgi()).parent / "python3"), "-m", "placedock.serve", "--ini",
                   str(ini)], {"PYTHONPATH": str(REPO)}, kind=VARIANT)


def images(trixie: str, bookworm: str) -> list[Config]:
    """The built image on each base, run on the host's network: Debian 13 against 12."""
    return [Config(IMAGE_ROW, "docker run --network host, the default base",
                   image=trixie, kind=IMAGE),
            Config("image: bookworm, Python 3.11", "docker run --network host, "
                   "BASE_IMAGE=debian:bookworm-slim", image=bookworm, kind=IMAGE)]


def original() -> Config:
    """The original placedock's shared/placement-uwsgi.ini as options (2 x 10, http-socket,
    app loaded in the master), without its python3 plugin, /placement routes and stats server."""
    options = [
        "--module", APP, "--processes", "2", "--threads", "10",
        "--http-socket", "127.0.0.1:{port}", "--http-enable-proxy-protocol",
        "--http-auto-chunked", "--http-keepalive", "--http-timeout", "75",
        "--offload-threads", "10", "--die-on-term", "--vacuum", "--master",
        "--enable-threads", "--thunder-lock", "--buffer-size", "65535",
        "--log-x-forwarded-for", "--ignore-sigpipe", "--ignore-write-errors",
        "--disable-write-exception", "--no-defer-accept", "--harakiri", "120",
        "--harakiri-verbose", "--post-buffering", "4096", "--add-header", "Connection: Keep-Alive",
    ]
    return Config("original placedock (2x10)",
                  "uwsgi with the original's ini: http-socket, 2 processes x 10 threads",
                  [uwsgi(), *options])


def upstream() -> Config:
    """placement's install guide: ``uwsgi -M --http :8778 --wsgi-file placement-api
    --processes 2 --threads 10`` (--http: a router process in front of the workers)."""
    return Config("upstream docs (--http, 2x10)",
                  "uwsgi -M --http, 2 processes x 10 threads (placement's install guide)",
                  [uwsgi(), "-M", "--http", "127.0.0.1:{port}", "--module", APP,
                   "--processes", "2", "--threads", "10"])


def openstack_helm() -> Config:
    """openstack-helm's placement chart default placement-api-uwsgi.ini (1 process, 1 thread)."""
    options = [
        "--http-socket", "127.0.0.1:{port}", "--module", APP, "--processes", "1",
        "--add-header", "Connection: close", "--buffer-size", "65535", "--die-on-term",
        "--enable-threads",
        "--hook-master-start", "unix_signal:15 gracefully_kill_them_all", "--lazy-apps",
        "--log-x-forwarded-for", "--master", "--thunder-lock", "--worker-reload-mercy", "80",
    ]
    return Config("openstack-helm (1x1)",
                  "uwsgi with the chart's default ini: http-socket, 1 process x 1 thread",
                  [uwsgi(), *options])


def limit(cores: int) -> Config:
    """The limit on this host's Python (the benchmark's own virtualenv), as the native rows."""
    return Config(LIMIT, f"{cores} processes calling the WSGI app in a loop (webob), no server",
                  kind=LIMIT_KIND)


def image_limit(cores: int, trixie: str) -> Config:
    """The same limit inside the image, on its Python: what the image's own row compares with."""
    return Config(IMAGE_LIMIT, f"{cores} processes calling the WSGI app in a loop, in the image",
                  image=trixie, kind=LIMIT_KIND)


def floor() -> Config:
    """The start-time floor: uwsgi exec'd directly on placement's app, nothing before it."""
    return Config("floor", "plain uwsgi on placement's app, 2 processes",
                  [uwsgi(), "--http-socket", "127.0.0.1:{port}", "--module", APP, "--master",
                   "--processes", "2", "--need-app", "--disable-logging"])
