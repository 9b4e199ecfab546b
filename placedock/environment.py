"""Turn the process environment into a checked configuration, or one clear error.

Everything placedock is told comes from the environment: ``OS_<GROUP>__<OPTION>`` for
oslo.config, each also as ``*_FILE`` (the value read from a file, for secrets), and a few
variables of placedock's own. This module resolves the files, checks every name and value, fills
in defaults and returns the variables to change before placement (or any command) starts.
The OpenStack client's own ``OS_*`` variables (an openrc sourced in the same shell) are left
alone, with a warning naming them.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from oslo_config import cfg
from sqlalchemy.engine import URL

from placedock import PlacedockError, addresses, defaults, health, options, policy, tls

AUTH_STRATEGY = "OS_API__AUTH_STRATEGY"
CONNECTION = "OS_PLACEMENT_DATABASE__CONNECTION"
# oslo.db's reader connection: the same rules as the connection itself.
SLAVE_CONNECTION = "OS_PLACEMENT_DATABASE__SLAVE_CONNECTION"
CONFIG_DIR = "OS_PLACEMENT_CONFIG_DIR"  # read by placement itself, not by oslo.config
AUTH_TYPE = "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE"
FILE_SUFFIX = "_FILE"
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}  # not "": empty is refused (policy.empty_is_a_slip)

# Defaults for placedock's own variables; docs/configuration.md's table explains each.
# Those the image, the probes and the docs share are in placedock.defaults.
OWN_DEFAULTS = {
    "DB_SYNC": "false",
    "DB_WAIT_TIMEOUT": "60",
    "PLACEDOCK_ADDRESS": defaults.ADDRESS,
    "PLACEDOCK_PORT": defaults.PORT,
    "PLACEDOCK_PROCESSES": defaults.PROCESSES,
    "PLACEDOCK_THREADS": defaults.THREADS,
    "PLACEDOCK_DATA_DIR": defaults.DATA_DIR,
    "PLACEDOCK_STATS_SOCKET": "",  # unset: a socket in the temp dir named after the port
    "PLACEDOCK_REQUIRE_SHARED_DATABASE": "false",
    "PLACEDOCK_METRICS_PORT": defaults.METRICS_PORT,  # 0: no metrics
    "PLACEDOCK_MAX_BODY_SIZE": defaults.MAX_BODY_SIZE,
    "PLACEDOCK_REQUEST_TIMEOUT": defaults.REQUEST_TIMEOUT,
    # Unset: HTTPS off (placedock.tls).
    tls.CERT: "",
    tls.KEY: "",
    tls.CLIENT_CA: "",
    "PLACEDOCK_LOG_FORMAT": "text",
    "PLACEDOCK_REVISION": "unknown",  # the image build sets it; only reported, in the info metric
}
OWN_PREFIXES = ("PLACEDOCK_", "DB_")
# The inputs of one-shot commands (startup.sh db-init, ks-register, db-backup, db-restore,
# db-copy, db-migrate-data), which read them themselves: an administrator's database URL,
# placement's endpoints, a backup's file, a copy's target, a batch size. The server and every
# other command refuse them, so an administrator's credentials never reach a running placement.
COMMAND_VARIABLES = {
    "PLACEDOCK_DB_ADMIN_CONNECTION": "db-init",
    "PLACEDOCK_DB_ADMIN_CONNECTION_FILE": "db-init",
    "PLACEDOCK_ENDPOINT_URL": "ks-register",
    "PLACEDOCK_INTERNAL_ENDPOINT_URL": "ks-register",
    "PLACEDOCK_ADMIN_ENDPOINT_URL": "ks-register",
    "PLACEDOCK_BACKUP_FILE": "db-backup and db-restore",
    "PLACEDOCK_COPY_TARGET_CONNECTION": "db-copy",
    "PLACEDOCK_COPY_TARGET_CONNECTION_FILE": "db-copy",
    "PLACEDOCK_MIGRATION_BATCH_SIZE": "db-migrate-data",
}
LOG_FORMATS = ("text", "json")
USE_JSON = "OS_DEFAULT__USE_JSON"
# uwsgi's ini reads these, so they must exist even when left to their defaults.
UWSGI_VARIABLES = ("PLACEDOCK_ADDRESS", "PLACEDOCK_PORT", "PLACEDOCK_PROCESSES",
                   "PLACEDOCK_THREADS")
DATABASE_URLS = (CONNECTION, SLAVE_CONNECTION)
EMPTY_REMEDY = "unset it for the default, or give a value"
EMPTY_REMEDIES = {AUTH_STRATEGY: "set it to keystone or noauth2"}  # no default to fall back on


class ConfigurationError(PlacedockError):
    """A bad variable: the message names it and never contains a secret value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass
class Settings:
    """What placedock itself acts on, parsed."""

    auth_strategy: str
    database_url: URL
    db_sync: bool
    db_wait_timeout: float
    address: str
    port: int
    processes: int
    threads: int
    stats_socket: str
    metrics_port: int  # 0: no metrics
    log_format: str
    max_body_size: int  # bytes
    request_timeout: int  # seconds
    tls: tls.Files | None = None  # None: plain HTTP


@dataclass
class Environment:
    settings: Settings
    # Variables to set (a string, meant literally) or to remove (None) before starting anything.
    changes: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings worth a log line
    # Every variable oslo.config will read as an option, with its literal value: see exports().
    option_values: dict[str, str] = field(default_factory=dict)


def read(environ: Mapping[str, str]) -> Environment:
    """Check ``environ``; raise ConfigurationError on the first problem found.

    The checked values are worked out in full (files read, defaults filled in, database URLs
    normalised); the changes are then what differs from ``environ``, in one place.
    """
    notes: list[str] = []
    given = _without_client_variables(environ, notes)
    values = _resolve_files(given)
    catalogue = options.catalogue(_auth_type(values))
    for name in sorted(values):
        if name.startswith("OS_"):
            _check_os_variable(name, values[name], catalogue)
        elif name.startswith(OWN_PREFIXES):
            _check_own_variable(name, values[name])
    auth_strategy = _auth_strategy(values)
    if auth_strategy == "keystone":
        notes += _check_keystone(values)
    values.setdefault(CONNECTION, _default_database(values))  # an empty one was refused
    values.update(placement_option_defaults(values))
    urls = {name: _database_url(name, values[name], notes)
            for name in DATABASE_URLS if name in values}
    values.update({name: url.text for name, url in urls.items() if url.changed})
    settings = _settings(values, auth_strategy, urls[CONNECTION].url)
    for name in UWSGI_VARIABLES:
        values.setdefault(name, OWN_DEFAULTS[name])
    values["PLACEDOCK_STATS_SOCKET"] = settings.stats_socket
    # The server's processes read these two from the environment (placedock.metrics, .logs).
    values["PLACEDOCK_METRICS_PORT"] = str(settings.metrics_port)
    values["PLACEDOCK_LOG_FORMAT"] = settings.log_format
    if settings.log_format == "json":
        values[USE_JSON] = "true"  # oslo.log's own JSON formatter for placement's lines
    option_values = {name: value for name, value in values.items() if name in catalogue}
    return Environment(settings, _changes(given, values), notes, option_values)


def placement_option_defaults(values: Mapping[str, str]) -> dict[str, str]:
    """placedock's defaults for placement's options (defaults.PLACEMENT_OPTIONS) that neither the
    environment nor the placement.conf in OS_PLACEMENT_CONFIG_DIR sets: the environment beats
    that file, so a default set here would silently override the file's value."""
    in_file = _options_in_config_file(values.get(CONFIG_DIR))
    return {name: value for name, value in defaults.PLACEMENT_OPTIONS.items()
            if name not in values and name not in in_file}


def _options_in_config_file(config_dir: str | None) -> set[str]:
    """The options a placement.conf sets, as OS_<GROUP>__<OPTION> names."""
    if not config_dir:
        return set()
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(Path(config_dir) / "placement.conf", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return set()  # placement itself reports a file it cannot read
    names = {f"OS_DEFAULT__{option.upper()}" for option in parser.defaults()}
    for section in parser.sections():
        names |= {f"OS_{section.upper()}__{option.upper().replace('-', '_')}"
                  for option in parser.options(section)}
    return names


def _changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {
        name: value for name, value in after.items() if before.get(name) != value
    }
    changes.update({name: None for name in before if name not in after})
    return changes


def exports(checked: Environment) -> dict[str, str | None]:
    """The changes as the environment must hold them, after one final pass over every option:
    oslo.config expands ``$name`` in values, and a variable's value is meant literally, so each
    ``$`` is doubled (a value from a file or a normalised URL as much as one given)."""
    final = dict(checked.changes)
    for name, value in checked.option_values.items():
        if "$" in value:
            final[name] = value.replace("$", "$$")
    return final


def apply(checked: Environment, environ: MutableMapping[str, str]) -> None:
    """Set and unset what ``checked`` says in ``environ``: the server's own os.environ, which
    placement and uwsgi then read."""
    for name, value in sorted(exports(checked).items()):
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def _without_client_variables(environ: Mapping[str, str], notes: list[str]) -> dict[str, str]:
    """An openrc's OS_AUTH_URL, OS_PASSWORD... are the client's: left alone, named (never their
    values) in one warning."""
    client = sorted(name for name in environ if _is_client_variable(name))
    if client:
        notes.append("ignored, as variables of the OpenStack client, not of placement (which "
                     f"reads OS_<GROUP>__<OPTION>): {', '.join(client)}")
    return {name: value for name, value in environ.items() if name not in client}


def _settings(values: Mapping[str, str], auth_strategy: str, url: URL) -> Settings:
    own = {name: values.get(name, default) for name, default in OWN_DEFAULTS.items()}
    shared = _boolean("PLACEDOCK_REQUIRE_SHARED_DATABASE", own["PLACEDOCK_REQUIRE_SHARED_DATABASE"])
    if shared and url.get_backend_name() == "sqlite":
        # Replicas (an autoscaler) on sqlite would each serve their own diverging copy.
        raise ConfigurationError(
            CONNECTION, "sqlite is not shared between replicas; PLACEDOCK_REQUIRE_SHARED_DATABASE "
            "asks for PostgreSQL or MySQL"
        )
    if not addresses.is_ip_address(own["PLACEDOCK_ADDRESS"]):
        raise ConfigurationError(
            "PLACEDOCK_ADDRESS", f"{own['PLACEDOCK_ADDRESS']!r} is not an IP address "
            "(IPv4 or IPv6: 0.0.0.0 or :: for every address of the host)"
        )
    port = _integer("PLACEDOCK_PORT", own["PLACEDOCK_PORT"], 1, 65535)
    metrics_port = _integer("PLACEDOCK_METRICS_PORT", own["PLACEDOCK_METRICS_PORT"], 0, 65535)
    if metrics_port == port:
        # The API's balancer and clients must never see the metrics.
        raise ConfigurationError(
            "PLACEDOCK_METRICS_PORT", f"{metrics_port} is the API's port (PLACEDOCK_PORT); "
            "give the metrics a port of their own, or 0 for none"
        )
    log_format = own["PLACEDOCK_LOG_FORMAT"]
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            "PLACEDOCK_LOG_FORMAT", f"{log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if log_format == "json" and not _boolean(USE_JSON, values.get(USE_JSON, "true")):
        raise ConfigurationError(USE_JSON, "is false, but PLACEDOCK_LOG_FORMAT is json; unset it")
    return Settings(
        auth_strategy=auth_strategy,
        database_url=url,
        db_sync=_boolean("DB_SYNC", own["DB_SYNC"]),
        db_wait_timeout=_seconds("DB_WAIT_TIMEOUT", own["DB_WAIT_TIMEOUT"]),
        address=own["PLACEDOCK_ADDRESS"],
        port=port,
        processes=_integer("PLACEDOCK_PROCESSES", own["PLACEDOCK_PROCESSES"], 1, 64),
        threads=_integer("PLACEDOCK_THREADS", own["PLACEDOCK_THREADS"], 1, 64),
        stats_socket=health.stats_socket_path(values),
        metrics_port=metrics_port,
        log_format=log_format,
        max_body_size=_size("PLACEDOCK_MAX_BODY_SIZE", own["PLACEDOCK_MAX_BODY_SIZE"]),
        request_timeout=_request_timeout(own["PLACEDOCK_REQUEST_TIMEOUT"]),
        tls=tls.files(own),
    )


def file_value(environ: Mapping[str, str], name: str) -> str | None:
    """``name``'s value: its own, or the content of the file ``name_FILE`` names; None when
    neither is set. The one rule for every ``*_FILE`` variable, the server's and the commands'."""
    file_name = name + FILE_SUFFIX
    if file_name not in environ:
        return environ.get(name)
    if name in environ:
        raise ConfigurationError(name, f"both {name} and {file_name} are set; set only one")
    path = environ[file_name]
    if not path:
        _refuse_empty(file_name)
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigurationError(file_name, f"cannot read {path!r}: {reason}") from None
    # As the shell's $(< file) does: a trailing newline is the file's, not the secret's.
    return content.rstrip("\r\n")


def required_value(environ: Mapping[str, str], name: str, command: str) -> str:
    """``file_value`` for a variable ``command`` cannot do without: unset or empty is refused."""
    value = file_value(environ, name)
    if not value:
        raise ConfigurationError(name, f"not set (nor {name}{FILE_SUFFIX}); {command} needs it")
    return value


def server_database_url(environ: Mapping[str, str]) -> URL:
    """The database the server would serve from: CONNECTION (or its file), else the embedded
    sqlite under PLACEDOCK_DATA_DIR. For the commands that work on the server's own database."""
    given = file_value(environ, CONNECTION)
    if given == "":
        _refuse_empty(CONNECTION)
    return _database_url(CONNECTION, given or _default_database(environ), []).url


def wait_timeout(environ: Mapping[str, str]) -> float:
    """DB_WAIT_TIMEOUT for a command that waits for its database as the server does."""
    return _seconds("DB_WAIT_TIMEOUT",
                    environ.get("DB_WAIT_TIMEOUT", OWN_DEFAULTS["DB_WAIT_TIMEOUT"]))


def command_database_url(environ: Mapping[str, str], name: str, command: str) -> URL:
    """The database URL a one-shot command reads from ``name`` (or its file), checked by the
    server's own rules (placedock.policy): the one reading every command shares."""
    try:
        return policy.database_url(required_value(environ, name, command)).url
    except policy.Problem as problem:
        raise ConfigurationError(name, str(problem)) from None


def _resolve_files(environ: Mapping[str, str]) -> dict[str, str]:
    """Replace each ``OS_X_FILE`` by ``OS_X`` holding the file's content."""
    plain = options.catalogue()
    values = dict(environ)
    for name in sorted(environ):
        if not (name.startswith("OS_") and name.endswith(FILE_SUFFIX)) or name in plain:
            continue  # some real options end in _FILE (policy_file, log_file): those are values
        target = name[: -len(FILE_SUFFIX)]
        values[target] = file_value(environ, target) or ""
        # Plugin options (password) are not in the plain catalogue: for them empty is a slip.
        if not values[target] and policy.empty_is_a_slip(
                plain[target].opt if target in plain else None):
            raise ConfigurationError(name, f"{environ[name]!r} is empty")
        del values[name]
    return values


def _auth_type(values: Mapping[str, str]) -> str | None:
    if values.get(AUTH_TYPE) == "":
        _refuse_empty(AUTH_TYPE)  # now, before the plugin's options are checked against it
    auth_type = values.get(AUTH_TYPE)
    if auth_type:
        try:
            policy.check_auth_type(auth_type)
        except policy.Problem as problem:
            raise ConfigurationError(AUTH_TYPE, f"{problem} (password is the usual one)") from None
    return auth_type


def _is_client_variable(name: str) -> bool:
    """One of the OpenStack client's variables, or its ``*_FILE`` form (never read, then)."""
    if not name.startswith("OS_") or name == CONFIG_DIR:
        return False
    return options.is_client_variable(name) or (
        name.endswith(FILE_SUFFIX) and options.is_client_variable(name[: -len(FILE_SUFFIX)])
    )


def _refuse_empty(name: str) -> NoReturn:
    raise ConfigurationError(name, f"set but empty; {EMPTY_REMEDIES.get(name, EMPTY_REMEDY)}")


def _check_own_variable(name: str, value: str) -> None:
    if name in COMMAND_VARIABLES:
        raise ConfigurationError(
            name, f"only startup.sh {COMMAND_VARIABLES[name]} reads it; unset it for the server "
            "and every other command")
    if name not in OWN_DEFAULTS:
        _unknown(name, OWN_DEFAULTS)
    if not value:
        _refuse_empty(name)


def _check_os_variable(name: str, value: str, catalogue: options.Catalogue) -> None:
    if name == CONFIG_DIR:
        if not value:
            _refuse_empty(name)
        if not (Path(value) / "placement.conf").is_file():
            raise ConfigurationError(name, f"{value!r} holds no placement.conf")
        return
    if name in catalogue.deprecated:
        raise ConfigurationError(
            name,
            "a deprecated name, which oslo.config does not read from the environment; "
            f"use {catalogue.deprecated[name]}",
        )
    if name not in catalogue:
        if not policy.needs_auth_type(name):
            _unknown(name, catalogue.options)
        raise ConfigurationError(
            name, f"an option of keystone's auth plugins: it needs {AUTH_TYPE} (e.g. password)"
        )
    _check_value(name, value, catalogue[name].opt)


def _unknown(name: str, known: Mapping[str, object]) -> None:
    closest = options.closest_name(name, known)
    hint = f"; did you mean {closest}?" if closest else ""
    raise ConfigurationError(name, f"not an option placedock or placement knows{hint}")


def _check_value(name: str, value: str, opt: cfg.Opt) -> None:
    try:
        policy.check_value(value, opt)
    except policy.EmptyValue:
        _refuse_empty(name)
    except policy.MultiValued as problem:
        raise ConfigurationError(
            name, f"{problem}; set it in a placement.conf in {CONFIG_DIR} instead"
        ) from None
    except policy.Problem as problem:
        raise ConfigurationError(name, str(problem)) from None


def _auth_strategy(values: Mapping[str, str]) -> str:
    strategy = values.get(AUTH_STRATEGY)
    if strategy is None:
        raise ConfigurationError(AUTH_STRATEGY, "not set; set it to keystone or noauth2")
    return strategy  # the value itself was checked against the option's choices


def _check_keystone(values: Mapping[str, str]) -> list[str]:
    """Without these, keystonemiddleware crashes on every request: clients get empty replies."""
    prefix = "OS_KEYSTONE_AUTHTOKEN__"

    def present(*names: str) -> bool:
        return any(values.get(prefix + name) for name in names)

    required: list[tuple[str, ...]] = [("WWW_AUTHENTICATE_URI",), ("AUTH_TYPE",)]
    if values.get(AUTH_TYPE) in {"password", "v3password"}:
        required += [
            ("AUTH_URL",),
            ("USERNAME", "USER_ID"),
            ("PASSWORD",),
            ("PROJECT_NAME", "PROJECT_ID"),
        ]
        if not present("USER_ID"):
            required.append(("USER_DOMAIN_NAME", "USER_DOMAIN_ID"))
        if present("PROJECT_NAME"):
            required.append(("PROJECT_DOMAIN_NAME", "PROJECT_DOMAIN_ID"))
    for names in required:
        if not present(*names):
            alternatives = " or ".join(prefix + name for name in names)
            raise ConfigurationError(
                prefix + names[0],
                f"not set; {AUTH_STRATEGY}=keystone needs {alternatives}",
            )
    notes = _check_keystone_tls_files(values)
    if not present("MEMCACHED_SERVERS"):
        notes.append(f"{prefix}MEMCACHED_SERVERS is not set: each request asks keystone (slow)")
    return notes


# keystonemiddleware's TLS files, read only when placement first asks keystone: a CA that cannot
# be read would make every request a 503. Refused at the start when keystone is HTTPS; a note
# when it is plain HTTP and they go unused (devstack writes a cafile whatever its keystone).
KEYSTONE_TLS_FILES = ("CAFILE", "CERTFILE", "KEYFILE")


def _check_keystone_tls_files(values: Mapping[str, str]) -> list[str]:
    prefix = "OS_KEYSTONE_AUTHTOKEN__"
    https = any(values.get(prefix + name, "").lower().startswith("https:")
                for name in ("AUTH_URL", "WWW_AUTHENTICATE_URI"))
    notes = []
    for name in KEYSTONE_TLS_FILES:
        path = values.get(prefix + name)
        problem = path and policy.tls_file_problem(path, certificates=name == "CAFILE")
        if problem and https:
            raise ConfigurationError(prefix + name, problem)
        if problem:
            notes.append(f"{prefix}{name}: {problem}; unused while keystone is plain HTTP")
    return notes


def _default_database(values: Mapping[str, str]) -> str:
    data_dir = values.get("PLACEDOCK_DATA_DIR", OWN_DEFAULTS["PLACEDOCK_DATA_DIR"])
    return f"sqlite:///{os.path.abspath(data_dir)}/placement.sqlite"


def _database_url(name: str, text: str, notes: list[str]) -> policy.DatabaseUrl:
    try:
        normalised = policy.database_url(text)
    except policy.Problem as problem:
        raise ConfigurationError(name, str(problem)) from None
    if normalised.weak_charset:
        notes.append(f"{name} asks for charset={normalised.weak_charset}: 4-byte characters "
                     "will fail")
    return normalised


def _boolean(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(name, f"{value!r} is not a boolean (true or false)")


def _integer(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(name, f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ConfigurationError(name, f"{number} is out of range {low} to {high}")
    return number


_SIZE = re.compile(r"(\d+)([kmg]?)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MIN_BODY_SIZE, MAX_BODY_SIZE = 1 << 10, 1 << 30
_DURATION = re.compile(r"(\d+)([sm]?)")


def _size(name: str, value: str) -> int:
    """Bytes, or with k, m or g (KiB, MiB, GiB), as nginx reads sizes."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise ConfigurationError(name, f"{value!r} is not a size (bytes, or a number with k, m "
                                       "or g: 2m)")
    size = int(match[1]) * _SIZE_UNITS[match[2].lower()]
    if not MIN_BODY_SIZE <= size <= MAX_BODY_SIZE:
        raise ConfigurationError(name, f"{value!r} is out of range 1k to 1g")
    return size


def _request_timeout(value: str) -> int:
    """Whole seconds, or minutes with m; longer than the readiness probe waits, which passes
    through the same front and would otherwise be cut by it."""
    name = "PLACEDOCK_REQUEST_TIMEOUT"
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise ConfigurationError(name, f"{value!r} is not a duration (seconds, or minutes "
                                       "with m: 60 or 1m)")
    seconds = int(match[1]) * (60 if match[2] == "m" else 1)
    if not health.TIMEOUT_S < seconds <= 3600:
        raise ConfigurationError(name, f"{value!r} is out of range: longer than the health "
                                       f"probe's {health.TIMEOUT_S:g} s, at most 1 hour")
    return seconds


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigurationError(name, f"{value!r} is not a number of seconds") from None
    if not 0 <= seconds <= 86400:
        raise ConfigurationError(name, f"{value!r} is out of range 0 to 86400 seconds")
    return seconds

