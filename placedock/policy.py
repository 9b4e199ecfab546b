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

from dataclasses import dataclass

from oslo_config import cfg, types
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from placedock import options, tls

BACKENDS = {"sqlite", "postgresql", "mysql"}
# MariaDB's own scheme (mariadb://, mariadb+pymysql://) names SQLAlchemy's mariadb dialect, which
# placement and oslo.db do not know: they set a session up for MySQL (oslo.db's sql_mode,
# placement's NO_AUTO_VALUE_ON_ZERO that keeps resource class 0, VCPU) only on a dialect named
# mysql. That dialect serves MariaDB as well (devstack's mysql+pymysql:// on MariaDB).
MYSQL_FAMILY = {"mysql", "mariadb"}
# The ones placement-requirements.txt installs.
DRIVERS = {"postgresql": "psycopg2", "mysql": "pymysql"}
FOUR_BYTE_CHARSET = "utf8mb4"
THREE_BYTE_CHARSETS = {"utf8", "utf8mb3"}


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


@dataclass(frozen=True)
class DatabaseUrl:
    """A database URL as placedock serves from it, and what normalising it did."""

    url: URL
    changed: bool  # the text given is not this URL: pass ``text`` on instead
    charset_added: bool = False
    charset_upgraded_from: str | None = None  # a 3-byte charset replaced (when asked to)
    weak_charset: str | None = None  # a charset other than utf8mb4, kept as given

    @property
    def text(self) -> str:
        return self.url.render_as_string(hide_password=False)


# The URL's parameters naming TLS files: libpq's (PostgreSQL) and PyMySQL's as SQLAlchemy hands
# them on (MySQL, MariaDB). The driver would read them only when it connects, and PyMySQL's
# missing CA is a traceback; so each is read once here, before anything starts.
TLS_FILES = {"postgresql": ("sslrootcert", "sslcert", "sslkey"),
             "mysql": ("ssl_ca", "ssl_cert", "ssl_key")}
TLS_CA_FILES = ("sslrootcert", "ssl_ca")
LIBPQ_SYSTEM_CA = "system"  # sslrootcert=system: the operating system's CAs (libpq 16)


def _check_tls_files(backend: str, url: URL) -> None:
    for parameter in TLS_FILES.get(backend, ()):
        value = url.query.get(parameter)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Problem(f"{parameter} given more than once in the database URL")
        if parameter in TLS_CA_FILES and value == LIBPQ_SYSTEM_CA:
            continue
        problem = tls_file_problem(value, certificates=parameter in TLS_CA_FILES)
        if problem:
            raise Problem(f"{parameter}: {problem}")


def tls_file_problem(path: str, certificates: bool) -> str | None:
    """Why a TLS file cannot serve (a CA file, ``certificates``, must parse), or None."""
    if certificates:
        return tls.certificate_problem(path)
    try:
        with open(path, "rb"):
            return None
    except OSError as error:
        return f"cannot read {path!r} ({error.strerror})"


def database_url(text: str, *, upgrade_three_byte_charset: bool = False) -> DatabaseUrl:
    """The URL placedock serves from, or a Problem (never quoting the URL: it holds a password).

    The driver installed in the image is named where the URL names none (SQLAlchemy's defaults,
    psycopg 3 and mysqlclient, are not there), a MariaDB URL becomes a MySQL one (MYSQL_FAMILY),
    and a MySQL URL without a charset asks for utf8mb4: without it oslo.db picks 3-byte utf8,
    and a 4-byte character in a name gives a 500. A charset given is kept, with a warning, unless
    ``upgrade_three_byte_charset`` (conf_to_env: devstack writes utf8 by habit) replaces a 3-byte
    one.
    """
    try:
        given = make_url(text)
    except ArgumentError:
        raise Problem("not a database URL (driver://user:pass@host/db)") from None
    except ValueError:
        raise Problem("malformed database URL (is the port a number?)") from None
    backend = given.get_backend_name()
    url = given
    if backend in MYSQL_FAMILY:
        backend = "mysql"
        url = url.set(drivername=backend + given.drivername[len(given.get_backend_name()):])
    if backend not in BACKENDS:
        raise Problem(f"unsupported database {backend!r}; use sqlite, postgresql or mysql")
    if "+" not in url.drivername and backend in DRIVERS:
        url = url.set(drivername=f"{backend}+{DRIVERS[backend]}")
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise Problem(
            f"driver {url.get_driver_name()!r} is not installed; use postgresql+psycopg2:// "
            "or mysql+pymysql://"
        ) from None
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise Problem("an in-memory sqlite database would differ in every worker; name a file")
    if backend != "sqlite" and not url.host:
        raise Problem("no host in the database URL")
    _check_tls_files(backend, url)
    if backend != "mysql":
        return DatabaseUrl(url, changed=url != given)
    charset = url.query.get("charset")
    if not charset:
        url = url.update_query_dict({"charset": FOUR_BYTE_CHARSET})
        return DatabaseUrl(url, changed=True, charset_added=True)
    charset = str(charset)
    if upgrade_three_byte_charset and charset.lower() in THREE_BYTE_CHARSETS:
        url = url.update_query_dict({"charset": FOUR_BYTE_CHARSET})
        return DatabaseUrl(url, changed=True, charset_upgraded_from=charset)
    weak = charset if charset.lower() != FOUR_BYTE_CHARSET else None
    return DatabaseUrl(url, changed=url != given, weak_charset=weak)
