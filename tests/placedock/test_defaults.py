"""placedock.defaults: the one place the defaults are defined; the image, the probes and the
README say the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from placedock import defaults, environment, health

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
README = (REPO / "README.md").read_text()


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


@pytest.mark.parametrize("variable", ["PLACEDOCK_ADDRESS", "PLACEDOCK_PORT",
                                      "PLACEDOCK_PROCESSES", "PLACEDOCK_THREADS",
                                      "PLACEDOCK_DATA_DIR", "DB_SYNC", "DB_WAIT_TIMEOUT"])
def test_the_readme_table_gives_each_default(variable: str) -> None:
    row = re.search(rf"^\| `{variable}` \| `([^`]*)` \|", README, re.MULTILINE)
    assert row, f"no row for {variable} in the README's table"
    assert row.group(1) == environment.OWN_DEFAULTS[variable]


@pytest.mark.parametrize("variable", sorted(defaults.PLACEMENT_OPTIONS))
def test_the_readme_table_gives_each_placement_option_default(variable: str) -> None:
    row = re.search(rf"^\| `{variable}` \| `([^`]*)` \|", README, re.MULTILINE)
    assert row, f"no row for {variable} in the README's table"
    assert row.group(1) == defaults.PLACEMENT_OPTIONS[variable]
