"""placedock.defaults: the one place the defaults are defined; the image, the probes, the
configuration reference (docs/configuration.md) and the README's short table say the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from placedock import defaults, environment, health

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
README = (REPO / "README.md").read_text()
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text()


def final_stage(dockerfile: str) -> str:
    return dockerfile[dockerfile.rindex("\nFROM "):]


def test_the_image_listens_and_keeps_data_where_the_defaults_say() -> None:
    image = final_stage(DOCKERFILE)
    assert re.findall(r"^EXPOSE (.+)$", image, re.MULTILINE) == [
        f"{defaults.PORT} {defaults.METRICS_PORT}"]
    assert re.findall(r"^WORKDIR (\S+)$", image, re.MULTILINE) == [defaults.DATA_DIR]
    assert f"install -d -o placement -g placement -m 0750 {defaults.DATA_DIR}\n" in image


def test_the_image_sets_none_of_placedocks_variables() -> None:
    """A default given again in the Dockerfile would be a second place to change it. The image's
    own revision is no default: the build knows it, and the info metric reports it."""
    instructions = [line for line in DOCKERFILE.splitlines() if not line.startswith("#")]
    found = re.findall(r"\b(?:PLACEDOCK|DB)_[A-Z_]+=\S*", "\n".join(instructions))
    assert found == ["PLACEDOCK_REVISION=${REVISION}"]


def test_the_probes_use_the_same_defaults() -> None:
    assert health.ready_url({}) == f"http://127.0.0.1:{defaults.PORT}/health/ready"
    assert health.stats_socket_path({}).endswith(f"placedock-{defaults.PORT}.stats")


def table_default(text: str, variable: str) -> str | None:
    """The Default cell of ``variable``'s own row in a variables table, None without a row."""
    row = re.search(rf"^\| `{variable}` \| `([^`]*)` \|", text, re.MULTILINE)
    return row.group(1) if row else None


# Every own variable whose default is a value (the TLS files and the stats socket have none).
OWN_WITH_DEFAULTS = sorted(name for name, value in environment.OWN_DEFAULTS.items() if value)


@pytest.mark.parametrize("variable", OWN_WITH_DEFAULTS)
def test_the_configuration_table_gives_each_default(variable: str) -> None:
    assert table_default(CONFIGURATION, variable) == environment.OWN_DEFAULTS[variable], (
        f"docs/configuration.md's row for {variable}")


@pytest.mark.parametrize("variable", sorted(defaults.PLACEMENT_OPTIONS))
def test_the_configuration_table_gives_each_placement_option_default(variable: str) -> None:
    assert table_default(CONFIGURATION, variable) == defaults.PLACEMENT_OPTIONS[variable], (
        f"docs/configuration.md's row for {variable}")


@pytest.mark.parametrize("variable", [*OWN_WITH_DEFAULTS, *sorted(defaults.PLACEMENT_OPTIONS)])
def test_the_readmes_short_table_agrees(variable: str) -> None:
    """The README lists a few: those it lists, it lists with the code's default."""
    default = table_default(README, variable)
    assert default in (None, {**environment.OWN_DEFAULTS, **defaults.PLACEMENT_OPTIONS}[variable])


def test_the_readmes_short_table_lists_some() -> None:
    assert table_default(README, "DB_SYNC") == environment.OWN_DEFAULTS["DB_SYNC"]
