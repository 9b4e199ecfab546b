"""Skip loudly on a developer machine, fail in CI, when a test's prerequisite is missing."""

from __future__ import annotations

import os
import sys

import pytest


def require(condition: bool, what: str) -> None:
    """Go on if `condition` holds; else fail when CI is set, or skip with a 'NOT TESTED:'
    warning."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    message = f"NOT TESTED: {what} is not available on this machine"
    print(f"\n*** WARNING: {message} ***", file=sys.__stderr__ or sys.stderr,
          flush=True)  # past capture
    pytest.skip(message)
