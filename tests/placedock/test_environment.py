"""placedock.environment: what a good environment turns into."""

from __future__ import annotations

from pathlib import Path

import pytest

from placedock import environment

NOAUTH = {"OS_API__AUTH_STRATEGY": "noauth2"}


def test_defaults_fill_in_what_uwsgi_needs(tmp_path: Path) -> None:
    checked = environment.read({**NOAUTH, "PLACEDOCK_DATA_DIR": str(tmp_path)})
    assert checked.changes == {
        "OS_PLACEMENT_DATABASE__CONNECTION": f"sqlite:///{tmp_path}/placement.sqlite",
        "PLACEDOCK_ADDRESS": "0.0.0.0",
        "PLACEDOCK_PORT": "80",
        "PLACEDOCK_PROCESSES": environment.OWN_DEFAULTS["PLACEDOCK_PROCESSES"],
        "PLACEDOCK_THREADS": environment.OWN_DEFAULTS["PLACEDOCK_THREADS"],
        "PLACEDOCK_STATS_SOCKET": checked.settings.stats_socket,
    }
    assert checked.settings.stats_socket.endswith("placedock-80.stats")
    assert checked.settings.db_sync is False
    assert checked.settings.db_wait_timeout == 60


@pytest.mark.parametrize("word", ["True", "true", "1", "yes", "ON"])
def test_db_sync_true_words(word: str) -> None:
    assert environment.read({**NOAUTH, "DB_SYNC": word}).settings.db_sync is True


@pytest.mark.parametrize("word", ["False", "false", "0", "no", ""])
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


def test_real_option_ending_in_file_is_a_value_not_a_file_form() -> None:
    checked = environment.read({**NOAUTH, "OS_OSLO_POLICY__POLICY_FILE": "/etc/placement/policy.yaml"})
    assert "OS_OSLO_POLICY" not in checked.changes


def test_dollar_is_kept_literal_for_oslo_config() -> None:
    checked = environment.read({**NOAUTH, "OS_DEFAULT__LOG_DATE_FORMAT": "%H$M"})
    assert checked.changes["OS_DEFAULT__LOG_DATE_FORMAT"] == "%H$$M"


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
    ],
)
def test_url_without_driver_gets_the_installed_one(given: str, expected: str) -> None:
    checked = environment.read({**NOAUTH, "OS_PLACEMENT_DATABASE__CONNECTION": given})
    assert checked.changes["OS_PLACEMENT_DATABASE__CONNECTION"] == expected


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
