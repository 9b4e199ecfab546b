"""placedock.options: the catalogue of placement's options, read from the installed packages
themselves (placement, oslo.*, keystonemiddleware, keystoneauth), as environment variables."""

from __future__ import annotations

import pytest

from placedock import options
from placedock.options import catalogue


@pytest.mark.parametrize(("group", "option", "variable"), [
    (None, "debug", "OS_DEFAULT__DEBUG"),
    ("DEFAULT", "log_dir", "OS_DEFAULT__LOG_DIR"),
    ("placement_database", "connection", "OS_PLACEMENT_DATABASE__CONNECTION"),
    ("keystone_authtoken", "www_authenticate_uri", "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI"),
])
def test_variable_names_are_oslo_configs(group: str | None, option: str, variable: str) -> None:
    assert options.variable_name(group, option) == variable


def test_the_catalogue_holds_placements_options_and_keystonemiddlewares() -> None:
    every = catalogue()
    for variable in ("OS_PLACEMENT_DATABASE__CONNECTION", "OS_API__AUTH_STRATEGY",
                     "OS_PLACEMENT__RANDOMIZE_ALLOCATION_CANDIDATES",
                     "OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI", "OS_DEFAULT__DEBUG"):
        assert variable in every, variable
    assert every["OS_API__AUTH_STRATEGY"].group == "api"
    assert "OS_API__AUTH_STRATEGGY" not in every


def test_an_auth_plugins_options_count_only_with_that_plugin() -> None:
    assert "OS_KEYSTONE_AUTHTOKEN__PASSWORD" not in catalogue()
    with_password = catalogue("password")
    assert "OS_KEYSTONE_AUTHTOKEN__PASSWORD" in with_password
    assert "OS_KEYSTONE_AUTHTOKEN__USERNAME" in with_password
    assert set(catalogue().options) < set(with_password.options)
    assert "OS_KEYSTONE_AUTHTOKEN__USERNAME" in options.plugin_variables("password")
    assert catalogue("password") is with_password  # cached: read once per process


def test_deprecated_names_point_at_the_current_ones() -> None:
    deprecated = catalogue().deprecated
    # oslo.config looks up no deprecated name in the environment: they are kept to say so.
    assert deprecated["OS_DEFAULT__AUTH_STRATEGY"] == "OS_API__AUTH_STRATEGY"
    assert deprecated["OS_DEFAULT__LOGDIR"] == "OS_DEFAULT__LOG_DIR"
    assert not set(deprecated) & set(catalogue().options)


def test_locations_are_told_by_the_options_name() -> None:
    every = catalogue()
    assert options.is_path(every["OS_DEFAULT__LOG_DIR"].opt)
    assert options.is_path(every["OS_OSLO_POLICY__POLICY_FILE"].opt)
    connection = every["OS_PLACEMENT_DATABASE__CONNECTION"].opt
    assert options.is_location(connection) and not options.is_path(connection)
    strategy = every["OS_API__AUTH_STRATEGY"].opt
    assert not options.is_location(strategy) and not options.is_path(strategy)


def test_the_closest_name_is_suggested_only_when_near() -> None:
    known = catalogue().options
    assert options.closest_name("OS_API__AUTH_STRATEGGY", known) == "OS_API__AUTH_STRATEGY"
    assert options.closest_name("OS_PLACEMENT_DATABASE__CONECTION", known) == \
        "OS_PLACEMENT_DATABASE__CONNECTION"
    assert options.closest_name("OS_NOTHING__LIKE_IT", known) is None


def test_auth_plugins_are_keystoneauths_entry_points() -> None:
    assert options.is_auth_plugin("password")
    assert options.is_auth_plugin("v3applicationcredential")
    assert not options.is_auth_plugin("passwd")


@pytest.mark.parametrize(("name", "is_clients"), [
    ("OS_CLOUD", True),  # openstacksdk's, listed by hand
    ("OS_AUTH_URL", True),  # keystoneauth's plugin options
    ("OS_INTERFACE", True),  # keystoneauth's adapter flags
    ("OS_PLACEMENT_API_VERSION", True),  # per service type
    ("OS_AUTH_URLL", False),  # a near miss is not the client's
    ("OS_API__AUTH_STRATEGY", False),  # two underscores: oslo.config's, never the client's
])
def test_the_clients_own_variables(name: str, is_clients: bool) -> None:
    assert options.is_client_variable(name) is is_clients
