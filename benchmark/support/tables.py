"""Markdown tables, as every benchmark's report writes them."""

from __future__ import annotations

from collections.abc import Iterable


def markdown_table(header: list[str], aligns: str, rows: Iterable[list[str]]) -> list[str]:
    """A Markdown table's lines; `aligns` has a character a column: "l" (left) or "r" (right)."""
    return ["| " + " | ".join(header) + " |",
            "| " + " | ".join("---" if align == "l" else "---:" for align in aligns) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]
