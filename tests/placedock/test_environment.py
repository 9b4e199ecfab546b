"""placedock.environment: what a good environment turns into."""

from __future__ import annotations

from pathlib import Path

import pytest

from placedock import defaults, environment
from tests.support.server import NOAUTH


def test_defaults_fill_in_what_uwsgi_needs(tmp_path: Path) -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_DATA_DIR": str(tmp_path)})
    assert checked.changes == {
        "OS_PLACEMENT_DATABASE__CONNECTION": f"sqlite:///{tmp_path}/placement.sqlite",
        "PLACEDOCK_ADDRESS": "0.0.0.0",
        "PLACEDOCK_PORT": "80",
        "PLACEDOCK_PROCESSES": environment.OWN_DEFAULTS["PLACEDOCK_PROCESSES"],
        "PLACEDOCK_THREADS": environment.OWN_DEFAULTS["PLACEDOCK_THREADS"],
        "PLACEDOCK_STATS_SOCKET": checked.settings.stats_socket,
        "PLACEDOCK_METRICS_PORT": "9180",
        "PLACEDOCK_LOG_FORMAT": "text",
        **defaults.PLACEMENT_OPTIONS,
    }
    assert checked.settings.stats_socket.endswith("placedock-80.stats")
    assert checked.settings.db_sync is False
    assert checked.settings.db_wait_timeout == 60


def test_the_wide_tree_guard_is_on_by_default_and_the_environment_overrides_it() -> None:
    guarded = environment.read(NOAUTH).changes
    assert guarded["OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES"] == "1000"
    assert guarded["OS_WORKAROUNDS__OPTIMIZE_FOR_WIDE_PROVIDER_TREES"] == "true"
    assert guarded["OS_PLACEMENT__ALLOCATION_CANDIDATES_GENERATION_STRATEGY"] == "breadth-first"
    unlimited = environment.read({**NOAUTH, "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES": "-1"})
    assert "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES" not in unlimited.changes
    assert unlimited.option_values["OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES"] == "-1"
    assert unlimited.changes["OS_WORKAROUNDS__OPTIMIZE_FOR_WIDE_PROVIDER_TREES"] == "true"


def test_a_placement_conf_setting_the_guard_keeps_its_value(tmp_path: Path) -> None:
    """The environment beats the file: a default exported over the file's value would win."""
    (tmp_path / "placement.conf").write_text(
        "[placement]\nmax_allocation_candidates = 50000\n"
        "[workarounds]\noptimize-for-wide-provider-trees = false\n")
    checked = environment.read({**NOAUTH, "OS_PLACEMENT_CONFIG_DIR": str(tmp_path)})
    assert "OS_PLACEMENT__MAX_ALLOCATION_CANDIDATES" not in checked.changes
    assert "OS_WORKAROUNDS__OPTIMIZE_FOR_WIDE_PROVIDER_TREES" not in checked.changes
    assert checked.changes["OS_PLACEMENT__ALLOCATION_CANDIDATES_GENERATION_STRATEGY"] == (
        "breadth-first")


def test_the_guard_values_are_valid_for_placement() -> None:
    """Each default passes the same check as a value the user gives."""
    assert environment.read({**NOAUTH, **defaults.PLACEMENT_OPTIONS}).changes.keys().isdisjoint(
        defaults.PLACEMENT_OPTIONS)


@pytest.mark.parametrize("word", ["True", "true", "1", "yes", "ON"])
def test_db_sync_true_words(word: str) -> None:
    assert environment.read({**NOAUTH, "DB_SYNC": word}).settings.db_sync is True


@pytest.mark.parametrize("word", ["False", "false", "0", "no"])
def test_db_sync_false_words(word: str) -> None:
    assert environment.read({**NOAUTH, "DB_SYNC": word}).settings.db_sync is False


def test_file_form_replaces_the_variable(tmp_path: Path) -> None:
    secret = tmp_path / "connection"
    secret.write_text("postgresql+psycopg2://p:pw@db.example/placement\n")
    checked = environment.read({**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION_FILE": str(secret)})
    assert checked.changes["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "postgresql+psycopg2://p:pw@db.example/placement"
    )
    assert checked.changes["OS_PLACEMENT_DATABASE__CONNECTION_FILE"] is None
    assert checked.settings.database_url.password == "pw"


def test_file_value_reads_the_file_without_its_final_newline(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\r\n")
    assert environment.file_value({"X_FILE": str(secret)}, "X") == "s3cret"
    assert environment.file_value({"X": "plain"}, "X") == "plain"
    assert environment.file_value({}, "X") is None


@pytest.mark.parametrize("given, refusal", [
    ({"X": "a", "X_FILE": "/dev/null"}, "X: both X and X_FILE are set; set only one"),
    ({"X_FILE": ""}, "X_FILE: set but empty"),
    ({"X_FILE": "/nonexistent/secret"},
     "X_FILE: cannot read '/nonexistent/secret': No such file or directory"),
])
def test_file_value_refusals_name_the_variable(given: dict[str, str], refusal: str) -> None:
    with pytest.raises(environment.ConfigurationError) as raised:
        environment.file_value(given, "X")
    assert str(raised.value).startswith(refusal)


@pytest.mark.parametrize("given", [{}, {"X": ""}])
def test_required_value_refuses_unset_or_empty_naming_the_command(given: dict[str, str]) -> None:
    with pytest.raises(environment.ConfigurationError,
                       match=r"^X: not set \(nor X_FILE\); db-init needs it$"):
        environment.required_value(given, "X", "db-init")


def test_real_option_ending_in_file_is_a_value_not_a_file_form() -> None:
    checked = environment.read({**NOAUTH,
                                "OS_OSLO_POLICY__POLICY_FILE": "/etc/placement/policy.yaml"})
    assert "OS_OSLO_POLICY" not in checked.changes


def test_dollar_is_kept_literal_for_oslo_config() -> None:
    checked = environment.read({**NOAUTH, "OS_DEFAULT__LOG_DATE_FORMAT": "%H$M"})
    assert "OS_DEFAULT__LOG_DATE_FORMAT" not in checked.changes  # the value itself is right
    assert environment.exports(checked)["OS_DEFAULT__LOG_DATE_FORMAT"] == "%H$$M"


def test_dollar_is_escaped_last_even_in_a_value_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "connection"
    url = "mysql+pymysql://p:pa$word@db/placement?charset=utf8mb4"
    secret.write_text(url + "\n")
    name = "OS_PLACEMENT_DATABASE__CONNECTION"
    checked = environment.read({**NOAUTH, f"{name}_FILE": str(secret)})
    assert checked.settings.database_url.password == "pa$word"
    assert checked.changes[name] == url
    assert environment.exports(checked)[name] == url.replace("$", "$$")


def test_a_normalised_url_holds_no_dollar_to_escape() -> None:
    name = "OS_PLACEMENT_DATABASE__CONNECTION"
    checked = environment.read({**NOAUTH, name: "mysql://p:pa$word@db/placement"})
    assert checked.settings.database_url.password == "pa$word"
    assert environment.exports(checked)[name] == (
        "mysql+pymysql://p:pa%24word@db/placement?charset=utf8mb4"  # SQLAlchemy quotes it
    )


def test_apply_sets_and_unsets(tmp_path: Path) -> None:
    secret = tmp_path / "connection"
    secret.write_text("postgresql://p:pw@db/placement\n")
    environ = {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION_FILE": str(secret),
               "OS_DEFAULT__LOG_DATE_FORMAT": "%H$M", "OS_PASSWORD": "client's"}
    checked = environment.read(environ)
    environment.apply(checked, environ)
    assert "OS_PLACEMENT_DATABASE__CONNECTION_FILE" not in environ  # resolved: not left behind
    assert environ["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "postgresql+psycopg2://p:pw@db/placement"
    )
    assert environ["OS_DEFAULT__LOG_DATE_FORMAT"] == "%H$$M"
    assert environ["OS_PASSWORD"] == "client's"  # the client's, left alone
    assert environ["PLACEDOCK_ADDRESS"] == "0.0.0.0"


def test_mysql_without_charset_gets_utf8mb4() -> None:
    checked = environment.read(
        {**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": "mysql+pymysql://p:pw@db/placement"}
    )
    assert checked.changes["OS_PLACEMENT_DATABASE__CONNECTION"] == (
        "mysql+pymysql://p:pw@db/placement?charset=utf8mb4"
    )


def test_mysql_with_3_byte_charset_is_kept_with_a_warning() -> None:
    url = "mysql+pymysql://p:pw@db/placement?charset=utf8"
    checked = environment.read({**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": url})
    assert "OS_PLACEMENT_DATABASE__CONNECTION" not in checked.changes
    assert any("4-byte" in note for note in checked.notes)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://p:pw@db/placement", "postgresql+psycopg2://p:pw@db/placement"),
        ("mysql://p:pw@db/placement", "mysql+pymysql://p:pw@db/placement?charset=utf8mb4"),
        # MariaDB's scheme: placement and oslo.db set up MySQL sessions only for "mysql".
        ("mariadb://p:pw@db/placement", "mysql+pymysql://p:pw@db/placement?charset=utf8mb4"),
        ("mariadb+pymysql://p:pw@db/placement?charset=utf8mb4",
         "mysql+pymysql://p:pw@db/placement?charset=utf8mb4"),
    ],
)
def test_url_without_driver_gets_the_installed_one(given: str, expected: str) -> None:
    checked = environment.read({**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": given})
    assert checked.changes["OS_PLACEMENT_DATABASE__CONNECTION"] == expected


def test_reader_connection_is_normalised_like_the_connection() -> None:
    name = "OS_PLACEMENT_DATABASE__SLAVE_CONNECTION"
    checked = environment.read({**NOAUTH, name: "mariadb://p:pw@replica/placement"})
    assert checked.changes[name] == "mysql+pymysql://p:pw@replica/placement?charset=utf8mb4"
    assert refusal({**NOAUTH, name: "oracle://p:pw@replica/placement"}).startswith(
        f"{name}: unsupported database 'oracle'")


def test_keystone_complete_is_accepted_and_memcached_recommended() -> None:
    prefix = "OS_KEYSTONE_AUTHTOKEN__"
    env = {
        "OS_API__AUTH_STRATEGY": "keystone",
        prefix + "WWW_AUTHENTICATE_URI": "http://keystone/identity",
        prefix + "AUTH_TYPE": "password",
        prefix + "AUTH_URL": "http://keystone/identity",
        prefix + "USERNAME": "placement",
        prefix + "PASSWORD": "pw",
        prefix + "PROJECT_NAME": "service",
        prefix + "PROJECT_DOMAIN_NAME": "Default",
        prefix + "USER_DOMAIN_NAME": "Default",
    }
    checked = environment.read(env)
    assert checked.settings.auth_strategy == "keystone"
    assert any("MEMCACHED_SERVERS" in note for note in checked.notes)
    assert not environment.read({**env, prefix + "MEMCACHED_SERVERS": "127.0.0.1:11211"}).notes


def test_secret_value_is_never_in_a_type_error() -> None:
    # No placement secret has a typed value; make one from a real option to prove the rule.
    from oslo_config import cfg

    opt = cfg.IntOpt("pin", secret=True)
    with pytest.raises(environment.ConfigurationError) as raised:
        environment._check_value("OS_X__PIN", "hunter2", opt)
    assert "hunter2" not in str(raised.value)


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(environment.ConfigurationError) as raised:
        environment.read(env)
    return str(raised.value)


EMPTY = "set but empty; unset it for the default, or give a value"


@pytest.mark.parametrize("name", [
    "OS_PLACEMENT_DATABASE__CONNECTION",  # a URL: no more silent sqlite
    "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI",
    "OS_PLACEMENT_DATABASE__MAX_POOL_SIZE",  # an integer: oslo.config would read None
    "OS_DEFAULT__DEBUG",  # a boolean
    "OS_DEFAULT__LOG_FILE",  # a path
    "OS_DEFAULT__TEMPDIR",
    "OS_OSLO_POLICY__ENFORCE_NEW_DEFAULTS",
    "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE",  # names a plugin
    "OS_PLACEMENT_CONFIG_DIR",
    *environment.OWN_DEFAULTS,
])
def test_set_but_empty_is_refused(name: str) -> None:
    assert refusal({**NOAUTH, name: ""}) == f"{name}: {EMPTY}"


def test_empty_auth_strategy_has_no_default_to_point_at() -> None:
    message = refusal({"OS_API__AUTH_STRATEGY": ""})
    assert message == "OS_API__AUTH_STRATEGY: set but empty; set it to keystone or noauth2"


def test_empty_plugin_option_is_refused() -> None:
    env = {**NOAUTH, "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
           "OS_KEYSTONE_AUTHTOKEN__PASSWORD": ""}
    assert refusal(env) == f"OS_KEYSTONE_AUTHTOKEN__PASSWORD: {EMPTY}"


@pytest.mark.parametrize("name", [
    "OS_PLACEMENT_DATABASE__MYSQL_SQL_MODE",  # empty: MySQL's own mode
    "OS_DEFAULT__LOGGING_DEBUG_FORMAT_SUFFIX",  # empty: no suffix
    "OS_CORS__ALLOWED_ORIGIN",  # a list: empty is an empty list
    "OS_PLACEMENT_DATABASE__CONNECTION_PARAMETERS",  # empty is its default
])
def test_empty_with_a_meaning_is_accepted(name: str) -> None:
    environment.read({**NOAUTH, name: ""})


def test_empty_file_form_path_is_refused() -> None:
    name = "OS_PLACEMENT_DATABASE__CONNECTION_FILE"
    assert refusal({**NOAUTH, name: ""}) == f"{name}: {EMPTY}"


def test_empty_secret_file_names_the_file_variable(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("\n")
    env = {**NOAUTH, "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
           "OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE": str(secret)}
    assert refusal(env) == f"OS_KEYSTONE_AUTHTOKEN__PASSWORD_FILE: {str(secret)!r} is empty"


OPENRC = {  # devstack's openrc, openstacksdk's and the openstack command's usual variables
    "OS_AUTH_URL": "http://keystone/identity", "OS_USERNAME": "admin", "OS_PASSWORD": "secret",
    "OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_DOMAIN_ID": "default",
    "OS_REGION_NAME": "RegionOne", "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_TYPE": "password",
    "OS_CLOUD": "devstack", "OS_CACERT": "/opt/stack/data/ca-bundle.pem", "OS_INSECURE": "true",
    "OS_INTERFACE": "public", "OS_ENDPOINT_TYPE": "publicURL", "OS_TENANT_NAME": "admin",
    "OS_PLACEMENT_API_VERSION": "1.39", "OS_COMPUTE_API_VERSION": "2.95",
    "OS_VOLUME_API_VERSION": "3", "OS_NO_CACHE": "1", "OS_CLOUD_NAME": "envvars",
    "OS_CLIENT_CONFIG_FILE": "/nonexistent/clouds.yaml", "OS_CERT": "", "OS_KEY": "",
}


def test_client_variables_are_ignored_with_one_note_naming_them() -> None:
    checked = environment.read({**NOAUTH, **OPENRC})
    notes = [note for note in checked.notes if "OpenStack client" in note]
    assert len(notes) == 1
    assert all(name in notes[0] for name in OPENRC)
    assert "secret" not in notes[0] and "RegionOne" not in notes[0]
    assert not set(OPENRC) & set(checked.changes)  # left as they are


def test_client_config_file_is_not_read_as_a_file_form() -> None:
    # OS_CLIENT_CONFIG_FILE is clouds.yaml for the client, not OS_CLIENT_CONFIG from a file.
    environment.read({**NOAUTH, "OS_CLIENT_CONFIG_FILE": "/nonexistent/clouds.yaml"})


@pytest.mark.parametrize(("name", "suggestion"), [
    ("OS_DEFAULT_DEBUG", "OS_DEFAULT__DEBUG"),
    ("OS_API_AUTH_STRATEGY", "OS_API__AUTH_STRATEGY"),
    ("OS_KEYSTONE_AUTHTOKEN_INTERFACE", "OS_KEYSTONE_AUTHTOKEN__INTERFACE"),
    ("OS_PLACEMENT_DATABASE_CONNECTION", "OS_PLACEMENT_DATABASE__CONNECTION"),
])
def test_single_underscore_near_a_real_option_still_refuses(name: str, suggestion: str) -> None:
    assert refusal({**NOAUTH, name: "x"}).endswith(f"did you mean {suggestion}?")


def test_no_single_underscore_typo_of_an_option_is_a_client_name() -> None:
    from placedock import options

    catalogue = options.catalogue("password")
    typos = {name.replace("__", "_") for name in catalogue.options}
    assert not typos & options.client_variables()
    assert not [name for name in options.client_variables() if "__" in name]


def test_client_variables_cover_keystoneauth_and_every_service() -> None:
    import os_service_types
    from keystoneauth1 import loading

    from placedock import options

    names = options.client_variables()
    for loader in loading.get_available_plugin_loaders().values():
        for opt in loader.get_options():
            assert set(opt.argparse_envvars) <= names
    for service_type in os_service_types.ServiceTypes().all_types_by_service_type:
        assert f"OS_{service_type.replace('-', '_').upper()}_API_VERSION" in names


def test_client_variables_are_the_names_keystoneauth_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flag convention (--os-x-y reads OS_X_Y) checked against keystoneauth's own parsers:
    each derived name, set, becomes its flag's default."""
    import argparse

    from keystoneauth1 import loading

    from placedock import options

    parser = argparse.ArgumentParser(add_help=False)
    probed = options._flag_variables(_parser_with_everything(parser, loading))
    plugin_names = {"OS_AUTH_TYPE", "OS_AUTH_PLUGIN"}  # their value must name a real plugin
    for name in probed - plugin_names:
        monkeypatch.setenv(name, f"probe-{name}")
    fresh = _parser_with_everything(argparse.ArgumentParser(add_help=False), loading)
    defaults = {action.default for action in fresh._actions}
    missing = sorted(name for name in probed - plugin_names if f"probe-{name}" not in defaults)
    assert missing == [], "names no flag reads"
    assert plugin_names <= probed
    for name in plugin_names:
        with monkeypatch.context() as patch:
            patch.setenv(name, "v3token")
            plugin = loading.register_auth_argparse_arguments(argparse.ArgumentParser(), [])
            assert plugin is not None, name


def _parser_with_everything(parser, loading):  # type: ignore[no-untyped-def]
    loading.register_auth_argparse_arguments(parser, [])
    loading.register_session_argparse_arguments(parser)
    loading.register_adapter_argparse_arguments(parser)
    loading.register_service_adapter_argparse_arguments(parser, "placement")
    return parser


def test_the_checked_in_client_list_holds_no_derived_name() -> None:
    from placedock import options

    assert not options.CLIENT_ONLY_VARIABLES & _derived_only(options)


def _derived_only(options):  # type: ignore[no-untyped-def]
    options.client_variables.cache_clear()
    saved = options.CLIENT_ONLY_VARIABLES
    try:
        options.CLIENT_ONLY_VARIABLES = frozenset()
        return options.client_variables()
    finally:
        options.CLIENT_ONLY_VARIABLES = saved
        options.client_variables.cache_clear()


@pytest.mark.parametrize("address", ["::", "::1", "0.0.0.0", "127.0.0.1", "fd00::5"])
def test_ip_addresses_of_either_family_are_taken(address: str) -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_ADDRESS": address, "PLACEDOCK_PORT": "8080"})
    assert checked.settings.address == address


@pytest.mark.parametrize("address", ["localhost", "[::1]", "[::1]:80", "0.0.0.0/0"])
def test_address_must_be_an_ip_address(address: str) -> None:
    assert "is not an IP address" in refusal({**NOAUTH, "PLACEDOCK_ADDRESS": address})


@pytest.mark.parametrize(("value", "size"), [
    ("2m", 2 << 20), ("2M", 2 << 20), ("1024", 1024), ("512k", 512 << 10), ("1g", 1 << 30),
])
def test_body_size_limit_takes_bytes_or_units(value: str, size: int) -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_MAX_BODY_SIZE": value})
    assert checked.settings.max_body_size == size


def test_body_size_limit_has_a_default() -> None:
    assert environment.read(NOAUTH).settings.max_body_size == 2 << 20


@pytest.mark.parametrize(("value", "problem"), [
    ("2mb", "'2mb' is not a size (bytes, or a number with k, m or g: 2m)"),
    ("-1", "'-1' is not a size (bytes, or a number with k, m or g: 2m)"),
    ("1.5m", "'1.5m' is not a size (bytes, or a number with k, m or g: 2m)"),
    ("100", "'100' is out of range 1k to 1g"),
    ("2g", "'2g' is out of range 1k to 1g"),
])
def test_a_body_size_limit_that_is_no_size_is_refused(value: str, problem: str) -> None:
    assert refusal({**NOAUTH, "PLACEDOCK_MAX_BODY_SIZE": value}) == (
        f"PLACEDOCK_MAX_BODY_SIZE: {problem}")


@pytest.mark.parametrize(("value", "seconds"), [("60", 60), ("90s", 90), ("2m", 120),
                                                 ("6", 6), ("60m", 3600)])
def test_request_timeout_takes_seconds_or_minutes(value: str, seconds: int) -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_REQUEST_TIMEOUT": value})
    assert checked.settings.request_timeout == seconds


def test_request_timeout_has_a_default() -> None:
    assert environment.read(NOAUTH).settings.request_timeout == 60


@pytest.mark.parametrize(("value", "problem"), [
    ("1h", "'1h' is not a duration (seconds, or minutes with m: 60 or 1m)"),
    ("1.5", "'1.5' is not a duration (seconds, or minutes with m: 60 or 1m)"),
    ("soon", "'soon' is not a duration (seconds, or minutes with m: 60 or 1m)"),
    ("5", "'5' is out of range: longer than the health probe's 5 s, at most 1 hour"),
    ("0", "'0' is out of range: longer than the health probe's 5 s, at most 1 hour"),
    ("61m", "'61m' is out of range: longer than the health probe's 5 s, at most 1 hour"),
])
def test_a_request_timeout_that_is_no_duration_or_too_short_is_refused(
        value: str, problem: str) -> None:
    assert refusal({**NOAUTH, "PLACEDOCK_REQUEST_TIMEOUT": value}) == (
        f"PLACEDOCK_REQUEST_TIMEOUT: {problem}")


def test_the_projects_own_scripts_use_no_name_the_entrypoint_refuses() -> None:
    """quickstart.sh exec's startup.sh with its environment, and tests run it from a shell that
    may hold the test tools' variables: those are QUICKSTART_* and TESTS_*, never PLACEDOCK_*."""
    import re
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    files = subprocess.run(["git", "ls-files", "*.sh", "*.yaml", "*.py", "*.md", "Dockerfile",
                            ".ci/run"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.split()
    known = {*environment.OWN_DEFAULTS, *environment.COMMAND_VARIABLES}
    used = {}
    for name in files:
        if name.startswith("tests/") and name.endswith(".py"):
            continue  # the tests name bad variables on purpose
        for variable in re.findall(r"\b(?:PLACEDOCK|DB)_[A-Z][A-Z_]*\b", (repo / name).read_text()):
            used.setdefault(variable, name)
    unknown = {variable: name for variable, name in used.items()
               if variable not in known and variable.rstrip("_") not in ("PLACEDOCK", "DB")}
    assert unknown == {}


def test_the_option_catalogue_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from placedock import options

    built = []
    register = options.placement_conf.register_opts
    monkeypatch.setattr(options.placement_conf, "register_opts",
                        lambda config: built.append(config) or register(config))
    options.catalogue.cache_clear()
    env = {**NOAUTH, "OS_KEYSTONE_AUTHTOKEN__AUTH_TYPE": "password",
           "OS_KEYSTONE_AUTHTOKEN__USERNAME": "placement"}
    try:
        environment.read(env)
        environment.read(env)
    finally:
        options.catalogue.cache_clear()  # not one built with the counting stand-in
    assert len(built) == 1


def test_metrics_are_on_their_own_port_or_off() -> None:
    assert environment.read({**NOAUTH, "PLACEDOCK_METRICS_PORT": "0"}).settings.metrics_port == 0
    checked = environment.read({**NOAUTH, "PLACEDOCK_METRICS_PORT": "9100"})
    assert checked.settings.metrics_port == 9100
    with pytest.raises(environment.ConfigurationError,
                       match="^PLACEDOCK_METRICS_PORT: 8080 is the API's port"):
        environment.read({**NOAUTH, "PLACEDOCK_PORT": "8080", "PLACEDOCK_METRICS_PORT": "8080"})
    with pytest.raises(environment.ConfigurationError, match="^PLACEDOCK_METRICS_PORT: 70000 is"):
        environment.read({**NOAUTH, "PLACEDOCK_METRICS_PORT": "70000"})


def test_json_logs_turn_on_oslo_logs_json_formatter() -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_LOG_FORMAT": "json"})
    assert checked.settings.log_format == "json"
    assert checked.changes["OS_DEFAULT__USE_JSON"] == "true"
    assert "OS_DEFAULT__USE_JSON" not in environment.read(NOAUTH).changes
    with pytest.raises(environment.ConfigurationError, match="^OS_DEFAULT__USE_JSON: is false"):
        environment.read({**NOAUTH, "PLACEDOCK_LOG_FORMAT": "json",
                          "OS_DEFAULT__USE_JSON": "false"})
    with pytest.raises(environment.ConfigurationError,
                       match="^PLACEDOCK_LOG_FORMAT: 'yaml' is not one of text, json$"):
        environment.read({**NOAUTH, "PLACEDOCK_LOG_FORMAT": "yaml"})


@pytest.mark.parametrize("name", sorted(environment.COMMAND_VARIABLES))
def test_a_one_shot_commands_input_is_refused_elsewhere(name: str) -> None:
    command = environment.COMMAND_VARIABLES[name]
    with pytest.raises(environment.ConfigurationError,
                       match=f"^{name}: only startup.sh {command} reads it; unset it"):
        environment.read({**NOAUTH, name: "mysql+pymysql://root:secret@db/mysql"})
