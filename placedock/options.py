"""The catalogue of every option placement reads, named as environment variables.

oslo.config silently ignores a variable that names no option; placedock checks every ``OS_*``
variable against this catalogue instead, so a typo stops the start with a suggestion.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points

from keystoneauth1 import loading
from keystonemiddleware import opts as keystonemiddleware_opts
from oslo_config import cfg
from placement import conf as placement_conf

AUTHTOKEN_GROUP = "keystone_authtoken"
# Options whose value is a location: a file or folder path, or a URL. An empty one names nothing.
PATH_SUFFIXES = ("file", "dir", "_path", "_append")
URL_SUFFIXES = ("_url", "_uri", "connection")


def variable_name(group: str | None, option: str) -> str:
    """The environment variable oslo.config reads for an option (see its _environment source)."""
    return f"OS_{(group or 'DEFAULT').upper()}__{option.upper()}"


@dataclass(frozen=True)
class Option:
    group: str
    opt: cfg.Opt

    @property
    def variable(self) -> str:
        return variable_name(self.group, self.opt.dest)


class Catalogue:
    """Options by environment variable name, plus deprecated names that the environment ignores."""

    def __init__(self, options: list[Option]) -> None:
        self.options = {option.variable: option for option in options}
        self.deprecated: dict[str, str] = {}
        for option in options:
            for old in option.opt.deprecated_opts:
                old_name = variable_name(old.group or option.group, old.name or option.opt.dest)
                if old_name not in self.options:
                    self.deprecated[old_name.replace("-", "_")] = option.variable

    def __contains__(self, variable: str) -> bool:
        return variable in self.options

    def __getitem__(self, variable: str) -> Option:
        return self.options[variable]


def is_path(opt: cfg.Opt) -> bool:
    return opt.dest.endswith(PATH_SUFFIXES)


def is_location(opt: cfg.Opt) -> bool:
    """Whether the option names a file, a folder or a URL (by its name: oslo.config types them
    all as plain strings)."""
    return is_path(opt) or opt.dest.endswith(URL_SUFFIXES)

def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The real name nearest to a misspelt one, if any is near."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return matches[0] if matches else None


def _registered(config: cfg.ConfigOpts) -> Iterator[Option]:
    # ConfigOpts offers no public walk over (group, opt); its _opts tables are stable across
    # every oslo.config release placement supports.
    for info in config._opts.values():
        yield Option("DEFAULT", info["opt"])
    for group_name, group in config._groups.items():
        for info in group._opts.values():
            yield Option(group_name, info["opt"])


@functools.cache
def catalogue(auth_type: str | None = None) -> Catalogue:
    """Every option placement, keystonemiddleware and the chosen keystoneauth plugin register.

    placement's register_opts covers its own groups, oslo.db (as [placement_database]),
    oslo.log, oslo.policy, oslo.middleware and cors. Cached: the options are the installed
    packages', the same for every read (a catalogue is only ever read, never changed).
    """
    if not auth_type:
        config = cfg.ConfigOpts()
        placement_conf.register_opts(config)
        for group, opts in keystonemiddleware_opts.list_auth_token_opts():
            config.register_opts(opts, group)
        return Catalogue(list(_registered(config)))
    # The plugin's own options (username, password, ...) are registered by keystonemiddleware
    # only once it knows auth_type, so they are valid only with it.
    base = catalogue()
    registered = {option.opt.dest for option in base.options.values()
                  if option.group == AUTHTOKEN_GROUP}
    plugin = [Option(AUTHTOKEN_GROUP, opt)
              for opt in loading.get_auth_plugin_conf_options(auth_type)
              if opt.dest not in registered]
    return Catalogue([*base.options.values(), *plugin])


def is_auth_plugin(name: str) -> bool:
    """Whether keystoneauth has a plugin by that name (read from its entry points, not loaded)."""
    return name in {entry.name for entry in entry_points(group="keystoneauth1.plugin")}


def plugin_variables(auth_type: str) -> set[str]:
    """The variables a keystoneauth plugin adds to [keystone_authtoken]."""
    return {
        variable_name(AUTHTOKEN_GROUP, opt.dest)
        for opt in loading.get_auth_plugin_conf_options(auth_type)
    }


# The OpenStack client's own variables that no package placement installs can list: openstacksdk
# (its config loader and docs: OS_CLOUD, the clouds.yaml files, keys of its schema.json), osc-lib
# and python-openstackclient (their --os-* flags), devstack's openrc. openstacksdk reads every
# OS_* variable as a clouds.yaml key; these are the documented ones. tests/test_devstack.py checks
# the client's real flags against client_variables().
CLIENT_ONLY_VARIABLES = frozenset({
    "OS_API_TIMEOUT", "OS_AUTH_TOKEN", "OS_BETA_COMMAND", "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE", "OS_CLOUD", "OS_CLOUD_NAME", "OS_DEFAULT_DOMAIN",
    "OS_DISABLE_VENDOR_AGENT", "OS_ENDPOINT_TYPE", "OS_FLOATING_IP_SOURCE", "OS_FORCE_IPV4",
    "OS_IMAGE_API_USE_TASKS", "OS_IMAGE_FORMAT", "OS_NO_CACHE", "OS_NO_CLIENT_AUTH",
    "OS_OBJECT_API_VERSION", "OS_PREFER_IPV6", "OS_PROFILE", "OS_REMOTE_PROJECT_DOMAIN_ID",
    "OS_REMOTE_PROJECT_DOMAIN_NAME", "OS_REMOTE_PROJECT_ID", "OS_REMOTE_PROJECT_NAME",
    "OS_SECGROUP_SOURCE", "OS_SERVICE_PROVIDER", "OS_TRUSTED_IMAGE_CERTIFICATE_IDS",
    "OS_VENDOR_HOOK", "OS_VERIFY",
})
_HELP_ENVIRONMENT = re.compile(r"env\[(OS_[A-Z0-9_]+)\]")


def _flag_variables(parser: argparse.ArgumentParser) -> set[str]:
    """keystoneauth's convention: flag --os-foo-bar reads OS_FOO_BAR (some help texts name
    theirs)."""
    names: set[str] = set()
    for action in parser._actions:  # argparse has no public walk over a parser's options
        names.update(_HELP_ENVIRONMENT.findall(action.help or ""))
        for flag in action.option_strings:
            if flag.startswith("--os-"):
                names.add("OS_" + flag[len("--os-"):].replace("-", "_").upper())
    return names


@functools.cache
def client_variables() -> frozenset[str]:
    """Every variable the OpenStack client (openstacksdk, the openstack command, keystoneauth)
    reads, as far as keystoneauth and os-service-types (both installed with placement) tell, plus
    CLIENT_ONLY_VARIABLES. None has two underscores: oslo.config reads only OS_GROUP__OPTION."""
    import os_service_types  # only when a single-underscore OS_* name asks: every start waits

    names = set(CLIENT_ONLY_VARIABLES)
    for loader in loading.get_available_plugin_loaders().values():
        for opt in loader.get_options():
            names.update(opt.argparse_envvars)
    parser = argparse.ArgumentParser(add_help=False)
    loading.register_auth_argparse_arguments(parser, [])
    loading.register_session_argparse_arguments(parser)
    loading.register_adapter_argparse_arguments(parser)
    services = os_service_types.ServiceTypes()
    service_types = {alias for aliases in services.all_types_by_service_type.values()
                     for alias in aliases}
    for service_type in sorted(service_types):
        loading.register_service_adapter_argparse_arguments(parser, service_type)
    names |= _flag_variables(parser)
    # openstacksdk reads each session and adapter setting as a clouds.yaml key, also per service.
    settings = [opt.dest for opt in loading.get_session_conf_options()]
    adapter_settings = [opt.dest for opt in loading.get_adapter_conf_options()] + ["api_version"]
    names.update(f"OS_{name.upper()}" for name in settings + adapter_settings)
    for service_type in service_types:
        prefix = "OS_" + service_type.replace("-", "_").upper()
        names.update(f"{prefix}_{name.upper()}" for name in adapter_settings)
    return frozenset(names)


def is_client_variable(name: str) -> bool:
    """Exactly one of the client's names; a near miss of a placement option is not."""
    return "__" not in name and name in client_variables()
