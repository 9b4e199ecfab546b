#!/usr/bin/env python3
"""A test-only ``metrics.k8s.io/v1beta1`` API server for the single-node test cluster.

No metrics-server image can be had offline, so this stands in for it: it runs on the
host, finds the pods' containers through the Docker Engine API (the labels dockershim
puts on them) and reads their cgroup v1 files: CPU from ``cpuacct.usage`` deltas
(reported in millicores), memory as the working set (``memory.usage_in_bytes`` less
inactive file pages). Pod labels, for the HPA's label selectors, come from the
kube-apiserver. Standard library only; HTTPS with a self-signed certificate made with
``openssl`` at start. ``--manifests`` prints the Service + APIService that register it
(``insecureSkipTLSVerify``; an ExternalName Service because the API server refuses
loopback addresses in Endpoints).

Not for production: no authentication of callers, one node, cgroup v1 only.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP_VERSION}"
SERVICE_NAME = "placedock-metrics"
SERVICE_NAMESPACE = "kube-system"
MAX_WINDOW = 30.0  # seconds: the oldest sample a rate is taken against
MIN_WINDOW = 1.0  # seconds: the shortest interval a rate is taken over


def rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DockerConnection(http.client.HTTPConnection):
    """HTTP over the Docker daemon's UNIX socket."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Docker:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def get(self, path: str) -> object:
        conn = DockerConnection(self.socket_path)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise OSError(f"docker GET {path}: {resp.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            conn.close()

    def pod_containers(self) -> list[dict]:
        """Running app containers (not sandboxes) that the kubelet made, with labels."""
        filters = json.dumps({"label": ["io.kubernetes.docker.type=container"],
                              "status": ["running"]})
        return self.get("/containers/json?filters=" + urllib.parse.quote(filters))  # type: ignore[return-value]

    def inspect(self, cid: str) -> dict:
        return self.get(f"/containers/{cid}/json")  # type: ignore[return-value]


class Container:
    """One pod container and where its cgroup v1 files are."""

    def __init__(self, info: dict, detail: dict, cgroup_root: str) -> None:
        labels = info.get("Labels") or {}
        self.id = info["Id"]
        self.name = labels.get("io.kubernetes.container.name", "")
        self.pod_uid = labels.get("io.kubernetes.pod.uid", "")
        self.pod_name = labels.get("io.kubernetes.pod.name", "")
        self.pod_namespace = labels.get("io.kubernetes.pod.namespace", "")
        paths = self._proc_cgroups(detail.get("State", {}).get("Pid", 0))
        parent = (detail.get("HostConfig") or {}).get("CgroupParent") or "/docker"
        fallback = f"{parent.rstrip('/')}/{self.id}"
        self.cpuacct = os.path.join(cgroup_root, "cpuacct",
                                    paths.get("cpuacct", fallback).lstrip("/"))
        self.memory = os.path.join(cgroup_root, "memory", paths.get("memory", fallback).lstrip("/"))
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    @staticmethod
    def _proc_cgroups(pid: int) -> dict[str, str]:
        paths: dict[str, str] = {}
        if not pid:
            return paths
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                for line in f:
                    _, controllers, path = line.rstrip("\n").split(":", 2)
                    for c in controllers.split(","):
                        paths[c] = path
        except OSError:
            pass
        return paths

    def cpu_usage_ns(self) -> int:
        with open(os.path.join(self.cpuacct, "cpuacct.usage")) as f:
            return int(f.read())

    def memory_working_set(self) -> int:
        with open(os.path.join(self.memory, "memory.usage_in_bytes")) as f:
            usage = int(f.read())
        inactive = 0
        try:
            with open(os.path.join(self.memory, "memory.stat")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "total_inactive_file":
                        inactive = int(value)
        except OSError:
            pass
        return max(usage - inactive, 0)

    def sample(self, now: float) -> None:
        self.samples.append((now, self.cpu_usage_ns()))
        while len(self.samples) > 1 and now - self.samples[0][0] > MAX_WINDOW:
            self.samples.popleft()

    def usage(self, now: float) -> tuple[float, int, float] | None:
        """(millicores, working-set bytes, window seconds) or None without enough data."""
        current = self.cpu_usage_ns()
        base = next((s for s in self.samples if MIN_WINDOW <= now - s[0] <= MAX_WINDOW), None)
        if base is None:
            return None
        window = now - base[0]
        millicores = max(current - base[1], 0) / window / 1e6
        return millicores, self.memory_working_set(), window


class Collector:
    """Samples every pod container's CPU counter in the background."""

    def __init__(self, docker: Docker, cgroup_root: str, interval: float) -> None:
        self.docker = docker
        self.cgroup_root = cgroup_root
        self.interval = interval
        self.lock = threading.Lock()
        self.containers: dict[str, Container] = {}
        self.node_samples: collections.deque[tuple[float, int]] = collections.deque()

    def refresh(self) -> None:
        now = time.time()
        infos = self.docker.pod_containers()
        seen = set()
        with self.lock:
            for info in infos:
                cid = info["Id"]
                seen.add(cid)
                c = self.containers.get(cid)
                if c is None:
                    try:
                        c = Container(info, self.docker.inspect(cid), self.cgroup_root)
                    except OSError:
                        continue
                    self.containers[cid] = c
                with contextlib.suppress(OSError, ValueError):
                    c.sample(now)
            for cid in set(self.containers) - seen:
                del self.containers[cid]
            self.node_samples.append((now, self.node_cpu_ns()))
            while len(self.node_samples) > 1 and now - self.node_samples[0][0] > MAX_WINDOW:
                self.node_samples.popleft()

    def run(self) -> None:
        while True:
            try:
                self.refresh()
            except (OSError, ValueError, KeyError) as exc:  # keep sampling
                print(f"metrics-api: sampling failed: {exc}", file=sys.stderr, flush=True)
            time.sleep(self.interval)

    def node_cpu_ns(self) -> int:
        with open(os.path.join(self.cgroup_root, "cpuacct", "cpuacct.usage")) as f:
            return int(f.read())

    def pod_usage(self, uid: str, now: float) -> tuple[list[dict], float] | None:
        with self.lock:
            containers = [c for c in self.containers.values() if c.pod_uid == uid]
            if not containers:
                return None
            out, window = [], 0.0
            for c in sorted(containers, key=lambda c: c.name):
                try:
                    u = c.usage(now)
                except (OSError, ValueError):
                    u = None
                if u is None:
                    return None  # like metrics-server: no partial pods
                out.append({"name": c.name,
                            "usage": {"cpu": f"{round(u[0])}m", "memory": f"{u[1] // 1024}Ki"}})
                window = max(window, u[2])
            return out, window

    def node_usage(self, now: float) -> tuple[dict, float] | None:
        with self.lock:
            base = next((s for s in self.node_samples
                         if MIN_WINDOW <= now - s[0] <= MAX_WINDOW), None)
            if base is None:
                return None
            window = now - base[0]
            millicores = max(self.node_cpu_ns() - base[1], 0) / window / 1e6
        meminfo = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                meminfo[key] = int(rest.split()[0])
        used_kib = meminfo["MemTotal"] - meminfo.get("MemAvailable", meminfo["MemFree"])
        return {"cpu": f"{round(millicores)}m", "memory": f"{used_kib}Ki"}, window


class KubeAPI:
    """Just enough of a kube-apiserver client to list pods by selector."""

    def __init__(self, server: str, token_file: str) -> None:
        self.server = server.rstrip("/")
        self.token_file = token_file
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE  # test cluster: self-signed serving cert

    def pods(self, namespace: str | None, query: dict[str, str]) -> list[dict]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        params = {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector") and v}
        url = self.server + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with open(self.token_file) as f:
            token = f.read().strip()
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, context=self.context, timeout=10) as resp:
            return json.load(resp)["items"]


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "placedock-metrics/1"
    timeout = 30
    collector: Collector
    kube: KubeAPI
    node_name: str

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("METRICS_API_DEBUG"):
            super().log_message(format, *args)

    def send_json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            self.route(url.path, parts, query)
        except (OSError, ValueError, KeyError) as exc:
            self.send_json(500, status(500, "InternalError", f"metrics-api: {exc}"))

    def route(self, path: str, parts: list[str], query: dict[str, str]) -> None:
        if path in ("/healthz", "/livez", "/readyz"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if path == "/openapi/v2":  # the aggregator merges this into its own spec
            info = {"title": "placedock test metrics API", "version": VERSION}
            self.send_json(200, {"swagger": "2.0", "info": info, "paths": {}})
            return
        if path.rstrip("/") == "/apis":
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                 "groups": [api_group()]})
            return
        if path.rstrip("/") == f"/apis/{GROUP}":
            self.send_json(200, api_group())
            return
        if parts[:3] != ["apis", GROUP, VERSION]:
            self.send_json(404, status(404, "NotFound", f"the server could not find {path}"))
            return
        rest = parts[3:]
        if not rest:
            self.send_json(200, resource_list())
        elif rest == ["nodes"]:
            self.send_json(200, self.list_body("NodeMetricsList", self.nodes(None)))
        elif len(rest) == 2 and rest[0] == "nodes":
            self.get_one("nodes", self.nodes(rest[1]), rest[1])
        elif rest == ["pods"]:
            self.send_json(200, self.list_body("PodMetricsList", self.pods(None, query)))
        elif len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "pods":
            self.send_json(200, self.list_body("PodMetricsList", self.pods(rest[1], query)))
        elif len(rest) == 4 and rest[0] == "namespaces" and rest[2] == "pods":
            self.get_one("pods", self.pods(rest[1], {"fieldSelector": f"metadata.name={rest[3]}"}),
                         rest[3])
        else:
            self.send_json(404, status(404, "NotFound", f"the server could not find {path}"))

    def get_one(self, resource: str, items: list[dict], name: str) -> None:
        if items:
            self.send_json(200, items[0])
        else:
            self.send_json(404, status(404, "NotFound", f'{resource}.{GROUP} "{name}" not found'))

    def list_body(self, kind: str, items: list[dict]) -> dict:
        return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {"selfLink": self.path},
                "items": items}

    def pods(self, namespace: str | None, query: dict[str, str]) -> list[dict]:
        now = time.time()
        items = []
        for pod in self.kube.pods(namespace, query):
            meta = pod["metadata"]
            usage = self.collector.pod_usage(meta["uid"], now)
            if usage is None:
                continue
            containers, window = usage
            items.append({
                "kind": "PodMetrics", "apiVersion": GROUP_VERSION,
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "labels": meta.get("labels", {}), "creationTimestamp": rfc3339(now),
                             "selfLink": (f"{PREFIX}/namespaces/{meta['namespace']}"
                                          f"/pods/{meta['name']}")},
                "timestamp": rfc3339(now), "window": f"{window:.0f}s", "containers": containers,
            })
        return items

    def nodes(self, name: str | None) -> list[dict]:
        if name not in (None, self.node_name):
            return []
        now = time.time()
        usage = self.collector.node_usage(now)
        if usage is None:
            return []
        values, window = usage
        return [{
            "kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
            "metadata": {"name": self.node_name, "creationTimestamp": rfc3339(now),
                         "selfLink": f"{PREFIX}/nodes/{self.node_name}"},
            "timestamp": rfc3339(now), "window": f"{window:.0f}s", "usage": values,
        }]


def api_group() -> dict:
    gv = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [gv],
            "preferredVersion": gv}


def resource_list() -> dict:
    return {
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
             "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
             "verbs": ["get", "list"]},
        ],
    }


def manifests(port: int, host: str) -> dict:
    """The Service (ExternalName to this host process) and the APIService."""
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": host,
                 "ports": [{"name": "https", "port": port, "protocol": "TCP"}]},
    }
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {"group": GROUP, "version": VERSION, "insecureSkipTLSVerify": True,
                 "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE, "port": port}},
    }
    return {"apiVersion": "v1", "kind": "List", "items": [service, apiservice]}


def self_signed_cert(directory: str, host: str) -> tuple[str, str]:
    os.makedirs(directory, exist_ok=True)
    cert, key = (os.path.join(directory, "metrics-api.crt"),
                 os.path.join(directory, "metrics-api.key"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
         "-subj", "/CN=placedock-metrics", "-addext", f"subjectAltName=DNS:localhost,IP:{host}",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    os.chmod(key, 0o600)
    return cert, key


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifests", action="store_true",
                   help="print the registration manifests and exit")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=4443)
    p.add_argument("--state-dir", default=".", help="where the self-signed certificate goes")
    p.add_argument("--node-name", default=socket.gethostname().lower())
    p.add_argument("--apiserver", default="https://127.0.0.1:6443")
    p.add_argument("--token-file", help="bearer token for the kube-apiserver")
    p.add_argument("--docker-socket", default="/var/run/docker.sock")
    p.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    p.add_argument("--interval", type=float, default=5.0, help="sampling period in seconds")
    args = p.parse_args(argv)

    if args.manifests:
        json.dump(manifests(args.port, args.host), sys.stdout, indent=2)
        print()
        return 0
    if not args.token_file:
        p.error("--token-file is required")

    collector = Collector(Docker(args.docker_socket), args.cgroup_root, args.interval)
    threading.Thread(target=collector.run, daemon=True).start()
    Handler.collector = collector
    Handler.kube = KubeAPI(args.apiserver, args.token_file)
    Handler.node_name = args.node_name

    cert, key = self_signed_cert(os.path.join(args.state_dir, "pki"), args.host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
    print(f"metrics-api: serving {GROUP_VERSION} on https://{args.host}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
