"""The catalogue of every option placement reads, named as environment variables.

oslo.config silently ignores a variable that names no option; placedock checks every ``OS_*``
variable against this catalogue instead, so a typo stops the start with a suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points

from keystoneauth1 import loading
from keystonemiddleware import opts as keystonemiddleware_opts
from oslo_config import cfg
from placement import conf as placement_conf

AUTHTOKEN_GROUP = "keystone_authtoken"


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


def catalogue(auth_type: str | None = None) -> Catalogue:
    """Every option placement, keystonemiddleware and the chosen keystoneauth plugin register.

    placement's register_opts covers its own groups, oslo.db (as [placement_database]),
    oslo.log, oslo.policy, oslo.middleware and cors.
    """
    config = cfg.ConfigOpts()
    placement_conf.register_opts(config)
    for group, opts in keystonemiddleware_opts.list_auth_token_opts():
        config.register_opts(opts, group)
    if auth_type:
        # The plugin's own options (username, password, ...) are registered by keystonemiddleware
        # only once it knows auth_type, so they are valid only with it.
        plugin_opts = loading.get_auth_plugin_conf_options(auth_type)
        config.register_opts(
            [opt for opt in plugin_opts if opt.dest not in config[AUTHTOKEN_GROUP]],
            AUTHTOKEN_GROUP,
        )
    return Catalogue(list(_registered(config)))


def is_auth_plugin(name: str) -> bool:
    """Whether keystoneauth has a plugin by that name (read from its entry points, not loaded)."""
    return name in {entry.name for entry in entry_points(group="keystoneauth1.plugin")}


def plugin_variables(auth_type: str) -> set[str]:
    """The variables a keystoneauth plugin adds to [keystone_authtoken]."""
    return {
        variable_name(AUTHTOKEN_GROUP, opt.dest)
        for opt in loading.get_auth_plugin_conf_options(auth_type)
    }
