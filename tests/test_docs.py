"""The README and docs/ stay true to each other and to the code: every relative link and anchor
resolves, docs/configuration.md names every variable the entrypoint accepts (its option
reference generated from placedock's own catalogue) and no other, and docs/troubleshooting.md
quotes every one-line error placedock can stop with.

Run as a module (`.venv/bin/python -m tests.test_docs`) to regenerate the option reference after
an upgrade of placement or its libraries changed their options."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from placedock import defaults, environment, options
from tests.support.server import REPO

PAGES = [REPO / "README.md", REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]
CONFIGURATION = REPO / "docs" / "configuration.md"
TROUBLESHOOTING = REPO / "docs" / "troubleshooting.md"

FENCED = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#* *$", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """``text`` without code: a fence or a code span may show link or heading syntax."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, links by their text, punctuation
    dropped, spaces as hyphens, a repeated one suffixed -1, -2..."""
    found: set[str] = set()
    for _, title in HEADING.findall(FENCED.sub("", text)):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in found:
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: are not this repository's to check
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(f"{target} (no such heading)")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Two words, `code`\n")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#two-words-code) [b](other.md#missing) [c](gone.md) "
                    "[d](#here) `[e](ignored.md)`\n\n## Here\n")
    assert broken_links(page) == ["other.md#missing (no such heading)", "gone.md (no such file)"]


# docs/configuration.md ------------------------------------------------------------------------

GENERATED = re.compile(r"(<!-- generated from placedock\.options: begin -->\n)(.*?)"
                       r"(<!-- generated from placedock\.options: end -->)", re.DOTALL)
TYPES = {"String": "string", "Integer": "integer", "Float": "float", "Boolean": "boolean",
         "List": "list", "Dict": "dict", "MultiString": "multi-valued"}
PLUGIN = "password"  # the usual auth_type: its options are placement's service user


# Where placedock departs from placement's default other than by defaults.PLACEMENT_OPTIONS.
PLACEDOCK_NOTES = {
    environment.AUTH_STRATEGY: "placedock: required, no default",
    environment.CONNECTION: "placedock's default: the embedded sqlite in `PLACEDOCK_DATA_DIR`",
}


def _cell(value: object) -> str:
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if value is None or value == "":
        return ""
    return "`" + str(value).replace("|", "\\|") + "`"


def option_reference() -> str:
    """Every OS_* variable placement, keystonemiddleware and the password plugin read, with its
    type and default (placedock's where it gives another, defaults.PLACEMENT_OPTIONS)."""
    base = options.catalogue()
    rows = ["| Variable | Type | Default | Note |", "| --- | --- | --- | --- |"]
    for name, option in sorted(options.catalogue(PLUGIN).options.items()):
        opt = option.opt
        kind = TYPES.get(type(opt.type).__name__, "string")
        choices = getattr(opt.type, "choices", None)
        if choices:
            kind += ": " + ", ".join(str(choice) for choice in choices)
        notes = []
        if name not in base:
            notes.append(f"with `{environment.AUTH_TYPE}={PLUGIN}`")
        if opt.secret:
            notes.append("secret")
        if name in PLACEDOCK_NOTES:
            notes.append(PLACEDOCK_NOTES[name])
        default = opt.sample_default if opt.sample_default is not None else opt.default
        if name in defaults.PLACEMENT_OPTIONS:
            notes.append(f"placement's default: {_cell(default)}")
            default = defaults.PLACEMENT_OPTIONS[name]
        rows.append(f"| `{name}` | {kind} | {_cell(default)} | {'; '.join(notes)} |")
    return "\n".join(rows) + "\n"


def table_variables(text: str) -> list[str]:
    """The variables the first column of the page's tables names; `__OPTION` short for the
    group of the full name before it in the same cell."""
    names = []
    for cell in re.findall(r"^\| ([^|]*`[A-Z_]+`[^|]*) \|", FENCED.sub("", text), re.MULTILINE):
        prefix = ""
        for name in re.findall(r"`([A-Z_][A-Z0-9_]*)`", cell):
            if name.startswith("__"):
                name = prefix + name[2:]
            elif "__" in name:
                prefix = name[: name.index("__") + 2]
            names.append(name)
    return names


def accepted(name: str) -> bool:
    """Whether the entrypoint (or one of startup.sh's commands) takes ``name``."""
    return (name in environment.OWN_DEFAULTS or name in environment.COMMAND_VARIABLES
            or name == environment.CONFIG_DIR or name in options.catalogue(PLUGIN))


def test_the_option_reference_is_generated_from_the_catalogue() -> None:
    block = GENERATED.search(CONFIGURATION.read_text())
    assert block, "docs/configuration.md lost its generated option reference"
    assert block.group(2) == option_reference(), (
        "the installed options changed: run .venv/bin/python -m tests.test_docs")


def test_the_configuration_names_every_variable_placedock_accepts() -> None:
    named = set(table_variables(CONFIGURATION.read_text()))
    own = {*environment.OWN_DEFAULTS, *environment.COMMAND_VARIABLES, *defaults.PLACEMENT_OPTIONS,
           environment.CONFIG_DIR}
    assert sorted(own - named) == [], "variables docs/configuration.md's tables do not name"


def test_the_configuration_names_only_variables_placedock_accepts() -> None:
    named = table_variables(CONFIGURATION.read_text())
    assert "PLACEDOCK_PORT" in named and "OS_KEYSTONE_AUTHTOKEN__PASSWORD" in named
    assert [name for name in named if not accepted(name)] == []


def test_the_readmes_table_names_only_variables_placedock_accepts() -> None:
    named = table_variables((REPO / "README.md").read_text())
    assert [name for name in named if not accepted(name)] == []


# docs/troubleshooting.md ----------------------------------------------------------------------

# The exceptions whose message is the one line a start or a command stops with (or, for
# policy's, the reason such a line gives).
ONE_LINE_ERRORS = {"ConfigurationError", "PlacedockError", "DatabaseError", "DbInitError",
                   "RegisterError", "Refused", "Problem", "EmptyValue", "MultiValued"}
# Names the page shows on purpose that the code does not accept: a misspelling and placeholders.
NOT_VARIABLES = {"OS_API_AUTH_STRATEGY", "OS_GROUP__OPTION", "OS_KEYSTONE_AUTHTOKEN__NAME",
                 "VARIABLE_FILE"}


def _module_strings(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _fragments(node: ast.expr, strings: dict[str, str]) -> tuple[list[str], list[str]]:
    """The literal text of a message (each piece between its placeholders), and the variables
    it names through module constants."""
    texts: list[str] = []
    variables: list[str] = []
    parts = node.values if isinstance(node, ast.JoinedStr) else [node]
    for part in parts:
        value = part.value if isinstance(part, ast.FormattedValue) else part
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            texts.append(value.value)
        elif isinstance(value, ast.Name) and value.id in strings:
            texts.append(strings[value.id])
            if re.fullmatch(r"(?:OS|PLACEDOCK|DB)_[A-Z0-9_]+", strings[value.id]):
                variables.append(strings[value.id])
    return texts, variables


def error_sites() -> list[tuple[str, list[str]]]:
    """Each raise of a one-line error in placedock/: where, and the text the page must hold."""
    sites = []
    for path in sorted((REPO / "placedock").glob("*.py")):
        tree = ast.parse(path.read_text())
        strings = _module_strings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            name = getattr(call.func, "id", getattr(call.func, "attr", ""))
            if name not in ONE_LINE_ERRORS:
                continue
            wanted = []
            for argument in call.args:
                texts, variables = _fragments(argument, strings)
                wanted += variables
                for text in texts:
                    piece = text.strip(" :;,")
                    if len(piece) >= 3:  # ": a " and ") (" say nothing of their own
                        wanted.append(piece)
            sites.append((f"{path.name}:{node.lineno}", wanted))
    return sites


def test_the_troubleshooting_page_quotes_every_error() -> None:
    page = " ".join(TROUBLESHOOTING.read_text().split())  # a quote may wrap across lines
    sites = error_sites()
    assert len(sites) > 50, "the raise sites were not found: the errors' classes renamed?"
    missing = [(site, text) for site, texts in sites for text in texts
               if " ".join(text.split()) not in page]
    assert missing == [], "errors docs/troubleshooting.md does not quote"


def test_the_troubleshooting_page_names_only_real_variables() -> None:
    text = TROUBLESHOOTING.read_text()
    named = set(re.findall(r"\b(?:OS|PLACEDOCK|DB)_[A-Z0-9_]*[A-Z0-9]\b", text))
    unknown = [name for name in sorted(named - NOT_VARIABLES)
               if not accepted(name) and not options.is_client_variable(name)]
    assert unknown == []


def regenerate() -> None:
    text = CONFIGURATION.read_text()
    assert GENERATED.search(text), "no generated block in docs/configuration.md"
    CONFIGURATION.write_text(GENERATED.sub(
        lambda match: match.group(1) + option_reference() + match.group(3), text))


if __name__ == "__main__":
    regenerate()
    sys.exit(0)
