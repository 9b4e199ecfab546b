"""One version, said the same everywhere: the Dockerfile's build arguments (PLACEMENT_VERSION,
IMAGE_RELEASE) make the image's version label, which is CHANGELOG.md's newest entry, the
placement pinned in placement-requirements.txt, the Kubernetes manifests' version label, and
the tag the docs tell production to run. tests/test_image.py checks the built image's label."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.support.server import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def build_argument(name: str, dockerfile: Path = REPO / "Dockerfile") -> str:
    """The default a Dockerfile gives its build argument ``name``."""
    found = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    assert found, f"{dockerfile.relative_to(REPO)}: no ARG {name}=..."
    return found.group(1)


def image_version() -> str:
    """PLACEMENT_VERSION-IMAGE_RELEASE, as the Dockerfile's label makes it."""
    return f"{build_argument('PLACEMENT_VERSION')}-{build_argument('IMAGE_RELEASE')}"


def test_the_label_is_made_of_the_two_arguments() -> None:
    assert ('org.opencontainers.image.version="${PLACEMENT_VERSION}-${IMAGE_RELEASE}"'
            in DOCKERFILE)
    assert re.fullmatch(r"\d+\.\d+\.\d+-[1-9]\d*", image_version()), image_version()


def test_the_changelogs_newest_entry_is_the_images_version() -> None:
    headings = re.findall(r"^## (\S+) \(", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings and headings[0] == image_version(), headings[:3]
    assert len(headings) == len(set(headings)), "a version listed twice"


def test_placement_pinned_is_the_one_the_version_names() -> None:
    pins = re.findall(r"^openstack-placement==(\S+)$",
                      (REPO / "placement-requirements.txt").read_text(), re.MULTILINE)
    assert pins == [build_argument("PLACEMENT_VERSION")], pins


def test_the_manifests_label_that_version() -> None:
    for document in yaml.safe_load_all((REPO / "deployment.yaml").read_text()):
        labels = [document["metadata"]["labels"]]
        if document["kind"] == "Deployment":
            labels.append(document["spec"]["template"]["metadata"]["labels"])
        for found in labels:
            assert found.get("app.kubernetes.io/version", image_version()) == image_version()


def test_the_docs_name_the_tag_to_run_in_production() -> None:
    docs = "\n".join(path.read_text() for path in [REPO / "README.md",
                                                   *sorted((REPO / "docs").glob("*.md"))])
    assert f"placedock:{image_version()}" in docs
