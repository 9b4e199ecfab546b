"""placedock.policy: the value rules both the environment and conf_to_env apply."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from placedock import policy


def test_secret_value_is_never_in_a_type_problem() -> None:
    # No placement secret has a typed value; make one from a real option to prove the rule.
    with pytest.raises(policy.Problem) as raised:
        policy.check_value("hunter2", cfg.IntOpt("pin", secret=True))
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("value", ["", "/etc/placement/policy.d"])
def test_multi_valued_is_refused_whatever_its_value(value: str) -> None:
    with pytest.raises(policy.MultiValued):
        policy.check_value(value, cfg.MultiStrOpt("policy_dirs"))


def test_empty_is_its_own_problem_so_callers_can_say_how_to_unset() -> None:
    with pytest.raises(policy.EmptyValue):
        policy.check_value("", cfg.IntOpt("max_pool_size"))
    policy.check_value("", cfg.StrOpt("mysql_sql_mode"))  # empty means something here


def test_choices_are_named() -> None:
    opt = cfg.StrOpt("auth_strategy", choices=["keystone", "noauth2"])
    with pytest.raises(policy.Problem, match="'ldap' is not one of keystone, noauth2"):
        policy.check_value("ldap", opt)


def test_auth_type_must_be_a_plugin() -> None:
    policy.check_auth_type("password")
    with pytest.raises(policy.Problem, match="'passwd' is not a keystoneauth plugin"):
        policy.check_auth_type("passwd")


def test_plugin_options_need_auth_type() -> None:
    assert policy.needs_auth_type("OS_KEYSTONE_AUTHTOKEN__PASSWORD")
    assert not policy.needs_auth_type("OS_KEYSTONE_AUTHTOKEN__PASWORD")
