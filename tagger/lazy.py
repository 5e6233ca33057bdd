"""Package names imported on first use (PEP 562), so importing a package stays cheap.

``__getattr__ = lazy_exports(__name__, {"Name": "submodule", ...})`` in a package's
``__init__``: ``from tagger.store import Store`` then loads only ``tagger.store.db``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds each exported name in its submodule when asked."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
