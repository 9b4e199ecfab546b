"""``startup.sh ks-register``: make placement known to keystone, as a one-shot job may at every
deployment (what openstack-helm's ks-user, ks-service and ks-endpoints jobs do together).

Idempotent: each thing is found by name and made only when missing; the service user's password
is set to the one given at every run (a rotated secret takes effect). It ensures:

- the service project (``OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME``, default ``service``);
- the service user (``OS_KEYSTONE_AUTHTOKEN__USERNAME``, default ``placement``, with
  ``OS_KEYSTONE_AUTHTOKEN__PASSWORD`` or its ``_FILE``) holding the ``admin`` role on that project:
  the same variables the server's auth_token middleware logs in with;
- the ``placement`` service, and its public, internal and admin endpoints in ``OS_REGION_NAME``
  (default ``RegionOne``): ``PLACEDOCK_ENDPOINT_URL``, with ``PLACEDOCK_INTERNAL_ENDPOINT_URL`` and
  ``PLACEDOCK_ADMIN_ENDPOINT_URL`` defaulting to it. An endpoint with another URL is corrected.

The administrator's credentials are the OpenStack client's variables, as an openrc sets them:
``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD`` (or ``OS_PASSWORD_FILE``), ``OS_PROJECT_NAME``,
``OS_USER_DOMAIN_NAME`` and ``OS_PROJECT_DOMAIN_NAME`` (both default ``Default``), and
``OS_INTERFACE`` (default ``public``): which of keystone's catalog endpoints to use after login.
Over HTTPS, ``OS_CACERT`` names the CA file keystone's certificate is checked against (else the
system's CAs); a certificate refused stops it at once.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from placedock import PlacedockError, environment, policy
from placedock.prepare import log, one_line_errors, step

AUTHTOKEN = "OS_KEYSTONE_AUTHTOKEN__"
SERVICE_TYPE = "placement"
INTERFACES = {"public": "PLACEDOCK_ENDPOINT_URL", "internal": "PLACEDOCK_INTERNAL_ENDPOINT_URL",
              "admin": "PLACEDOCK_ADMIN_ENDPOINT_URL"}
ROLE = "admin"
# OpenSSL's own words inside keystoneauth's wrapped message ("[SSL: ...] certificate verify
# failed: unable to get local issuer certificate").
SSL_REASON = re.compile(r"\[SSL: [A-Z_]+\][^'\")(]*")
DEFAULT_WAIT_S = 120.0  # KS_WAIT_TIMEOUT: a keystone started alongside may still be initialising


class RegisterError(PlacedockError):
    """What stops ks-register: one line, never a password."""


def setting(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    """A value, from ``name`` or the file ``name_FILE`` names; ``default`` when neither is set."""
    if default is not None and environment.file_value(environ, name) is None:
        return default
    return environment.required_value(environ, name, "ks-register")


def admin_client(environ: Mapping[str, str]) -> Any:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from keystoneclient.v3 import client

    auth = v3.Password(
        auth_url=setting(environ, "OS_AUTH_URL"),
        username=setting(environ, "OS_USERNAME"),
        password=setting(environ, "OS_PASSWORD"),
        project_name=setting(environ, "OS_PROJECT_NAME"),
        user_domain_name=setting(environ, "OS_USER_DOMAIN_NAME", "Default"),
        project_domain_name=setting(environ, "OS_PROJECT_DOMAIN_NAME", "Default"),
    )
    # The catalog's keystone endpoint of this interface is the one used after login.
    return client.Client(session=session.Session(auth=auth, timeout=30, verify=ca_file(environ)),
                         interface=setting(environ, "OS_INTERFACE", "public"))


def ca_file(environ: Mapping[str, str]) -> str | bool:
    """OS_CACERT, checked; True (the system's CAs) when unset."""
    path = environ.get("OS_CACERT")
    if not path:
        return True
    problem = policy.tls_file_problem(path, certificates=True)
    if problem:
        raise RegisterError(f"OS_CACERT: {problem}")
    return path


def one(found: list[Any], what: str) -> Any | None:
    if len(found) > 1:
        raise RegisterError(
            f"{len(found)} {what}: cannot tell which is placement's; remove the extra")
    return found[0] if found else None


def ensure_project(keystone: Any, name: str, domain: Any) -> tuple[Any, str]:
    project = one(keystone.projects.list(name=name, domain=domain), f"projects named {name!r}")
    if project is not None:
        return project, f"project {name} there"
    return keystone.projects.create(name=name, domain=domain), f"project {name} created"


def ensure_user(keystone: Any, name: str, password: str, domain: Any) -> tuple[Any, str]:
    user = one(keystone.users.list(name=name, domain=domain), f"users named {name!r}")
    if user is not None:
        keystone.users.update(user, password=password, enabled=True)
        return user, f"user {name} there, password set"
    return (keystone.users.create(name=name, password=password, domain=domain, enabled=True),
            f"user {name} created")


def ensure_role(keystone: Any, user: Any, project: Any) -> str:
    role = one(keystone.roles.list(name=ROLE), f"roles named {ROLE!r}")
    if role is None:
        raise RegisterError(f"keystone has no {ROLE!r} role (keystone-manage bootstrap makes it)")
    keystone.roles.grant(role, user=user, project=project)  # granting twice changes nothing
    return f"role {ROLE} on {project.name}"


def ensure_service(keystone: Any) -> tuple[Any, str]:
    service = one(keystone.services.list(type=SERVICE_TYPE), f"services of type {SERVICE_TYPE!r}")
    if service is not None:
        return service, "service placement there"
    created = keystone.services.create(name="placement", type=SERVICE_TYPE,
                                       description="Placement API")
    return created, "service placement created"


def ensure_endpoints(keystone: Any, service: Any, urls: Mapping[str, str], region: str) -> str:
    done = []
    for interface, url in urls.items():
        endpoint = one(keystone.endpoints.list(service=service, interface=interface,
                                               region=region),
                       f"{interface} placement endpoints in {region}")
        if endpoint is None:
            keystone.endpoints.create(service=service, url=url, interface=interface, region=region)
            done.append(f"{interface} created")
        elif endpoint.url != url:
            keystone.endpoints.update(endpoint, url=url)
            done.append(f"{interface} corrected")
        else:
            done.append(f"{interface} there")
    return f"endpoints in {region}: {', '.join(done)}"


def endpoint_urls(environ: Mapping[str, str]) -> dict[str, str]:
    public = setting(environ, INTERFACES["public"])
    return {interface: setting(environ, name, public) for interface, name in INTERFACES.items()}


def wait_for_keystone(keystone: Any, timeout_s: float) -> None:
    """Return once keystone answers an authenticated request; unreachable or 5xx is waited out,
    anything else (bad credentials) raised at once."""
    from keystoneauth1 import exceptions

    started = time.monotonic()
    while True:
        try:
            keystone.domains.list()
            return
        except exceptions.SSLError as error:  # waiting will not change the certificate
            found = SSL_REASON.search(str(error))
            reason = found.group(0).strip() if found else type(error).__name__
            raise RegisterError(
                "OS_AUTH_URL: keystone's TLS certificate is not trusted or not for this host "
                f"({reason}); check OS_CACERT") from None
        except (exceptions.ConnectFailure, exceptions.DiscoveryFailure, exceptions.ConnectTimeout,
                exceptions.ServiceUnavailable, exceptions.BadGateway) as error:
            waited = time.monotonic() - started
            if waited + 2 > timeout_s:
                raise RegisterError(f"OS_AUTH_URL: keystone not answering after {waited:.0f} s "
                                    f"(KS_WAIT_TIMEOUT={timeout_s:g}): {type(error).__name__}"
                                    ) from None
            log(f"waiting for keystone: {type(error).__name__} ({waited:.0f} s of {timeout_s:g} s)")
            time.sleep(2)


def register(environ: Mapping[str, str], keystone: Any | None = None) -> list[str]:
    """Do it all; return what was done, one phrase per step."""
    urls = endpoint_urls(environ)
    user_name = setting(environ, AUTHTOKEN + "USERNAME", "placement")
    password = setting(environ, AUTHTOKEN + "PASSWORD")
    project_name = setting(environ, AUTHTOKEN + "PROJECT_NAME", "service")
    user_domain = setting(environ, AUTHTOKEN + "USER_DOMAIN_NAME", "Default")
    project_domain = setting(environ, AUTHTOKEN + "PROJECT_DOMAIN_NAME", "Default")
    region = setting(environ, "OS_REGION_NAME", "RegionOne")
    keystone = keystone or admin_client(environ)
    with step("keystone answers"):
        wait_for_keystone(keystone, float(environ.get("KS_WAIT_TIMEOUT", DEFAULT_WAIT_S)))
    domains = {name: one(keystone.domains.list(name=name), f"domains named {name!r}")
               for name in {user_domain, project_domain}}
    for name, domain in domains.items():
        if domain is None:
            raise RegisterError(f"keystone has no domain {name!r}")
    project, project_done = ensure_project(keystone, project_name, domains[project_domain])
    user, user_done = ensure_user(keystone, user_name, password, domains[user_domain])
    service, service_done = ensure_service(keystone)
    return [project_done, user_done, ensure_role(keystone, user, project), service_done,
            ensure_endpoints(keystone, service, urls, region)]


def main() -> int:
    from keystoneauth1 import exceptions

    def run() -> None:
        try:
            with step("ks-register done") as detail:
                detail += register(os.environ)
        except exceptions.ClientException as error:
            first_line = str(error).splitlines()[0]
            raise RegisterError(f"keystone: {type(error).__name__}: {first_line}") from None

    return one_line_errors(run)


if __name__ == "__main__":
    sys.exit(main())
