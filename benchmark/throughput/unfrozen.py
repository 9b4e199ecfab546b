"""placedock's application with the loaded objects given back to the garbage collector: the
experiment that shows what placedock.wsgi's gc.freeze() saves (its ini names this module)."""

from __future__ import annotations

import gc

from placedock.wsgi import application

gc.unfreeze()

__all__ = ["application"]
