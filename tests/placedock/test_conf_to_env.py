"""placedock.conf_to_env: a devstack placement.conf in, a docker --env-file out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from keystoneauth1 import loading
from keystonemiddleware import opts as keystonemiddleware_opts
from oslo_config import cfg
from placement import conf as placement_conf

from placedock import conf_to_env, environment

REPO = Path(__file__).resolve().parents[2]
DEVSTACK = Path(__file__).parent / "data" / "devstack-placement.conf"
ESC = "\x1b"
DB_SECRET = "devstack-db-secret"
SERVICE_SECRET = "devstack-service-secret"
TOP_SECRET = "T0P-s3cret-value"

AUTHTOKEN_HEAD = "[keystone_authtoken]\nauth_type = password\n"

Convert = Callable[..., str]  # (text, *args) -> env-file
Refuse = Callable[..., str]  # (text or bytes, *args) -> the stderr line


def run(
    text: str | bytes, *args: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, str, str]:
    data = text if isinstance(text, bytes) else text.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code = conf_to_env.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def convert(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Convert:
    """convert(text, *args) -> the env-file; fails the test if the tool refused."""

    def converted(text: str, *args: str) -> str:
        code, out, err = run(text, *args, capsys=capsys, monkeypatch=monkeypatch)
        assert code == 0, err
        assert err == ""
        return out

    return converted


@pytest.fixture
def refuse(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Refuse:
    """refuse(text, *args) -> the one stderr line; fails the test unless the tool refused."""

    def refused(text: str | bytes, *args: str) -> str:
        code, out, err = run(text, *args, capsys=capsys, monkeypatch=monkeypatch)
        assert code == conf_to_env.EXIT_REFUSED
        assert out == ""  # nothing half-written
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert "Traceback" not in err
        return err.strip()

    return refused


def variables(env_file: str) -> dict[str, str]:
    """What docker run --env-file makes of it: comments and blank lines skipped."""
    result = {}
    for line in env_file.split("\n"):  # docker splits on \n only
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            result[name] = value
    return result


def comments_above(env_file: str, variable: str) -> list[str]:
    lines = env_file.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(variable + "="))
    above = []
    while index > 0 and lines[index - 1].startswith("#"):
        index -= 1
        above.insert(0, lines[index])
    return above


def devstack() -> str:
    return DEVSTACK.read_text()


# -- the devstack file ------------------------------------------------------------------------
def test_devstack_file_becomes_env_file(convert: Convert) -> None:
    assert variables(convert(devstack())) == {
        "OS_PLACEMENT_DATABASE__CONNECTION":
            f"mysql+pymysql://root:{DB_SECRET}@127.0.0.1/placement?charset=utf8mb4",
        "OS_DEFAULT__DEBUG": "True",
        "OS_DEFAULT__LOGGING_DEBUG_FORMAT_SUFFIX":
            f"{ESC}[00;33m{{{{(pid=%(process)d) %(funcName)s %(pathname)s:%(lineno)d}}}}{ESC}[00m",
        "OS_DEFAULT__LOGGING_CONTEXT_FORMAT_STRING":
            f"%(color)s%(levelname)s %(name)s [{ESC}[01;36m%(global_request_id)s %(request_id)s "
            f"{ESC}[00;36m%(project_name)s %(user_name)s%(color)s] "
            f"{ESC}[01;35m%(instance)s%(color)s%(message)s{ESC}[00m",
        "OS_DEFAULT__LOGGING_DEFAULT_FORMAT_STRING":
            f"%(color)s%(levelname)s %(name)s [{ESC}[00;36m-%(color)s] "
            f"{ESC}[01;35m%(instance)s%(color)s%(message)s{ESC}[00m",
        "OS_DEFAULT__LOGGING_EXCEPTION_PREFIX": f"ERROR %(name)s {ESC}[01;35m%(instance)s{ESC}[00m",
        "OS_API__AUTH_STRATEGY": "keystone",
        "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
        "OS_KEYSTONE_AUTHTOKEN__INTERFACE": "public",
        "OS_KEYSTONE_AUTHTOKEN__AUTH_URL": "http://192.168.1.76/identity",
        "OS_KEYSTONE_AUTHTOKEN__USERNAME": "placement",
        "OS_KEYSTONE_AUTHTOKEN__PASSWORD": SERVICE_SECRET,
        "OS_KEYSTONE_AUTHTOKEN__USER_DOMAIN_NAME": "Default",
        "OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME": "service",
        "OS_KEYSTONE_AUTHTOKEN__PROJECT_DOMAIN_NAME": "Default",
        "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI": "http://192.168.1.76/identity",
        "OS_KEYSTONE_AUTHTOKEN__CAFILE": "/opt/stack/data/ca-bundle.pem",
        "OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS": "localhost:11211",
        "OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS": "False",
    }


def test_lines_keep_the_file_order(convert: Convert) -> None:
    names = list(variables(convert(devstack())))
    assert names[0] == "OS_PLACEMENT_DATABASE__CONNECTION"
    assert names[-1] == "OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS"


def test_oslo_config_reads_the_same_values_from_the_env_file(
    convert: Convert, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The point of the tool: the container's placement sees what devstack's placement saw."""
    for name in [name for name in os.environ if name.startswith("OS_")]:
        monkeypatch.delenv(name)
    from_file = _placement_config()
    from_file(args=[], default_config_files=[str(DEVSTACK)], default_config_dirs=[])
    for name, value in variables(convert(devstack(), "--keep-defaults")).items():
        monkeypatch.setenv(name, value)
    from_env = _placement_config()
    from_env(args=[], default_config_files=[], default_config_dirs=[])
    compared = 0
    for group, opt_name in _all_options(from_file):
        file_value = from_file[group][opt_name] if group else from_file[opt_name]
        env_value = from_env[group][opt_name] if group else from_env[opt_name]
        if (group, opt_name) == ("placement_database", "connection"):
            assert env_value == file_value.replace("charset=utf8", "charset=utf8mb4")
        else:
            assert env_value == file_value, (group, opt_name)
        compared += 1
    assert compared > 120  # every option placement registers, set or not


def _placement_config() -> cfg.ConfigOpts:
    config = cfg.ConfigOpts()
    placement_conf.register_opts(config)
    for group, opts in keystonemiddleware_opts.list_auth_token_opts():
        config.register_opts(opts, group)
    plugin = loading.get_auth_plugin_conf_options("password")
    config.register_opts(
        [opt for opt in plugin if opt.dest not in config["keystone_authtoken"]],
        "keystone_authtoken",
    )
    return config


def _all_options(config: cfg.ConfigOpts) -> list[tuple[str | None, str]]:
    builtin = {"config_file", "config_dir", "config_source", "shell_completion"}  # oslo's CLI
    found: list[tuple[str | None, str]] = [
        (None, name) for name in config if name not in config._groups and name not in builtin
    ]
    for group in config._groups:
        found += [(group, name) for name in config[group]]
    return found


def test_output_passes_placedocks_own_environment_check(convert: Convert) -> None:
    env_file = convert(devstack(), "--database-host", "db.example", "--keystone-host", "ks.example")
    checked = environment.read(variables(env_file))
    assert checked.settings.auth_strategy == "keystone"
    assert checked.settings.database_url.host == "db.example"
    assert checked.settings.database_url.query["charset"] == "utf8mb4"


# -- secrets ----------------------------------------------------------------------------------
def test_secrets_are_written_under_a_comment(convert: Convert) -> None:
    env_file = convert(devstack())
    for variable in ("OS_PLACEMENT_DATABASE__CONNECTION", "OS_KEYSTONE_AUTHTOKEN__PASSWORD"):
        assert comments_above(env_file, variable)[-1] == conf_to_env.SECRET_COMMENT
    for variable in ("OS_KEYSTONE_AUTHTOKEN__USERNAME", "OS_DEFAULT__DEBUG"):
        assert conf_to_env.SECRET_COMMENT not in comments_above(env_file, variable)
    assert env_file.count(conf_to_env.SECRET_COMMENT) == 2


def test_memcache_secret_key_is_a_secret(convert: Convert) -> None:
    env_file = convert(
        "[keystone_authtoken]\nmemcache_security_strategy = ENCRYPT\n"
        f"memcache_secret_key = {TOP_SECRET}\n"
    )
    assert variables(env_file)["OS_KEYSTONE_AUTHTOKEN__MEMCACHE_SECRET_KEY"] == TOP_SECRET
    assert comments_above(env_file, "OS_KEYSTONE_AUTHTOKEN__MEMCACHE_SECRET_KEY")[-1] == (
        conf_to_env.SECRET_COMMENT
    )


SECRET_BREAKAGES = {
    "password on two lines": f"{AUTHTOKEN_HEAD}password = {TOP_SECRET}\n  more\n",
    "password referring to $": f"{AUTHTOKEN_HEAD}password = {TOP_SECRET}$x\n",
    "password line without =": f"{AUTHTOKEN_HEAD}password {TOP_SECRET}\n",
    "password before a section": f"password = {TOP_SECRET}\n[api]\nauth_strategy = keystone\n",
    "password without auth_type": f"[keystone_authtoken]\npassword = {TOP_SECRET}\n",
    "connection on two lines": f"[placement_database]\nconnection = mysql://{TOP_SECRET}\n  x\n",
    "sqlite connection and --database-host":
        f"[placement_database]\nconnection = sqlite:////{TOP_SECRET}.db\n",
    "secret key refers to $":
        f"[keystone_authtoken]\nmemcache_secret_key = {TOP_SECRET}$other\n",
    "an unknown option after a secret": f"{AUTHTOKEN_HEAD}password = {TOP_SECRET}\npasword = x\n",
}


@pytest.mark.parametrize("text", SECRET_BREAKAGES.values(), ids=SECRET_BREAKAGES.keys())
def test_no_secret_value_is_ever_printed(refuse: Refuse, text: str) -> None:
    message = refuse(text, "--database-host", "db.example")
    assert TOP_SECRET not in message
    assert TOP_SECRET[:8] not in message


# -- rewriting hosts --------------------------------------------------------------------------
def test_hosts_unchanged_by_default(convert: Convert) -> None:
    values = variables(convert(devstack()))
    assert "@127.0.0.1/placement" in values["OS_PLACEMENT_DATABASE__CONNECTION"]
    assert values["OS_KEYSTONE_AUTHTOKEN__AUTH_URL"] == "http://192.168.1.76/identity"
    assert values["OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS"] == "localhost:11211"


def test_loopback_hosts_get_a_note(convert: Convert) -> None:
    env_file = convert(devstack())
    assert any("--database-host" in line
               for line in comments_above(env_file, "OS_PLACEMENT_DATABASE__CONNECTION"))
    assert any("--keystone-host" in line
               for line in comments_above(env_file, "OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS"))


def test_database_host_keeps_user_password_port_name_and_query(convert: Convert) -> None:
    text = ("[placement_database]\nconnection = "
            "mysql+pymysql://placement:p%40ss:w0rd@127.0.0.1:3307/placement"
            "?charset=utf8mb4&plugin=dbcounter\n")
    values = variables(convert(text, "--database-host", "10.1.2.3"))
    assert values["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "mysql+pymysql://placement:p%40ss:w0rd@10.1.2.3:3307/placement"
        "?charset=utf8mb4&plugin=dbcounter"
    )


@pytest.mark.parametrize("host", ["fd00::5", "[fd00::5]"])
def test_database_host_ipv6_is_bracketed(convert: Convert, host: str) -> None:
    text = "[placement_database]\nconnection = postgresql+psycopg2://p:pw@[::1]:5432/placement\n"
    values = variables(convert(text, "--database-host", host))
    assert values["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "postgresql+psycopg2://p:pw@[fd00::5]:5432/placement"
    )


def test_database_host_in_devstack_file(convert: Convert) -> None:
    values = variables(convert(devstack(), "--database-host", "192.168.1.76"))
    assert values["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        f"mysql+pymysql://root:{DB_SECRET}@192.168.1.76/placement?charset=utf8mb4"
    )


def test_keystone_host_rewrites_urls_and_loopback_memcached(convert: Convert) -> None:
    values = variables(convert(devstack(), "--keystone-host", "10.0.0.9"))
    assert values["OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI"] == "http://10.0.0.9/identity"
    assert values["OS_KEYSTONE_AUTHTOKEN__AUTH_URL"] == "http://10.0.0.9/identity"
    assert values["OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS"] == "10.0.0.9:11211"
    assert "@127.0.0.1/" in values["OS_PLACEMENT_DATABASE__CONNECTION"]  # not the database's


def test_keystone_host_keeps_port_path_and_other_memcached(convert: Convert) -> None:
    text = (f"{AUTHTOKEN_HEAD}auth_url = https://keystone.old:5000/v3\n"
            "www_authenticate_uri = https://keystone.old:5000/v3\n"
            "memcached_servers = 127.0.0.1:11211,cache.example:11211,inet6:[::1]:11212\n")
    values = variables(convert(text, "--keystone-host", "ks.example"))
    assert values["OS_KEYSTONE_AUTHTOKEN__AUTH_URL"] == "https://ks.example:5000/v3"
    assert values["OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI"] == "https://ks.example:5000/v3"
    assert values["OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS"] == (
        "ks.example:11211,cache.example:11211,ks.example:11212"
    )


@pytest.mark.parametrize("host", ["", "a/b", "user@host", "two words"])
def test_bad_host_arguments_are_refused(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(devstack(), "--keystone-host", host, capsys=capsys, monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    assert "--keystone-host" in capsys.readouterr().err


# -- MySQL charset ----------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "expected"), [
    ("?charset=utf8", "?charset=utf8mb4"),
    ("?charset=utf8mb3&plugin=dbcounter", "?charset=utf8mb4&plugin=dbcounter"),
    ("", "?charset=utf8mb4"),
    ("?read_timeout=5", "?charset=utf8mb4&read_timeout=5"),  # SQLAlchemy's order, as served
    ("?charset=utf8mb4", "?charset=utf8mb4"),
])
def test_mysql_charset_becomes_utf8mb4(convert: Convert, query: str, expected: str) -> None:
    text = f"[placement_database]\nconnection = mysql+pymysql://u:p@db.example/placement{query}\n"
    env_file = convert(text)
    assert variables(env_file)["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        f"mysql+pymysql://u:p@db.example/placement{expected}"
    )
    notes = [line for line in comments_above(env_file, "OS_PLACEMENT_DATABASE__CONNECTION")
             if "charset" in line]
    assert bool(notes) == (query != "?charset=utf8mb4")


def test_devstack_charset_change_is_said(convert: Convert) -> None:
    notes = comments_above(convert(devstack()), "OS_PLACEMENT_DATABASE__CONNECTION")
    assert "# note: charset=utf8 changed to charset=utf8mb4" in "\n".join(notes)


@pytest.mark.parametrize("scheme", ["mariadb", "mariadb+pymysql", "mysql"])
def test_mysql_family_url_is_written_as_placedock_serves_it(convert: Convert, scheme: str) -> None:
    text = f"[placement_database]\nconnection = {scheme}://u:p@db.example/placement\n"
    env_file = convert(text)
    assert variables(env_file)["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "mysql+pymysql://u:p@db.example/placement?charset=utf8mb4"
    )
    assert f"# note: {scheme}:// written as mysql+pymysql://" in env_file


def test_postgresql_url_gets_no_charset(convert: Convert) -> None:
    text = "[placement_database]\nconnection = postgresql+psycopg2://u:p@db.example/placement\n"
    assert variables(convert(text))["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "postgresql+psycopg2://u:p@db.example/placement"
    )


# -- defaults, DB_SYNC, obsolete and deprecated names -----------------------------------------
def test_defaults_are_dropped_and_said(convert: Convert) -> None:
    env_file = convert(devstack())
    assert "OS_DEFAULT__LOG_COLOR" not in variables(env_file)
    assert "# note: left out as equal to their defaults (--keep-defaults keeps them): " \
           "[DEFAULT]log_color" in env_file


def test_keep_defaults_keeps_them(convert: Convert) -> None:
    env_file = convert(devstack(), "--keep-defaults")
    assert variables(env_file)["OS_DEFAULT__LOG_COLOR"] == "False"
    assert "left out as equal to their defaults" not in env_file


def test_auth_strategy_is_kept_though_it_is_the_default(convert: Convert) -> None:
    # placedock refuses to start without OS_API__AUTH_STRATEGY.
    assert variables(convert("[api]\nauth_strategy = keystone\n")) == {
        "OS_API__AUTH_STRATEGY": "keystone"
    }


def test_db_sync_is_not_written(convert: Convert) -> None:
    env_file = convert(devstack(), "--keep-defaults")
    assert not [name for name in variables(env_file) if "DB_SYNC" in name]
    assert "# DB_SYNC is not set" in env_file


def test_enforce_scope_is_left_out_with_a_note(convert: Convert) -> None:
    env_file = convert("[oslo_policy]\nenforce_scope = False\nenforce_new_defaults = False\n")
    assert variables(env_file) == {"OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS": "False"}
    assert "# note: [oslo_policy]enforce_scope left out" in env_file


def test_deprecated_name_is_written_under_the_current_one(convert: Convert) -> None:
    env_file = convert("[keystone_authtoken]\nmemcache_servers = cache.example:11211\n")
    assert variables(env_file) == {
        "OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS": "cache.example:11211"
    }
    assert "deprecated name" in "\n".join(
        comments_above(env_file, "OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS")
    )


def test_option_set_twice_keeps_the_last_as_oslo_config_does(convert: Convert) -> None:
    env_file = convert("[DEFAULT]\ndebug = False\n[DEFAULT]\ndebug = True\n")
    assert variables(env_file) == {"OS_DEFAULT__DEBUG": "True"}
    assert "[DEFAULT]debug is set more than once" in env_file


def test_oslo_ini_syntax_quotes_colons_and_group_case(convert: Convert) -> None:
    env_file = convert(
        '# devstack comment\n[Keystone_Authtoken]\nauth_type: password\n'
        'project_name = "service"\n; another comment\nusername=placement\n'
    )
    assert variables(env_file) == {
        "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
        "OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME": "service",
        "OS_KEYSTONE_AUTHTOKEN__USERNAME": "placement",
    }


def test_escaped_dollar_becomes_a_plain_one(convert: Convert) -> None:
    # placedock passes variables to oslo.config literally (it escapes $ itself).
    env_file = convert("[DEFAULT]\nlogging_exception_prefix = $$ %(name)s\n")
    assert variables(env_file) == {"OS_DEFAULT__LOGGING_EXCEPTION_PREFIX": "$ %(name)s"}


def test_an_empty_value_with_a_meaning_is_written(convert: Convert) -> None:
    env_file = convert("[placement_database]\nmysql_sql_mode =\n")  # MySQL's own mode
    assert variables(env_file)["OS_PLACEMENT_DATABASE__MYSQL_SQL_MODE"] == ""
    environment.read({**variables(env_file), "OS_API__AUTH_STRATEGY": "noauth2"})


def test_path_options_get_a_note(convert: Convert) -> None:
    notes = comments_above(convert(devstack()), "OS_KEYSTONE_AUTHTOKEN__CAFILE")
    assert any("mount that file" in note for note in notes)


# -- refusals ---------------------------------------------------------------------------------
REFUSALS = {
    "multi-valued option": ("[oslo_policy]\npolicy_dirs = policy.d\n",
                            "[oslo_policy]policy_dirs: a multi-valued option"),
    "multi-valued option set twice": ("[oslo_policy]\npolicy_dirs = a\npolicy_dirs = b\n",
                                      "[oslo_policy]policy_dirs: a multi-valued option"),
    "unknown option": ("[placement]\nno_such_option = 1\n",
                       "[placement]no_such_option: not an option placement knows"),
    "unknown group": ("[nova]\nregion_name = RegionOne\n",
                      "[nova]region_name: not an option placement knows"),
    "misspelt option": (f"{AUTHTOKEN_HEAD}pasword = x\n",
                        ("[keystone_authtoken]pasword: not an option placement knows; "
                         "did you mean [keystone_authtoken]password?")),
    "case differs from the option": ("[DEFAULT]\nDebug = True\n",
                                     ("[DEFAULT]Debug: not an option placement knows; "
                                      "did you mean [DEFAULT]debug?")),
    "[default] is not [DEFAULT]": ("[default]\ndebug = True\n",
                                   ("[default]debug: not an option placement knows; "
                                    "did you mean [DEFAULT]debug?")),
    "deprecated name in other case": ("[keystone_authtoken]\nMemcache_Servers = a:1\n",
                                      "[keystone_authtoken]Memcache_Servers: not an option"),
    "NUL in a value": ("[DEFAULT]\nlogging_exception_prefix = a\0b\n",
                       "[DEFAULT]logging_exception_prefix: a NUL character"),
    "plugin option without auth_type": ("[keystone_authtoken]\nusername = placement\n",
                                        ("[keystone_authtoken]username: an option of "
                                         "keystone's auth plugins, but "
                                         "[keystone_authtoken]auth_type is not set")),
    "option of another plugin": (f"{AUTHTOKEN_HEAD}application_credential_id = x\n",
                                 "[keystone_authtoken]application_credential_id: not an option"),
    "not a plugin": ("[keystone_authtoken]\nauth_type = passwd\n",
                     "[keystone_authtoken]auth_type: 'passwd' is not a keystoneauth plugin"),
    "value on two lines": ("[DEFAULT]\nlogging_exception_prefix = ERROR\n  %(name)s\n",
                           "[DEFAULT]logging_exception_prefix: a value on several lines"),
    "value referring to another option": ("[DEFAULT]\nlog_dir = $state_path/logs\n",
                                          "[DEFAULT]log_dir: refers to another option with $"),
    "invalid value": ("[DEFAULT]\ndebug = maybe\n", "[DEFAULT]debug: invalid value 'maybe'"),
    "invalid choice": ("[api]\nauth_strategy = ldap\n",
                       "[api]auth_strategy: 'ldap' is not one of keystone, noauth2"),
    "empty database URL": ("[placement_database]\nconnection =\n",
                           "[placement_database]connection: empty, which placedock refuses"),
    "empty integer": ("[placement_database]\nmax_pool_size =\n",
                      "[placement_database]max_pool_size: empty, which placedock refuses"),
    "unsupported database": (f"[placement_database]\nconnection = oracle://u:{TOP_SECRET}@db/p\n",
                             ("[placement_database]connection: unsupported database 'oracle'; "
                              "use sqlite, postgresql or mysql")),
    "database driver not installed": (
        f"[placement_database]\nconnection = mysql+mysqldb://u:{TOP_SECRET}@db/p\n",
        "[placement_database]connection: driver 'mysqldb' is not",
    ),
    "in-memory sqlite": ("[placement_database]\nslave_connection = sqlite://\n",
                         "[placement_database]slave_connection: an in-memory sqlite database"),
    "option before any section": ("debug = True\n", "line 1: an option before any [section]"),
    "line without =": ("[DEFAULT]\ndebug\n", "line 2: No ':' or '=' found in assignment"),
    "current and deprecated name both": (
        "[keystone_authtoken]\nmemcache_servers = a:1\nmemcached_servers = b:1\n",
        "OS_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS: set twice",
    ),
}


@pytest.mark.parametrize(("text", "expected"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_name_group_and_option(refuse: Refuse, text: str, expected: str) -> None:
    message = refuse(text)
    assert message.startswith(f"conf_to_env: {expected}"), message


def test_database_host_on_sqlite_is_refused(refuse: Refuse) -> None:
    message = refuse("[placement_database]\nconnection = sqlite:////tmp/p.db\n",
                     "--database-host", "db.example")
    assert message == ("conf_to_env: [placement_database]connection: --database-host given, "
                       "but this database URL has no host")
    assert "/tmp/p.db" not in message


def test_database_host_without_a_database_url_is_refused(refuse: Refuse) -> None:
    assert refuse("[DEFAULT]\ndebug = True\n", "--database-host", "db.example") == (
        "conf_to_env: [placement_database]connection: not in the file, so --database-host has "
        "nothing to change"
    )


def test_keystone_host_without_keystone_urls_is_refused(refuse: Refuse) -> None:
    assert refuse("[DEFAULT]\ndebug = True\n", "--keystone-host", "ks.example").startswith(
        "conf_to_env: [keystone_authtoken]auth_url: no keystone URL in the file"
    )


def test_form_feed_stays_inside_a_value_as_in_oslo_config(convert: Convert) -> None:
    env_file = convert("[DEFAULT]\nlogging_exception_prefix = a\x0cb\n")
    assert variables(env_file) == {"OS_DEFAULT__LOGGING_EXCEPTION_PREFIX": "a\x0cb"}


def test_windows_line_ends(convert: Convert) -> None:
    env_file = convert("[DEFAULT]\r\ndebug = True\r\n[api]\r\nauth_strategy = keystone\r\n")
    assert variables(env_file) == {"OS_DEFAULT__DEBUG": "True", "OS_API__AUTH_STRATEGY": "keystone"}


def test_not_utf8_is_refused(refuse: Refuse) -> None:
    assert refuse(b"[DEFAULT]\ndebug = \xff\n") == "conf_to_env: the input is not UTF-8 text"


def test_refusal_names_the_first_problem_only(refuse: Refuse) -> None:
    message = refuse(devstack() + "\n[placement]\nbogus = 1\n")
    assert message == "conf_to_env: [placement]bogus: not an option placement knows"


# -- the real command -------------------------------------------------------------------------
def _command(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "placedock.conf_to_env", *args], input=stdin,
        capture_output=True, cwd=REPO, timeout=60, check=False,
        env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)},
    )


def test_command_stdin_to_stdout() -> None:
    result = _command("--keystone-host", "10.0.0.9", stdin=DEVSTACK.read_bytes())
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    out = result.stdout.decode()
    assert "OS_KEYSTONE_AUTHTOKEN__AUTH_URL=http://10.0.0.9/identity\n" in out
    assert out.startswith("# placedock environment")


def test_command_refusal_is_one_line_and_exit_2() -> None:
    broken = DEVSTACK.read_bytes().replace(b"username = placement", b"usename = placement")
    result = _command(stdin=broken)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode() == (
        "conf_to_env: [keystone_authtoken]usename: not an option placement knows; "
        "did you mean [keystone_authtoken]username?\n"
    )
    assert SERVICE_SECRET.encode() not in result.stderr
    assert DB_SECRET.encode() not in result.stderr
