"""Whether a value is right for an option: one policy for both ways placement's settings arrive.

placedock reads ``OS_<GROUP>__<OPTION>`` variables at every start (placedock.environment), and
turns a placement.conf into an env-file of those variables (placedock.conf_to_env). Both must
refuse and accept the same values, or a converted file would not start. So the rules live here,
and each caller only says where a value came from (a variable, a file's option) and what the
user can do about it there.

A refusal is a Problem: one line saying why, never holding a secret's value. The caller puts the
variable's or the option's name in front.
"""

from __future__ import annotations

from oslo_config import cfg, types

from placedock import options


class Problem(Exception):
    """Why a value is refused: one line, never a secret's value, without the name it came under."""


class EmptyValue(Problem):
    """Set but empty where that can only be a slip; each caller says how to leave it unset."""


class MultiValued(Problem):
    """An option that cannot travel in the environment; each caller says where to put it."""


MULTI_VALUED = ("a multi-valued option, which oslo.config splits per character when read from "
                "the environment")


def empty_is_a_slip(opt: cfg.Opt | None) -> bool:
    """The empty-value rule, for every variable placedock reads (``opt`` None: one of its own).

    Set but empty is not unset: oslo.config hands the empty string on, which an integer option
    reads as None (not its default), and which names no file, folder or URL. So for most
    variables an empty value can only be a template or a script that rendered nothing, and it is
    refused. Only a plain string option that names no location can mean something by it
    (mysql_sql_mode= leaves MySQL its own mode; an empty log format suffix is none), and a list
    or a dict reads it as empty. placedock's own variables are numbers, booleans, an address and
    paths: empty is a slip for each.
    """
    if opt is None:
        return True
    if isinstance(opt.type, (types.List, types.Dict)):
        return False
    plain_string = isinstance(opt.type, types.String) and not opt.type.choices
    # keystoneauth's plugin options (auth_url, username, password) are typed str, not String.
    return not plain_string or options.is_location(opt) or opt.dest == "auth_type"


def value_problem(value: str, opt: cfg.Opt) -> str | None:
    """Why ``value`` is not one of the option's values, never quoting a secret; None if it is."""
    choices = [str(choice) for choice in (getattr(opt.type, "choices", None) or {})]
    try:
        opt.type(value)
    except ValueError as error:
        if opt.secret:
            return "invalid value (not shown: it is secret)"
        if choices:
            return f"{value!r} is not one of {', '.join(choices)}"
        return f"invalid value {value!r}: {error}"
    return None


def check_value(value: str, opt: cfg.Opt) -> None:
    """Raise a Problem unless ``value`` (literal, as placement will read it) suits ``opt``.

    A multi-valued option is refused whatever its value: it cannot be set from the environment.
    """
    if opt.multi:
        raise MultiValued(MULTI_VALUED)
    if not value and empty_is_a_slip(opt):
        raise EmptyValue("set but empty")
    problem = value_problem(value, opt)
    if problem:
        raise Problem(problem)


def check_auth_type(auth_type: str) -> None:
    """``[keystone_authtoken]auth_type`` must name a keystoneauth plugin: it brings the options
    (username, password...) that the rest of the settings are checked against."""
    if not options.is_auth_plugin(auth_type):
        raise Problem(f"{auth_type!r} is not a keystoneauth plugin")


def needs_auth_type(variable: str) -> bool:
    """Whether an unknown variable is an option of keystone's auth plugins, which exists only
    once auth_type names the plugin (the usual one, password, has them all)."""
    return variable in options.plugin_variables("password")
