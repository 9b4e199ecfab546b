"""The environment and conf_to_env agree: every rule of placedock.policy, through both paths.

A value conf_to_env writes must start the server unchanged, and a value the server refuses must
stop conf_to_env: else a converted placement.conf would be refused at start ("unsupported
database" for devstack's mariadb+pymysql:// once did). Only what differs between a file and the
environment by nature is left out: deprecated names (a file may use them, the environment is not
read for them), multi-line values and oslo.config's ``$`` references (no env-file can carry them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from placedock import conf_to_env, environment, options
from tests.support.server import NOAUTH

SECRET = "Agr33ment-s3cret"
PASSWORD_PLUGIN = {("keystone_authtoken", "auth_type"): "password"}


@dataclass(frozen=True)
class Case:
    group: str
    option: str
    value: str
    # Other options set beside it, as (group, option): value.
    beside: dict[tuple[str, str], str] = field(default_factory=dict)
    refused_because: str | None = None  # words both refusals hold; None: both accept it
    # conf_to_env replaces devstack's 3-byte charset; the server keeps one given, with a warning.
    conf_upgrades_charset: bool = False

    @property
    def variable(self) -> str:
        return options.variable_name(self.group, self.option)


def database(url: str, refused_because: str | None = None,
             conf_upgrades_charset: bool = False) -> Case:
    return Case("placement_database", "connection", url, refused_because=refused_because,
                conf_upgrades_charset=conf_upgrades_charset)


CASES = {
    # Types, choices, and a secret's value never shown.
    "boolean": Case("DEFAULT", "debug", "True"),
    "not a boolean": Case("DEFAULT", "debug", "maybe", refused_because="invalid value 'maybe'"),
    "not an integer": Case("placement_database", "max_pool_size", "lots",
                           refused_because="invalid value 'lots'"),
    "a choice": Case("api", "auth_strategy", "noauth2"),
    "not a choice": Case("api", "auth_strategy", "ldap",
                         refused_because="'ldap' is not one of keystone, noauth2"),
    "a secret": Case("keystone_authtoken", "password", SECRET, beside=PASSWORD_PLUGIN),
    # Empty values: refused where they can only be a slip.
    "empty integer": Case("placement_database", "max_pool_size", "", refused_because="empty"),
    "empty path": Case("oslo_policy", "policy_file", "", refused_because="empty"),
    "empty URL": database("", refused_because="empty"),
    "empty with a meaning": Case("placement_database", "mysql_sql_mode", ""),
    "empty list": Case("cors", "allowed_origin", ""),
    # Options the environment cannot carry, or not known.
    "multi-valued": Case("oslo_policy", "policy_dirs", "/etc/placement/policy.d",
                         refused_because="a multi-valued option"),
    "unknown option": Case("placement", "no_such_option", "1",
                           refused_because="not an option"),
    # keystone's auth plugin and its options.
    "a plugin": Case("keystone_authtoken", "auth_type", "password"),
    "not a plugin": Case("keystone_authtoken", "auth_type", "passwd",
                         refused_because="'passwd' is not a keystoneauth plugin"),
    "empty plugin": Case("keystone_authtoken", "auth_type", "", refused_because="empty"),
    "plugin option with its plugin": Case("keystone_authtoken", "username", "placement",
                                          beside=PASSWORD_PLUGIN),
    "plugin option without a plugin": Case("keystone_authtoken", "username", "placement",
                                           refused_because="an option of keystone's auth plugins"),
    "empty plugin option": Case("keystone_authtoken", "password", "", beside=PASSWORD_PLUGIN,
                                refused_because="empty"),
    # Database URLs: one normaliser.
    "mysql, complete": database(f"mysql+pymysql://p:{SECRET}@db/placement?charset=utf8mb4"),
    "mysql without driver": database(f"mysql://p:{SECRET}@db/placement"),
    "mysql without charset": database(f"mysql+pymysql://p:{SECRET}@db/placement?read_timeout=5"),
    "mysql with another charset": database(f"mysql+pymysql://p:{SECRET}@db/p?charset=latin1"),
    "mysql with devstack's charset": database(f"mysql+pymysql://p:{SECRET}@db/p?charset=utf8",
                                              conf_upgrades_charset=True),
    "mariadb": database(f"mariadb://p:{SECRET}@db/placement"),
    "mariadb+pymysql": database(f"mariadb+pymysql://p:{SECRET}@db/placement?charset=utf8mb4"),
    "postgresql without driver": database(f"postgresql://p:{SECRET}@[::1]:5432/placement"),
    "postgresql, complete": database(f"postgresql+psycopg2://p:{SECRET}@db/placement"),
    "sqlite file": database("sqlite:////var/lib/placement/placement.sqlite"),
    "reader connection": Case("placement_database", "slave_connection",
                              f"mariadb://p:{SECRET}@replica/placement"),
    "sqlite in memory": database("sqlite://", refused_because="in-memory sqlite"),
    "unsupported database": database(f"oracle://p:{SECRET}@db/placement",
                                     refused_because="unsupported database 'oracle'"),
    "driver not installed": database(f"mysql+mysqldb://p:{SECRET}@db/placement",
                                     refused_because="driver 'mysqldb' is not installed"),
    "mariadb driver not installed": database(f"mariadb+mariadbconnector://p:{SECRET}@db/p",
                                             refused_because="is not installed"),
    "no host": database(f"postgresql://p:{SECRET}@/placement", refused_because="no host"),
    "port not a number": database(f"postgresql://p:{SECRET}@db:port/placement",
                                  refused_because="malformed database URL"),
    "not a URL": database(f"placement {SECRET}", refused_because="not a database URL"),
    "reader unsupported": Case("placement_database", "slave_connection", "oracle://p:pw@db/p",
                               refused_because="unsupported database 'oracle'"),
}


@dataclass
class Outcome:
    refusal: str | None = None  # the problem, without the name it came under
    value: str | None = None  # what placement reads: the variable's value once checked
    notes: list[str] = field(default_factory=list)


def through_conf_to_env(case: Case) -> Outcome:
    sections: dict[str, list[str]] = {}
    for (group, option), value in [*case.beside.items(), ((case.group, case.option), case.value)]:
        sections.setdefault(group, []).append(f"{option} = {value}")
    text = "".join(f"[{group}]\n" + "\n".join(lines) + "\n" for group, lines in sections.items())
    try:
        result = conf_to_env.convert(text, conf_to_env.Settings(keep_defaults=True))
    except conf_to_env.Refused as refusal:
        return Outcome(refusal=str(refusal).partition(": ")[2])
    written = {line.variable: line for line in result.lines}
    line = written[case.variable]
    return Outcome(value=line.value, notes=line.notes)


def through_the_environment(variable: str, value: str, case: Case) -> Outcome:
    beside = {options.variable_name(group, option): text
              for (group, option), text in case.beside.items()}
    try:
        checked = environment.read({**NOAUTH, **beside, variable: value})
    except environment.ConfigurationError as error:
        return Outcome(refusal=str(error).partition(": ")[2])
    changed = checked.changes.get(variable, value)
    return Outcome(value=changed, notes=checked.notes)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_both_paths_agree(case: Case) -> None:
    converted = through_conf_to_env(case)
    served = through_the_environment(case.variable, case.value, case)
    if case.refused_because is not None:
        assert converted.refusal is not None, "conf_to_env accepts what the server refuses"
        assert served.refusal is not None, "the server refuses nothing here"
        for refusal in (converted.refusal, served.refusal):
            assert case.refused_because in refusal
            assert SECRET not in refusal
        return
    assert converted.refusal is None, converted.refusal
    assert served.refusal is None, served.refusal
    assert converted.value is not None and served.value is not None
    # What conf_to_env wrote starts the server unchanged...
    from_env_file = through_the_environment(case.variable, converted.value, case)
    assert from_env_file.refusal is None, from_env_file.refusal
    assert from_env_file.value == converted.value
    # ...and is what the server makes of the original value itself.
    if case.conf_upgrades_charset:
        assert served.value == case.value
        assert converted.value == case.value.replace("charset=utf8", "charset=utf8mb4")
        assert any("4-byte characters will fail" in note for note in served.notes)
    else:
        assert converted.value == served.value


def test_every_rule_has_a_case() -> None:
    """Each kind of refusal placedock.policy makes is among the cases."""
    reasons = {case.refused_because for case in CASES.values()}
    for words in ("invalid value", "is not one of", "empty", "a multi-valued option",
                  "not a keystoneauth plugin", "an option of keystone's auth plugins",
                  "unsupported database", "is not installed", "in-memory sqlite", "no host",
                  "malformed database URL", "not a database URL"):
        assert any(reason and words in reason for reason in reasons), words
