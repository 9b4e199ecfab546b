"""The front: nginx between the clients and uwsgi's workers.

uwsgi's workers are synchronous: one that is reading a request's headers or body, slowly sent,
serves no one else, and two connections sending a header byte every 2 s stopped the default
2 x 1 server for everyone (benchmark/front/hostile_clients.md). nginx is event-driven: it reads
every connection's headers and body (up to PLACEDOCK_MAX_BODY_SIZE, else 413 before reading it),
times out slow and idle clients, holds keep-alive connections, and hands a worker a request only
when it is whole, over a unix socket with uwsgi's own protocol. It waits
PLACEDOCK_REQUEST_TIMEOUT for the answer, then answers 504 itself; uwsgi's harakiri replaces the
worker a second later. With the files of placedock.tls it serves HTTPS only, TLS terminating here.

uwsgi runs nginx as its control daemon (``attach-control-daemon``): uwsgi stays PID 1, and when
nginx exits (its graceful stop: placedock.drain), uwsgi stops too. This module writes nginx's
configuration for the checked environment, into a folder beside the stats socket (the tmpfs a
read-only container writes to), and gives uwsgi its options for it.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import resource
import shutil
import socket
from pathlib import Path

from placedock import PlacedockError, addresses, errors, tls

# A client must send its whole header block within this, and its body with no pause longer
# than it (kolla-ansible's HAProxy: timeout http-request 10s).
CLIENT_TIMEOUT_S = 10
# An idle keep-alive connection is closed after this (it holds no worker meanwhile).
KEEPALIVE_TIMEOUT_S = 60
# A client that stops reading its answer is dropped after this pause.
SEND_TIMEOUT_S = 30
# uwsgi's harakiri replaces a worker this long after nginx has answered 504 for it.
HARAKIRI_MARGIN_S = 1
# Enough for 10,000 idle connections and the requests beside them. nginx preallocates each (about
# 450 bytes): 16,384 cost 3 MB more of the 150 MB the server may take under load.
MAX_CONNECTIONS = 10240
# The uwsgi socket's queue: requests nginx has read and no worker has taken yet. A full unix
# socket queue is an immediate 502, so it is as long as the kernel allows, up to this.
MAX_QUEUE = 4096
# Where nginx's own error answers live: internal locations, which no client can ask for (a named
# location cannot answer a request whose line nginx could not parse).
ERROR_PATH = "/.placedock/error/"
# The health endpoints, at the root and under /placement: with client certificates, the only
# paths a client without one may ask.
HEALTH = "~ ^(/placement)?/health/"
SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin")  # nginx is not on a non-root user's PATH

# What nginx answers itself, each as placement would: (nginx's status, the status answered,
# code, detail). nginx's 494 is its own name for headers too large: HTTP's 431. A version or a
# transfer coding it does not speak (505, 501) is the client's error, as any request nginx
# cannot parse: a 5xx would tell a monitor the server failed.
ERRORS = (
    (400, 400, errors.MALFORMED_REQUEST, "The request could not be parsed."),
    (501, 400, errors.MALFORMED_REQUEST, "The request's transfer coding is not supported."),
    (505, 400, errors.MALFORMED_REQUEST, "The request's HTTP version is not supported."),
    (404, 404, errors.UNDEFINED, "The resource could not be found."),
    (413, 413, errors.REQUEST_TOO_LARGE,
     "The request body is larger than this server accepts (PLACEDOCK_MAX_BODY_SIZE)."),
    (414, 414, errors.REQUEST_TOO_LARGE, "The request line is too long."),
    (494, 431, errors.REQUEST_TOO_LARGE, "The request headers are too large."),
    (502, 502, errors.UNDEFINED, "The worker serving the request ended without an answer."),
    (504, 504, errors.REQUEST_TIMEOUT,
     "The request took longer than this server allows (PLACEDOCK_REQUEST_TIMEOUT)."),
    # HTTPS (placedock.tls): plain HTTP sent to it; a client certificate missing or not valid.
    (497, 400, errors.MALFORMED_REQUEST, "This port speaks HTTPS only."),
    (403, 403, errors.CLIENT_CERTIFICATE,
     "The API needs a client certificate signed by PLACEDOCK_TLS_CLIENT_CA_FILE's CA."),
    (495, 403, errors.CLIENT_CERTIFICATE, "The client certificate is not valid."),
)


def folder(stats_socket: str) -> Path:
    return Path(f"{stats_socket}.front")


def uwsgi_socket(stats_socket: str) -> str:
    """Where the workers listen: uwsgi's protocol, for nginx alone (mode 0600)."""
    return f"{stats_socket}.uwsgi"


def pid_file(stats_socket: str) -> Path:
    return folder(stats_socket) / "nginx.pid"


def nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path=os.pathsep.join(SEARCH_PATH))
    if not path:
        raise PlacedockError("nginx: not found; placedock serves through it (apt-get install "
                             "nginx-light or nginx)")
    return path


def check_port(address: str, port: int) -> None:
    """Refuse to start when the API's address cannot be listened on (another server has it, or
    the port is privileged): nginx would fail only once uwsgi runs, and this start would have
    replaced the runtime files (this module's folder, the stats socket) of a server on the same
    port. Bound as nginx binds it (SO_REUSEADDR), then released at once."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
            probe.listen(1)
        except OSError as error:
            raise PlacedockError(
                f"PLACEDOCK_PORT: cannot listen on {addresses.socket_address(address, port)} "
                f"({error.strerror}); another server has it, or choose another port") from None


def queue_length() -> int:
    try:
        allowed = int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        allowed = 128
    return max(128, min(MAX_QUEUE, allowed))


def _error_location(nginx_status: int, status: int, code: str, detail: str) -> str:
    # nginx's request id (32 hex digits) in placement's form; nginx fills in $request_id.
    document = errors.body(status, detail, code, "req-$request_id")
    text = json.dumps(document).replace("\\", "\\\\").replace("'", "\\'")
    return (f"        location = {ERROR_PATH}{nginx_status} {{\n"
            f"            internal;\n"
            f"            default_type application/json;\n"
            f"            add_header openstack-api-version 'placement 1.0' always;\n"
            f"            add_header Vary openstack-api-version always;\n"
            f"            return {status} '{text}';\n"
            f"        }}\n")


def _user_line() -> str:
    """nginx switches its worker to 'nobody' when started as root: keep this process's user."""
    if os.geteuid() != 0:
        return ""
    return (f"user {pwd.getpwuid(os.geteuid()).pw_name} "
            f"{grp.getgrgid(os.getegid()).gr_name};\n")


# Mozilla's "intermediate" TLS settings: TLS 1.2 with forward-secret AEAD ciphers, and TLS 1.3.
TLS_PROTOCOLS = "TLSv1.2 TLSv1.3"
TLS_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
               "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
               "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
# What the API is passed to the workers with (twice with client certificates: the health
# endpoints answer without one).
PARAMS = ("QUERY_STRING $query_string", "REQUEST_METHOD $request_method",
          "CONTENT_TYPE $content_type", "CONTENT_LENGTH $content_length",
          "REQUEST_URI $request_uri", "PATH_INFO $document_uri",
          "SERVER_PROTOCOL $server_protocol", "REQUEST_SCHEME $scheme",
          "HTTPS $https if_not_empty", "REMOTE_ADDR $remote_addr", "REMOTE_PORT $remote_port",
          "SERVER_PORT $server_port", "SERVER_NAME $host")


def _tls_lines(files: tls.Files | None) -> str:
    if files is None:
        return ""
    lines = [f"ssl_certificate {files.cert};", f"ssl_certificate_key {files.key};",
             f"ssl_protocols {TLS_PROTOCOLS};", f"ssl_ciphers {TLS_CIPHERS};",
             "ssl_prefer_server_ciphers off;", "ssl_session_cache shared:TLS:4m;",
             "ssl_session_timeout 1h;", "ssl_session_tickets off;"]
    if files.client_ca:
        # optional, not on: the health endpoints take any client; the API checks below.
        lines += [f"ssl_client_certificate {files.client_ca};", "ssl_verify_client optional;",
                  "ssl_verify_depth 2;"]
    return "".join(f"        {line}\n" for line in lines)


def _api_location(path: str, stats_socket: str, client_certificate: bool) -> str:
    guard = ("            if ($ssl_client_verify != SUCCESS) {\n"
             "                return 403;\n"
             "            }\n") if client_certificate else ""
    params = "".join(f"            uwsgi_param {param};\n" for param in PARAMS)
    return (f"        location {path} {{\n{guard}"
            f"            uwsgi_pass unix:{uwsgi_socket(stats_socket)};\n{params}"
            f"        }}\n")


def configuration(address: str, port: int, stats_socket: str, max_body_size: int,
                  request_timeout: int, tls_files: tls.Files | None = None) -> str:
    here = folder(stats_socket)
    ip = address.strip("[]")
    dual_stack = " ipv6only=off" if ip == "::" else ""
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = MAX_CONNECTIONS * 2 if files == resource.RLIM_INFINITY else min(files, 65536)
    pages = "".join(f"        error_page {nginx_status} ={status} {ERROR_PATH}{nginx_status};\n"
                    for nginx_status, status, *_ in ERRORS)
    locations = "".join(_error_location(*error) for error in ERRORS)
    clients = tls_files is not None and tls_files.client_ca is not None
    temp = "".join(f"    {kind}_temp_path {here / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""\
# Written by placedock.front at each start; edits are lost.
{_user_line()}daemon off;
worker_processes 1;
worker_rlimit_nofile {files};
pid {pid_file(stats_socket)};
error_log stderr warn;
events {{
    worker_connections {min(MAX_CONNECTIONS, files - 64)};
}}
http {{
    access_log off;  # placement logs every request itself
    server_tokens off;
{temp}    client_header_timeout {CLIENT_TIMEOUT_S}s;
    client_body_timeout {CLIENT_TIMEOUT_S}s;
    send_timeout {SEND_TIMEOUT_S}s;
    keepalive_timeout {KEEPALIVE_TIMEOUT_S}s;
    reset_timedout_connection on;
    client_max_body_size {max_body_size};
    client_body_buffer_size {min(max_body_size, 1048576)};
    merge_slashes off;  # the path reaches placement as the client wrote it
    uwsgi_read_timeout {request_timeout}s;
    uwsgi_send_timeout {request_timeout}s;
    uwsgi_next_upstream off;  # a request runs once: never again on a second try
    # A client that half-closes after its request (shutdown(SHUT_WR), nc) still gets its answer;
    # one that has gone costs no more than it would anyway (a worker cannot be interrupted).
    uwsgi_ignore_client_abort on;
    server {{
        listen {addresses.socket_address(ip, port)}{" ssl" if tls_files else ""} \
backlog={queue_length()}{dual_stack};
{_tls_lines(tls_files)}{pages}{_api_location("/", stats_socket, bool(clients))}\
{_api_location(HEALTH, stats_socket, False) if clients else ""}{locations}    }}
}}
"""


def prepare(address: str, port: int, stats_socket: str, max_body_size: int,
            request_timeout: int, tls_files: tls.Files | None = None) -> list[str]:
    """Write nginx's configuration; return uwsgi's options that run nginx and bound a request."""
    here = folder(stats_socket)
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir(mode=0o700)
    config = here / "nginx.conf"
    config.write_text(configuration(address, port, stats_socket, max_body_size,
                                    request_timeout, tls_files))
    return [f"--socket={uwsgi_socket(stats_socket)}", "--chmod-socket=600",
            f"--listen={queue_length()}",
            f"--attach-control-daemon=exec {nginx_binary()} -e stderr -c {config}",
            f"--harakiri={request_timeout + HARAKIRI_MARGIN_S}"]
