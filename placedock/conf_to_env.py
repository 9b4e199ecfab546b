"""Turn a placement.conf (as devstack writes it) into a docker ``--env-file`` for placedock.

    python3 -m placedock.conf_to_env [--database-host HOST] [--keystone-host HOST]
        [--keep-defaults] < placement.conf > dockerenv

Each ``[group] option = value`` becomes ``OS_<GROUP>__<OPTION>=value``, the variable oslo.config
reads. The file is parsed with oslo.config's own INI parser and every option is checked against
the options placement really registers (its own groups, keystonemiddleware's auth_token options
and the keystoneauth plugin named by ``[keystone_authtoken]auth_type``). What cannot travel
through the environment is refused: one line on stderr naming the group and option, exit 2,
nothing on stdout, and never a secret's value. Whether a value is right, and what a database URL
becomes, is placedock.policy's to say, as it is for the server: the env-file starts the server
unchanged.

Secret options are written (the container needs them), each under a comment saying so. Values
equal to the option's default are dropped unless ``--keep-defaults``. ``DB_SYNC`` is never
written: whether this container migrates the database is the user's decision.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from oslo_config import cfg, iniparser

from placedock import addresses, options, policy

EXIT_REFUSED = 2
SECRET_COMMENT = "# secret: keep this file private"
AUTHTOKEN = options.AUTHTOKEN_GROUP
DATABASE_GROUP = "placement_database"
DATABASE_URL_OPTIONS = {"connection", "slave_connection"}
KEYSTONE_URL_OPTIONS = {"www_authenticate_uri", "auth_url"}
MEMCACHED_OPTION = "memcached_servers"
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# placedock refuses to start without it, so it is written even when it equals the default.
ALWAYS_KEEP = {options.variable_name("api", "auth_strategy")}
# Options devstack still writes that placement's libraries no longer have: oslo.config ignores
# them in a file, so leaving them out changes nothing (placedock would refuse them as variables).
OBSOLETE = {
    ("oslo_policy", "enforce_scope"): "oslo.policy no longer has it (scope is always enforced)",
}


class Refused(Exception):
    """Why the file cannot become an env-file: one line, never holding a secret value."""


@dataclass
class Entry:
    """One ``option = value`` of the file; ``group`` normalised as oslo.config does."""

    group: str
    option: str
    value: str


@dataclass
class Line:
    """One variable of the env-file, with the comment lines to put above it."""

    variable: str
    value: str
    secret: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    lines: list[Line]
    notes: list[str]  # about the file as a whole (dropped options), put at the end


# -- reading the file -------------------------------------------------------------------------
class _Parser(iniparser.BaseParser):
    """oslo.config's own INI grammar: continuation lines, quotes, ``:`` or ``=``."""

    def __init__(self) -> None:
        self.section: str | None = None
        self.entries: list[Entry] = []

    def new_section(self, section: str) -> None:
        self.section = section if section == "DEFAULT" else section.lower()

    def assignment(self, key: str, value: list[str]) -> None:
        if self.section is None:
            raise self.parse_exc("an option before any [section]", self.lineno, "")
        self.entries.append(Entry(self.section, key, "\n".join(value)))


def parse(text: str) -> list[Entry]:
    parser = _Parser()
    try:
        # Universal newlines, as open() gives oslo.config: str.splitlines() would also split on
        # form feeds and other characters that oslo.config keeps inside a value.
        parser.parse(io.StringIO(text, newline=None))
    except iniparser.ParseError as error:
        # error.line may hold a secret (a password line without '='): name the line number only.
        raise Refused(f"line {error.lineno}: {error.msg}") from None
    return parser.entries


def _name(entry: Entry) -> str:
    return f"[{entry.group}]{entry.option}"


def _last_wins(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """oslo.config keeps the last value of an option set twice (multi-valued ones are refused)."""
    last = {(entry.group, entry.option): index for index, entry in enumerate(entries)}
    notes = []
    kept = []
    for index, entry in enumerate(entries):
        if last[(entry.group, entry.option)] == index:
            kept.append(entry)
        else:
            notes.append(f"{_name(entry)} is set more than once: the last value is kept")
    return kept, notes


# -- checking an option -----------------------------------------------------------------------
def _auth_type(entries: list[Entry]) -> str | None:
    values = [entry.value for entry in entries
              if entry.group == AUTHTOKEN and entry.option in {"auth_type", "auth_plugin"}]
    auth_type = values[-1] if values else None
    if auth_type:
        try:
            policy.check_auth_type(auth_type)
        except policy.Problem as problem:
            raise Refused(f"[{AUTHTOKEN}]auth_type: {problem}") from None
    return auth_type


def _resolve(entry: Entry, catalogue: options.Catalogue, notes: list[str]) -> options.Option:
    """The registered option the entry sets, under its current name; refuse unknown ones."""
    variable = options.variable_name(entry.group, entry.option)
    if variable in catalogue and (catalogue[variable].group, catalogue[variable].opt.dest) == (
        entry.group, entry.option
    ):
        return catalogue[variable]
    current = catalogue.deprecated.get(variable.replace("-", "_"))
    # oslo.config matches names exactly: [default] is not [DEFAULT], Debug is not debug.
    exact = entry.option == entry.option.lower() and entry.group != "default"
    if current is not None and exact:
        option = catalogue[current]
        notes.append(f"{_name(entry)} is a deprecated name, written as "
                     f"[{option.group}]{option.opt.dest}")
        return option
    if entry.group == AUTHTOKEN and policy.needs_auth_type(variable):
        raise Refused(f"{_name(entry)}: an option of keystone's auth plugins, but "
                      f"[{AUTHTOKEN}]auth_type is not set")
    closest = options.closest_name(variable, catalogue.options)
    hint = ""
    if closest:
        hint = f"; did you mean [{catalogue[closest].group}]{catalogue[closest].opt.dest}?"
    raise Refused(f"{_name(entry)}: not an option placement knows{hint}")


def _literal(entry: Entry, value: str) -> str:
    """The value without oslo.config's ``$`` syntax: placedock passes variables on literally."""
    if "$" not in value:
        return value
    if "$" in value.replace("$$", ""):
        raise Refused(f"{_name(entry)}: refers to another option with $; write its value out")
    return value.replace("$$", "$")


def _check_value(name: str, value: str, opt: cfg.Opt) -> None:
    try:
        policy.check_value(value, opt)
    except policy.EmptyValue:
        raise Refused(f"{name}: empty, which placedock refuses for this option; delete the line "
                      "for the default, or give a value") from None
    except policy.MultiValued as problem:
        raise Refused(f"{name}: {problem}; keep it in a placement.conf instead") from None
    except policy.Problem as problem:
        raise Refused(f"{name}: {problem}") from None


def is_default(opt: cfg.Opt, value: str) -> bool:
    """Whether the value means the same as the option's default."""
    default = opt.default
    if default is None or (isinstance(default, str) and "$" in default):
        return False
    try:
        parsed_default = opt.type(default) if isinstance(default, str) else default
        return bool(opt.type(value) == parsed_default)
    except (ValueError, TypeError):
        return False


# -- rewriting URLs ---------------------------------------------------------------------------
def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """``user:pass@host:port`` -> ("user:pass@", "host", ":port"); IPv6 hosts in brackets."""
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
    else:
        host, colon, port = hostport.partition(":")
        port = port if colon else ""
    port = port.lstrip(":")
    return userinfo + at, host, f":{port}" if port else ""


def url_host(url: str) -> str:
    return _split_netloc(urlsplit(url).netloc)[1]


def replace_url_host(url: str, host: str) -> str:
    """The URL with another host; user, password, port, path and query kept as written."""
    parts = urlsplit(url)
    userinfo, _, port = _split_netloc(parts.netloc)
    return urlunsplit(parts._replace(netloc=f"{userinfo}{addresses.bracketed(host)}{port}"))


def _database_url(name: str, url: str, host: str | None, notes: list[str]) -> str:
    if host is not None:
        if not urlsplit(url).netloc:
            raise Refused(f"{name}: --database-host given, but this database URL has no host")
        url = replace_url_host(url, host)
    elif url_host(url) in LOOPBACK:
        notes.append(f"{name} names {url_host(url)}: in a container that is the container "
                     "itself (see --database-host)")
    try:
        # The server's own normalising: what it would change, the env-file says already.
        normalised = policy.database_url(url, upgrade_three_byte_charset=True)
    except policy.Problem as problem:
        raise Refused(f"{name}: {problem}") from None
    given_scheme, written_scheme = urlsplit(url).scheme, normalised.url.drivername
    if given_scheme != written_scheme:
        notes.append(f"{given_scheme}:// written as {written_scheme}://, as placedock serves it")
    if normalised.charset_added:
        notes.append("charset=utf8mb4 added: without it oslo.db uses 3-byte utf8")
    if normalised.charset_upgraded_from:
        notes.append(f"charset={normalised.charset_upgraded_from} changed to charset=utf8mb4: "
                     "3-byte utf8 cannot store 4-byte characters (placement answers 500)")
    if normalised.weak_charset:
        notes.append(f"charset={normalised.weak_charset} kept: 4-byte characters will fail")
    return normalised.text if normalised.changed else url


def _keystone_url(name: str, url: str, host: str | None, notes: list[str]) -> str:
    if host is not None:
        return replace_url_host(url, host)
    if url_host(url) in LOOPBACK:
        notes.append(f"{name} names {url_host(url)}: in a container that is the container "
                     "itself (see --keystone-host)")
    return url


def _memcached_server(server: str, host: str) -> str:
    """``localhost:11211`` -> ``HOST:11211``; other hosts are left alone."""
    prefix, _, address = server.strip().rpartition("inet6:")
    _, old, port = _split_netloc(address)
    if old not in LOOPBACK:
        return server.strip()
    family = "inet6:" if ":" in host else prefix
    return f"{family}{addresses.bracketed(host)}{port}"


def _memcached_servers(name: str, value: str, host: str | None, notes: list[str]) -> str:
    servers = [server for server in value.split(",") if server.strip()]
    if host is not None:
        return ",".join(_memcached_server(server, host) for server in servers)
    if any(_split_netloc(server.strip().rpartition("inet6:")[2])[1] in LOOPBACK
           for server in servers):
        notes.append(f"{name} names a loopback address: in a container that is the container "
                     "itself (see --keystone-host)")
    return value


# -- one option -------------------------------------------------------------------------------
@dataclass
class Settings:
    database_host: str | None = None
    keystone_host: str | None = None
    keep_defaults: bool = False


def _rewrite(option: options.Option, value: str, settings: Settings, notes: list[str]) -> str:
    name = f"[{option.group}]{option.opt.dest}"
    if option.group == DATABASE_GROUP and option.opt.dest in DATABASE_URL_OPTIONS and value:
        return _database_url(name, value, settings.database_host, notes)
    if option.group == AUTHTOKEN and option.opt.dest in KEYSTONE_URL_OPTIONS and value:
        return _keystone_url(name, value, settings.keystone_host, notes)
    if option.group == AUTHTOKEN and option.opt.dest == MEMCACHED_OPTION:
        return _memcached_servers(name, value, settings.keystone_host, notes)
    return value


def _path_note(option: options.Option, value: str) -> list[str]:
    if value.startswith("/") and options.is_path(option.opt):
        return [(f"[{option.group}]{option.opt.dest} is a path on the host the file came "
                 "from: mount that file into the container at the same path, or delete this line")]
    return []


def convert_entry(
    entry: Entry, catalogue: options.Catalogue, settings: Settings, dropped: list[str]
) -> Line | None:
    """The env-file line for one option, None if it is left out; Refused if it cannot be."""
    notes: list[str] = []
    option = _resolve(entry, catalogue, notes)
    name = f"[{option.group}]{option.opt.dest}"
    if "\n" in entry.value:
        raise Refused(f"{name}: a value on several lines, which an env-file cannot hold")
    if "\0" in entry.value:
        raise Refused(f"{name}: a NUL character, which no environment variable can hold")
    value = _literal(entry, entry.value)
    _check_value(name, value, option.opt)
    value = _rewrite(option, value, settings, notes)
    if (not settings.keep_defaults and option.variable not in ALWAYS_KEEP
            and is_default(option.opt, value)):
        dropped.append(name)
        return None
    return Line(option.variable, value, bool(option.opt.secret), notes + _path_note(option, value))


def convert(text: str, settings: Settings) -> Result:
    entries, notes = _last_wins(parse(text))
    catalogue = options.catalogue(_auth_type(entries))
    lines: list[Line] = []
    dropped: list[str] = []
    for entry in entries:
        reason = OBSOLETE.get((entry.group, entry.option))
        if reason and options.variable_name(entry.group, entry.option) not in catalogue:
            notes.append(f"{_name(entry)} left out: {reason}")
            continue
        line = convert_entry(entry, catalogue, settings, dropped)
        if line is not None:
            lines.append(line)
    _no_duplicates(lines)
    _hosts_used(entries, settings)
    if dropped:
        notes.append(f"left out as equal to their defaults (--keep-defaults keeps them): "
                     f"{', '.join(dropped)}")
    return Result(lines, notes)


def _hosts_used(entries: list[Entry], settings: Settings) -> None:
    """A --*-host that would change nothing is a mistake worth stopping for."""
    def has(group: str, names: set[str]) -> bool:
        return any(entry.group == group and entry.option in names and entry.value
                   for entry in entries)

    if settings.database_host is not None and not has(DATABASE_GROUP, DATABASE_URL_OPTIONS):
        raise Refused(f"[{DATABASE_GROUP}]connection: not in the file, so --database-host has "
                      "nothing to change")
    keystone = KEYSTONE_URL_OPTIONS | {MEMCACHED_OPTION}
    if settings.keystone_host is not None and not has(AUTHTOKEN, keystone):
        raise Refused(f"[{AUTHTOKEN}]auth_url: no keystone URL in the file, so --keystone-host "
                      "has nothing to change")


def _no_duplicates(lines: list[Line]) -> None:
    """An option set under both its current and a deprecated name."""
    seen: set[str] = set()
    for line in lines:
        if line.variable in seen:
            raise Refused(f"{line.variable}: set twice, under its name and a deprecated one; "
                          "keep one")
        seen.add(line.variable)


# -- output -----------------------------------------------------------------------------------
HEADER = [
    "# placedock environment, made from a placement.conf by placedock.conf_to_env.",
    "# Use with: docker run --env-file THIS_FILE ...  Lines under '# secret' are secrets.",
    "# DB_SYNC is not set: add DB_SYNC=true if this container should migrate the database.",
]


def render(result: Result) -> str:
    out = list(HEADER)
    for line in result.lines:
        out += [f"# note: {note}" for note in line.notes]
        if line.secret:
            out.append(SECRET_COMMENT)
        out.append(f"{line.variable}={line.value}")
    out += [f"# note: {note}" for note in result.notes]
    return "\n".join(out) + "\n"


def _host(text: str) -> str:
    """A host name or address for --*-host (IPv6 with or without brackets)."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(char in host for char in "/@?#[] \t\n"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or address")
    return host


def parse_arguments(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python3 -m placedock.conf_to_env",
        description="Read a placement.conf on stdin, write a docker --env-file on stdout.",
    )
    parser.add_argument("--database-host", type=_host, metavar="HOST",
                        help="put HOST in [placement_database]connection (default: unchanged)")
    parser.add_argument("--keystone-host", type=_host, metavar="HOST",
                        help="put HOST in [keystone_authtoken] www_authenticate_uri, auth_url "
                             "and loopback memcached_servers (default: unchanged)")
    parser.add_argument("--keep-defaults", action="store_true",
                        help="also write options whose value equals their default")
    arguments = parser.parse_args(argv)
    return Settings(arguments.database_host, arguments.keystone_host, arguments.keep_defaults)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_arguments(argv)
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
        output = render(convert(text, settings))
    except UnicodeDecodeError:
        print("conf_to_env: the input is not UTF-8 text", file=sys.stderr)
        return EXIT_REFUSED
    except Refused as refusal:
        print(f"conf_to_env: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
